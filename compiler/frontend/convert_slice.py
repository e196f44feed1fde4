"""Slicing and repeating: Slice, Split, Tile, Expand (constant starts/ends/axes/steps, split
sizes, repeats and shapes).

Slice and Split select coordinates along axes of one tensor: a Slice is one IR Slice; a Split
is one IR Slice per output, all reading the same tensor (the backend forks it), so the IR has
no multi-output op. Tile is an IR Tile; Expand is a Tile of its size-1 axes (after adding the
leading axes the broadcast creates, a layout record).

Layout. Both IR ops work along any IR axis, so the input keeps its own layout (no data
moves to get there) and the output has the same one. A negative step along an axis that is
not the IR's last is done with the positive step, and the reversal is recorded in the
output's layout (Act.flat_order): only a consumer that needs that order pays for it (a
Transpose), a graph output costs nothing (the host reorders). Along the channel (IR last)
axis the IR Slice reverses lanes itself.

Batch. The batch axis is never sliced, split, tiled or expanded (only a slice that keeps it
whole for every batch size is accepted); a fixed-size model whose first axis is not a batch
is imported with a virtual batch instead (frontend/whole_tensor.py), and these converters
then see its whole tensors.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ModelError
from ..ops.slice import MAX_RANK, Slice
from ..ops.tile import Tile
from .values import Act, converter, make_act

INT_MAX = 2 ** 31 - 1   # ONNX exporters write INT_MAX / INT64_MAX for "to the end"


def _ints(values) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _own_layout(imp, ctx, x: Act) -> tuple[Act, tuple[int, ...]]:
    """x with its IR tensor holding the ONNX data transposed by a perm (its own perm when it
    has one: free), and that perm (IR axis j is ONNX axis perm[j])."""
    rank = len(x.shape)
    if rank > MAX_RANK:
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported "
                        f"(supported: up to {MAX_RANK} axes besides the batch)")
    if x.flat_order is None:
        perm = tuple(x.perm) if x.perm is not None else tuple(range(rank))
    else:
        perm = tuple(range(1, rank)) + (0,) if rank > 1 else (0,)
    return imp.to_layout(ctx, x, perm), perm


@dataclass
class _OneOutput:
    """A node seen as writing only one of its outputs (emit names the IR tensor after it)."""
    output: list
    op_type: str
    domain: str = ""


def _select(imp, ctx, x: Act, picks: list[np.ndarray], k: int | None = None) -> Act:
    """x restricted to coordinates picks[a] along each per-sample ONNX axis a (any order of
    an arithmetic progression); k: the node's output it becomes (Split), else output 0."""
    if all(len(p) == d and np.array_equal(p, np.arange(d)) for p, d in zip(picks, x.shape)):
        return x  # selects everything in order: a name for the same tensor
    x, perm = _own_layout(imp, ctx, x)
    last = len(perm) - 1
    starts, steps, counts, flipped = [], [], [], []
    for j, a in enumerate(perm):
        p = np.asarray(picks[a], dtype=np.int64)
        step = int(p[1] - p[0]) if len(p) > 1 else 1
        reverse = step < 0 and j < last      # a filter keeps the order of items: reverse in the layout
        if reverse:
            p, step = p[::-1], -step
        starts.append(int(p[0]))
        steps.append(step)
        counts.append(len(p))
        flipped.append(reverse)
    out_shape = tuple(len(p) for p in picks)
    op = Slice(starts=tuple(starts), steps=tuple(steps), counts=tuple(counts))
    if k is not None:
        ctx = replace(ctx, node=_OneOutput([ctx.node.output[k]], ctx.node.op_type), name=f"{ctx.name}_{k}")
    y = imp.emit(ctx, op, x, out_shape, perm=perm)
    if not any(flipped):
        return y
    # IR element (j_0, ..) is ONNX output element with coordinate j (count-1-j where flipped)
    # along ONNX axis perm[j]: ir_flat = onnx_flat[order]
    grid = np.meshgrid(*[np.arange(n) for n in counts], indexing="ij")
    coords = [None] * len(perm)
    for j, a in enumerate(perm):
        coords[a] = (counts[j] - 1 - grid[j]) if flipped[j] else grid[j]
    order = np.ravel_multi_index([c.ravel() for c in coords], out_shape)
    return make_act(y.tensor, out_shape, order)


def _slice_args(imp, ctx, ins, rank: int):
    """(starts, ends, axes, steps) as lists, axes normalized."""
    if imp.opset.get("", 13) < 10:
        if "starts" not in ctx.attrs or "ends" not in ctx.attrs:
            raise ctx.error("attributes starts and ends are required", ModelError)
        starts, ends = _ints(ctx.attrs["starts"]), _ints(ctx.attrs["ends"])
        axes = _ints(ctx.attrs["axes"]) if "axes" in ctx.attrs else None
        steps = None
    else:
        if len(ins) < 3 or ins[1] is None or ins[2] is None:
            raise ctx.error("inputs starts and ends are required", ModelError)
        starts = _ints(ctx.const(ins[1], "starts").value)
        ends = _ints(ctx.const(ins[2], "ends").value)
        axes = _ints(ctx.const(ins[3], "axes").value) if len(ins) > 3 and ins[3] is not None else None
        steps = _ints(ctx.const(ins[4], "steps").value) if len(ins) > 4 and ins[4] is not None else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ctx.error(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} differ in length", ModelError)
    axes = ctx.axes(axes, rank)
    if len(set(axes)) != len(axes):
        raise ctx.error(f"axes {axes} repeat an axis", ModelError)
    if 0 in steps:
        raise ctx.error(f"steps {steps} contain 0", ModelError)
    return starts, ends, axes, steps


@converter("Slice")
def _slice(imp, ctx, ins):
    """constant starts/ends/axes/steps (step != 0), up to 4 sample axes; batch kept whole; no empty output"""
    x = ctx.act(ins[0])
    rank = len(x.shape) + 1
    starts, ends, axes, steps = _slice_args(imp, ctx, ins, rank)
    picks = [np.arange(d) for d in x.shape]
    for s, e, a, t in zip(starts, ends, axes, steps):
        if a == 0:
            if t == 1 and (s == 0 or s <= -INT_MAX) and e >= INT_MAX:
                continue  # keeps the whole batch, whatever its size
            raise ctx.error(f"slicing the batch dimension (starts={s}, ends={e}, steps={t}) is not supported "
                            "(supported: slices of the other axes)")
        d = x.shape[a - 1]
        # Python's slice clamps exactly as ONNX specifies: [0, d] for positive steps,
        # [-1, d - 1] for negative ones, after adding d to negative indices
        picks[a - 1] = np.arange(*slice(s, e, t).indices(d))
        if len(picks[a - 1]) == 0:
            raise ctx.error(f"starts={s}, ends={e}, steps={t} select nothing from axis {a} of size {d} "
                            "(empty tensors are not supported)")
    return _select(imp, ctx, x, picks)


@converter("Split")
def _split(imp, ctx, ins):
    """constant sizes, num_outputs or equal parts; up to 4 sample axes; not the batch; no empty outputs"""
    x = ctx.act(ins[0])
    rank = len(x.shape) + 1
    opset = imp.opset.get("", 13)
    axis = ctx.axis(ctx.attrs.get("axis", 0), rank)
    if axis == 0:
        raise ctx.error("splitting the batch dimension is not supported (supported: the other axes)")
    dim = x.shape[axis - 1]
    n_out = len(ctx.node.output)
    sizes = None
    if "split" in ctx.attrs:
        sizes = _ints(ctx.attrs["split"])
    elif len(ins) > 1 and ins[1] is not None:
        sizes = _ints(ctx.const(ins[1], "split").value)
        sizes = sizes or None  # an empty split input means "not given"
    if sizes is None and opset >= 18 and "num_outputs" in ctx.attrs:
        n = int(ctx.attrs["num_outputs"])
        if n != n_out or n < 1:
            raise ctx.error(f"num_outputs={n} but the node has {n_out} outputs", ModelError)
        chunk = -(-dim // n)
        sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
        if sizes[-1] <= 0:
            raise ctx.error(f"num_outputs={n} cannot split axis {axis} of size {dim}", ModelError)
    elif sizes is None:
        if dim % n_out:
            raise ctx.error(f"axis {axis} of size {dim} does not split into {n_out} equal parts", ModelError)
        sizes = [dim // n_out] * n_out
    if len(sizes) != n_out or sum(sizes) != dim or min(sizes) < 0:
        raise ctx.error(f"split sizes {sizes} do not divide axis {axis} of size {dim} into {n_out} outputs",
                        ModelError)
    outs, offset = [], 0
    for k, (size, name) in enumerate(zip(sizes, ctx.node.output)):
        if not name:  # an unused output
            outs.append(None)
        elif size == 0:
            raise ctx.error(f"output {k} would be empty (split sizes {sizes}; empty tensors are not supported)")
        else:
            picks = [np.arange(d) for d in x.shape]
            picks[axis - 1] = np.arange(offset, offset + size)
            outs.append(_select(imp, ctx, x, picks, k))
        offset += size
    return outs


def _tiled(imp, ctx, x: Act, reps: list[int]) -> Act:
    """x repeated reps[a] times along each per-sample ONNX axis a."""
    if all(r == 1 for r in reps):
        return x
    x, perm = _own_layout(imp, ctx, x)
    out_shape = tuple(d * r for d, r in zip(x.shape, reps))
    # tiling commutes with transposing: the output keeps the input's layout
    return imp.emit(ctx, Tile(repeats=tuple(reps[a] for a in perm)), x, out_shape, perm=perm)


@converter("Tile")
def _tile(imp, ctx, ins):
    """opset >= 6; constant repeats >= 1 with repeats[0] = 1 (not the batch); up to 4 sample axes"""
    x = ctx.act(ins[0])
    if imp.opset.get("", 13) < 6:
        raise ctx.error("Tile before opset 6 (tiles/axis inputs) is not supported (supported: opset >= 6)")
    if len(ins) < 2 or ins[1] is None:
        raise ctx.error("input repeats is required", ModelError)
    reps = _ints(ctx.const(ins[1], "repeats").value)
    rank = len(x.shape) + 1
    if len(reps) != rank:
        raise ctx.error(f"repeats {reps} do not fit the input's {rank} dimensions", ModelError)
    if min(reps) < 0:
        raise ctx.error(f"repeats {reps} are negative", ModelError)
    if reps[0] != 1:
        raise ctx.error(f"repeats {reps} repeat the batch dimension; not supported (supported: repeats[0] = 1)")
    if min(reps) == 0:
        raise ctx.error(f"repeats {reps} make an empty tensor (not supported)")
    return _tiled(imp, ctx, x, reps[1:])


@converter("Expand")
def _expand(imp, ctx, ins):
    """constant shape, ONNX broadcasting, up to 4 sample axes; the batch is never expanded; no empty output

    A shape may not add axes in front of the batch (except without a batch axis, whole-tensor models)."""
    x = ctx.act(ins[0])
    if len(ins) < 2 or ins[1] is None:
        raise ctx.error("input shape is required", ModelError)
    shape = _ints(ctx.const(ins[1], "shape").value)
    if imp.graph.whole_tensor:
        sample = list(x.shape)      # the tensor is the whole sample: the shape broadcasts against it
    else:
        sample = [1] + list(x.shape)  # the batch, as a size-1 axis: a shape reaching it must keep it
        if len(shape) > len(sample):
            raise ctx.error(f"shape {shape} adds axes in front of the batch dimension; not supported "
                            f"(supported: at most {len(sample)} values)")
        if len(shape) == len(sample) and shape[0] != 1:
            raise ctx.error(f"shape {shape} expands the batch dimension; not supported (supported: shape[0] = 1)")
    if min(shape, default=1) < 0:
        raise ctx.error(f"shape {shape} has negative values", ModelError)
    extra = max(len(shape) - len(sample), 0)
    full = [1] * extra + sample
    target = [1] * (len(full) - len(shape)) + shape
    out = []
    for d, s in zip(full, target):
        if s == 0:
            raise ctx.error(f"shape {shape} makes an empty tensor (not supported)")
        if d != s and d != 1 and s != 1:
            raise ctx.error(f"cannot broadcast the input (N, {', '.join(map(str, x.shape))}) to shape {shape}",
                            ModelError)
        out.append(max(d, s))
    if not imp.graph.whole_tensor:
        full, out = full[1:], out[1:]
    if extra:  # new leading axes of size 1: a layout record, no data moves
        x = make_act(x.tensor, tuple(full), None if x.identity else x.order())
    return _tiled(imp, ctx, x, [o // d for o, d in zip(out, full)])
