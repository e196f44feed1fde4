"""Tile: repeat a tensor `repeats[a]` times along each IR axis (out[i] = in[i mod n] per
axis). The importer maps ONNX Tile (constant repeats) and Expand (a constant shape: the
size-1 axes broadcast, i.e. tiled) onto it. Values are only copied: exact, the output type
is the input type.

Hardware (templates/kernels/qc_slice.h qc::tile): repeats along the channel (IR last) axis
are wiring (output lane c is input lane c mod C). Repeats along a spatial axis replay items,
so what is repeated is buffered: the block of whole items from the outermost repeated axis
inwards (a row of pixels when only columns repeat, the whole frame when rows do) is written
into a memory of one item per word (Fill), then read out as many times as the tiling needs,
in the output's order (Drain), one item per cycle; the axes outside the block only count
blocks. Without spatial repeats the stage is a pipelined lane copy, one item per cycle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import register
from .base import CostContext, HlsContext, NeedsUnitScale, collapse_scale
from ._movement import MovementOp

MAX_RANK = 4  # IR axes: up to three spatial axes and the channels


@register
@dataclass
class Tile(MovementOp):
    kind = "Tile"
    template = "tile"

    repeats: tuple[int, ...] = ()   # per IR axis

    def __post_init__(self):
        self.repeats = tuple(int(r) for r in self.repeats)

    def describe(self) -> str:
        return f"Tile x{'x'.join(map(str, self.repeats))}"

    def infer_shapes(self, shapes):
        (shape,) = shapes
        if len(self.repeats) != len(shape) or len(shape) > MAX_RANK or min(self.repeats) < 1:
            raise ValueError(f"repeats {self.repeats} do not fit shape {shape} (rank <= {MAX_RANK}, positive)")
        return [tuple(d * r for d, r in zip(shape, self.repeats))]

    def move(self, x):
        return np.tile(x, (1,) + self.repeats)

    def rescale(self, in_scales):
        """A per-channel scale repeats with its channels."""
        s = in_scales[0]
        if np.ndim(s) == 0:
            return [s]
        s = np.asarray(s, dtype=np.float64).reshape(-1)
        if len(self.repeats) == 0:
            raise NeedsUnitScale([0])
        return [collapse_scale(np.tile(s, self.repeats[-1]))]

    # ---- the kernel's shape ----------------------------------------------------------------
    def block(self, in_shape) -> dict:
        """The buffered unit: spatial axes (padded to three) split into the outer ones, which
        are not repeated, and the block from the outermost repeated axis inwards."""
        dims = (1,) * (MAX_RANK - len(in_shape)) + tuple(in_shape[:-1])
        reps = (1,) * (MAX_RANK - len(in_shape)) + tuple(self.repeats[:-1])
        first = next((a for a, r in enumerate(reps) if r > 1), None)
        if first is None:
            return {"buffered": False, "outer": math.prod(dims), "block": 1, "block_out": 1,
                    "dims": (1, 1, 1), "reps": (1, 1, 1)}
        b = (1,) * first + dims[first:]
        r = (1,) * first + reps[first:]
        return {"buffered": True, "outer": math.prod(dims[:first]), "block": math.prod(b),
                "block_out": math.prod(d * k for d, k in zip(b, r)), "dims": b, "reps": r}

    # ---- hardware -----------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        """Buffered: per block, Fill (one item per cycle) then Drain (one output item per
        cycle), so the interval is input items + output items; the buffer is one memory of
        block words of C values; address counters per axis. Lane copies only: one item per
        cycle, no memory."""
        from ..cost.hardware import k, memory, stream_cycles, stream_io
        from ..cost.model import LayerCost

        x, y, c = ctx.inputs[0], ctx.outputs[0], ctx.target.coeff
        plan = self.block(x.shape)
        s_lut, s_ff = stream_io(ctx.target, y.channels * y.type.width)
        depth = 1 + stream_cycles(ctx.target)
        cast_lut = 0.0 if x.type == y.type else y.channels * y.type.width * k(ctx.target, "lut_per_select_bit", 0.5)
        if not plan["buffered"]:
            ii = x.items
            return LayerCost(style="tile_lanes", ii=ii, latency=ii - 1 + depth, first_out=depth,
                             lut=cast_lut + c["lut_fixed"] + s_lut, ff=y.channels * y.type.width + c["ff_fixed"] + s_ff,
                             detail={"repeats": list(self.repeats)})
        word = x.channels * x.type.width
        bram, m_lut, uram = memory(ctx.target, word, plan["block"], ports=1)
        counter_bits = sum(2 * max((d * r - 1).bit_length(), 1) for d, r in zip(plan["dims"], plan["reps"]))
        counter_bits += max((plan["block"] - 1).bit_length(), 1) + max((plan["outer"] - 1).bit_length(), 1)
        ii = x.items + y.items
        return LayerCost(style="tile_buffer", ii=ii, latency=ii - 1 + depth, first_out=plan["block"] + depth,
                         bram_18k=bram, uram=uram,
                         lut=m_lut + counter_bits * k(ctx.target, "lut_per_adder_bit", 1.0) + cast_lut
                         + c["lut_fixed"] + s_lut,
                         ff=counter_bits + y.channels * y.type.width + c["ff_fixed"] + s_ff,
                         detail={"repeats": list(self.repeats), "buffer_items": plan["block"]})

    def hls(self, ctx: HlsContext) -> dict:
        x, y = ctx.inputs[0], ctx.outputs[0]
        return {**self.block(x.shape), "channels": x.channels, "out_channels": y.channels}

    def items_needed(self, in_shapes, out_shape):
        """Output item j of block b is drained after the whole block b is filled."""
        plan = self.block(in_shapes[0])
        j = np.arange(plan["outer"] * plan["block_out"])
        return [(j // plan["block_out"] + 1) * plan["block"]]
