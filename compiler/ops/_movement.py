"""Helpers of the ops that only move or select values (Reshape, Transpose, Pad, Resize,
DepthToSpace, MaxPool), and their shared base class: no op of its own."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Bounds, Op, TypingContext


class MovementOp(Op):
    """An op whose outputs are some of its input's values, moved: it defines move(x) on a
    batch (N, *shape); semantics, bounds, types and the simulator all follow from it."""

    channels_stay: ClassVar[bool] = False  # a per-channel scale may pass (channels stay channels)

    def move(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reference(self, xs):
        return [self.move(xs[0])]

    def bounds(self, ins):
        return [Bounds(self.move(ins[0].lo[None])[0], self.move(ins[0].hi[None])[0])]

    def rescale(self, in_scales):
        return pass_scale(in_scales, per_channel_ok=self.channels_stay)

    def assign_types(self, ctx: TypingContext) -> None:
        keep_type(ctx)

    def simulator(self, in_types, out_types):
        return with_cast(in_types[0], out_types[0], self.move)


def keep_type(ctx: TypingContext) -> None:
    """The output takes the input's type (exact, and model-typed if the input is), unless a
    model quantizer already fixed it; then the kernel's assignment is that quantizer."""
    out, x = ctx.outputs[0], ctx.inputs[0]
    if out.type is None:
        out.type, out.model_typed = x.type, x.model_typed


def with_cast(x_type, y_type, move):
    """A simulator applying `move` to the codes, then the cast to the output type if any."""
    if x_type == y_type:
        return lambda ins: [move(ins[0])]
    return lambda ins: [y_type.cast(move(ins[0]), x_type).astype(np.float64, copy=False)]


def items(tensor) -> int:
    """Stream items of a tensor (one item = the last axis)."""
    return tensor.size // (tensor.shape[-1] if tensor.shape else 1)


def index_type(n: int):
    """An unsigned integer fixed-point type holding 0..n-1 (index tables in the C++)."""
    from ..numerics import FixedType

    bits = max(int(n - 1).bit_length(), 1)
    return FixedType(bits, bits, False)


def pass_scale(in_scales, per_channel_ok: bool) -> list:
    """Real scales through an op that moves values: unchanged; a per-channel scale only
    where channels stay channels (else the input is requantized to unit scale first)."""
    from .base import NeedsUnitScale

    s = in_scales[0]
    if np.ndim(s) and not per_channel_ok:
        raise NeedsUnitScale([0])
    return [s]


def row_buffer_cost(target, style: str, x, y, row_pixels: int):
    """Kernels that buffer one input row of whole pixels (Resize, DepthToSpace)."""
    from ..cost.hardware import memory
    from ..cost.model import LayerCost

    c = target.coeff
    width = x.channels * x.type.width
    bram, lut, _ = memory(target, width, row_pixels)
    ii = max(x.items, y.items)
    return LayerCost(style=style, ii=ii, latency=ii + row_pixels + 1, first_out=row_pixels + 2, bram_18k=bram,
                     lut=lut + y.channels * y.type.width * 0.5 + c["lut_fixed"], ff=y.channels * y.type.width + c["ff_fixed"])
