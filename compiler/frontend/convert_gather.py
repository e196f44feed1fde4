"""Gather: an embedding lookup of computed indices in a constant table -> Gather."""
from __future__ import annotations

import numpy as np

from ..ops.gather import Gather
from .values import Act, Const, converter


@converter("Gather")
def _gather(imp, ctx, ins):
    """embedding lookup only: a constant 2-D table on axis 0 (one scale if quantized), integer indices

    The indices are computed: an integer graph input or an integer op's output."""
    data, indices = ins[0], ins[1]
    axis = int(ctx.attrs.get("axis", 0))
    if not (isinstance(data, Const) and isinstance(indices, Act)):
        raise ctx.error("Gather is supported as an embedding lookup: a constant table read by computed indices")
    table = np.asarray(data.value, dtype=np.float64)
    if table.ndim != 2 or axis not in (0, -2):
        raise ctx.error(f"a table of shape {table.shape} gathered on axis {axis} is not supported (supported: a "
                        "(rows, values) table, axis 0)")
    if not imp.integer_valued(ctx.node.input[1]):
        raise ctx.error("the indices must be an integer tensor (an integer graph input or an integer op's output)")
    x = imp.to_layout(ctx, indices, tuple(range(len(indices.shape))))
    scale = np.asarray(data.scale, dtype=np.float64)   # a quantized table: its codes times one scale
    if scale.size != 1:
        raise ctx.error("a table quantized with a scale per element or row is not supported (supported: one scale)")
    op = Gather(table=table, table_type=data.qtype, table_scale=float(scale.reshape(-1)[0]))
    return imp.emit(ctx, op, x, tuple(indices.shape) + (table.shape[1],), perm=tuple(range(len(indices.shape) + 1)))
