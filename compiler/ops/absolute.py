"""Abs, y = |x|: exact (qc::unary_exact, op 1: a sign test, a negation and a select per
lane); the output is the input's grid without the sign bit, one code wider at -min. See
negate.py for the shared stage, its output types and cost."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import exact_type
from . import register
from ._activation import widened
from .base import Bounds
from .negate import ExactUnary


@register
@dataclass
class Absolute(ExactUnary):
    kind = "Abs"
    op_name = "abs"

    def f(self, x):
        return np.abs(x)

    def bounds(self, ins):
        lo, hi = ins[0].lo, ins[0].hi
        top = np.maximum(np.abs(lo), np.abs(hi))
        bottom = np.where(lo >= 0, lo, np.where(hi <= 0, -hi, 0.0))
        return [widened(Bounds(bottom, top), self.max_error)]

    def rescale(self, in_scales):
        return [in_scales[0]]   # scales are positive: |s x| = s |x|

    def value_type(self, x_type):
        return exact_type(0, max(-x_type.min_code, x_type.max_code), x_type.frac_bits)

    def values(self, c, x_type):
        return np.abs(c)
