"""Threshold: FINN's MultiThreshold, y = out_bias + out_scale * #{ j : x_real >= T[c][j] }.

The model states real-valued thresholds on the input's real value; the hardware compares
the input's integer code with integer thresholds on that code (x_real >= T  <=>  x_code >=
ceil(T / unit), unit = in_scale * 2**-frac, checked against the float64 product), so the
comparisons are exact and the kernel is the shared multi-threshold one (_threshold.py): no
multiplier, one comparator per threshold and lane, a popcount.

The output is stored exactly: code = base + sign * step * count with real = code * 2**-frac
* scale (OutputGrid): out_bias must be a multiple of out_scale / q for a small integer q
(bipolar out_scale=2, out_bias=-1: step 2, base -1, codes +-1). A power-of-two unit becomes
fraction bits, any other unit stays as the tensor's real scale. Outputs whose codes are
only -1 and +1 are bipolar, so a following {-1,+1}-weight layer can use XNOR lanes. A
quantizer absorbed into the output (absorb_quant) rounds and saturates the levels: still a
monotone step function of x_code, so still a table (table_for), in the same stage.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar
from fractions import Fraction

import numpy as np

from ..numerics import FixedType, exact_type
from . import register
from ._lanes import LaneOp
from ._threshold import ThresholdTable, table_for, threshold_context, threshold_cost
from .base import Bounds, CostContext, HlsContext, TypingContext

MAX_STEP = 1 << 16   # out_bias / out_scale must have a denominator up to this (code width grows with it)


@dataclass(frozen=True)
class OutputGrid:
    """How the levels out_bias + out_scale * n are stored: code = base + sign * step * n,
    real = code * 2**-frac * scale (scale 1.0 when the unit is a power of two)."""

    scale: float
    frac: int
    step: int
    base: int
    sign: int


def output_grid(out_scale: float, out_bias: float) -> OutputGrid | None:
    """The exact integer representation of the output levels, or None when there is none
    (out_scale zero or not finite, or out_bias not a multiple of out_scale / q, q <= MAX_STEP).
    The unit |out_scale| / q is the largest that makes both integers multiples of it, so
    the codes are as narrow as they can be."""
    if not (math.isfinite(out_scale) and math.isfinite(out_bias)) or out_scale == 0:
        return None
    a, b = Fraction(abs(out_scale)), Fraction(out_bias)
    ratio = b / a
    step = ratio.denominator
    if step > MAX_STEP:
        return None
    unit = a / step
    sign = -1 if out_scale < 0 else 1
    num, den = unit.numerator, unit.denominator
    if num & (num - 1) == 0 and den & (den - 1) == 0:   # a power of two: fraction bits
        return OutputGrid(1.0, den.bit_length() - num.bit_length(), step, ratio.numerator, sign)
    if Fraction(float(unit)) != unit:
        return None   # the tensor's scale would not be exact
    return OutputGrid(float(unit), 0, step, ratio.numerator, sign)


@register
@dataclass
class Threshold(LaneOp):
    channel_params: ClassVar[tuple[str, ...]] = ("thresholds", "in_scale")   # pruning slices them
    kind = "Threshold"
    template = "threshold"
    rounds_input = True   # compares its input exactly: a producer narrowing it would round first

    thresholds: np.ndarray                    # (C, N) or (1, N): real thresholds on x_real, ascending per channel
    out_scale: float = 1.0
    out_bias: float = 0.0
    in_scale: float | np.ndarray = 1.0        # set by the scale pass
    # chosen when typed
    cast_type: FixedType | None = None        # a quantizer absorbed into the output: the levels cast to it
    levels: tuple[int, int] | None = None     # (lowest, highest) output code reachable from the input type
    bipolar: bool = False                     # every output code is -1 or +1: the next layer may use XNOR lanes

    def __post_init__(self):
        t = np.asarray(self.thresholds, dtype=np.float64)
        if t.ndim != 2:
            raise ValueError(f"thresholds must be (channels, N), got shape {t.shape}")
        self.thresholds = np.sort(t, axis=1)   # the count does not depend on the order
        if output_grid(self.out_scale, self.out_bias) is None:
            raise ValueError(f"out_scale={self.out_scale:g}, out_bias={self.out_bias:g} have no exact integer grid")

    @property
    def grid(self) -> OutputGrid:
        return output_grid(self.out_scale, self.out_bias)

    def describe(self) -> str:
        return f"MultiThreshold x{self.thresholds.shape[1]} (y = {self.out_bias:g} + {self.out_scale:g} n)"

    # ---- float semantics (on fixed values: real = fixed * scale) ------------------------------
    def _count(self, x_real: np.ndarray) -> np.ndarray:
        n = np.zeros(np.shape(x_real), dtype=np.int64)
        for j in range(self.thresholds.shape[1]):
            n += x_real >= self.thresholds[:, j]
        return n

    def _fixed(self, count: np.ndarray) -> np.ndarray:
        g = self.grid
        codes = g.base + g.sign * g.step * np.asarray(count, dtype=np.int64)
        if self.cast_type is None:
            return codes * 2.0 ** -g.frac
        src = exact_type(int(codes.min(initial=0)), int(codes.max(initial=0)), g.frac)
        return self.cast_type.to_float(self.cast_type.cast(codes, src))

    def reference(self, xs):
        return [self._fixed(self._count(xs[0] * np.asarray(self.in_scale)))]

    def bounds(self, ins):
        s = np.asarray(self.in_scale)
        lo, hi = (self._fixed(self._count(b * s)) for b in (ins[0].lo, ins[0].hi))  # monotone in x
        return [Bounds(np.minimum(lo, hi), np.maximum(lo, hi))]

    def rescale(self, in_scales):
        self.in_scale = in_scales[0]   # thresholds stay real: they are compared with x_fixed * in_scale
        return [self.grid.scale]

    # ---- formats and bit-accurate simulation ------------------------------------------------
    def code_thresholds(self, x_type: FixedType, channels: int) -> np.ndarray:
        """(C, N) int64 thresholds on x_type's codes: x_code * unit >= T  <=>  x_code >= result,
        clipped to [min_code, max_code + 1] (always passed / never passed)."""
        t = np.broadcast_to(self.thresholds, (channels, self.thresholds.shape[1]))
        unit = np.broadcast_to(np.asarray(self.in_scale, dtype=np.float64) * 2.0 ** -x_type.frac_bits,
                               (channels,))[:, None]
        lo, hi = float(x_type.min_code), float(x_type.max_code + 1)
        with np.errstate(over="ignore", invalid="ignore"):
            q = np.clip(np.ceil(t / unit), lo, hi)
            # the quotient is rounded: move by one where the product says otherwise
            q = np.where((q > lo) & ((q - 1) * unit >= t), q - 1, q)
            q = np.where((q < hi) & (q * unit < t), q + 1, q)
        return q.astype(np.int64)

    def table(self, x_type: FixedType, channels: int) -> ThresholdTable:
        """The kernel's table on x_type's codes (cached per input type: the estimator re-types)."""
        key = (x_type, channels, self.cast_type, np.asarray(self.in_scale, dtype=np.float64).tobytes())
        memo = self.__dict__.get("_table")
        if memo is not None and memo[0] == key:
            return memo[1]
        g = self.grid
        table = ThresholdTable(self.code_thresholds(x_type, channels), np.full(channels, g.base, dtype=np.int64),
                               np.full(channels, g.sign, dtype=np.int64), g.step)
        if self.cast_type is not None:
            table = self._cast_table(table, x_type, channels)
        self.__dict__["_table"] = (key, table)
        return table

    def _cast_table(self, exact: ThresholdTable, x_type: FixedType, channels: int) -> ThresholdTable:
        """The levels cast to cast_type (rounded, saturated) are still a monotone step function
        of x_code, so they are a table too (table_for: a level jump of k steps repeats a
        threshold k times). Levels it holds exactly keep their step, on its finer grid."""
        g, dst = self.grid, self.cast_type
        lo, hi = _code_range(exact, x_type)
        src = exact_type(lo, hi, g.frac)
        shift = dst.frac_bits - g.frac
        exact_cast = shift >= 0 and src.min_value >= dst.min_value and src.max_value <= dst.max_value
        return table_for(lambda c: dst.cast(exact.apply(c), src), x_type, channels,
                         step=(g.step << shift) if exact_cast else 1)

    def assign_types(self, ctx: TypingContext) -> None:
        x, out = ctx.inputs[0], ctx.outputs[0]
        self.cast_type = None
        if out.type is not None:   # a quantizer's type, absorbed into this output (absorb_quant)
            self.cast_type = out.type
        else:
            out.type = exact_type(*_code_range(self.table(x.type, x.channels), x.type), self.grid.frac)
        out.model_typed = True
        table = self.table(x.type, x.channels)
        self.levels = _code_range(table, x.type)
        self.bipolar = self.levels == (-1, 1) and table.step == 2

    def simulator(self, in_types, out_types):
        (x_type,), _ = in_types, out_types

        def run(ins):
            return [self.table(x_type, ins[0].shape[-1]).apply(ins[0]).astype(np.float64)]

        return run

    # ---- hardware ---------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        x, y = ctx.inputs[0], ctx.outputs[0]
        return threshold_cost(ctx, self.table(x.type, x.channels).count, x.type, y.type,
                              detail={"kernel": "thresholds", "output_bits": y.type.width})

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        return threshold_context(ctx, self.table(x.type, x.channels), x.type, ctx.outputs[0].type)


def _code_range(table: ThresholdTable, x_type: FixedType) -> tuple[int, int]:
    """(lowest, highest) output code of a table over every code of x_type (monotone in x)."""
    n_lo = (table.thresholds <= x_type.min_code).sum(axis=1)
    n_hi = (table.thresholds <= x_type.max_code).sum(axis=1)
    ends = np.concatenate([table.base + table.sign * table.step * n for n in (n_lo, n_hi)])
    return int(ends.min()), int(ends.max())
