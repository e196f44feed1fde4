"""Clip (and ReLU6): y = min(max(x, lo), hi), either bound optional, as ONNX orders them.

Exact: the clamp happens in a type holding the input and both bounds exactly (bounds that
need more fraction bits than max(input, output + 2) are rounded to that grid, which the
description states), followed by the single cast to the output type. Unless a model
quantizer fixed it, the output type is the exact one (the input's grid, the clamped range),
so ReLU6 on a 16-bit input costs no rounding at all; when that would be wider than the
policy width the output is narrowed (rounded, saturating) instead. A per-tensor input scale
moves into the bounds (the op then works, and states its error, in fixed units).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from . import register
from ..numerics.fixed import FLOAT_EXACT
from ._activation import exact_frac, max_abs_error, probe_codes, pwl_cost, saturating_type, widened
from ._lanes import LaneOp, lane_context
from .base import Bounds, CostContext, HlsContext, TypingContext, is_unit


@register
@dataclass
class Clip(LaneOp):
    kind = "Clip"
    template = "clip"

    lo: float | None = None
    hi: float | None = None
    bound_type: FixedType | None = None    # holds the input and both bounds: the clamp happens in it
    max_error: float | None = None         # measured when typed (0 unless the output rounds)

    def describe(self) -> str:
        def fmt(v, q):
            if v is None:
                return "-inf" if q == "lo" else "inf"
            s = f"{v:.6g}"
            if self.bound_type is not None and not self._on_grid(v):
                s += f" (q {self.bound_type.to_float(self.bound_type.quantize(v)):.8g})"
            return s
        return f"Clip [{fmt(self.lo, 'lo')}, {fmt(self.hi, 'hi')}]"

    def _on_grid(self, v: float) -> bool:
        t = self.bound_type
        return float(t.to_float(t.quantize(v))) == v

    # ---- float semantics -----------------------------------------------------
    def reference(self, xs):
        y = xs[0]
        if self.lo is not None:
            y = np.maximum(y, self.lo)
        if self.hi is not None:
            y = np.minimum(y, self.hi)
        return [y]

    def bounds(self, ins):
        lo, hi = (self.reference([v])[0] for v in (ins[0].lo, ins[0].hi))  # monotone
        return [widened(Bounds(lo, hi), self.max_error)]

    # ---- real scales ---------------------------------------------------------------
    def rescale(self, in_scales):
        """A per-tensor scale s > 0: clip(s x, lo, hi) = s clip(x, lo/s, hi/s). The bounds
        move to fixed units; per-channel scales get a requantizer in front (default)."""
        s = np.asarray(in_scales[0], dtype=np.float64)
        if s.size != 1 or is_unit(s):
            return super().rescale(in_scales)
        k = float(s.reshape(-1)[0])
        self.lo = None if self.lo is None else self.lo / k
        self.hi = None if self.hi is None else self.hi / k
        return [k]

    # ---- formats -----------------------------------------------------------------
    def active(self, x_type: FixedType) -> tuple[bool, bool]:
        """Which bounds can ever act on inputs of this type (hi acts on max(x, lo))."""
        has_lo = self.lo is not None and self.lo > x_type.min_value
        top = max(x_type.max_value, self.lo) if has_lo else x_type.max_value
        return has_lo, self.hi is not None and self.hi < top

    def assign_types(self, ctx: TypingContext) -> None:
        x_type, out = ctx.inputs[0].type, ctx.outputs[0]
        narrowed = out.type if out.type is not None else saturating_type(ctx)
        has = self.active(x_type)
        bounds = [v for v, h in zip((self.lo, self.hi), has) if h]
        cap = max(x_type.frac_bits, narrowed.frac_bits + 2)
        need = exact_frac(bounds, cap) if bounds else x_type.frac_bits
        exact_bounds = need is not None
        fv = max(x_type.frac_bits, need if exact_bounds else cap)
        k = fv - x_type.frac_bits
        codes = [int(np.rint(np.ldexp(v, fv))) for v in bounds]
        xl, xh = x_type.min_code << k, x_type.max_code << k
        self.bound_type = exact_type(min([xl, 0] + codes), max([xh, 0] + codes), fv)
        if out.type is None:
            lo_c, hi_c = self._clamp_codes(x_type)
            ylo, yhi = (int(np.minimum(np.maximum(v, lo_c), hi_c)) for v in (xl, xh))
            exact = exact_type(min(ylo, 0), max(yhi, 0), fv)
            if exact.width <= max(ctx.policy.width, x_type.width) or \
                    (ctx.output_is_requantized and exact.width <= FLOAT_EXACT):
                out.type = exact
                out.model_typed = ctx.inputs[0].model_typed and exact_bounds
            else:
                out.type = narrowed
        extra = [np.floor(np.ldexp(v, x_type.frac_bits)) + d for v in bounds for d in (-1, 0, 1, 2)]
        codes_x, _ = probe_codes(x_type, extra)
        self.max_error = max_abs_error(self.simulator([x_type], [out.type]), self.reference, x_type, out.type, codes_x)

    def _clamp_codes(self, x_type: FixedType) -> tuple[float, float]:
        has_lo, has_hi = self.active(x_type)
        t = self.bound_type
        lo = float(t.quantize(self.lo)) if has_lo else -np.inf
        hi = float(t.quantize(self.hi)) if has_hi else np.inf
        return lo, hi

    # ---- bit-accurate simulation -------------------------------------------------------
    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        v_type = self.bound_type
        lo, hi = self._clamp_codes(x_type)
        k = v_type.frac_bits - x_type.frac_bits

        def run(ins):
            v = ins[0].astype(np.int64) << k
            if lo != -np.inf:
                v = np.maximum(v, int(lo))
            if hi != np.inf:
                v = np.minimum(v, int(hi))
            return [y_type.cast(v, v_type).astype(np.float64)]

        return run

    # ---- hardware ---------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        has = self.active(ctx.inputs[0].type)
        return pwl_cost(ctx, compare_bits=sum(has) * self.bound_type.width, mults=[],
                        detail={"function": "clip", "bounds": [self.lo, self.hi], "bound_type": self.bound_type.cpp()})

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        has_lo, has_hi = self.active(x.type)
        lo, hi = self._clamp_codes(x.type)
        codes = [int(lo) if has_lo else 0, int(hi) if has_hi else 0]
        return dict(lane_context(ctx), has_lo=has_lo, has_hi=has_hi, v_type=self.bound_type,
                    bounds=ctx.constant("bounds", self.bound_type, np.array(codes, dtype=np.int64)))
