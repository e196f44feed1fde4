"""Structured pruning: remove a MAC layer's weakest output channels, and every value computed
from them, before anything else is decided.

For each layer in options.prune ({layer: ratio}), the round(ratio * C) output channels with
the smallest L1 norm of real weights go. What reads them loses them too: per-channel ops
(BatchNorm's affine, activations, quantizers, thresholds, pooling, depthwise convolutions)
keep their other channels, a flatten keeps the positions that hold them, and the next Dense or
Conv drops the weight rows that read them. Pruning stops at that layer; a path that reaches
anything else (a graph output, Add, Concat, Softmax, ...) is refused in one line, since its
channels cannot go without changing what the model computes elsewhere.

Running first, on the imported graph, means every later pass (formats, folding, streams) sees
an ordinary smaller model: the pruned design estimates, simulates and C-simulates like any
other. Pre: a graph from the frontend. Post: the pruned layers have fewer output channels, and
every tensor shape agrees with its ops (cleanup checks it next)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import CompileError
from ..ir import Graph
from ..options import CompileOptions

PRUNABLE = ("Dense", "Conv")


def prune_channels(graph: Graph, options: CompileOptions) -> Graph:
    for name, ratio in (options.prune or {}).items():
        _prune_layer(graph, name, ratio, options)
    return graph


def check_ratios(ratios) -> dict[str, float]:
    """{layer: ratio} with every ratio a number in [0, 1)."""
    if ratios is None:
        return {}
    if not isinstance(ratios, dict):
        raise CompileError(f"prune must be a dict {{layer: ratio}}, got {type(ratios).__name__}")
    for name, r in ratios.items():
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < 1:
            raise CompileError(f"prune: layer {name!r}: ratio {r!r} (supported: a share of its output channels "
                               "in [0, 1))")
    return {str(k): float(v) for k, v in ratios.items()}


def _prune_layer(graph: Graph, name: str, ratio: float, options: CompileOptions) -> None:
    try:
        node = graph.node(name)
    except KeyError:
        layers = [n.name for n in graph.nodes() if n.kind in PRUNABLE]
        raise CompileError(f"prune: no layer {name!r} (prunable layers: {', '.join(layers) or 'none'})") from None
    op = node.op
    if node.kind not in PRUNABLE or getattr(op, "groups", 1) != 1:
        raise CompileError(f"prune: layer {name!r} ({node.label}) is not a Dense or ungrouped Conv layer; "
                           "those are the layers whose output channels can be removed")
    channels = op.n_out
    drop = int(round(ratio * channels))
    if drop == 0:
        return
    if drop >= channels:
        raise CompileError(f"prune: layer {name!r}: ratio {ratio} would remove all {channels} output channels")
    order = np.argsort(op.channel_norms(), kind="stable")   # weakest first; ties by index
    keep = np.sort(order[drop:])
    edits = {node.name: op.keep_outputs(keep)}
    shapes: dict[str, tuple] = {}
    _follow(graph, node.outputs[0], keep, channels, edits, shapes, name)
    for n, new_op in edits.items():
        graph.node(n).op = new_op
    for t, shape in shapes.items():
        tensor = graph.tensors[t]
        tensor.shape = shape
        scale = np.asarray(tensor.scale)
        if scale.ndim:
            tensor.scale = scale[..., keep]
    options.pruned[name] = (len(keep), channels)


def _follow(graph: Graph, tensor: str, keep: np.ndarray, channels: int, edits: dict, shapes: dict, layer: str):
    """Remove channels `keep`'s complement from `tensor` (last axis `channels`) and from
    everything computed from it, up to the next MAC layers."""
    t = graph.tensors[tensor]
    shapes[tensor] = tuple(t.shape[:-1]) + (len(keep),)
    if tensor in graph.outputs:
        raise CompileError(f"prune: layer {layer!r}: its channels reach the graph output {tensor!r}; "
                           "pruning would change the model's output")
    for reader in graph.consumers(tensor):
        op = edits.get(reader.name, reader.op)
        if reader.kind in PRUNABLE and getattr(op, "groups", 1) == 1 and reader.inputs[0] == tensor:
            edits[reader.name] = op.keep_inputs(keep)   # the next layer: pruning ends here
            continue
        if reader.kind == "Reshape" and len(reader.op.out_shape) == 1 and len(t.shape) > 1:
            # a flatten (channels last): position p * channels + c holds channel c
            flat = (np.arange(int(np.prod(t.shape[:-1])))[:, None] * channels + keep[None, :]).ravel()
            edits[reader.name] = dataclasses.replace(op, out_shape=(len(flat),))
            _follow_flat(graph, reader.outputs[0], flat, edits, shapes, layer)
            continue
        narrowed = op.select_channels(keep, channels)
        if narrowed is None or len(reader.outputs) != 1:
            raise CompileError(f"prune: layer {layer!r}: its channels reach node {reader.name!r} ({reader.label}), "
                               "which mixes channels; pruning passes per-channel ops up to the next Dense or Conv")
        edits[reader.name] = narrowed
        _follow(graph, reader.outputs[0], keep, channels, edits, shapes, layer)


def _follow_flat(graph: Graph, tensor: str, flat: np.ndarray, edits: dict, shapes: dict, layer: str):
    """After a flatten: the kept positions of a vector, read by the next Dense."""
    shapes[tensor] = (len(flat),)
    if tensor in graph.outputs:
        raise CompileError(f"prune: layer {layer!r}: its channels reach the graph output {tensor!r}; "
                           "pruning would change the model's output")
    for reader in graph.consumers(tensor):
        op = edits.get(reader.name, reader.op)
        if reader.kind != "Dense":
            raise CompileError(f"prune: layer {layer!r}: its flattened channels reach node {reader.name!r} "
                               f"({reader.label}); pruning passes a flatten only into a Dense layer")
        edits[reader.name] = op.keep_inputs(flat)
