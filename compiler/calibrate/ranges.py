"""Observed value ranges: run the float semantics of the IR on calibration data."""
from __future__ import annotations

import numpy as np

from .. import progress
from ..ir import Graph
from ..ops.base import Bounds


def float_run(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every tensor's float64 value (batch first) under the ops' reference semantics."""
    values = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    nodes = list(graph.nodes())
    for node in progress.bar(nodes, total=len(nodes), desc="calibrating", unit="layer"):
        outs = node.op.reference([values[t] for t in node.inputs])
        values.update(zip(node.outputs, outs))
    return values


def observed_bounds(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, Bounds]:
    """Per-tensor min/max over the calibration batch (broadcast to the tensor's shape)."""
    out = {}
    for name, v in float_run(graph, inputs).items():
        shape = graph.tensors[name].shape
        out[name] = Bounds(np.full(shape, float(v.min())), np.full(shape, float(v.max())))
    return out
