"""Transpose: reorder the values of a tensor (out_flat = in_flat[order]) through a frame
buffer. The importer adds it where a layout-sensitive op needs another element order than
its input's and no cheaper way exists (a graph input's layout is chosen freely, a Flatten
feeding a Dense permutes the weights instead). The same buffer gathers in general: values
may be read several times and an order entry of -1 writes a zero (the im2col of a 3-D
convolution, frontend/convert_volume.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import register
from .base import CostContext, HlsContext
from ._movement import MovementOp, index_type, items


@register
@dataclass
class Transpose(MovementOp):
    kind = "Transpose"
    template = "transpose"

    out_shape: tuple[int, ...] = ()
    order: np.ndarray | None = None   # out_flat = in_flat[order]

    def __post_init__(self):
        self.out_shape = tuple(int(d) for d in self.out_shape)
        self.order = np.asarray(self.order, dtype=np.int64)

    def describe(self) -> str:
        return f"Transpose ->{'x'.join(map(str, self.out_shape))}"

    def infer_shapes(self, shapes):
        if self.order.size != math.prod(self.out_shape) or self.order.max(initial=-1) >= math.prod(shapes[0]):
            raise ValueError(f"cannot gather {shapes[0]} into {self.out_shape}")
        return [self.out_shape]

    def move(self, x):
        flat = x.reshape(len(x), -1)
        if self.order.min(initial=0) < 0:  # zeros: one more column
            flat = np.concatenate([flat, np.zeros((len(x), 1), dtype=flat.dtype)], axis=1)
        return flat[:, self.order].reshape((len(x),) + self.out_shape)

    def cost(self, ctx: CostContext):
        """A frame buffer: every value is written, then read out in the new order (one value
        per cycle)."""
        from ..cost.hardware import memory
        from ..cost.model import LayerCost

        x, y, c = ctx.inputs[0], ctx.outputs[0], ctx.target.coeff
        bram, lut, _ = memory(ctx.target, x.type.width, x.size)
        ii = x.items + y.size
        return LayerCost(style="transpose_buffer", ii=ii, latency=ii + 2, first_out=x.items + y.channels + 2,
                         lut=lut + 40 + c["lut_fixed"], ff=y.channels * y.type.width + c["ff_fixed"], bram_18k=bram,
                         detail={"buffer_words": x.size})

    def hls(self, ctx: HlsContext) -> dict:
        x, y = ctx.inputs[0], ctx.outputs[0]
        it = index_type(x.size + 1)
        return {"in_items": items(x), "in_channels": x.shape[-1], "out_items": items(y),
                "out_channels": y.shape[-1], "size": x.size, "index_type": it,
                "order": ctx.constant("order", it, np.where(self.order < 0, x.size, self.order))}

    def items_needed(self, in_shapes, out_shape):
        """The frame buffer is full before the first value goes out."""
        n_in = math.prod(in_shapes[0]) // in_shapes[0][-1]
        return [np.full(math.prod(out_shape) // out_shape[-1], n_in)]
