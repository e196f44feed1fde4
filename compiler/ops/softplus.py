"""Softplus, log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): the correction term from a
lookup table over |x|, added exactly to max(x, 0). When the input has more fraction bits
than the output, the table is kept on the input's grid (rounded to nearest) and the sum is
rounded once more to the output. Design and measured accuracy (`max_error`): see _lut.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._activation import saturating_type
from ._lut import LutActivation
from .base import TypingContext


@register
@dataclass
class Softplus(LutActivation):
    kind = "Softplus"
    template = "lut_activation"
    mode = "softplus"

    def f(self, x):
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))

    def g(self, arg):
        return np.log1p(np.exp(-np.abs(arg)))

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        return saturating_type(ctx, lo=0.0, signed=False)
