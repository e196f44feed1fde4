"""Helpers of the ops that only move or select values (Reshape, Transpose, Pad, Resize,
DepthToSpace, MaxPool): no op of its own."""
from __future__ import annotations

import numpy as np

from .base import TypingContext


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
