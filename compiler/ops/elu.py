"""Elu and Selu: y = gamma * (x >= 0 ? x : alpha * (exp(x) - 1)) (Elu: gamma = 1).

x >= 0: an exact product by gamma quantized to a fixed-point constant (no multiplier when
gamma is 1), rounded once. x < 0: a lookup table over |x| holding gamma * alpha * (exp(-|x|) - 1),
which saturates at -gamma * alpha beyond the table. Design and measured accuracy
(`max_error`): see _lut.py and _activation.constant_type."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._activation import constant_type, describe_constant, saturating_type
from ._lut import LutActivation
from .base import TypingContext

SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102214813232421875


@register
@dataclass
class Elu(LutActivation):
    kind = "Elu"
    template = "lut_activation"
    mode = "linear"

    alpha: float = 1.0
    gamma: float = 1.0                      # Selu's scale
    gamma_type: FixedType | None = None     # quantized gamma (positive side)

    def function_name(self) -> str:
        if self.alpha == SELU_ALPHA and self.gamma == SELU_GAMMA:
            name = "Selu"
        else:
            name = f"Elu alpha={self.alpha:.6g}" + (f" gamma={self.gamma:.6g}" if self.gamma != 1 else "")
        if self.gamma != 1 and self.gamma_type is not None:
            name += f", x>=0: x*{describe_constant(self.gamma, self.gamma_type)}"
        return name

    def f(self, x):
        neg = self.alpha * np.expm1(np.minimum(x, 0.0))
        return self.gamma * np.where(x >= 0, x, neg)

    def g(self, arg):
        return self.gamma * self.alpha * np.expm1(-arg)

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        return saturating_type(ctx)

    def prepare(self, ctx: TypingContext, x_type: FixedType, y_type: FixedType) -> None:
        self.gamma_type = constant_type([self.gamma], max(x_type.max_value, 0.0), y_type.frac_bits)

    def linear_scale(self):
        scaled = self.gamma != 1.0
        if not scaled or self.gamma_type is None:
            return np.ones(1, dtype=np.int64), FixedType(1, 1, False), False
        return self.gamma_type.quantize([self.gamma]), self.gamma_type, True
