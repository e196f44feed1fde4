"""Affine: y = x * scale + shift per channel (last axis). BatchNormalization and constant
Add/Sub/Mul/Div become this op; the fold pass merges it into a preceding Dense when it can,
otherwise it is a streaming multiply-add kernel of its own."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..numerics import FixedType, exact_type, grid_codes
from . import register
from ..cost.hardware import multiplier
from ._lanes import LaneOp, lane_context, lane_cost
from .base import Bounds, CostContext, HlsContext, TypingContext, collapse_scale, is_unit


SCALE_SIGNIFICANT_BITS = 10   # of the smallest per-channel scale (see ScaleShift._scale_type)
SCALE_MAX_WIDTH = 24


class ScaleShift:
    """y = x * s + t with constants s, t broadcast against the input (one per channel, or per
    position): their quantization, the exact accumulator and the simulator, shared by Affine
    and PositionAffine (the ops define the fields scale, shift, scale_type, shift_type and
    accum_type)."""

    def assign_types(self, ctx: TypingContext) -> None:
        x_type = ctx.inputs[0].type
        if self.scale_type is None:
            self.scale_type = self._scale_type(ctx.policy.weight_type(self.scale))
        sq = self.scale_type.quantize(self.scale)
        self.scale = self.scale_type.to_float(sq)
        frac = x_type.frac_bits + self.scale_type.frac_bits
        tq = grid_codes(self.shift, frac)
        self.shift = np.ldexp(tq.astype(np.float64), -frac)
        self.shift_type = exact_type(min(int(tq.min()), 0), max(int(tq.max()), 0), frac)
        s_b, t_b = np.broadcast_arrays(sq, tq)
        lo = np.minimum(s_b * x_type.min_code, s_b * x_type.max_code) + t_b
        hi = np.maximum(s_b * x_type.min_code, s_b * x_type.max_code) + t_b
        self.accum_type = exact_type(min(int(lo.min()), 0), max(int(hi.max()), 0), frac)
        out = ctx.outputs[0]
        if out.type is None:
            out.type = ctx.narrowed()

    def _scale_type(self, shared: FixedType) -> FixedType:
        """The weight format widened (up to SCALE_MAX_WIDTH bits) until every nonzero scale
        keeps SCALE_SIGNIFICANT_BITS: per-channel scales far apart (a BatchNormalization of a
        near-constant channel beside ordinary ones) share one binary point, which would
        otherwise flush the small ones to zero."""
        mags = np.abs(np.asarray(self.scale, dtype=np.float64))
        mags = mags[mags > 0]
        if mags.size == 0:
            return shared
        want = SCALE_SIGNIFICANT_BITS - math.frexp(float(mags.min()))[1]   # fraction bits needed
        width = min(max(shared.width, shared.int_bits + want), max(shared.width, SCALE_MAX_WIDTH))
        return FixedType(width, shared.int_bits, shared.signed, shared.rounding, shared.overflow)

    def simulator(self, in_types, out_types):
        (y_type,) = out_types
        sq = self.scale_type.quantize(self.scale)
        tq = self.shift_type.quantize(self.shift)
        acc_type = self.accum_type
        if acc_type.width <= 53:  # every value of the accumulator is exact in float64
            sq, tq = sq.astype(np.float64), tq.astype(np.float64)

        def run(ins):
            x = ins[0] if sq.dtype == np.float64 else ins[0].astype(np.int64)
            return [y_type.cast(x * sq + tq, acc_type).astype(np.float64, copy=False)]

        return run


@register
@dataclass
class Affine(ScaleShift, LaneOp):
    channel_params: ClassVar[tuple[str, ...]] = ("scale", "shift")   # pruning slices them
    kind = "Affine"
    template = "affine"
    # the multiply-add is exact on any input width and rounds once, at its output: a
    # narrowed input would round twice, its error multiplied by the scale
    rounds_input = True

    scale: np.ndarray                  # (C,)
    shift: np.ndarray                  # (C,)
    scale_type: FixedType | None = None
    shift_type: FixedType | None = None
    accum_type: FixedType | None = None

    @property
    def channels(self) -> int:
        return int(self.scale.shape[0])

    def describe(self) -> str:
        return f"Affine x{self.channels}"

    def reference(self, xs):
        return [xs[0] * self.scale + self.shift]

    def bounds(self, ins):
        b = ins[0]
        cands = (b.lo * self.scale, b.hi * self.scale)
        return [Bounds(np.minimum(*cands) + self.shift, np.maximum(*cands) + self.shift)]

    @property
    def is_identity(self) -> bool:
        return bool(np.all(self.scale == 1.0) and np.all(self.shift == 0.0))

    def rescale(self, in_scales):
        """A positive scale is free: it moves into the tensor's scale and only the shift
        remains (usually folded into a bias next). Otherwise the input scale is absorbed
        into the multiply."""
        s_x = np.asarray(in_scales[0], dtype=np.float64)
        uniform = bool(np.all(self.scale == self.scale.reshape(-1)[0]))
        # A uniform scale is free anywhere; per-channel ones only on scaled (integer) tensors,
        # since on dynamic-fixed-point tensors they would stretch one shared format.
        if (not is_unit(s_x) or uniform) and np.all(self.scale > 0):
            out = collapse_scale(s_x * self.scale)
            self.shift = self.shift / out
            self.scale = np.ones_like(self.scale)
            return [out]
        if not is_unit(s_x):
            self.scale = self.scale * s_x
        return [1.0]

    def cost(self, ctx: CostContext):
        """Per lane: x * s (a multiplier) and the + t adder; the parameters one beat a word."""
        c = ctx.target.coeff
        dsp, m_lut, m_ff = multiplier(ctx.target, ctx.inputs[0].type.width, self.scale_type.width)
        acc = self.accum_type.width
        return lane_cost(ctx, style="elementwise_mac", dsp_per_lane=dsp,
                         lut_per_lane=m_lut + acc * c["lut_per_adder_bit"],
                         ff_per_lane=m_ff + acc * c.get("ff_per_mac_bit", 0.0),
                         depth=int(c["mult_latency"]) + 1, param_bits=self.scale_type.width + self.shift_type.width)

    def hls(self, ctx: HlsContext) -> dict:
        return dict(lane_context(ctx),
                    scale=ctx.lane_constant("s", self.scale_type, self.scale_type.quantize(self.scale)),
                    shift=ctx.lane_constant("t", self.shift_type, self.shift_type.quantize(self.shift)),
                    scale_type=self.scale_type, shift_type=self.shift_type, accum_type=self.accum_type)
