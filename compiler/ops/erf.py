"""Erf as a lookup table over |x| (odd: erf(-x) = -erf(x)), or over x when the output's
rounding does not commute with that mirror; erf is within 2e-17 of +-1 beyond |x| = 6.
The output is [-1, 1) at the policy width, saturating, like Tanh's. Design and measured
accuracy (`max_error`): see _lut.py."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._lut import LutActivation
from .base import TypingContext

_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x) -> np.ndarray:
    """Float64 erf, elementwise (the standard library's, to full double precision)."""
    x = np.asarray(x, dtype=np.float64)
    return _erf(x) if x.size else x.copy()


@register
@dataclass
class Erf(LutActivation):
    kind = "Erf"
    template = "lut_activation"
    mode = "odd"
    full_fallback = True

    def f(self, x):
        return erf(x)

    def g(self, arg):
        return erf(arg)

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        return FixedType(ctx.policy.width, 1, True, ctx.policy.rounding, "AP_SAT")
