"""Sigmoid as a lookup table over |x| (sigmoid(-x) = 1 - sigmoid(x)), or over x when the
output's rounding mode does not commute with that mirror. Table design, indexing and the
measured accuracy (`max_error`): see _lut.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._lut import LutActivation
from .base import TypingContext


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Float64 logistic function without overflow for any magnitude."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@register
@dataclass
class Sigmoid(LutActivation):
    kind = "Sigmoid"
    template = "lut_activation"
    mode = "complement"
    full_fallback = True

    def f(self, x):
        return sigmoid(x)

    def g(self, arg):
        return sigmoid(arg)

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        # (0, 1) at policy width; 1.0 itself is representable
        return FixedType(ctx.policy.width, 1, False, ctx.policy.rounding, "AP_SAT")
