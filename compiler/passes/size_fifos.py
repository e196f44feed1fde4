"""Size the input FIFOs of multi-input stages (Add, Concat) so the dataflow cannot deadlock.

A tensor read by two paths that meet again (a residual block) is copied by a fork stage that
writes both copies in lockstep. If the join waits for item k of the slow path while the
fast path's FIFO is full, the fork stalls and the slow path starves: a deadlock. The depth
each join input needs follows from data dependencies alone, counted in items:
    N_X(k)  = items of a graph input needed before item k of tensor X can exist
              (composed along the graph from each op's items_needed: a line buffer needs
              whole rows before its first window, a frame buffer everything, ...);
    D(k)    = max_i N_i(k): graph-input items needed before the join can take item k;
    with n graph-input items delivered, input i has produced P_i(n) = #{j : N_i(j) <= n}
    items and the join has consumed C(n) = #{k : D(k) <= n}; the difference waits in the
    FIFO, which must hold it or the input stalls: depth_i = max over n < total of
    (P_i(n) - C(n)) + 2 (the usual slack). An input whose items do not pair one to one with
    the join's (a broadcast operand read once per item of its own, ops/_binary.py) counts in
    its own items: the join's item k needs K_i(k) of them (the op's items_needed), so
    D(k) = max_i N_i(K_i(k)) and its FIFO holds P_i(n) - K_i(C(n)).
Timing does not enter, so the depths hold for every reuse factor.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..options import CompileOptions

DEFAULT_DEPTH = 2


def _items(shape) -> int:
    return int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1


def _needed(op, in_shapes, out_shape, folds=None) -> list[np.ndarray]:
    """Per input: input items needed for each output item (1-based counts)."""
    fn = getattr(op, "items_needed", None)
    if fn is not None:
        if folds is not None and "folds" in fn.__code__.co_varnames:
            return [np.asarray(a, dtype=np.int64) for a in fn(in_shapes, out_shape, folds=folds)]
        return [np.asarray(a, dtype=np.int64) for a in fn(in_shapes, out_shape)]
    n_out = _items(out_shape)
    res = []
    for s in in_shapes:  # item-for-item streams, or a stage that reads everything first
        n_in = _items(s)
        res.append(np.arange(1, n_out + 1) if n_in == n_out else np.full(n_out, n_in))
    return res


def size_fifos(graph: Graph, options: CompileOptions | None = None) -> Graph:
    """Pre: shapes final. Post: every op with an `input_depths` field and several inputs has
    one FIFO depth per input (DEFAULT_DEPTH where no skew exists)."""
    joins = [n for n in graph.nodes() if hasattr(n.op, "input_depths") and len(n.inputs) > 1]
    if not joins:
        return graph
    depths = {n.name: [DEFAULT_DEPTH] * len(n.inputs) for n in joins}
    for ref in graph.inputs:
        need: dict[str, np.ndarray | None] = {t: None for t in graph.inputs}  # None: independent of ref
        need[ref] = np.arange(1, _items(graph.tensors[ref].shape) + 1)
        for node in graph.nodes():
            ins = [need.get(t) for t in node.inputs]
            out_shape = graph.tensors[node.outputs[0]].shape
            if all(a is None for a in ins):
                for t in node.outputs:
                    need[t] = None
                continue
            in_shapes = [graph.tensors[t].shape for t in node.inputs]
            native, _ = node.op.stream_folds(in_shapes, [graph.tensors[t].shape for t in node.outputs],
                                             [graph.tensors[t].fold for t in node.inputs])
            per_input = _needed(node.op, in_shapes, out_shape, native)
            if node.name in depths:
                _size_join(ins, per_input, depths[node.name])
            n_out = np.zeros(_items(out_shape), dtype=np.int64)
            for a, k in zip(ins, per_input):
                if a is not None:
                    np.maximum(n_out, a[np.clip(k, 1, len(a)) - 1], out=n_out)
            for t in node.outputs:
                need[t] = n_out
    for node in joins:
        node.op.input_depths = [int(d) for d in depths[node.name]]
    return graph


def _size_join(ins, per_input, depth) -> None:
    live = [(i, a, np.clip(k, 1, len(a))) for i, (a, k) in enumerate(zip(ins, per_input)) if a is not None]
    if len(live) < 2:
        return
    d = np.max(np.stack([a[k - 1] for _, a, k in live]), axis=0)  # D(k), non-decreasing
    total = int(max(a.max() for _, a, _ in live))
    n = np.arange(total)                                        # input items delivered so far
    taken = np.searchsorted(d, n, side="right")                 # items the join has consumed
    for i, a, k in live:
        produced = np.searchsorted(a, n, side="right")          # P_i(n); a is non-decreasing
        consumed = np.where(taken > 0, k[np.maximum(taken, 1) - 1], 0)   # K_i(C(n))
        depth[i] = max(depth[i], int((produced - consumed).max(initial=0)) + DEFAULT_DEPTH)
