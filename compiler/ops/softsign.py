"""Softsign, x / (1 + |x|), as a lookup table over |x| (odd: softsign(-x) = -softsign(x)),
or over x when the output's rounding does not commute with that mirror. The output is
(-1, 1) at the policy width like Tanh's. Softsign approaches +-1 slowly (1 - 1/(1 + |x|)),
so a span of |x| < 64 leaves up to 1/65 beyond it, and a uniform table trades that against
its step near 0: the design picks the best span (see _lut.py) and states the measured
max_error (about 1.6e-2 over a wide input such as the default ap_fixed<16,6>, about 2e-3 for
inputs within +-4)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._lut import LutActivation
from .base import TypingContext


@register
@dataclass
class Softsign(LutActivation):
    kind = "Softsign"
    template = "lut_activation"
    mode = "odd"
    full_fallback = True

    def f(self, x):
        return x / (1.0 + np.abs(x))

    def g(self, arg):
        return arg / (1.0 + np.abs(arg))

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        return FixedType(ctx.policy.width, 1, True, ctx.policy.rounding, "AP_SAT")
