"""Fold per-channel affine ops (BatchNormalization, constant scales and shifts) into the
preceding float Dense layer, and merge chains of affine ops."""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..ops.affine import Affine
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
            prod = graph.producer(node.inputs[0])
            if prod is None or len(graph.consumers(node.inputs[0])) != 1 or node.inputs[0] in graph.outputs:
                continue
            a = node.op
            shift_only = bool(np.all(a.scale == 1.0))
            if isinstance(prod.op, Dense) and prod.op.activation is None and \
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
            graph.bypass(node.name)
            changed = True
            break
    return graph
