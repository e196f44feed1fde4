"""Unary element-wise ops: Exp, Sqrt, Pow (constant exponent), Abs, Neg, Sign, Shrink, Erf,
Softsign, Gelu; and PyTorch's Softsign export, x / (1 + |x|) (Abs, Add 1, Div), as one
Softsign op."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..ops.absolute import Absolute
from ..ops.affine import Affine
from ..ops.erf import Erf
from ..ops.exp import Exp
from ..ops.gelu import Gelu
from ..ops.negate import Negate
from ..ops.power import Power
from ..ops.shrink import Shrink
from ..ops.sign import Sign
from ..ops.softsign import Softsign
from ..ops.sqrt import Sqrt
from .values import Act, Const, converter

_SIMPLE = {"Exp": Exp, "Sqrt": Sqrt, "Abs": Absolute, "Neg": Negate, "Sign": Sign, "Erf": Erf, "Softsign": Softsign}


@converter(*_SIMPLE)
def _unary(imp, ctx, ins):
    """elementwise, any shape (Exp, Sqrt, Abs, Neg, Sign, Erf, Softsign)"""
    x = ctx.act(ins[0])
    return imp.emit(ctx, _SIMPLE[ctx.node.op_type](), x, x.shape)


def _float_attr(ctx, name: str, default: float) -> float:
    v = ctx.attrs.get(name, default)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ctx.error(f"attribute {name}={v!r} must be a finite number", ModelError)
    return float(v)


@converter("Shrink")
def _shrink(imp, ctx, ins):
    """elementwise, any shape; lambd and bias finite numbers"""
    x = ctx.act(ins[0])
    op = Shrink(lambd=_float_attr(ctx, "lambd", 0.5), bias=_float_attr(ctx, "bias", 0.0))
    return imp.emit(ctx, op, x, x.shape)


@converter("Gelu")
def _gelu(imp, ctx, ins):
    """elementwise, any shape; approximate 'none' or 'tanh'"""
    x = ctx.act(ins[0])
    approximate = ctx.attrs.get("approximate", "none")
    approximate = approximate.decode() if isinstance(approximate, bytes) else str(approximate)
    if approximate not in ("none", "tanh"):
        raise ctx.error(f"approximate={approximate!r} is not supported (supported: 'none', 'tanh')")
    return imp.emit(ctx, Gelu(approximate=approximate), x, x.shape)


@converter("Pow")
def _pow(imp, ctx, ins):
    """a computed base to a constant scalar exponent > 0 (1: no stage; 0.5: Sqrt)"""
    x = ctx.act(ins[0], "the base")
    if len(ins) < 2 or ins[1] is None:
        raise ctx.error("the exponent input is missing", ModelError)
    if not isinstance(ins[1], Const):
        raise ctx.error("the exponent must be a constant (initializer); a computed exponent is not supported "
                        "(supported: a constant scalar exponent > 0)")
    e = np.asarray(ins[1].value, dtype=np.float64)
    if e.size != 1:
        raise ctx.error(f"an exponent of shape {e.shape} is not supported (supported: a scalar)")
    p = float(e.reshape(-1)[0])
    if not math.isfinite(p):
        raise ctx.error(f"the exponent {p} is not finite", ModelError)
    if p == 1.0:
        return x
    if p <= 0:
        raise ctx.error(f"exponent {p:g} is not supported (supported: exponents > 0)")
    if p == 0.5:
        return imp.emit(ctx, Sqrt(), x, x.shape)
    return imp.emit(ctx, Power(exponent=p), x, x.shape)


def softsign_of(imp, x: Act, d: Act) -> Act | None:
    """x when d = 1 + |x| in x's own layout (an Affine of scale 1 and shift 1 reading an Abs
    of x), else None. The Abs and the Affine are left for their other readers, or removed as
    dead by cleanup."""
    add = imp.graph.producer(d.tensor)
    if add is None or not isinstance(add.op, Affine) or not (np.all(add.op.scale == 1) and np.all(add.op.shift == 1)):
        return None
    ab = imp.graph.producer(add.inputs[0])
    if ab is None or not isinstance(ab.op, Absolute) or ab.inputs != [x.tensor]:
        return None
    return x if x.shape == d.shape and x.order().tobytes() == d.order().tobytes() else None
