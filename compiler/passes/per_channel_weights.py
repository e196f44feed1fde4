"""Per-channel weight formats for float Dense/Conv layers, where a per-channel shift exists.

One weight type per layer spends the range of its largest output channel on every channel:
a channel whose weights are 8x smaller uses three bits fewer. Per channel, the weights are
stored scaled by 2**k_c (k_c >= 0: the headroom bits of channel c, so every channel fills the
layer's one type) and the output channel's real scale is 2**-k_c (the weight_scale the scale
pass moves into the tensor). Undoing it is a per-channel shift, which costs nothing in a
requantizer: a Quant kernel applies a per-channel multiplier and shift anyway. So:
- free: a layer whose only readers are requantizers (a model's quantizer, or one the scale
  pass would insert) gets per-channel formats always;
- on request (options.per_channel_weights, `--per-channel-weights`): every other float layer
  gets a requantizer inserted after it (the accumulator then goes on whole, and the requantizer
  rounds once to the activation type): real hardware, in the estimate.
A float reader (a next Dense) could absorb the scales into its own weights for free, but that
moves the lost bits into that layer's rows (measured worse on the digits MLP), so it is not
done. Runs before propagate_scales. Post: options.per_channel = {layer: largest k_c}."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from ..ops.base import FormatPolicy
from ..options import CompileOptions
from .propagate_scales import insert_requantizer

MAX_SHIFT = 16   # headroom bits at most (a channel of near-zero weights would ask for more)


def per_channel_weights(graph: Graph, options: CompileOptions) -> Graph:
    for node in list(graph.nodes()):
        op = node.op
        if node.kind not in ("Dense", "Conv") or getattr(op, "weights_from_model", True):
            continue
        out = node.outputs[0]
        readers = graph.consumers(out)
        free = bool(readers) and all(r.kind == "Quant" and r.op.rounds_input for r in readers)
        if not (free or options.per_channel_weights) or out in graph.outputs:
            continue   # (a graph output keeps its producer: the requantizer would rename it)
        own = options.layers.get(node.name)
        bits = own.weight_bits if own is not None and own.weight_bits is not None else options.weight_width
        try:
            k = headroom(op.weight, FormatPolicy(weight_width=bits, weight_calibration=options.weight_calibration))
        except ValueError:   # weights no format holds: assign_formats refuses the layer in one line
            continue
        if not k.any():
            continue
        op.weight = op.weight * np.ldexp(1.0, k)
        op.weight_scale = np.ldexp(1.0, -k) * np.asarray(op.weight_scale, dtype=np.float64)
        if not free:
            _requantize_output(graph, node)
        options.per_channel[node.name] = int(k.max())
    return graph


def headroom(weight: np.ndarray, policy: FormatPolicy) -> np.ndarray:
    """k_c per output channel (the last axis): the integer bits the type `policy` gives
    channel c's weights alone needs fewer than the type it gives the layer's, so channel c
    scaled by 2**k_c still fits the layer's type."""
    w = np.asarray(weight, dtype=np.float64).reshape(-1, weight.shape[-1])
    if not np.any(w):
        return np.zeros(weight.shape[-1], dtype=np.int64)
    layer = policy.weight_type(w).int_bits
    k = [layer - policy.weight_type(col).int_bits if np.any(col) else 0 for col in w.T]
    return np.clip(np.array(k, dtype=np.int64), 0, MAX_SHIFT)


def _requantize_output(graph: Graph, node: Node) -> None:
    """A dynamic-fixed-point requantizer between the layer and its readers: it removes the
    per-channel scales (its per-channel shift) and rounds to the activation width."""
    src = node.outputs[0]
    readers = graph.consumers(src)
    q = insert_requantizer(graph, src, f"{node.name}_requant", "__per_channel",
                           f"inserted: per-channel weights of {node.name}")
    for r in readers:
        graph.set_inputs(r, [q.outputs[0] if i == src else i for i in r.inputs])
