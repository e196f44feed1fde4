"""PRelu and LeakyRelu: y = x < 0 ? x * slope : x, one slope per channel (last axis), one
for all (LeakyRelu's alpha), or slopes that vary along the positions (an IR-shaped array
with size-1 axes where broadcast: ONNX PRelu's slope of any unidirectionally broadcast
shape); those are a ROM addressed by the item counters (qc::prelu_positions in
templates/kernels/qc_binary.h, the walk of ops/_broadcast.py).

Exact integer arithmetic: the slope is a fixed-point constant (exact when it sits on a
grid no finer than needed, e.g. QONNX's 13/128; otherwise quantized so that
|x| * |slope - slope_q| <= lsb(y)/4 over the input type's negative range, see
_activation.constant_type), the product is exact, and the only rounding is the final cast.
On a model-quantized input with exact slopes, or when only quantizers read the output, the
output keeps every bit (model_typed), like the Dense layer's exact path. Positively
homogeneous, so it takes a scaled input as it is (output scale = input scale); the stated
`max_error` is then in the tensor's fixed units.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..numerics import FixedType, exact_type, jit
from . import register
from ._activation import (constant_type, describe_constant, max_abs_error, monotone_pieces_bounds,
                          probe_codes, pwl_cost, saturating_type, widened)
from ..numerics.fixed import FLOAT_EXACT
from ._broadcast import geometry, position_table, positions_context, varies_by_position
from ._lanes import LaneOp, lane_context
from .base import CostContext, HlsContext, TypingContext

MEASURE_CHANNELS = 64   # distinct slopes measured at once (bounds memory)


@register
@dataclass
class PRelu(LaneOp):
    channel_params: ClassVar[tuple[str, ...]] = ("slope",)   # pruning slices them
    kind = "PRelu"
    template = "prelu"

    slope: np.ndarray                       # (C,) per channel, (1,) for all, or IR-shaped per position
    slope_type: FixedType | None = None
    accum_type: FixedType | None = None     # holds x * slope_q and x exactly
    max_error: float | None = None          # measured when typed

    @property
    def positional(self) -> bool:
        return varies_by_position(self.slope)

    def describe(self) -> str:
        s = np.asarray(self.slope, dtype=np.float64)
        if self.positional:
            return f"PRelu {'x'.join(map(str, s.shape))} per position"
        if s.size == 1:
            text = f"LeakyRelu alpha={float(s[0]):.6g}"
            if self.slope_type is not None:
                text = f"LeakyRelu alpha={describe_constant(float(s[0]), self.slope_type)}"
            return text
        grid = f", slopes on 2^-{self.slope_type.frac_bits}" if self.slope_type is not None else ""
        return f"PRelu x{s.size}{grid}"

    def _f(self, x):
        return np.where(x < 0, x * self.slope, x)

    def reference(self, xs):
        return [self._f(xs[0])]

    def bounds(self, ins):
        return [widened(monotone_pieces_bounds(self._f, ins[0]), self.max_error)]

    def rescale(self, in_scales):
        return [in_scales[0]]  # scales are positive: prelu(s * x) == s * prelu(x), slopes unchanged

    def assign_types(self, ctx: TypingContext) -> None:
        x_type, out = ctx.inputs[0].type, ctx.outputs[0]
        provisional = out.type if out.type is not None else saturating_type(ctx)
        slope = np.asarray(self.slope, dtype=np.float64)
        self.slope_type = constant_type(slope, max(-x_type.min_value, 0.0), provisional.frac_bits)
        sq = self.slope_type.quantize(slope)
        fs = self.slope_type.frac_bits
        xl, xh = x_type.min_code, x_type.max_code
        prods = [0, xh << fs] + ([xl * int(sq.min()), xl * int(sq.max())] if xl < 0 else [])
        self.accum_type = exact_type(min(prods), max(prods), x_type.frac_bits + fs)
        if out.type is None:
            exact_slopes = np.array_equal(self.slope_type.to_float(sq), slope)
            keep_all = (ctx.inputs[0].model_typed and exact_slopes) or ctx.output_is_requantized
            if keep_all and self.accum_type.width <= FLOAT_EXACT:  # the model's arithmetic, or a quantizer next
                out.type, out.model_typed = self.accum_type, True
            else:
                out.type = provisional
        self.max_error = self._measure(x_type, out.type)

    def _measure(self, x_type: FixedType, y_type: FixedType) -> float:
        codes, _ = probe_codes(x_type)
        uniq = np.unique(np.asarray(self.slope, dtype=np.float64))
        err = 0.0
        for i in range(0, uniq.size, MEASURE_CHANNELS):
            part = PRelu(slope=uniq[i:i + MEASURE_CHANNELS], slope_type=self.slope_type, accum_type=self.accum_type)
            err = max(err, max_abs_error(part.simulator([x_type], [y_type]), part.reference, x_type, y_type, codes))
        return err

    def simulator(self, in_types, out_types):
        (y_type,) = out_types
        sq = self.slope_type.quantize(np.asarray(self.slope, dtype=np.float64))
        fs, acc = self.slope_type.frac_bits, self.accum_type

        def run(ins):
            c = ins[0].astype(np.int64)
            v = np.where(c < 0, c * sq, c << fs)
            return [y_type.cast(v, acc).astype(np.float64)]

        # the compiled loop (numerics/jit.py): x * (slope if x < 0 else 2**fs) and the cast
        # in one pass, exact in float64 (the products fit the accumulator's <= 52 bits)
        plan = y_type.cast_plan(acc, acc.min_code, acc.max_code)
        step = plan.one_step() if jit.available() and not self.positional and acc.width < FLOAT_EXACT else None
        if step is None:
            return run
        slopes = np.ravel(sq).astype(np.float64) * plan.scale
        affines: dict = {}

        def run_compiled(ins):
            x = ins[0]
            c = x.shape[-1] if x.ndim >= 2 else 0
            if not (c and slopes.size in (1, c) and jit.worth(x.size)):
                return run(ins)
            if c not in affines:
                affines[c] = jit.Affine(c, mult=math.ldexp(plan.scale, fs), mult_neg=slopes,
                                        offset=plan.offset * plan.scale, rounding=step[0], lo=step[1], hi=step[2])
            return [affines[c](np.ascontiguousarray(x), np.empty(x.shape))]

        return run_compiled

    def infer_shapes(self, shapes):
        if self.positional:
            geometry(shapes[0], np.shape(self.slope))   # ValueError when the slopes do not broadcast
        return [tuple(shapes[0])]

    def cost(self, ctx: CostContext):
        per_channel = int(np.asarray(self.slope).size) > 1
        if self.positional:  # the ROM of slopes, one beat's (or one position's) a word
            from ..cost.hardware import memory

            p = positions_context(geometry(ctx.inputs[0].shape, np.shape(self.slope)), ctx.fold, rom=True)
            cost = pwl_cost(ctx, compare_bits=self.accum_type.width,
                            mults=[(ctx.inputs[0].type.width, self.slope_type.width)],
                            detail={"function": "prelu", "slope_type": self.slope_type.cpp(),
                                    "slopes": int(np.asarray(self.slope).size), "rom_words": p["b_words"]})
            bram, lut, _ = memory(ctx.target, p["b_fold"] * self.slope_type.width, p["b_words"])
            cost.bram_18k += bram
            cost.lut += lut
            return cost
        return pwl_cost(ctx, compare_bits=self.accum_type.width,
                        mults=[(ctx.inputs[0].type.width, self.slope_type.width)],
                        param_bits=self.slope_type.width if per_channel else 0,
                        detail={"function": "prelu", "slope_type": self.slope_type.cpp(),
                                "slopes": int(np.asarray(self.slope).size)})

    def hls(self, ctx: HlsContext) -> dict:
        sq = np.atleast_1d(self.slope_type.quantize(np.asarray(self.slope, dtype=np.float64)))
        if self.positional:
            geom = geometry(ctx.inputs[0].shape, sq.shape)
            p = positions_context(geom, ctx.fold, rom=True)
            slope = ctx.constant("slope", self.slope_type, position_table(sq, geom, ctx.fold), word=p["b_fold"])
            return dict(lane_context(ctx), **p, positional=True, per_channel=True, slope_type=self.slope_type,
                        accum_type=self.accum_type, slope=slope)
        per_channel = sq.size > 1
        slope = ctx.lane_constant("slope", self.slope_type, sq) if per_channel else \
            ctx.constant("slope", self.slope_type, sq)
        return dict(lane_context(ctx), positional=False, per_channel=per_channel, slope_type=self.slope_type,
                    accum_type=self.accum_type, slope=slope)
