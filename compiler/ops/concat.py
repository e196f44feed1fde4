"""Concat: join 2 to 4 activations along the channel axis (the IR's last axis). Each input
is cast to the output type: when the inputs' formats differ, that type is wide enough for
all of them exactly if they are model-typed, else chosen from the output's range.

Hardware (templates/kernels/qc_merge.h): one item from each input makes one output item,
one pixel per cycle; input FIFO depths are sized like Add's (passes/size_fifos.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import exact_type
from . import register
from .add import items_of, join_fifos
from ._lanes import LaneOp, lane_cost
from .base import (Bounds, CostContext, HlsContext, NeedsUnitScale, TypingContext, collapse_scale, is_unit,
                   same_scale)
from ._movement import items

MAX_INPUTS = 4


@register
@dataclass
class Concat(LaneOp):
    kind = "Concat"
    template = "concat"
    n_inputs = 2

    input_depths: list | None = None

    def describe(self) -> str:
        return "Concat"

    def infer_shapes(self, shapes):
        if not 2 <= len(shapes) <= MAX_INPUTS:
            raise ValueError(f"{len(shapes)} inputs (supported: 2..{MAX_INPUTS})")
        if len({tuple(s[:-1]) for s in shapes}) != 1:
            raise ValueError(f"inputs {shapes} differ in more than the channel axis")
        return [tuple(shapes[0][:-1]) + (sum(s[-1] for s in shapes),)]

    def reference(self, xs):
        return [np.concatenate(xs, axis=-1)]

    def bounds(self, ins):
        return [Bounds(np.concatenate([b.lo for b in ins], axis=-1), np.concatenate([b.hi for b in ins], axis=-1))]

    def rescale(self, in_scales):
        """Channels keep their scales: one shared scale, or per-channel scales side by side;
        other mixes are requantized to unit scale first."""
        first = in_scales[0]
        if all(np.ndim(s) == 0 for s in in_scales) and all(same_scale(s, first) for s in in_scales):
            return [first]
        if all(np.ndim(s) == 1 for s in in_scales):
            return [collapse_scale(np.concatenate([np.asarray(s, dtype=np.float64) for s in in_scales]))]
        raise NeedsUnitScale([i for i, s in enumerate(in_scales) if not is_unit(s)])

    def assign_types(self, ctx: TypingContext) -> None:
        out = ctx.outputs[0]
        if out.type is not None:
            return
        types = [t.type for t in ctx.inputs]
        if len(set(types)) == 1:
            out.type, out.model_typed = types[0], all(t.model_typed for t in ctx.inputs)
        elif all(t.model_typed for t in ctx.inputs):  # every input exactly: the union of the types
            frac = max(t.frac_bits for t in types)
            out.type = exact_type(min(t.min_code << (frac - t.frac_bits) for t in types),
                                  max(t.max_code << (frac - t.frac_bits) for t in types), frac)
            out.model_typed = True
        else:
            out.type = ctx.narrowed()

    def simulator(self, in_types, out_types):
        (y_type,) = out_types

        def run(ins):
            parts = [x if t == y_type else y_type.cast(x, t).astype(np.float64) for x, t in zip(ins, in_types)]
            return [np.concatenate(parts, axis=-1)]

        return run

    def cost(self, ctx: CostContext):
        """Each input's beats in turn (wiring and a select), one beat per cycle, and the FIFOs
        sized for the skew of its paths."""
        bram, lut, ff = join_fifos(ctx, self.input_depths)
        y = ctx.outputs[0]
        cost = lane_cost(ctx, style="concat", lut_per_lane=y.type.width * 0.25 * len(ctx.inputs),
                         ff_per_lane=y.type.width, bram_18k=bram, extra_lut=lut,
                         detail={"fifo_depths": list(self.input_depths or [])})
        cost.ii = cost.latency = y.beats
        cost.latency += 2
        cost.ff += ff
        return cost

    def hls(self, ctx: HlsContext) -> dict:
        fold = ctx.fold
        return {"channels": [t.channels for t in ctx.inputs], "beats": [t.channels // fold for t in ctx.inputs],
                "out_channels": ctx.outputs[0].channels, "items": items(ctx.outputs[0]), "n": len(ctx.inputs),
                "fold": fold}

    def items_needed(self, in_shapes, out_shape):
        k = np.arange(1, items_of(out_shape) + 1)
        return [k] * len(in_shapes)
