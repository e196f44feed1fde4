"""The multi-threshold kernel (FINN's thresholding), shared by Quant's "thresholds" kernel and
the MultiThreshold op (registers no op).

A quantizer with few output levels is a step function of its integer input code x, so per
channel c it is exactly
    y = base[c] + sign[c] * step * #{ j : x >= T[c][j] }     (T[c] ascending)
with one comparison per level boundary and no multiplier: `step` is 1 for integer
quantizers and 2 for bipolar ones, sign[c] = -1 where the channel's function decreases
(a negative BatchNorm scale folded into it). `table_for` derives T, base and sign from any
monotone per-channel function of the codes (a Quant's own bit-accurate simulator), so the
thresholds give the very same outputs, code for code. A channel that reaches fewer levels
than the others is padded with thresholds no input reaches.

Hardware (templates/kernels/qc_quant.h qc::thresholds): per lane NT comparators against the
beat's thresholds (one memory word holds a beat's fold * NT thresholds, or constants in
logic when one beat holds every channel), a popcount of their results, the signed step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cost.hardware import clog2, tree_adder_bits
from ..numerics import FixedType, exact_type
from ._lanes import lane_context, lane_cost


@dataclass
class ThresholdTable:
    thresholds: np.ndarray   # (C, NT) int64 input codes, ascending per channel
    base: np.ndarray         # (C,) output code with no threshold passed
    sign: np.ndarray         # (C,) +1 / -1
    step: int                # output code step per passed threshold

    @property
    def count(self) -> int:
        return int(self.thresholds.shape[1])

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Output codes for input codes x (batch, ..., C): what the kernel computes."""
        passed = np.zeros(x.shape, dtype=np.int64)
        for j in range(self.count):
            passed += x >= self.thresholds[:, j]
        return self.base + self.sign * self.step * passed


def table_for(fn, x_type: FixedType, channels: int, step: int = 1) -> ThresholdTable:
    """Thresholds of a per-channel monotone step function fn (codes (N, C) -> codes (N, C))
    over every code of x_type: T[c][j] = the smallest code whose output is j steps from the
    output at the smallest code. Found by bisection on fn itself (vectorized over the
    channels and levels), so the table reproduces fn exactly on every code."""
    lo, hi = x_type.min_code, x_type.max_code
    ends = fn(np.array([[lo] * channels, [hi] * channels], dtype=np.float64)).astype(np.int64)
    base, last = ends[0], ends[1]
    sign = np.where(last < base, -1, 1)
    levels = np.abs(last - base) // step
    nt = int(levels.max(initial=0))
    if nt == 0:
        return ThresholdTable(np.zeros((channels, 0), dtype=np.int64), base, sign, step)
    j = np.arange(1, nt + 1)[:, None]                          # (NT, 1) levels to pass
    left = np.full((nt, channels), lo, dtype=np.int64)         # fn(left) below the level
    right = np.full((nt, channels), hi, dtype=np.int64)        # fn(right) at or beyond (if reachable)
    reach = j <= levels[None, :]
    while True:
        open_ = right - left > 1
        if not open_.any():
            break
        mid = left + (right - left) // 2
        passed = sign * (fn(mid.astype(np.float64)).astype(np.int64) - base) // step >= j
        right = np.where(open_ & passed, mid, right)
        left = np.where(open_ & ~passed, mid, left)
    t = np.where(reach, right, hi + 1)                         # levels a channel never reaches
    return ThresholdTable(np.ascontiguousarray(t.T), base, sign, step)


def threshold_types(table: ThresholdTable, x_type: FixedType) -> tuple[FixedType, FixedType]:
    """(threshold type, base type): integer types holding the table's codes."""
    t = table.thresholds
    t_type = exact_type(min(int(t.min(initial=0)), x_type.min_code), max(int(t.max(initial=0)), x_type.max_code), 0)
    b_type = exact_type(min(int(table.base.min()), 0), max(int(table.base.max()), 0), 0)
    return t_type, b_type


def threshold_cost(ctx, table_count: int, x_type: FixedType, y_type: FixedType, detail: dict | None = None):
    """NT comparators of the input code per lane, a popcount of their results and the
    signed step; thresholds one beat per memory word (constants when one beat holds every
    channel: comparisons with constants are about half the logic)."""
    c = ctx.target.coeff
    xb = x_type.width + 1
    groups = ctx.inputs[0].channels // ctx.fold
    per_cmp = xb * c.get("lut_per_compare_bit", 0.5) * (1.0 if groups > 1 else c.get("const_compare_share", 0.5))
    count_bits = clog2(table_count + 1)
    lut = table_count * per_cmp + tree_adder_bits(table_count, 1, count_bits) * c["lut_per_adder_bit"] \
        + (y_type.width * c["lut_per_adder_bit"] if table_count > 1 else 0.0)
    ff = (count_bits + y_type.width) * c.get("ff_per_reg_bit", 1.0)
    return lane_cost(ctx, style="thresholds", lut_per_lane=lut, ff_per_lane=ff, depth=1,
                     param_bits=table_count * xb,
                     detail={"thresholds": table_count, **(detail or {})})


def threshold_context(ctx, table: ThresholdTable, x_type: FixedType, y_type: FixedType) -> dict:
    t_type, b_type = threshold_types(table, x_type)
    nt = max(table.count, 1)
    thr = table.thresholds if table.count else np.full((len(table.base), 1), x_type.max_code + 1, dtype=np.int64)
    thr_type = t_type if table.count else exact_type(x_type.min_code, x_type.max_code + 1, 0)
    return dict(lane_context(ctx), kernel="thresholds", n_thr=nt, step=table.step, thr_type=thr_type,
                base_type=b_type, x_width=x_type.width, x_signed=x_type.signed, y_width=y_type.width,
                thr=ctx.lane_constant("thr", thr_type, thr, per_channel=nt),
                base=ctx.lane_constant("base", b_type, table.base),
                neg=ctx.lane_constant("neg", FixedType(1, 1, False), (table.sign < 0).astype(np.int64)))
