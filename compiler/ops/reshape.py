"""Reshape: regroup a stream into items of another size without reordering any value
(e.g. the 16 pixels x 16 channels of a pooled image into one 256-vector for a Dense). The
importer adds it only where a consumer needs another item size; ONNX Flatten/Reshape
themselves are layout records (see frontend/values.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from . import register
from .base import CostContext, HlsContext
from ._movement import MovementOp, items


@register
@dataclass
class Reshape(MovementOp):
    kind = "Reshape"
    template = "reshape"

    out_shape: tuple[int, ...] = ()

    def __post_init__(self):
        self.out_shape = tuple(int(d) for d in self.out_shape)

    def describe(self) -> str:
        return f"Reshape ->{'x'.join(map(str, self.out_shape))}"

    def infer_shapes(self, shapes):
        if math.prod(shapes[0]) != math.prod(self.out_shape):
            raise ValueError(f"cannot reshape {shapes[0]} to {self.out_shape}")
        return [self.out_shape]

    def move(self, x):
        return x.reshape((len(x),) + self.out_shape)

    def cost(self, ctx: CostContext):
        from ..cost.cnn_kernels import repack_cost

        return repack_cost(ctx.target, ctx.inputs[0], ctx.outputs[0])

    def hls(self, ctx: HlsContext) -> dict:
        x, y = ctx.inputs[0], ctx.outputs[0]
        return {"in_items": items(x), "in_channels": x.shape[-1], "out_items": items(y),
                "out_channels": y.shape[-1]}

    def items_needed(self, in_shapes, out_shape):
        """Output item k holds elements [k*Co, (k+1)*Co): it needs ceil((k+1)*Co/Ci) input items."""
        import numpy as np

        ci, co = in_shapes[0][-1], out_shape[-1]
        k = np.arange(math.prod(out_shape) // co)
        return [-(-(k + 1) * co // ci)]
