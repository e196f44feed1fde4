"""Reductions over axes: ReduceSum/Mean/Max/Min, LogSoftmax, and the axis and layout
rules Softmax shares with them.

An op that reduces some ONNX axes needs an IR layout in which those axes are contiguous.
The importer's current order is kept whenever it already is (a channels-last image
reducing its channels, or its rows and columns: no data moves); otherwise the tensor is
moved once by the importer's to_layout (a Transpose, or a free re-layout of a graph input).

  per-item ops (Softmax, LogSoftmax, LayerNormalization): the reduced axes last, as one IR
      axis of n values (one stream item per kept position, e.g. one per pixel);
  Reduce*: the reduced axes as a block (outer, reduce, inner) of the IR's flat order;
      inner = 1: each item's values are reduced ("lanes"), else whole items are
      accumulated ("items", a streaming accumulator like global pooling).
"""
from __future__ import annotations

import math

import numpy as np

from ..ops.log_softmax import LogSoftmax
from ..ops.reduce import Reduce
from ..ops.reshape import Reshape
from .values import Act, Const, converter

REDUCE_MODES = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min"}
# first opset where the op takes its axes as an input instead of an attribute
AXES_INPUT_OPSET = {"ReduceSum": 13}
AXES_INPUT_DEFAULT = 18


def current_perm(act: Act) -> tuple[int, ...] | None:
    """The transpose the IR tensor holds `act` in (None: no transpose describes it)."""
    if act.flat_order is not None:
        return None
    return tuple(act.perm) if act.perm is not None else tuple(range(len(act.shape)))


def sample_axes(ctx, axes, rank: int) -> list[int]:
    """ONNX axes (batch = 0, negatives from the end, rank = with the batch) as sample axes
    (0 = the first axis after the batch); the batch axis is refused."""
    out = []
    for a in axes:
        a = int(a)
        if not -rank <= a < rank:
            raise ctx.error(f"axis {a} is out of range for a rank-{rank} input")
        a = a + rank if a < 0 else a
        if a == 0:
            raise ctx.error("reducing over the batch axis (0) is not supported (supported: axes of one sample)")
        out.append(a - 1)
    if len(set(out)) != len(out):
        raise ctx.error(f"axes {list(axes)} repeat an axis")
    return sorted(out)


def softmax_axes(imp, ctx, x: Act) -> list[int]:
    """The sample axes a Softmax/LogSoftmax normalizes over: opset >= 13 its one `axis`
    (default -1); before, the input is coerced to 2-D at `axis` (default 1), i.e. every
    axis from `axis` on is normalized jointly."""
    rank = len(x.shape) + 1
    new = imp.opset.get("", 13) >= 13
    axis = int(ctx.attrs.get("axis", -1 if new else 1))
    if not -rank <= axis < rank:
        raise ctx.error(f"axis={axis} is out of range for a rank-{rank} input")
    axis = axis + rank if axis < 0 else axis
    if axis == 0:
        raise ctx.error(f"axis=0 on a rank-{rank} input is not supported (supported: axes of one sample; "
                        "axis 0 is the batch)")
    return [axis - 1] if new else list(range(axis - 1, rank - 1))


def trailing_layout(imp, ctx, act: Act, axes: list[int]) -> tuple[Act, tuple[int, ...], int]:
    """`act` as an IR tensor whose last axis holds exactly the values of `axes` (n of
    them), one item per kept position: (the act, its ONNX order perm, n). The current
    order is kept when it already has those axes last."""
    rank = len(act.shape)
    k = rank - len(axes)
    cur = current_perm(act)
    if cur is not None and set(cur[k:]) == set(axes):
        perm = cur
    else:
        kept = [a for a in (cur or range(rank)) if a not in axes]
        perm = tuple(kept) + tuple(a for a in (cur or range(rank)) if a in axes)
    a = imp.to_layout(ctx, act, perm)
    n = math.prod(act.shape[p] for p in perm[k:])
    want = tuple(act.shape[p] for p in perm[:k]) + (n,)
    if imp.graph.tensors[a.tensor].shape != want:
        a = imp.emit(ctx, Reshape(out_shape=want), a, act.shape, suffix="items", perm=perm)
    return Act(a.tensor, act.shape, perm=perm), perm, n


def block_layout(imp, ctx, act: Act, axes: list[int]) -> tuple[Act, tuple[int, ...], tuple[int, int, int]]:
    """`act` in a layout where `axes` are one contiguous block of the IR's flat order:
    (the act, its perm, (outer, reduce, inner) element counts)."""
    rank = len(act.shape)
    cur = current_perm(act)
    perm = None
    if cur is not None:
        pos = sorted(cur.index(a) for a in axes)
        if pos[-1] - pos[0] == len(pos) - 1:
            perm = cur
    if perm is None:
        base = list(cur or canonical(rank))
        block = [a for a in base if a in axes]
        if base[-1] not in axes:   # keep the channels (the IR's items) innermost: accumulate items
            perm = tuple([a for a in base[:-1] if a not in axes] + block + [base[-1]])
        else:
            perm = tuple([a for a in base if a not in axes] + block)
    a = imp.to_layout(ctx, act, perm)
    pos = [perm.index(x) for x in axes]
    i, j = min(pos), max(pos) + 1
    dims = [act.shape[p] for p in perm]
    return a, perm, (math.prod(dims[:i]), math.prod(dims[i:j]), math.prod(dims[j:]))


def canonical(rank: int) -> tuple[int, ...]:
    from .values import canonical_perm

    return canonical_perm(rank)


@converter("LogSoftmax")
def _log_softmax(imp, ctx, ins):
    """over up to 4096 values along `axis` (opset < 13: every axis from `axis` on); not the batch axis"""
    from .convert_activation import MAX_SOFTMAX

    x = ctx.act(ins[0])
    axes = softmax_axes(imp, ctx, x)
    n = math.prod(x.shape[a] for a in axes)
    if n > MAX_SOFTMAX:
        raise ctx.error(f"LogSoftmax over {n} values is not supported (supported: up to {MAX_SOFTMAX}: "
                        "the kernel normalizes all of them in parallel)")
    a, perm, _ = trailing_layout(imp, ctx, x, axes)
    return imp.emit(ctx, LogSoftmax(), a, x.shape, perm=perm)


@converter(*REDUCE_MODES)
def _reduce(imp, ctx, ins):
    """ReduceSum/Mean/Max/Min over constant axes of one sample, keepdims 0/1; batch or no axes refused

    noop_with_empty_axes=1 with no axes passes the input through."""
    op = ctx.node.op_type
    x = ctx.act(ins[0])
    rank = len(x.shape) + 1
    keepdims = int(ctx.attrs.get("keepdims", 1))
    if keepdims not in (0, 1):
        raise ctx.error(f"keepdims={keepdims} (supported: 0, 1)")
    if imp.opset.get("", 13) >= AXES_INPUT_OPSET.get(op, AXES_INPUT_DEFAULT):
        given = ins[1] if len(ins) > 1 else None
        if given is not None and not isinstance(given, Const):
            raise ctx.error("axes must be a constant (initializer); computed axes are not supported")
        axes = None if given is None else np.asarray(given.value).reshape(-1).tolist()
        if not axes and int(ctx.attrs.get("noop_with_empty_axes", 0)):
            return x  # the input unchanged
    else:
        if len(ins) > 1 and ins[1] is not None:
            raise ctx.error(f"axes as an input needs opset {AXES_INPUT_OPSET.get(op, AXES_INPUT_DEFAULT)} "
                            f"(this model: {imp.opset.get('', 13)})")
        axes = ctx.attrs.get("axes")
    if not axes:  # ONNX: every axis, the batch's too
        raise ctx.error("no axes: reducing over every axis includes the batch axis (0), which is not supported "
                        "(supported: axes of one sample)")
    axes = sample_axes(ctx, axes, rank)
    if not x.shape:
        raise ctx.error("a scalar sample has no axis to reduce")
    a, perm, (outer, red, inner) = block_layout(imp, ctx, x, axes)
    kept = [p for p in perm if p not in axes]
    ir_out = tuple(x.shape[p] for p in kept) or (1,)
    if keepdims:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        out_perm = perm
    else:
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        new = {old: i for i, old in enumerate(k for k in range(len(x.shape)) if k not in axes)}
        out_perm = tuple(new[p] for p in kept) or None
    reducer = Reduce(mode=REDUCE_MODES[op], outer=outer, reduce=red, inner=inner, out_shape=ir_out)
    return imp.emit(ctx, reducer, a, shape, perm=out_perm)
