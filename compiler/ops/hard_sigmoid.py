"""HardSigmoid: y = max(0, min(1, alpha * x + beta)), exact integer arithmetic.

alpha is a fixed-point constant (exact when it sits on a coarse enough grid, otherwise
quantized so that |x| * |alpha - alpha_q| <= lsb(y)/4 over the inputs where the clamp is
not saturated, +25%, see _activation.constant_type), beta sits on the product's grid, the
sum is exact, the clamp to [0, 1] is exact, and the only rounding is the final cast.
HardSwish (hard_swish.py) multiplies the clamped value by x, exactly, before that cast.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..numerics import FixedType, exact_type, grid_codes
from ..numerics.fixed import FLOAT_EXACT
from . import register
from ._activation import (constant_type, describe_constant, exact_frac, max_abs_error,
                          monotone_pieces_bounds, probe_codes, pwl_cost, require_unit_scale, widened)
from ._lanes import LaneOp, lane_context
from .base import Bounds, CostContext, HlsContext, TypingContext


@register
@dataclass
class HardSigmoid(LaneOp):
    kind = "HardSigmoid"
    template = "hard_sigmoid"
    swish: ClassVar[bool] = False     # HardSwish: y = x * hard_sigmoid(x)

    alpha: float = 0.2
    beta: float = 0.5
    alpha_type: FixedType | None = None
    beta_type: FixedType | None = None     # on the accumulator's grid
    accum_type: FixedType | None = None    # x * alpha_q + beta_q, exact
    clamp_type: FixedType | None = None    # the clamped value in [0, 1], exact
    product_type: FixedType | None = None  # HardSwish: x * clamped, exact
    max_error: float | None = None         # measured when typed

    def describe(self) -> str:
        a = describe_constant(self.alpha, self.alpha_type) if self.alpha_type is not None else f"{self.alpha:.6g}"
        b = f"{self.beta:.6g}"
        if self.beta_type is not None and self.beta_type.to_float(self.beta_type.quantize(self.beta)) != self.beta:
            b += f" (q {self.beta_type.to_float(self.beta_type.quantize(self.beta)):.10g})"
        return f"{self.kind} alpha={a} beta={b}"

    # ---- float semantics -----------------------------------------------------
    def _f(self, x):
        h = np.clip(self.alpha * x + self.beta, 0.0, 1.0)
        return x * h if self.swish else h

    def reference(self, xs):
        return [self._f(xs[0])]

    def bounds(self, ins):
        b = ins[0]
        if not self.swish:
            return [widened(monotone_pieces_bounds(self._f, b), self.max_error)]
        # x * clip(alpha x + beta): check the ends, 0 and the vertex of the quadratic piece
        pts = [b.lo, b.hi, np.clip(0.0, b.lo, b.hi)]
        if self.alpha != 0:
            pts.append(np.clip(-self.beta / (2 * self.alpha), b.lo, b.hi))
        vals = np.stack([self._f(p) for p in pts])
        return [widened(Bounds(vals.min(axis=0), vals.max(axis=0)), self.max_error)]

    # ---- formats -----------------------------------------------------------------
    def active_extent(self, x_type: FixedType) -> float:
        """|x| up to which the clamp may be unsaturated (+25% margin), within the input type."""
        xmax = max(-x_type.min_value, x_type.max_value)
        if self.alpha == 0:
            return 0.0
        edge = max(abs(self.beta), abs(1.0 - self.beta)) / abs(self.alpha)
        return min(xmax, 1.25 * edge + x_type.lsb)

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        from ._activation import saturating_type

        if self.swish:
            return saturating_type(ctx)
        return FixedType(ctx.policy.width, 1, False, ctx.policy.rounding, "AP_SAT")

    def assign_types(self, ctx: TypingContext) -> None:
        require_unit_scale(ctx)
        x_type, out = ctx.inputs[0].type, ctx.outputs[0]
        provisional = out.type if out.type is not None else self.default_output_type(ctx)
        ext = self.active_extent(x_type)
        # the error of alpha_q grows with |x| (HardSwish: with x**2)
        self.alpha_type = constant_type([self.alpha], ext * ext if self.swish else ext, provisional.frac_bits,
                                        min_frac=max(-x_type.frac_bits, 0))
        fa = x_type.frac_bits + self.alpha_type.frac_bits
        aq = int(self.alpha_type.quantize(self.alpha))
        bq = int(grid_codes([self.beta], fa)[0])
        self.beta_type = exact_type(min(bq, 0), max(bq, 0), fa, rounding="AP_RND_CONV")  # quantize = grid_codes
        ends = [x_type.min_code * aq + bq, x_type.max_code * aq + bq]
        self.accum_type = exact_type(min(ends + [0]), max(ends + [0]), fa)
        self.clamp_type = FixedType(fa + 1, 1, False)
        self.product_type = exact_type(min(x_type.min_code << fa, 0), max(x_type.max_code << fa, 0),
                                       x_type.frac_bits + fa) if self.swish else self.clamp_type
        if out.type is None:
            exact = exact_frac([self.alpha], self.alpha_type.frac_bits) is not None and \
                exact_frac([self.beta], fa) is not None
            full = self.product_type if self.swish else self.clamp_type
            keep_all = (ctx.inputs[0].model_typed and exact) or ctx.output_is_requantized
            if keep_all and full.width <= FLOAT_EXACT:  # the model's arithmetic, or a quantizer next
                out.type, out.model_typed = full, True
            else:
                out.type = provisional
        extra = []
        if self.alpha != 0:
            for edge in (-self.beta / self.alpha, (1 - self.beta) / self.alpha):
                e = np.floor(np.ldexp(edge, x_type.frac_bits))
                extra += [e - 1, e, e + 1, e + 2]
        codes, _ = probe_codes(x_type, extra)
        self.max_error = max_abs_error(self.simulator([x_type], [out.type]), self.reference, x_type, out.type, codes)

    # ---- bit-accurate simulation -------------------------------------------------------
    def simulator(self, in_types, out_types):
        (y_type,) = out_types
        aq = int(self.alpha_type.quantize(self.alpha))
        bq = int(self.beta_type.quantize(self.beta))
        one = 1 << self.clamp_type.frac_bits
        swish, src = self.swish, (self.product_type if self.swish else self.clamp_type)

        def run(ins):
            c = ins[0].astype(np.int64)
            h = np.clip(c * aq + bq, 0, one)
            return [y_type.cast(c * h if swish else h, src).astype(np.float64)]

        return run

    # ---- hardware ---------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        xw = ctx.inputs[0].type.width
        mults = [(xw, self.alpha_type.width)] + ([(xw, self.clamp_type.width)] if self.swish else [])
        return pwl_cost(ctx, compare_bits=2 * self.accum_type.width, mults=mults, add_bits=self.accum_type.width,
                        detail={"function": self.kind, "alpha_type": self.alpha_type.cpp(),
                                "accum_type": self.accum_type.cpp()})

    def hls(self, ctx: HlsContext) -> dict:
        return dict(lane_context(ctx), swish=self.swish, alpha_type=self.alpha_type, beta_type=self.beta_type,
                    accum_type=self.accum_type, clamp_type=self.clamp_type, product_type=self.product_type,
                    alpha=ctx.constant("alpha", self.alpha_type, self.alpha_type.quantize([self.alpha])),
                    beta=ctx.constant("beta", self.beta_type, self.beta_type.quantize([self.beta])))
