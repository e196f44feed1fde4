"""Fold a per-channel affine op (e.g. BatchNormalization) into the bipolar quantizer after
it: sign(x * s + t) is a comparison of x with -t/s (the direction flips where s < 0), which
the hardware does exactly on integer codes, as FINN's thresholding does."""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..ops.affine import Affine
from ..ops.quant import Quant
from ..options import CompileOptions


def fold_thresholds(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: scales propagated. Post: no Affine feeds a bipolar Quant without thresholds; the
    Quant compares the Affine's input with per-channel thresholds instead. Outputs are
    unchanged (the comparison is exact). An Affine that something else reads too stays."""
    for node in graph.nodes():
        if not (isinstance(node.op, Quant) and node.op.bipolar and node.op.threshold is None):
            continue
        prod = graph.producer(node.inputs[0])
        if prod is None or not isinstance(prod.op, Affine):
            continue
        a, q = prod.op, node.op
        s, t = np.asarray(a.scale, dtype=np.float64), np.asarray(a.shift, dtype=np.float64)
        s_in = np.asarray(graph.tensors[prod.inputs[0]].scale, dtype=np.float64)
        # real y = (x_fixed * s + t) * s_out >= 0  <=>  x_fixed * s >= -t (scales are positive)
        with np.errstate(divide="ignore", invalid="ignore"):
            thr_fixed = np.where(s != 0, -t / np.where(s != 0, s, 1.0), np.where(t >= 0, -np.inf, np.inf))
        q.threshold = thr_fixed * s_in          # on the Affine input's real value
        q.flip = s < 0
        q.in_scale = graph.tensors[prod.inputs[0]].scale
        node.source = f"{prod.source} + {node.source}"
        graph.set_inputs(node, [prod.inputs[0]])
        graph.drop_unread([prod])
    return graph
