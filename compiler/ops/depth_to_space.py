"""DepthToSpace: (H, W, C*b*b) -> (H*b, W*b, C), moving channel groups into b x b pixel
blocks (ONNX modes DCR: channel (i*b + j)*C + c, and CRD: c*b*b + i*b + j, for block
offset (i, j)). Pure data movement: the output keeps the input type.

Hardware (templates/kernels/qc_layout.h): one input row is buffered and written out as b
output rows; one output pixel per cycle."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import register
from .base import CostContext, HlsContext
from ._movement import MovementOp, row_buffer_cost


@register
@dataclass
class DepthToSpace(MovementOp):
    kind = "DepthToSpace"
    template = "depth_to_space"

    block: int = 2
    mode: str = "DCR"

    def describe(self) -> str:
        return f"DepthToSpace {self.block} {self.mode}"

    def infer_shapes(self, shapes):
        (shape,) = shapes
        b = self.block
        if len(shape) != 3 or shape[-1] % (b * b):
            raise ValueError(f"input {shape} is not an image with a multiple of {b * b} channels")
        h, w, c = shape
        return [(h * b, w * b, c // (b * b))]

    def move(self, x):
        n, h, w, c = x.shape
        b = self.block
        co = c // (b * b)
        if self.mode == "DCR":
            y = x.reshape(n, h, w, b, b, co).transpose(0, 1, 3, 2, 4, 5)
        else:
            y = x.reshape(n, h, w, co, b, b).transpose(0, 1, 4, 2, 5, 3)
        return y.reshape(n, h * b, w * b, co)

    def cost(self, ctx: CostContext):
        return row_buffer_cost(ctx.target, "depth_to_space", ctx.inputs[0], ctx.outputs[0],
                               row_pixels=ctx.inputs[0].shape[1])

    def hls(self, ctx: HlsContext) -> dict:
        h, w, c = ctx.inputs[0].shape
        return {"in_h": h, "in_w": w, "in_c": c, "out_c": c // (self.block ** 2), "block": self.block,
                "dcr": self.mode == "DCR"}

    def items_needed(self, in_shapes, out_shape):
        h, w, _ = in_shapes[0]
        b = self.block
        need = (np.arange(h * b) // b + 1) * w
        return [np.repeat(need, w * b)]
