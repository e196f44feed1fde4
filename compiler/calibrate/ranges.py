"""Observed value ranges: run the float semantics of the IR on calibration data, and clip
each tensor's range by a calibration method (compiler/calibrate/methods.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import progress
from ..ir import Graph
from ..ops.base import Bounds
from . import mse
from .methods import clip_magnitude
from .observation import Observation, levels


def float_run(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every tensor's float64 value (batch first) under the ops' reference semantics."""
    values = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    nodes = list(graph.nodes())
    for node in progress.bar(nodes, total=len(nodes), desc="calibrating", unit="layer"):
        outs = node.op.reference([values[t] for t in node.inputs])
        values.update(zip(node.outputs, outs))
    return values


@dataclass(frozen=True)
class Calibration:
    """How observed ranges become clip ranges: a method of compiler/calibrate/methods.py
    (percentile: the share of |values| kept, in %)."""

    method: str = "minmax"
    percentile: float = 99.99


class ObservedRanges:
    """Per-tensor ranges over a calibration batch, clipped by the calibration method for the
    width the tensor gets (MSE, KL and ACIQ clips depend on it), broadcast to the shape."""

    def __init__(self, graph: Graph, inputs: dict[str, np.ndarray], calibration: Calibration):
        self._graph, self._calibration = graph, calibration
        self._values = float_run(graph, inputs)
        self._memo: dict[tuple[str, int], Bounds] = {}

    def bounds(self, name: str, bits: int) -> Bounds:
        key = (name, bits)
        if key not in self._memo:
            v = self._values[name]
            lo, hi = float(v.min()), float(v.max())
            lo, hi = clip(v, lo, hi, self._calibration, bits)
            shape = self._graph.tensors[name].shape
            self._memo[key] = Bounds(np.full(shape, lo), np.full(shape, hi))
        return self._memo[key]


COVERAGE_METHODS = ("minmax", "percentile")   # their clip is a range to hold, not an optimum


def clip(values: np.ndarray, lo: float, hi: float, calibration: Calibration, bits: int) -> tuple[float, float]:
    """[lo, hi] (the observed range of `values`) narrowed to the method's clip magnitude.

    Dynamic fixed point has power-of-two ranges only: a type of `bits` bits clips at 2**k.
    minmax and percentile name a range to hold, and the type that holds it rounds it up. The
    optimizing methods (mse, kl, aciq) choose between the two ranges around their clip by the
    quantization MSE on the observed histogram: rounding a clip of 9 up to 16 would give away
    what clipping won, and 8 may be the better range."""
    if calibration.method == "minmax" or not (math.isfinite(lo) and math.isfinite(hi)):
        return lo, hi   # (non-finite values: the op that made them says so when it is typed)
    signed, unit = lo < 0, max(abs(lo), abs(hi))
    if unit == 0:
        return lo, hi
    # the methods are scale-equivariant: work on values / max|x| (squares of 1e200 overflow).
    # TensorRT's 2048 bins suit activations (many values); a weight tensor of a few thousand
    # leaves most bins empty, and KL then picks a tiny clip: keep ~16 values per bin
    obs = Observation.of(values / unit, signed=signed, bins=int(np.clip(values.size // 16, 128, 2048)))
    c = clip_magnitude(obs, calibration.method, bits, calibration.percentile) * unit
    if c <= 0:
        return max(lo, 0.0), min(hi, 0.0)
    if calibration.method in COVERAGE_METHODS:
        return max(lo, -c), min(hi, c)
    k = math.floor(math.log2(c))
    around = np.ldexp(1.0, np.array([k, k + 1]))
    c = float(around[int(np.argmin(mse.error_at(obs, bits, around / unit)))])
    step = c / levels(bits, signed)   # the type whose range is exactly [-c, c): its top code is c - step
    return max(lo, -c), min(hi, c - step)
