"""The host side of a board package's stream: real inputs -> the AXI-stream words the design
reads, and the words it writes -> real outputs. Pure numpy: the board package ships this file
as qc_host_io.py (next to a copy of compiler/numerics as qc_numerics/), and the PYNQ driver,
the XRT host script and qcompile's own tests all use it, so the packing the board sees is the
one the tests check against compiler.simulate.

Word format (package/README.md says the same for people):
- one transfer carries a batch: a header word (the batch's sample count in bits 0..31), then
  every sample's input words; the design answers with every sample's output words, TLAST on
  the batch's last word;
- a sample's values go in the design's stream order (the IR layout, channels last), one stream
  beat of `fold` values per word when the beat fits 1024 bits (words are the beat's bits
  rounded up to a power of two, at least 32), else `per_word` values in each of
  `words_per_beat` words; value c of a word sits at bits [c*E, (c+1)*E), E the element width,
  as a two's-complement (or unsigned) code; words are little-endian in memory (AXI byte lanes).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:  # inside qcompile
    from ..numerics.fixed import FixedType
    from ..numerics.requant import bipolar_codes, quantizer_codes
except ImportError:  # in a board package: qc_numerics/ is the copy shipped next to this file
    from qc_numerics.fixed import FixedType
    from qc_numerics.requant import bipolar_codes, quantizer_codes

FORMAT = 1
MAX_WORD_BITS = 1024   # the widest AXI DMA stream
MIN_WORD_BITS = 32     # the header word holds a 32-bit sample count
MAX_ELEMENT_BITS = 62  # codes travel through int64


def word_geometry(element_bits: int, fold: int) -> tuple[int, int, int]:
    """(word_bits, words_per_beat, values_per_word) of a stream whose beats hold `fold`
    values of `element_bits` bits each."""
    beat = element_bits * fold
    if beat <= MAX_WORD_BITS:
        return max(MIN_WORD_BITS, 1 << (beat - 1).bit_length()), 1, fold
    per_word = MAX_WORD_BITS // element_bits
    return MAX_WORD_BITS, -(-fold // per_word), per_word


@dataclass
class StreamPort:
    """One graph input or output as the host sees it (design_io.json's "input"/"output")."""

    name: str
    onnx_shape: tuple
    ir_shape: tuple
    index: np.ndarray | None      # ir_flat = onnx_flat[index]; None: the same order
    type: FixedType
    scale: np.ndarray             # real value = code * 2**-frac * scale (IR layout, broadcast)
    fold: int
    beats: int
    word_bits: int
    words_per_beat: int
    per_word: int
    quantizer: dict | None = None  # the model's own input quantizer, applied on the host
    integer: bool = False          # an output the model defines as integers (QDQ/QOperator)

    @classmethod
    def from_dict(cls, d: dict) -> "StreamPort":
        t = d["type"]
        return cls(name=d["name"], onnx_shape=tuple(d["onnx_shape"]), ir_shape=tuple(d["ir_shape"]),
                   index=None if d["index"] is None else np.asarray(d["index"], dtype=np.int64),
                   type=FixedType(t["width"], t["int_bits"], t["signed"], t["rounding"], t["overflow"]),
                   scale=np.asarray(d["scale"], dtype=np.float64), fold=d["fold"], beats=d["beats"],
                   word_bits=d["word_bits"], words_per_beat=d["words_per_beat"], per_word=d["per_word"],
                   quantizer=d.get("quantizer"), integer=d.get("integer", False))

    # ---- geometry ------------------------------------------------------------------------
    @property
    def elements(self) -> int:
        return self.fold * self.beats

    @property
    def word_bytes(self) -> int:
        return self.word_bits // 8

    @property
    def words_per_sample(self) -> int:
        return self.beats * self.words_per_beat

    @property
    def bytes_per_sample(self) -> int:
        return self.words_per_sample * self.word_bytes

    def _bit_offsets(self) -> np.ndarray:
        """The first bit of each value within a sample's words (increasing with the value)."""
        e = np.arange(self.elements, dtype=np.int64)
        beat, c = np.divmod(e, self.fold)
        word = beat * self.words_per_beat + c // self.per_word
        return word * self.word_bits + (c % self.per_word) * self.type.width

    @property
    def _lanes(self) -> int:
        return -(-self.bytes_per_sample // 8)   # 64-bit lanes holding a sample's words

    def _chunk(self) -> int:
        return max(1, (1 << 22) // max(1, self.elements))   # samples per step: ~32 MB of int64 at a time

    # ---- values <-> codes ----------------------------------------------------------------
    def to_ir(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        n = int(np.prod(self.onnx_shape, dtype=np.int64))
        if x.ndim < 1 or (x.shape[1:] != self.onnx_shape and (x.ndim != 2 or x.shape[1] != n)):
            raise ValueError(f"input {self.name!r}: shape {x.shape} does not match "
                             f"(batch, {', '.join(map(str, self.onnx_shape))})")
        flat = x.reshape(len(x), n)
        if self.index is not None:
            flat = flat[:, self.index]
        return flat.reshape((len(x),) + self.ir_shape)

    def to_onnx(self, y_ir: np.ndarray) -> np.ndarray:
        flat = y_ir.reshape(len(y_ir), -1)
        if self.index is not None:
            out = np.empty_like(flat)
            out[:, self.index] = flat
            flat = out
        return flat.reshape((len(y_ir),) + self.onnx_shape)

    def quantize(self, x) -> np.ndarray:
        """Real inputs (the model's layout) -> int64 codes (n, elements) in stream order: the
        model's input quantizer where it has one, else ap_fixed(double) conversion."""
        x_ir = self.to_ir(x)
        q = self.quantizer
        if q is None:
            codes = self.type.quantize(x_ir)
        elif q["kind"] == "bipolar":
            flip = None if q["flip"] is None else np.asarray(q["flip"], dtype=bool)
            threshold = None if q["threshold"] is None else np.asarray(q["threshold"], dtype=np.float64)
            codes = bipolar_codes(np.asarray(x_ir, dtype=np.float32).astype(np.float64), threshold, flip)
        else:
            codes = quantizer_codes(x_ir, np.asarray(q["scale"]), np.asarray(q["zero_point"]),
                                    q["qmin"], q["qmax"], q["rounding"])
        return np.asarray(codes).astype(np.int64).reshape(len(x_ir), self.elements)

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """int64 codes (n, elements) -> real outputs in the model's layout."""
        ir = self.type.to_float(codes.reshape((len(codes),) + self.ir_shape)) * self.scale
        y = self.to_onnx(ir)
        return y.astype(np.int64) if self.integer else y

    # ---- codes <-> words -----------------------------------------------------------------
    def pack(self, codes: np.ndarray) -> np.ndarray:
        """int64 codes (n, elements) -> uint8 (n, bytes_per_sample): each sample's words."""
        codes = np.asarray(codes, dtype=np.int64).reshape(-1, self.elements)
        out = np.zeros((len(codes), self._lanes), dtype="<u8")
        off = self._bit_offsets()
        lane, shift = off // 64, (off % 64).astype(np.uint64)
        spill = off % 64 + self.type.width > 64        # values that straddle two lanes
        first = np.flatnonzero(np.r_[True, lane[1:] != lane[:-1]])
        spill_lane = lane[spill] + 1
        spill_first = np.flatnonzero(np.r_[True, spill_lane[1:] != spill_lane[:-1]]) if spill.any() else None
        mask = np.uint64((1 << self.type.width) - 1)
        for i in range(0, len(codes), self._chunk()):
            u = codes[i:i + self._chunk()].astype(np.uint64) & mask     # two's complement, E bits
            out[i:i + len(u), lane[first]] = np.bitwise_or.reduceat(u << shift, first, axis=1)
            if spill_first is not None:
                hi = u[:, spill] >> (np.uint64(64) - shift[spill])
                out[i:i + len(u), spill_lane[spill_first]] |= np.bitwise_or.reduceat(hi, spill_first, axis=1)
        return out.view(np.uint8)[:, :self.bytes_per_sample]

    def unpack(self, data: np.ndarray) -> np.ndarray:
        """uint8 (n, bytes_per_sample) -> int64 codes (n, elements), sign-extended."""
        data = np.asarray(data, dtype=np.uint8).reshape(-1, self.bytes_per_sample)
        padded = np.zeros((len(data), self._lanes * 8), dtype=np.uint8)
        padded[:, :self.bytes_per_sample] = data
        lanes = padded.view("<u8")
        off = self._bit_offsets()
        lane, shift = off // 64, (off % 64).astype(np.uint64)
        spill = off % 64 + self.type.width > 64
        E = self.type.width
        mask = np.uint64((1 << E) - 1)
        out = np.empty((len(data), self.elements), dtype=np.int64)
        for i in range(0, len(data), self._chunk()):
            part = lanes[i:i + self._chunk()]
            u = part[:, lane] >> shift
            if spill.any():
                u[:, spill] |= part[:, lane[spill] + 1] << (np.uint64(64) - shift[spill])
            v = (u & mask).astype(np.int64)
            if self.type.signed:
                v = np.where(v >= (1 << (E - 1)), v - (1 << E), v)
            out[i:i + len(part)] = v
        return out


class HostIO:
    """The whole host side of one design: its input and output ports and the batch framing."""

    def __init__(self, doc: dict):
        if doc.get("format") != FORMAT:
            raise ValueError(f"design_io.json format {doc.get('format')!r}; this reader knows {FORMAT}")
        self.doc = doc
        self.input = StreamPort.from_dict(doc["input"])
        self.output = StreamPort.from_dict(doc["output"])

    @classmethod
    def load(cls, path) -> "HostIO":
        return cls(json.loads(Path(path).read_text()))

    def header(self, n: int) -> np.ndarray:
        """The batch's first input word: its sample count."""
        if not 1 <= n < 1 << 32:
            raise ValueError(f"a batch holds 1 .. 2**32-1 samples, not {n}")
        word = np.zeros(self.input.word_bytes, dtype=np.uint8)
        word[:4] = np.frombuffer(int(n).to_bytes(4, "little"), dtype=np.uint8)
        return word

    def pack_batch(self, x) -> np.ndarray:
        """Real inputs -> the bytes of one input transfer (header word, then every sample)."""
        return self.frame(self.input.quantize(x))

    def frame(self, codes: np.ndarray) -> np.ndarray:
        """Input codes (n, elements) -> the bytes of their transfer: the header, then the words."""
        words = self.input.pack(codes)
        return np.concatenate([self.header(len(words)), words.ravel()])

    def unpack_batch(self, data: np.ndarray, n: int) -> np.ndarray:
        """The bytes of one output transfer of n samples -> real outputs (the model's layout)."""
        data = np.asarray(data, dtype=np.uint8).ravel()[: n * self.output.bytes_per_sample]
        return self.output.dequantize(self.output.unpack(data))

    def in_batches(self, x, max_batch: int, transfer) -> np.ndarray:
        """Outputs for x, one transfer(batch) of at most max_batch samples at a time."""
        x = np.asarray(x)
        parts = [transfer(x[i:i + max_batch]) for i in range(0, len(x), max_batch)]
        return np.concatenate(parts) if parts else self.unpack_batch(np.zeros(0, np.uint8), 0)

    def input_bytes(self, n: int) -> int:
        return self.input.word_bytes + n * self.input.bytes_per_sample

    def output_bytes(self, n: int) -> int:
        return n * self.output.bytes_per_sample


def command_line(accelerator, where: str, binary_option: str, argv=None) -> None:
    """`python3 driver.py X.npy -o Y.npy` (and host.py): predict on a .npy file with the
    board's Accelerator class, whose first argument is the bitstream or xclbin."""
    import argparse
    import time

    ap = argparse.ArgumentParser(description=f"run the design on the {where}: predict on X.npy, write Y.npy")
    ap.add_argument("x", help="inputs (.npy, the model's layout, batch first)")
    ap.add_argument("-o", "--output", default="y.npy")
    ap.add_argument(binary_option, dest="binary")
    args = ap.parse_args(argv)
    acc = accelerator(args.binary)
    xs = np.load(args.x)
    t0 = time.perf_counter()
    ys = acc.predict(xs)
    dt = time.perf_counter() - t0
    np.save(args.output, ys)
    print(f"{len(xs)} samples in {dt:.4f} s ({len(xs) / dt:,.0f} inferences/s, host packing included); "
          f"wrote {args.output}")
