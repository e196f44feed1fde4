"""Outlier channel splitting (OCS; Zhao et al., "Improving Neural Network Quantization
without Retraining using Outlier Channel Splitting", ICML 2019), for float weights.

A layer's weight type must hold its largest |weight|, so one outlier coarsens every weight's
step. OCS duplicates the input channel that holds the outlier and halves that channel's weight
row in both copies: W x = (W_i / 2) x_i + (W_i / 2) x_i, exact in float, and the layer's range
shrinks. Repeated round(options.ocs * n_in) times per layer, each time on the row that holds
the largest |weight| then (a row may split again). With power-of-two formats the step falls
when the largest |weight| drops below a power of two.

The duplicated channel is computed twice upstream: the previous Dense/Conv gains the output
column (its weights and bias), and per-channel ops between them (activations, quantizers,
affines, pooling) gain the lane, so the extra work is real hardware and shows in the estimate.
A layer whose input is not computed that way (a graph input, a tensor read elsewhere, a
flatten) is left as it is. Runs after the first fold_affine/fuse_activation (BatchNorm is in the
weights then), before scales and formats. Post: options.split = {layer: channels split}."""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..options import CompileOptions

SPLITTABLE = ("Dense", "Conv")


def split_outliers(graph: Graph, options: CompileOptions) -> Graph:
    if not options.ocs:
        return graph
    for node in list(graph.nodes()):
        op = node.op
        if node.kind not in SPLITTABLE or getattr(op, "groups", 1) != 1 or getattr(op, "weights_from_model", True):
            continue
        chain = _upstream_chain(graph, node)
        if chain is None:
            continue
        row_max = op.input_channel_max()
        k = max(1, int(round(options.ocs * len(row_max))))   # input channels (a Conv's n_in counts taps too)
        src, factor = split_rows(row_max, k)
        _apply(graph, node, chain, src, factor)
        options.split[node.name] = k
    return graph


def split_rows(row_max: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k splits of rows with largest |weights| row_max: (the source row of every row after
    splitting, the factor its weights take). Each split halves the currently largest row and
    appends its copy; the factors of each source row's copies sum to 1."""
    src = list(range(len(row_max)))
    factor = [1.0] * len(row_max)
    for _ in range(k):
        j = int(np.argmax(np.asarray(row_max, dtype=np.float64)[src] * factor))
        factor[j] /= 2
        src.append(src[j])
        factor.append(factor[j])
    return np.array(src), np.array(factor)


def _upstream_chain(graph: Graph, node) -> list | None:
    """The nodes from the previous Dense/Conv (first) to the one before `node`, if every
    tensor on the way is read only by the next of them and every op between is per-channel."""
    chain, tensor = [], node.inputs[0]
    while True:
        if tensor in graph.outputs or len(graph.consumers(tensor)) != 1:
            return None
        p = graph.producer(tensor)
        if p is None or len(p.outputs) != 1:
            return None
        chain.insert(0, p)
        if p.kind in SPLITTABLE and getattr(p.op, "groups", 1) == 1:
            return chain
        channels = graph.tensors[tensor].shape[-1]
        if len(p.inputs) != 1 or p.op.select_channels(np.arange(channels), channels) is None:
            return None     # it mixes channels (or has several inputs): nothing to duplicate through
        tensor = p.inputs[0]


def _apply(graph: Graph, node, chain: list, src: np.ndarray, factor: np.ndarray) -> None:
    channels = len(node.op.input_channel_max())
    first, between = chain[0], chain[1:]
    first.op = first.op.keep_outputs(src)
    for n in between:
        n.op = n.op.select_channels(src, channels)
    for n in chain:
        t = graph.tensors[n.outputs[0]]
        t.shape = tuple(t.shape[:-1]) + (len(src),)
        scale = np.asarray(t.scale)
        if scale.ndim:
            t.scale = scale[..., src]
    node.op = node.op.keep_inputs(src, factor)
