"""PYNQ driver of a qcompile board package (shipped as package/driver.py).

On the board, with package/ copied over and overlay/ built (build.sh):

    from driver import Accelerator
    acc = Accelerator()                 # overlay/<top>.bit and .hwh next to this file
    y = acc.predict(x)                  # x in the model's layout, batch first; y as compiler.simulate gives it

predict quantizes x on the host exactly as the design's input does (qc_host_io.py, the same code
qcompile's tests check against its bit-accurate simulator), sends each batch as one DMA transfer
(a header word with the sample count, then the samples' words), receives the outputs in one
transfer closed by the design's TLAST, and dequantizes them. Needs numpy and pynq only.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from qc_host_io import HostIO  # noqa: E402  (shipped next to this file)

DMA_LENGTH_BITS = 26   # the block design's c_sg_length_width: bytes per transfer < 2**26


class Accelerator:
    def __init__(self, bitfile: str | Path | None = None, max_batch: int = 4096, overlay=None):
        import pynq

        self.io = HostIO.load(HERE / "design_io.json")
        top = self.io.doc["top"]
        self.overlay = overlay if overlay is not None else pynq.Overlay(str(bitfile or HERE / "overlay" / f"{top}.bit"))
        self.dma = self.overlay.axi_dma
        limit = (1 << DMA_LENGTH_BITS) - 1
        fits = min((limit - self.io.input.word_bytes) // self.io.input.bytes_per_sample,
                   limit // self.io.output.bytes_per_sample)
        self.max_batch = max(1, min(int(max_batch), fits))
        self._in = pynq.allocate(shape=(self.io.input_bytes(self.max_batch),), dtype=np.uint8)
        self._out = pynq.allocate(shape=(self.io.output_bytes(self.max_batch),), dtype=np.uint8)

    def predict(self, x) -> np.ndarray:
        """Outputs for a batch of inputs, in batches of at most max_batch samples per transfer."""
        return self.io.in_batches(x, self.max_batch, self._run)

    def _run(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        data = self.io.pack_batch(x)
        self._in[:len(data)] = data
        self._in.flush()
        nbytes = self.io.output_bytes(n)
        self.dma.recvchannel.transfer(self._out, nbytes=nbytes)
        self.dma.sendchannel.transfer(self._in, nbytes=len(data))
        self.dma.sendchannel.wait()
        self.dma.recvchannel.wait()
        self._out.invalidate()
        return self.io.unpack_batch(np.array(self._out[:nbytes]), n)

    def throughput(self, x, repeats: int = 3) -> float:
        """Measured inferences per second of predict on x (host packing included)."""
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            self.predict(x)
            best = min(best, time.perf_counter() - t0)
        return len(x) / best

    def close(self) -> None:
        for buf in (self._in, self._out):
            buf.freebuffer()


if __name__ == "__main__":
    from qc_host_io import command_line

    command_line(Accelerator, "board", "--bitfile")
