"""XRT host of a qcompile Alveo package (shipped as package/host.py).

With the xclbin built (build.sh) and XRT's Python bindings (pyxrt) installed:

    from host import Accelerator
    acc = Accelerator("<top>.xclbin")
    y = acc.predict(x)          # x in the model's layout, batch first; y as compiler.simulate gives it

The words are qc_host_io.py's (the code qcompile's tests check against its simulator): per batch
one device buffer in (a header word with the sample count, then the samples' words), qc_mm2s
streams it into the free-running design, qc_s2mm writes its output words to a second buffer.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from qc_host_io import HostIO  # noqa: E402  (shipped next to this file)


class Accelerator:
    def __init__(self, xclbin: str | Path | None = None, device: int = 0, max_batch: int = 4096):
        import pyxrt

        self._xrt = pyxrt
        self.io = HostIO.load(HERE / "design_io.json")
        top = self.io.doc["top"]
        self.device = pyxrt.device(device)
        self.uuid = self.device.load_xclbin(str(xclbin or HERE / f"{top}.xclbin"))
        self.mm2s = pyxrt.kernel(self.device, self.uuid, "qc_mm2s")
        self.s2mm = pyxrt.kernel(self.device, self.uuid, "qc_s2mm")
        self.max_batch = max(1, int(max_batch))
        self._in = pyxrt.bo(self.device, self.io.input_bytes(self.max_batch), pyxrt.bo.normal, self.mm2s.group_id(0))
        self._out = pyxrt.bo(self.device, self.io.output_bytes(self.max_batch), pyxrt.bo.normal, self.s2mm.group_id(1))
        self._in_view = np.frombuffer(self._in.map(), dtype=np.uint8)
        self._out_view = np.frombuffer(self._out.map(), dtype=np.uint8)

    def predict(self, x) -> np.ndarray:
        """Outputs for a batch of inputs, in batches of at most max_batch samples per transfer."""
        return self.io.in_batches(x, self.max_batch, self._run)

    def _run(self, x: np.ndarray) -> np.ndarray:
        sync = self._xrt.xclBOSyncDirection
        n = len(x)
        data = self.io.pack_batch(x)
        self._in_view[:len(data)] = data
        self._in.sync(sync.XCL_BO_SYNC_BO_TO_DEVICE, len(data), 0)
        words_out = n * self.io.output.words_per_sample
        # the stream arguments are connected at link time; only the buffer and count are set
        out_run = self._start(self.s2mm, {1: self._out, 2: words_out})
        in_run = self._start(self.mm2s, {0: self._in, 2: len(data) // self.io.input.word_bytes})
        in_run.wait()
        out_run.wait()
        nbytes = self.io.output_bytes(n)
        self._out.sync(sync.XCL_BO_SYNC_BO_FROM_DEVICE, nbytes, 0)
        return self.io.unpack_batch(np.array(self._out_view[:nbytes]), n)

    def _start(self, kernel, args: dict):
        run = self._xrt.run(kernel)
        for index, value in args.items():
            run.set_arg(index, value)
        run.start()
        return run


if __name__ == "__main__":
    from qc_host_io import command_line

    command_line(Accelerator, "card", "--xclbin")
