"""Exp as a lookup table over x (a full table: exp has no symmetry to mirror), spanning the
whole input type (max_range_bits), so no input clamps to a wrong entry.

Output range: the output's integer bits come from the input's bounds, [0, exp(hi)] at the
policy width, saturating (an approximated value may step just past exp(hi)); interval
bounds then cannot overflow, calibrated ones saturate beyond the observed range. Exp of a
wide input spends its bits on the top of that range: with the default input type
ap_fixed<16,6> (x < 32) the output is ap_ufixed<16,47>, one step 2^31. Pass calibration
data or a quantizer for a useful design; the report states the measured max_error.
The table starts where exp(x) reaches lsb(y)/4 (below it every value rounds to 0; such
inputs clamp into the first entry), so all its entries cover the part of the input range
that matters. Design and measured accuracy: see _lut.py."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._activation import saturating_type
from ._lut import LutActivation
from .base import TypingContext


@register
@dataclass
class Exp(LutActivation):
    kind = "Exp"
    template = "lut_activation"
    mode = "plain"
    full_only = True
    max_range_bits = 62

    def f(self, x):
        return np.exp(x)

    def g(self, arg):
        return np.exp(arg)

    def table_floor(self, y_type: FixedType) -> float:
        return math.log(y_type.lsb / 4)   # below it exp(x) rounds to 0 (within lsb/4)

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        b = ctx.out_bounds[0]
        if not np.isfinite(b.max):
            raise ValueError(f"exp of inputs up to {ctx.inputs[0].type.max_value:g} overflows a double")
        return saturating_type(ctx, lo=0.0, signed=False)
