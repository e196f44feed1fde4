"""Tanh as a lookup table over |x| (tanh(-x) = -tanh(x)), or over x when the output's
rounding mode does not commute with that mirror. Table design, indexing and the measured
accuracy (`max_error`): see _lut.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._lut import LutActivation
from .base import TypingContext


@register
@dataclass
class Tanh(LutActivation):
    kind = "Tanh"
    template = "lut_activation"
    mode = "odd"
    full_fallback = True

    def f(self, x):
        return np.tanh(x)

    def g(self, arg):
        return np.tanh(arg)

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        # [-1, 1) at policy width, saturating (+1 itself is one lsb away)
        return FixedType(ctx.policy.width, 1, True, ctx.policy.rounding, "AP_SAT")
