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


def fold_into_quant(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: scales propagated. Post: no Affine (optionally followed by a ReLU) feeds a
    model quantizer; the quantizer quantizes x * pre_scale + pre_shift of the Affine's
    input instead (exact: no rounding of the Affine's output in between). An Affine or
    ReLU that something else reads too (a graph output) stays, for that reader."""
    for node in graph.nodes():
        q = node.op
        if not isinstance(q, Quant) or q.bipolar or q.scale is None or q.pre_scale is not None:
            continue
        prod = graph.producer(node.inputs[0])
        relu = None
        floor_at_zero = bool(np.all(q.qmin >= np.asarray(q.zero_point)))
        if prod is not None and isinstance(prod.op, Relu) and floor_at_zero:
            relu, prod = prod, graph.producer(prod.inputs[0])
        if prod is None or not isinstance(prod.op, Affine):
            continue
        a = prod.op
        s_x = np.asarray(graph.tensors[prod.inputs[0]].scale, dtype=np.float64)
        s_a = np.asarray(graph.tensors[prod.outputs[0]].scale, dtype=np.float64)
        # quantized value: (x_fixed * s + t) * s_a = x_real * (s * s_a / s_x) + t * s_a
        q.pre_scale = np.asarray(a.scale * s_a / s_x, dtype=np.float64)
        q.pre_shift = np.asarray(a.shift * s_a, dtype=np.float64)
        q.in_scale = graph.tensors[prod.inputs[0]].scale
        folded = [n for n in (relu, prod) if n is not None]
        node.source = " + ".join(n.source for n in reversed(folded)) + f" + {node.source}"
        graph.set_inputs(node, [prod.inputs[0]])
        graph.drop_unread(folded)
    return graph
