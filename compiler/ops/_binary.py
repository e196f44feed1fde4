"""Element-wise stages of two activations with broadcasting (registers no op): the stream
conventions, FIFO sizing hooks, cost and template context that Mul, MinMax and AddBroadcast
share (their arithmetic lives in their own files).

Hardware (qc::binary, templates/kernels/qc_binary.h): the first input is the full-shape
stream, read one beat per cycle at the width it arrives at (`fold` lanes); the second is
read once per item of its own (compiler/ops/_broadcast.py): at the same width when it has
the channels, else one value per item used by every lane; where it is broadcast along the
positions its items are kept in a reuse buffer (one item, or the revisited span). One
operator per lane, one beat per cycle. The two inputs' FIFOs are sized for the skew of
their paths (passes/size_fifos.py: the second input's items are counted in its own units,
items_needed).
"""
from __future__ import annotations

import math

import numpy as np

from ..cost.hardware import memory
from ._broadcast import Geometry, geometry, positions_context
from ._lanes import LaneOp, lane_context, lane_cost
from .add import items_of, join_fifos
from .base import channels_of

FUNCS = {"add": 0, "sub": 1, "rsub": 2, "mul": 3, "max": 4, "min": 5}


class BinaryOp(LaneOp):
    """Input 0 has the output's shape; input 1 broadcasts to it (same IR rank, size-1 axes).
    A subclass with one input (e.g. Mul of a tensor by itself) streams that input alone."""

    template = "binary"
    n_inputs = 2

    def geometry(self, shapes) -> Geometry:
        return geometry(shapes[0], shapes[1])

    def infer_shapes(self, shapes):
        if len(shapes) == 2:
            self.geometry(shapes)  # ValueError when input 1 does not broadcast to input 0
        return [tuple(shapes[0])]

    def stream_folds(self, in_shapes, out_shapes, arriving):
        c = channels_of(in_shapes[0])
        k = math.gcd(arriving[0] or c, c)
        if len(in_shapes) == 1:
            return [k], [k]
        return [k, k if channels_of(in_shapes[1]) == c else 1], [k]

    def items_needed(self, in_shapes, out_shape):
        k = np.arange(1, items_of(out_shape) + 1)
        if len(in_shapes) == 1:
            return [k]
        return [k, self.geometry(in_shapes).b_items_needed()]

    def binary_cost(self, ctx, *, style: str, lut_per_lane: float, ff_per_lane: float, dsp_per_lane: float = 0.0,
                    depth: int = 1, detail: dict | None = None):
        """Per lane the operator; the input FIFOs; the broadcast operand's reuse buffer."""
        bram = lut = ff = 0.0
        detail = dict(detail or {})
        if len(ctx.inputs) == 2:
            bram, lut, ff = join_fifos(ctx, self.input_depths)
            geom = self.geometry([t.shape for t in ctx.inputs])
            if geom.broadcasts:
                p = positions_context(geom, ctx.fold)
                b_bram, b_lut, _ = memory(ctx.target, p["b_fold"] * ctx.inputs[1].type.width, p["b_words"])
                bram, lut = bram + b_bram, lut + b_lut
                detail.update(broadcast=list(geom.b_shape), reuse_words=p["b_words"])
            detail["fifo_depths"] = list(self.input_depths or [])
        cost = lane_cost(ctx, style=style, lut_per_lane=lut_per_lane, ff_per_lane=ff_per_lane,
                         dsp_per_lane=dsp_per_lane, depth=depth, bram_18k=bram, extra_lut=lut, detail=detail)
        cost.ff += ff
        return cost

    def binary_hls(self, ctx, func: str, acc_type) -> dict:
        L = dict(lane_context(ctx), acc_type=acc_type, square=len(ctx.inputs) == 1)
        if len(ctx.inputs) == 2:
            geom = self.geometry([t.shape for t in ctx.inputs])
            L.update(positions_context(geom, ctx.fold), b_type=ctx.inputs[1].type, func=FUNCS[func],
                     reuses=geom.broadcasts)
        return L
