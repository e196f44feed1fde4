"""DeconvShuffle: the phase interleave (and crop) that completes a polyphase ConvTranspose.

The frontend (frontend/convert_conv_transpose.py) lowers a ConvTranspose with strides
(sh, sw) to a stride-1 Conv producing, for every "coarse" pixel (qh, qw), all sh*sw output
phases, followed by this op, which puts phase (rh, rw) of coarse pixel (qh, qw) at output
pixel (qh*sh + rh - off_h, qw*sw + rw - off_w) and drops what falls outside the output
(the ConvTranspose's pads). The coarse channels are group-major, then phase, then the
output channel within the group: coarse channel g*(P*cg) + (rh*sw + rw)*cg + j holds output
channel g*cg + j (P = sh*sw phases, cg output channels per group), so each of the Conv's
groups writes a contiguous block of columns as Conv requires. Pure data movement: the
output keeps the input type (an assignment to the output type is a fused quantizer's cast).

Hardware (templates/kernels/qc_deconv.h, qc::deconv_shuffle): two coarse rows are buffered
(ping-pong), each Qw pixels of Cc = P*C elements partitioned into Cc element memories of Qw
words. Coarse rows arrive at the beat width the Conv writes (k_in elements per beat, Cc/k_in
beats per pixel, R = Qw*Cc/k_in beats per row); output beats leave at k_out = gcd(k_in, C)
channels, each output lane a multiplexer over the Cc/k_out elements it may take. After the
first row, step q reads coarse row q+1 while it writes the output rows of row q (n_q <= sh of
them, W = Ow*C/k_out beats each), one beat in and one out per cycle, so one image takes
    R + sum_q max(R [q+1 < Qh], n_q * W) cycles,
about the output's beats (P*R ~ sh*W: writing is the longer side); the Conv in front, with
its window's MACs per coarse pixel, is normally the slower stage.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import register
from ._movement import MovementOp
from .base import CostContext, HlsContext, NeedsUnitScale


@register
@dataclass
class DeconvShuffle(MovementOp):
    kind = "DeconvShuffle"
    template = "deconv_shuffle"

    rank: int = 2                 # spatial axes of the image (1: (W, C), 2: (H, W, C))
    sh: int = 1                   # phases along the rows (the ConvTranspose's stride; 1 in 1-D)
    sw: int = 1                   # phases along the columns
    off_h: int = 0                # output pixel (0, 0) is fine pixel (off_h, off_w) of the coarse grid
    off_w: int = 0
    out_h: int = 1
    out_w: int = 1
    group_size: int = 1           # output channels per group (cg)

    def __post_init__(self):
        for f in ("rank", "sh", "sw", "off_h", "off_w", "out_h", "out_w", "group_size"):
            setattr(self, f, int(getattr(self, f)))

    @property
    def phases(self) -> int:
        return self.sh * self.sw

    def describe(self) -> str:
        s = f"{self.sh}x{self.sw}" if self.rank == 2 else f"{self.sw}"
        return f"DeconvShuffle {s} ->{self.out_h}x{self.out_w}" if self.rank == 2 else \
            f"DeconvShuffle {s} ->{self.out_w}"

    def _coarse(self, shape) -> tuple[int, int, int]:
        """IR input shape -> (Qh, Qw, Cc)."""
        return (1,) + tuple(shape) if len(shape) == 2 else tuple(shape)

    def infer_shapes(self, shapes):
        (shape,) = shapes
        if len(shape) != self.rank + 1:
            raise ValueError(f"input {shape} is not a {self.rank}-D image")
        qh, qw, cc = self._coarse(shape)
        if cc % (self.phases * self.group_size):
            raise ValueError(f"{cc} channels do not hold {self.phases} phases of groups of {self.group_size}")
        if (self.off_h + self.out_h - 1) // self.sh >= qh or (self.off_w + self.out_w - 1) // self.sw >= qw:
            raise ValueError(f"a {self.out_h}x{self.out_w} output at offset ({self.off_h}, {self.off_w}) "
                             f"does not fit the coarse grid {qh}x{qw}")
        c = cc // self.phases
        return [(self.out_h, self.out_w, c) if self.rank == 2 else (self.out_w, c)]

    def move(self, x):
        n = len(x)
        qh, qw, cc = self._coarse(x.shape[1:])
        cg = self.group_size
        groups = cc // (self.phases * cg)
        fine = x.reshape(n, qh, qw, groups, self.sh, self.sw, cg).transpose(0, 1, 4, 2, 5, 3, 6)
        fine = fine.reshape(n, qh * self.sh, qw * self.sw, groups * cg)
        y = fine[:, self.off_h:self.off_h + self.out_h, self.off_w:self.off_w + self.out_w]
        return np.ascontiguousarray(y).reshape((n,) + self.infer_shapes([x.shape[1:]])[0])

    def rescale(self, in_scales):
        """A per-channel scale passes when every phase of an output channel has the same
        scale (the Conv's columns of one ConvTranspose channel share its weight scale)."""
        s = in_scales[0]
        if not np.ndim(s):
            return [s]
        arr = np.asarray(s, dtype=np.float64).reshape(-1, self.phases, self.group_size)
        if not np.all(arr == arr[:, :1]):
            raise NeedsUnitScale([0])
        return [arr[:, 0].reshape(-1).copy()]

    # ---- streams and hardware --------------------------------------------------------------
    def stream_folds(self, in_shapes, out_shapes, arriving):
        cc, c = in_shapes[0][-1], out_shapes[0][-1]
        k_in = math.gcd(arriving[0] or cc, cc)
        return [k_in], [math.gcd(k_in, c)]

    def _rows(self, qh: int) -> np.ndarray:
        """Coarse row each output row comes from."""
        return (np.arange(self.out_h) + self.off_h) // self.sh

    def cycles(self, qh: int, row_in: int, row_out: int) -> int:
        """Cycles per image (qc::deconv_shuffle runs exactly this many): the first coarse
        row, then per coarse row max(reading the next one, writing its output rows)."""
        first = np.clip(np.arange(qh) * self.sh - self.off_h, 0, self.out_h)
        last = np.clip((np.arange(qh) + 1) * self.sh - self.off_h, 0, self.out_h)
        reads = np.where(np.arange(qh) + 1 < qh, row_in, 0)
        return int(row_in + np.maximum(reads, (last - first) * row_out).sum())

    def cost(self, ctx: CostContext):
        from ..cost.hardware import clog2, k as coeff, memory, stream_cycles, stream_io
        from ..cost.model import LayerCost

        target, c = ctx.target, ctx.target.coeff
        x, y = ctx.inputs[0], ctx.outputs[0]
        qh, qw, cc = self._coarse(x.shape)
        k_in, k_out = ctx.in_folds[0], ctx.out_folds[0]
        ii = self.cycles(qh, qw * (cc // k_in), self.out_w * (y.channels // k_out))
        bram, lut, uram = memory(target, x.type.width, qw, banks=2 * cc, ports=1)
        sources = max(cc // k_out, 1)        # elements an output lane may take
        mux = k_out * y.type.width * (sources - 1) * coeff(target, "lut_per_mux_bit", 0.3)
        counters = clog2(qh + 1) + clog2(qw) + clog2(self.out_h) + clog2(self.out_w) + 2 * clog2(cc + 1)
        lut += mux + coeff(target, "lut_per_swg_counter_bit", 3.0) * counters
        s_lut, s_ff = stream_io(target, k_out * y.type.width)
        depth = 2 + stream_cycles(target)
        first = int(self._rows(qh)[0] + 1) * qw * (cc // k_in) + depth
        return LayerCost(style="deconv_shuffle", ii=ii, latency=ii + depth, first_out=first,
                         lut=lut + s_lut + c["lut_fixed"], ff=k_out * y.type.width + 2 * counters + s_ff + c["ff_fixed"],
                         bram_18k=bram, uram=uram,
                         detail={"phases": self.phases, "buffer_elements": 2 * qw * cc, "in_fold": k_in,
                                 "out_fold": k_out})

    def hls(self, ctx: HlsContext) -> dict:
        qh, qw, cc = self._coarse(ctx.inputs[0].shape)
        k_in, k_out = ctx.in_folds[0], ctx.out_folds[0]
        c = cc // self.phases
        return {"in_h": qh, "in_w": qw, "in_c": cc, "out_h": self.out_h, "out_w": self.out_w, "out_c": c,
                "sh": self.sh, "sw": self.sw, "off_h": self.off_h, "off_w": self.off_w, "cg": self.group_size,
                "in_fold": k_in, "out_fold": k_out, "in_beats": cc // k_in, "out_beats": c // k_out}

    def items_needed(self, in_shapes, out_shape):
        qh, qw, _ = self._coarse(in_shapes[0])
        need = (self._rows(qh) + 1) * qw       # the whole coarse row is buffered before it is used
        return [np.repeat(need, self.out_w)]
