"""Binary and ternary float weights become codes with a scale: weights taking only the
values {-a, +a} (or {-a, 0, +a}) are stored as -1/+1 (0) with weight_scale a, so they are
exact, the layer needs no multiplier, and a BatchNormalization after it moves into the
tensor's scale instead of being folded into (and so spoiling) the weights."""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..numerics import FixedType
from ..ops.conv import Conv
from ..ops.dense import Dense
from ..options import CompileOptions

TWO_BIT = FixedType(2, 2)  # holds -1, 0, +1


def lower_binary(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: untyped graph. Post: a float Dense or Conv whose weights are {-a,+a} or {-a,0,+a} with
    one a > 0 per output column holds codes in {-1, 0, 1}, weight_type ap_fixed<2,2>,
    weight_scale a (per column) and weights_from_model=True. Real values are unchanged."""
    for node in graph.nodes():
        d = node.op
        if not isinstance(d, (Dense, Conv)) or d.weights_from_model:
            continue
        a = np.abs(d.weight).max(axis=0)
        if np.any(a == 0) or not np.all(np.isfinite(a)):  # non-finite weights are refused when typed
            continue
        codes = d.weight / a
        if not np.all(np.isin(codes, (-1.0, 0.0, 1.0))):
            continue
        d.weight, d.weight_type, d.weight_scale, d.weights_from_model = codes, TWO_BIT, a, True
    return graph
