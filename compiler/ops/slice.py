"""Slice: keep, along each IR axis, the coordinates start + step * k (k < count). The importer
maps ONNX Slice (starts/ends/axes/steps, negative and clamped indices, negative steps) and
Split (one Slice per output, all reading the same tensor; the backend forks it) onto this
op. Values are only selected: exact, the output type is the input type.

Hardware (templates/kernels/qc_slice.h qc::slice): a streaming filter. The input stream is
read beat by beat, one per cycle; a counter per axis (coordinate, phase within the step,
coordinates taken) decides whether the beat's item is kept, and kept beats are written.
Along the spatial axes this drops whole items; along the channel (IR last) axis it either
drops whole beats (a contiguous range whose ends fall on beat boundaries, or single-value
beats) or, reading one whole item per beat, wires the selected lanes (any step, reversed
too) into the output beat: no memory, no arithmetic on the data. Negative steps along a
spatial axis reverse the order of items, which a filter cannot do: the importer slices with
the positive step and records the reversal in the output's layout (frontend/values.py Act),
so data only moves where a later consumer needs that order (a Transpose there).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import register
from .base import CostContext, HlsContext, NeedsUnitScale, channels_of, collapse_scale
from ._movement import MovementOp

MAX_RANK = 4  # IR axes: up to three spatial axes and the channels


@dataclass(frozen=True)
class _Plan:
    """How the kernel reads and writes: beats of fold_in values in, fold_out out; the
    channel axis counted in beats (dim, start, step, count); the lanes of a kept beat that
    form the output beat (lane_start + lane_step * c)."""
    fold_in: int
    fold_out: int
    chan: tuple[int, int, int, int]
    lane_start: int
    lane_step: int


@register
@dataclass
class Slice(MovementOp):
    kind = "Slice"
    template = "slice"

    starts: tuple[int, ...] = ()   # per IR axis: first coordinate kept
    steps: tuple[int, ...] = ()    # per IR axis: distance between kept coordinates (< 0: channels only)
    counts: tuple[int, ...] = ()   # per IR axis: coordinates kept

    def __post_init__(self):
        self.starts = tuple(int(v) for v in self.starts)
        self.steps = tuple(int(v) for v in self.steps)
        self.counts = tuple(int(v) for v in self.counts)

    # ---- semantics --------------------------------------------------------------------
    def indices(self, axis: int) -> np.ndarray:
        return self.starts[axis] + self.steps[axis] * np.arange(self.counts[axis])

    def describe(self) -> str:
        parts = []
        for s, t, n in zip(self.starts, self.steps, self.counts):
            stop = s + t * n
            parts.append(f"{s}:{stop if stop >= 0 else ''}" + (f":{t}" if t != 1 else ""))
        return f"Slice [{', '.join(parts)}]"

    def infer_shapes(self, shapes):
        (shape,) = shapes
        r = len(shape)
        if not (len(self.starts) == len(self.steps) == len(self.counts) == r) or r > MAX_RANK:
            raise ValueError(f"slice of {len(self.starts)} axes does not fit shape {shape} (rank <= {MAX_RANK})")
        for a, d in enumerate(shape):
            idx = self.indices(a)
            if self.counts[a] < 1 or self.steps[a] == 0 or idx.min() < 0 or idx.max() >= d:
                raise ValueError(f"axis {a}: indices {self.starts[a]} + {self.steps[a]}*k, k < {self.counts[a]} "
                                 f"do not fit size {d}")
            if a < r - 1 and self.steps[a] < 0:
                raise ValueError(f"axis {a}: negative steps are supported along the channel axis only")
        return [tuple(self.counts)]

    def move(self, x):
        for a in range(len(self.counts)):
            x = np.take(x, self.indices(a), axis=a + 1)
        return x

    def rescale(self, in_scales):
        """A per-channel scale follows its channels."""
        s = in_scales[0]
        if np.ndim(s) == 0:
            return [s]
        s = np.asarray(s, dtype=np.float64).reshape(-1)
        if s.size <= int(self.indices(-1).max()):
            raise NeedsUnitScale([0])
        return [collapse_scale(s[self.indices(-1)])]

    # ---- streams ----------------------------------------------------------------------
    def plan(self, channels: int, arriving: int | None) -> _Plan:
        """Beat filter when the channel selection falls on beat boundaries at the width the
        stream arrives at (so no converter and no slowdown); else whole items in, the
        selected lanes out."""
        s, t, n = self.starts[-1], self.steps[-1], self.counts[-1]
        a = arriving or channels
        if s == 0 and t == 1 and n == channels:
            k = math.gcd(a, channels)
            return _Plan(k, k, (channels // k, 0, 1, channels // k), 0, 1)
        if t == 1:
            k = math.gcd(a, channels, s, n)
            if k == a:
                return _Plan(k, k, (channels // k, s // k, 1, n // k), 0, 1)
        elif t > 1 and a == 1:
            return _Plan(1, 1, (channels, s, t, n), 0, 1)
        return _Plan(channels, n, (1, 0, 1, 1), s, t)

    def stream_folds(self, in_shapes, out_shapes, arriving):
        p = self.plan(channels_of(in_shapes[0]), arriving[0])
        return [p.fold_in], [p.fold_out]

    def _axes(self, in_shape, plan: _Plan):
        """(dim, start, step, count) of the kernel's four axes: three spatial (leading ones
        padded with size 1) and the channel axis counted in beats."""
        spatial = [(d, s, t, n) for d, s, t, n in zip(in_shape[:-1], self.starts, self.steps, self.counts)]
        spatial = [(1, 0, 1, 1)] * (MAX_RANK - 1 - len(spatial)) + spatial
        return spatial + [plan.chan]

    # ---- hardware ---------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        """One input beat per cycle, kept or dropped: the interval is the input's beats. The
        logic is one counter set per filtering axis (coordinate, phase, taken) with its
        comparisons, the keep decision and the output register; lane selection is wiring."""
        from ..cost.hardware import k, stream_cycles, stream_io
        from ..cost.model import LayerCost

        x, y, c = ctx.inputs[0], ctx.outputs[0], ctx.target.coeff
        plan = self.plan(x.channels, ctx.in_folds[0])
        counter_bits = 0
        for d, s, t, n in self._axes(x.shape, plan):
            if (s, t, n) != (0, 1, d):  # a filtering axis: three counters; untouched ones only wrap
                counter_bits += 3 * max((d - 1).bit_length(), 1)
            elif d > 1:
                counter_bits += max((d - 1).bit_length(), 1)
        beats_in = x.size // plan.fold_in
        depth = 1 + stream_cycles(ctx.target)
        first = self._first_kept_beat(x.shape, plan)
        s_lut, s_ff = stream_io(ctx.target, plan.fold_out * y.type.width)
        cast_lut = 0.0 if x.type == y.type else plan.fold_out * y.type.width * k(ctx.target, "lut_per_select_bit", 0.5)
        return LayerCost(style="slice_filter", ii=beats_in, latency=beats_in - 1 + depth, first_out=first + depth,
                         lut=counter_bits * k(ctx.target, "lut_per_adder_bit", 1.0) + cast_lut + c["lut_fixed"] + s_lut,
                         ff=counter_bits + plan.fold_out * y.type.width + c["ff_fixed"] + s_ff,
                         detail={"fold_in": plan.fold_in, "fold_out": plan.fold_out,
                                 "kept_beats": y.size // plan.fold_out, "read_beats": beats_in})

    def _first_kept_beat(self, in_shape, plan: _Plan) -> int:
        """Index of the first input beat the filter keeps (the cycles before the first output)."""
        axes = self._axes(in_shape, plan)  # every kernel axis steps forward: its start comes first
        return int(np.ravel_multi_index([a[1] for a in axes], [a[0] for a in axes]))

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        plan = self.plan(x.channels, ctx.in_folds[0])
        axes = self._axes(x.shape, plan)
        return {"axes": axes, "in_beats": x.size // plan.fold_in, "fold_in": plan.fold_in,
                "fold_out": plan.fold_out, "lane_start": plan.lane_start, "lane_step": plan.lane_step}

    def items_needed(self, in_shapes, out_shape):
        """Output item k is input item idx(k): it needs idx(k) + 1 input items."""
        shape = in_shapes[0]
        spatial = [self.indices(a) for a in range(len(shape) - 1)]
        if not spatial:
            return [np.ones(1, dtype=np.int64)]
        grid = np.meshgrid(*spatial, indexing="ij")
        flat = np.ravel_multi_index([g.ravel() for g in grid], shape[:-1])
        return [flat + 1]
