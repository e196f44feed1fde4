"""Fold a per-channel affine op (and a ReLU after it) into the quantizer that follows: the
quantizer's integer multiplier and offset take the affine's scale (any sign) and shift, so
a BatchNormalization between a quantized layer and its activation quantizer costs no stage
and no extra rounding. A ReLU disappears when the quantizer's clamp floor is at zero."""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..ops.affine import Affine
from ..ops.quant import Quant
from ..ops.relu import Relu
from ..options import CompileOptions


def _private_producer(graph: Graph, tensor: str):
    prod = graph.producer(tensor)
    if prod is None or len(graph.consumers(tensor)) != 1 or tensor in graph.outputs:
        return None
    return prod


def fold_into_quant(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: scales propagated. Post: no Affine (optionally followed by a ReLU) feeds a
    model quantizer as its only reader; the quantizer quantizes x * pre_scale + pre_shift
    of the Affine's input instead (real arithmetic unchanged)."""
    for node in graph.nodes():
        q = node.op
        if not isinstance(q, Quant) or q.bipolar or q.scale is None or q.pre_scale is not None:
            continue
        prod = _private_producer(graph, node.inputs[0])
        relu = None
        floor_at_zero = bool(np.all(q.qmin >= np.asarray(q.zero_point)))
        if prod is not None and isinstance(prod.op, Relu) and floor_at_zero:
            relu, prod = prod, _private_producer(graph, prod.inputs[0])
        if prod is None or not isinstance(prod.op, Affine):
            continue
        a = prod.op
        s_x = np.asarray(graph.tensors[prod.inputs[0]].scale, dtype=np.float64)
        s_a = np.asarray(graph.tensors[prod.outputs[0]].scale, dtype=np.float64)
        # quantized value: (x_fixed * s + t) * s_a = x_real * (s * s_a / s_x) + t * s_a
        q.pre_scale = np.asarray(a.scale * s_a / s_x, dtype=np.float64)
        q.pre_shift = np.asarray(a.shift * s_a, dtype=np.float64)
        q.in_scale = graph.tensors[prod.inputs[0]].scale
        dropped = [n for n in (prod, relu) if n is not None]
        node.source = " + ".join(n.source for n in dropped) + f" + {node.source}"
        for n in dropped:
            graph.remove_node(n.name)
            graph.tensors.pop(n.outputs[0], None)
        graph.set_inputs(node, [prod.inputs[0]])
    return graph
