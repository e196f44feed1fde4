"""Resize (nearest neighbour): each output pixel copies the input pixel that the model's
coordinate rules pick; the importer computes those picks per spatial axis (`rows`,
`cols`: output index -> input index, non-decreasing), so any ONNX Resize/Upsample mode in
nearest mode is the same exact copy here.

Hardware (templates/kernels/qc_layout.h): one input row in a line buffer, repeated or
skipped as the row table says; one output pixel per cycle."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import register
from .base import CostContext, HlsContext
from ._movement import MovementOp, index_type, row_buffer_cost


@register
@dataclass
class Resize(MovementOp):
    kind = "Resize"
    template = "resize"
    channels_stay = True

    rows: np.ndarray | None = None    # (H_out,) input row of each output row ([0] for 1-D)
    cols: np.ndarray | None = None    # (W_out,) input column of each output column

    def __post_init__(self):
        self.rows = np.asarray([0] if self.rows is None else self.rows, dtype=np.int64)
        self.cols = np.asarray(self.cols, dtype=np.int64)

    def describe(self) -> str:
        return f"Resize nearest ->{len(self.rows)}x{len(self.cols)}"

    def _spatial(self, shape):
        return (1,) + tuple(shape[:-1]) if len(shape) == 2 else tuple(shape[:-1])

    def infer_shapes(self, shapes):
        (shape,) = shapes
        if len(shape) not in (2, 3):
            raise ValueError(f"input {shape} is not a 1-D or 2-D image")
        h, w = self._spatial(shape)
        if self.rows.max() >= h or self.cols.max() >= w or len(shape) == 2 and len(self.rows) != 1:
            raise ValueError(f"index tables do not fit input {shape}")
        out = (len(self.rows), len(self.cols), shape[-1])
        return [out if len(shape) == 3 else out[1:]]

    def move(self, x):
        n = len(x)
        x4 = x.reshape((n,) + self._spatial(x.shape[1:]) + (x.shape[-1],))
        y = x4[:, self.rows][:, :, self.cols]
        return y.reshape((n,) + self.infer_shapes([x.shape[1:]])[0])

    def cost(self, ctx: CostContext):
        h, w = self._spatial(ctx.inputs[0].shape)
        return row_buffer_cost(ctx.target, "resize_nearest", ctx.inputs[0], ctx.outputs[0], row_pixels=w)

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        h, w = self._spatial(x.shape)
        rt, ct = index_type(h + 1), index_type(w)
        return {"in_h": h, "in_w": w, "out_h": len(self.rows), "out_w": len(self.cols), "channels": x.shape[-1],
                "row_type": rt, "col_type": ct, "row_map": ctx.constant("rows", rt, self.rows),
                "col_map": ctx.constant("cols", ct, self.cols)}

    def items_needed(self, in_shapes, out_shape):
        h, w = self._spatial(in_shapes[0])
        need = (self.rows + 1) * w          # the whole input row is buffered before it is used
        return [np.repeat(need, len(self.cols))]
