"""Move a MAC layer's bias into the quantizer that reads it: the quantizer's offset (or its
thresholds) carries it at no cost, and the accumulator only has to hold the products.

A bias kept in the accumulator must be exact to the quantizer's resolution, which can
make the accumulator much wider than its products need (a float bias next to a folded
BatchNorm keeps 24 significant bits); in the quantizer it is one more term of the offset
its multiplier already has (within the stated deviation of 2**-16 of an output step), and
for a threshold kernel it only moves the thresholds. A ReLU fused into the layer goes too
when the quantizer's clamp floor is at zero (quantizing max(x, 0) then equals quantizing x).
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..ops._mac import MacOp
from ..ops.quant import Quant
from ..options import CompileOptions


def absorb_bias(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: scales propagated, quantizers folded (fold_into_quant, fold_thresholds), untyped.
    Post: no Dense/Conv whose only reader is a model quantizer keeps a bias; the quantizer
    quantizes (acc + bias) * in_scale * pre_scale + pre_shift (bipolar: compares acc with the
    threshold minus the bias). Real arithmetic is unchanged."""
    for node in graph.nodes():
        op = node.op
        if not isinstance(op, MacOp) or op.bias is None:
            continue
        out = node.outputs[0]
        readers = graph.consumers(out)
        if not graph.private(out) or not isinstance(readers[0].op, Quant):
            continue
        q = readers[0].op
        if q.scale is None:
            continue  # a requantizer the compiler inserted (DFP): it has no offset of its own
        s_in = np.asarray(graph.tensors[out].scale, dtype=np.float64)
        bias_real = np.asarray(op.bias, dtype=np.float64) * s_in   # per output channel
        if op.activation == "relu":
            floor_at_zero = not q.bipolar and q.pre_scale is None and bool(np.all(q.qmin >= np.asarray(q.zero_point)))
            if not floor_at_zero:
                continue
            op.activation = None
        if q.bipolar:
            t = 0.0 if q.threshold is None else np.asarray(q.threshold, dtype=np.float64)
            q.threshold = t - bias_real
        else:
            n = op.n_out
            pre_scale = np.ones(n) if q.pre_scale is None else np.broadcast_to(q.pre_scale, (n,)).astype(np.float64)
            pre_shift = np.zeros(n) if q.pre_shift is None else np.broadcast_to(q.pre_shift, (n,)).astype(np.float64)
            q.pre_scale, q.pre_shift = pre_scale, pre_shift + bias_real * pre_scale
        op.bias = None
        readers[0].source = f"{node.source} (bias) + {readers[0].source}"
    return graph
