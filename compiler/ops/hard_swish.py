"""HardSwish: y = x * max(0, min(1, x / 6 + 1/2)), exact integer arithmetic: HardSigmoid's
kernel with one more exact product before the single final cast (see hard_sigmoid.py).
1/6 is quantized so that x**2 * |1/6 - q| <= lsb(y)/4 where the clamp is unsaturated."""
from __future__ import annotations

from dataclasses import dataclass

from . import register
from .hard_sigmoid import HardSigmoid


@register
@dataclass
class HardSwish(HardSigmoid):
    kind = "HardSwish"
    template = "hard_sigmoid"
    swish = True

    alpha: float = 1.0 / 6.0
    beta: float = 0.5
