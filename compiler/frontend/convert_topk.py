"""ONNX TopK (opset 1: k an attribute; 10+: k a constant input) onto the TopK op.

Supported: k constant, the last axis, sorted results, largest or smallest. The ONNX last
axis is made the IR's last axis (the importer moves data only when the tensor is not
already in that order). Each used output (values, indices) is its own IR node; an unused
one is dropped by the clean-up pass.
"""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np

from ..errors import ModelError
from ..ops.topk import TopK
from .values import converter


def _k(ctx, ins) -> int:
    if len(ins) > 1 and ins[1] is not None:
        arr = np.asarray(ctx.const(ins[1], "K").value).reshape(-1)
        if arr.size != 1:
            raise ctx.error(f"K must hold one value, got {arr.size}", ModelError)
        return int(arr[0])
    if "k" not in ctx.attrs:
        raise ctx.error("no K input and no k attribute", ModelError)
    return int(ctx.attrs["k"])


def _output_ctx(ctx, index: int):
    """The node context naming output `index` as the one an emitted IR node writes."""
    node = SimpleNamespace(op_type=ctx.node.op_type, domain=ctx.node.domain, name=ctx.node.name,
                           output=[ctx.node.output[index]], input=list(ctx.node.input))
    return replace(ctx, node=node, name=ctx.name if index == 0 else f"{ctx.name}_indices")


@converter("TopK")
def _topk(imp, ctx, ins):
    """last axis only, sorted=1, largest or smallest; K a constant 1..axis size; values and/or indices"""
    x = ctx.act(ins[0])
    rank = len(x.shape)  # per sample
    axis = int(ctx.attrs.get("axis", -1))
    if axis < 0:
        axis += rank + 1
    if axis != rank or rank == 0:
        raise ctx.error(f"axis={ctx.attrs.get('axis', -1)} is not supported (supported: the last axis, -1 or {rank})")
    if not int(ctx.attrs.get("sorted", 1)):
        raise ctx.error("sorted=0 is not supported (supported: sorted=1; its order is one sorted=0 allows)")
    largest = bool(int(ctx.attrs.get("largest", 1)))
    n = x.shape[-1]
    k = _k(ctx, ins)
    if not 1 <= k <= n:
        raise ctx.error(f"K={k} is not supported for an axis of {n} values (supported: 1 <= K <= {n})")
    x = imp.to_layout(ctx, x, tuple(range(rank)))  # the ONNX order: its last axis is the IR's
    out_shape = tuple(x.shape[:-1]) + (k,)
    outs = []
    for index, output in enumerate(("values", "indices")):
        if index >= len(ctx.node.output) or not ctx.node.output[index]:
            outs.append(None)
            continue
        outs.append(imp.emit(_output_ctx(ctx, index), TopK(k=k, output=output, largest=largest), x, out_shape,
                             perm=None))
    return outs
