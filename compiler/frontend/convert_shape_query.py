"""Shape of an activation: a constant, with the free batch dimension as a sentinel.

Exporters compute reshape targets from the input's shape (Shape -> Gather -> Unsqueeze ->
Concat -> Reshape); the importer folds that arithmetic like any constant expression, and
Reshape reads the batch entry of its target as the batch whatever its value.
"""
from __future__ import annotations

import numpy as np

from .values import Const, converter

BATCH = -(1 << 40)  # stands for the batch size; arithmetic on it is refused by Reshape's checks


@converter("Shape")
def _shape(imp, ctx, ins):
    """a constant of the sample dims (the batch a sentinel that only Reshape reads); start/end"""
    x = ctx.act(ins[0])
    dims = np.array([BATCH, *x.shape], dtype=np.int64)
    start, end = int(ctx.attrs.get("start", 0)), ctx.attrs.get("end")
    return Const(dims[start:None if end is None else int(end)])
