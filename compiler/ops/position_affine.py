"""PositionAffine: y = x * scale[p] + shift[p] with constants that vary along the positions
of the tensor (a learned positional offset, a constant operand of shape (H, W), ONNX
Add/Mul/Sub/Div by a constant of any broadcast shape that is not per-channel). The
constants have the tensor's IR rank with size-1 axes where they are broadcast (their
channels: all of them, or one value per position). Numerics as ops/affine.py: the scale is
quantized to a weight type, the shift lands on the product's grid, the multiply-add is
exact and cast once to the output type.

Hardware (qc::position_affine, templates/kernels/qc_binary.h): per lane a multiplier and an
adder, one beat per cycle; the constants are ROMs of one beat's values a word (or one value
per position), addressed by the item counters of the position walk (ops/_broadcast.py): the
cost is the multipliers and the ROMs (constant-free where a constant is uniform)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cost.hardware import memory, multiplier
from ..numerics import FixedType
from . import register
from ._broadcast import geometry, positions_context, position_table
from ._lanes import LaneOp, lane_context, lane_cost
from .affine import ScaleShift
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, is_unit


@register
@dataclass
class PositionAffine(ScaleShift, LaneOp):
    kind = "PositionAffine"
    template = "position_affine"

    scale: np.ndarray                  # IR-shaped per sample, size-1 axes broadcast
    shift: np.ndarray
    scale_type: FixedType | None = None
    shift_type: FixedType | None = None
    accum_type: FixedType | None = None

    def __post_init__(self):
        self.scale = np.asarray(self.scale, dtype=np.float64)
        self.shift = np.asarray(self.shift, dtype=np.float64)

    @property
    def const_shape(self) -> tuple[int, ...]:
        return tuple(np.broadcast_shapes(self.scale.shape, self.shift.shape))

    def describe(self) -> str:
        return f"PositionAffine {'x'.join(map(str, self.const_shape))}"

    def infer_shapes(self, shapes):
        (x,) = shapes
        geometry(x, self.const_shape)   # ValueError when the constants do not broadcast
        return [tuple(x)]

    def reference(self, xs):
        return [xs[0] * self.scale + self.shift]

    def bounds(self, ins):
        b = ins[0]
        cands = (b.lo * self.scale, b.hi * self.scale)
        return [Bounds(np.minimum(*cands) + self.shift, np.maximum(*cands) + self.shift)]

    def rescale(self, in_scales):
        s_x = in_scales[0]
        if is_unit(s_x):
            return [1.0]
        if np.size(s_x) == 1:  # a scalar input scale is absorbed into the multiply
            self.scale = self.scale * float(np.asarray(s_x).reshape(-1)[0])
            return [1.0]
        raise NeedsUnitScale([0])

    def _uniform(self, v) -> bool:
        return bool(np.all(v == v.reshape(-1)[0]))

    def _walk(self, ctx):
        geom = geometry(ctx.inputs[0].shape, self.const_shape)
        return geom, positions_context(geom, ctx.fold, rom=True)

    def cost(self, ctx: CostContext):
        """Per lane x * s (a multiplier) and + t; the two ROMs (one beat a word)."""
        c = ctx.target.coeff
        dsp, m_lut, m_ff = multiplier(ctx.target, ctx.inputs[0].type.width, self.scale_type.width)
        _, p = self._walk(ctx)
        bits = (0 if self._uniform(self.scale) else self.scale_type.width) + \
            (0 if self._uniform(self.shift) else self.shift_type.width)
        bram, lut, _ = memory(ctx.target, p["b_fold"] * bits, p["b_words"]) if bits else (0.0, 0.0, 0.0)
        acc = self.accum_type.width
        return lane_cost(ctx, style="elementwise_mac", dsp_per_lane=dsp,
                         lut_per_lane=m_lut + acc * c["lut_per_adder_bit"],
                         ff_per_lane=m_ff + acc * c.get("ff_per_mac_bit", 0.0),
                         depth=int(c["mult_latency"]) + 2, bram_18k=bram, extra_lut=lut,
                         detail={"rom_words": p["b_words"], "rom_bits": p["b_fold"] * bits,
                                 "constant": list(self.const_shape)})

    def hls(self, ctx: HlsContext) -> dict:
        geom, p = self._walk(ctx)
        L = dict(lane_context(ctx), **p, scale_type=self.scale_type, shift_type=self.shift_type,
                 accum_type=self.accum_type)
        for key, v, t in (("scale", self.scale, self.scale_type), ("shift", self.shift, self.shift_type)):
            codes = t.quantize(v)
            uniform = self._uniform(v)
            L[f"has_{key}"] = not uniform
            L[key] = ctx.constant(key, t, codes.reshape(-1)[:1]) if uniform else \
                ctx.constant(key, t, position_table(codes, geom, ctx.fold), word=p["b_fold"])
        return L
