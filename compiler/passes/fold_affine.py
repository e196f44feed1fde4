"""Fold per-channel affine ops (BatchNormalization, constant scales and shifts) into the
preceding float Dense layer, and merge chains of affine ops."""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..ops.affine import Affine
from ..ops.conv import Conv
from ..ops.dense import Dense
from ..options import CompileOptions


def fold_affine(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: untyped graph. Post: no Affine directly follows a float Dense (without fused
    activation) or another Affine whose output only it reads; float outputs are unchanged
    up to float64 rounding. Model-quantized weights are never rescaled (that would move
    them off their grid), so a scaling Affine after such a layer stays; a pure shift (a
    bias) always folds."""
    changed = True
    while changed:
        changed = False
        for node in graph.nodes():
            if not isinstance(node.op, Affine):
                continue
            if node.op.is_identity and _scale_preserved(graph, node):
                graph.bypass(node.name)
                changed = True
                break
            if _fold_forward(graph, node):
                changed = True
                break
            prod = graph.producer(node.inputs[0])
            if prod is None or not graph.private(node.inputs[0]):
                continue
            a = node.op
            shift_only = bool(np.all(a.scale == 1.0))
            if isinstance(prod.op, (Dense, Conv)) and prod.op.activation is None and \
                    (shift_only or not prod.op.weights_from_model):
                d = prod.op
                if not shift_only:
                    d.weight = d.weight * a.scale
                d.bias = a.shift + (d.bias * a.scale if d.bias is not None else 0.0)
                d.bias_type = None
            elif isinstance(prod.op, Affine):
                p = prod.op
                p.shift = p.shift * a.scale + a.shift
                p.scale = p.scale * a.scale
            else:
                continue
            prod.source += f" + {node.source}"
            out_scale = graph.tensors[node.outputs[0]].scale
            graph.bypass(node.name)  # the input is private, so the producer now writes node's output
            graph.tensors[node.outputs[0]].scale = out_scale
            changed = True
            break
    return graph


def _scale_preserved(graph: Graph, node) -> bool:
    a, b = (graph.tensors[node.inputs[0]].scale, graph.tensors[node.outputs[0]].scale)
    return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))


def _fold_forward(graph: Graph, node) -> bool:
    """A pure shift feeding a Dense (its only reader) becomes part of that Dense's bias:
    (x + t) @ W == x @ W + t @ W. (A padded convolution could not take it: its borders
    see zeros, not shifted zeros.)"""
    a = node.op
    if not np.all(a.scale == 1.0) or not graph.private(node.outputs[0]):
        return False
    readers = graph.consumers(node.outputs[0])
    if not isinstance(readers[0].op, Dense):
        return False
    d = readers[0].op
    # real weights: model-quantized ones are codes times their weight_scale (the bias is real)
    extra = (np.broadcast_to(a.shift, (d.n_in,)) @ d.weight) * np.asarray(d.weight_scale, dtype=np.float64)
    d.bias = extra if d.bias is None else d.bias + extra
    d.bias_type = None
    readers[0].source = f"{node.source} + {readers[0].source}"
    graph.bypass(node.name)
    return True
