"""Shared machinery of the element-wise activation ops (clip.py, prelu.py, hard_sigmoid.py,
hard_swish.py and the table-based ones built on _lut.py). Registers no op.

Every activation here is a scalar function applied to each element, so its accuracy can be
measured over the whole input domain rather than on random samples: `max_abs_error` runs
the op's own bit-accurate simulator on every code of the input type when it has at most
EXHAUSTIVE_BITS bits, and otherwise on the codes where the error peaks (the ops pass
those: table-interval ends, clamp edges, extremes) plus a dense sweep around zero and a
coarse sweep of the whole range. It counts the inputs whose float result rounds into the
output type's range: the stated error is the approximation and rounding error; beyond the output
type's range results saturate by that range's choice.

Constants that multiply the input (PRelu slopes, HardSigmoid's alpha, Selu's gamma) are
quantized by `constant_type`: exactly when they sit on a grid no finer than needed, else
to enough fraction bits that |x| * |c - c_q| <= lsb(y) / 4 over the inputs it multiplies,
so with the single final rounding (<= lsb(y) / 2 for round-to-nearest) the deviation from
the float op stays below one output LSB.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedError, at_node
from ..numerics import FixedType, exact_type
from ..numerics.fixed import MAX_WIDTH
from .base import Bounds, TypingContext

EXHAUSTIVE_BITS = 18   # input types up to this width are checked on every code
MIN_SIGNIFICANT = 5    # significant bits a quantized multiplying constant keeps at least


def require_unit_scale(ctx: TypingContext) -> None:
    """Nonlinear functions see real values: refuse inputs carrying a real (non-power-of-two) scale."""
    for t in ctx.inputs:
        if not np.all(np.asarray(t.scale) == 1.0):
            raise at_node(ctx.node.name, ctx.node.kind, f"input {t.name!r} carries a non-power-of-two scale; "
                          "not supported for this activation (supported: plain fixed-point inputs)", UnsupportedError)


def exact_frac(values, limit: int) -> int | None:
    """The fewest fraction bits (possibly negative, at most `limit`) that hold every value
    exactly, or None when more than `limit` are needed."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(v)):
        return None
    for f in range(min(-16, limit), limit + 1):
        s = np.ldexp(v, f)
        if np.all(s == np.rint(s)) and np.all(np.abs(s) < 2.0 ** (MAX_WIDTH - 2)):
            return f
    return None


def constant_type(values, max_abs_x: float, y_frac: int, min_frac: int = 0) -> FixedType:
    """Type of constants multiplying inputs up to max_abs_x in magnitude, for an output with
    y_frac fraction bits (see the module docstring); at least min_frac fraction bits, and at
    least MIN_SIGNIFICANT significant bits of the largest constant (so a coarse output never
    turns a slope into 0, and clamp edges move by at most ~3%). Constants quantize to
    nearest (ties to even)."""
    v = np.asarray(values, dtype=np.float64)
    mag = max(float(max_abs_x), 2.0 ** -60)
    frac = y_frac + 1 + math.ceil(math.log2(mag))
    top = float(np.abs(v).max(initial=0.0))
    if top > 0:
        frac = max(frac, MIN_SIGNIFICANT - math.frexp(top)[1])
    f = exact_frac(v, frac)
    frac = max(f if f is not None else frac, min_frac)
    codes = np.rint(np.ldexp(v, frac)).astype(np.int64)
    return exact_type(min(int(codes.min()), 0), max(int(codes.max()), 0), frac, rounding="AP_RND_CONV")


def describe_constant(value: float, ctype: FixedType) -> str:
    """'0.01 (q 328*2^-15)': a constant and the exact value the hardware multiplies by."""
    code = int(ctype.quantize(value))
    exact = ctype.to_float(code) == value
    q = f"{code}*2^{-ctype.frac_bits}" if ctype.frac_bits else f"{code}"
    return f"{value:.6g}" + ("" if exact else f" (q {q})")


def saturating_type(ctx: TypingContext, lo: float | None = None, hi: float | None = None,
                    signed: bool | None = None) -> FixedType:
    """policy.width bits for the range [lo, hi] (default: the output's bounds), saturating:
    an approximated or rounded result may step just outside the float range."""
    b = ctx.out_bounds[0]
    lo = b.min if lo is None else lo
    hi = b.max if hi is None else hi
    return FixedType.for_range(lo, hi, ctx.policy.width, signed=(lo < 0) if signed is None else signed,
                               rounding=ctx.policy.rounding, overflow="AP_SAT")


def widened(bounds: Bounds, margin: float | None) -> Bounds:
    """Float bounds widened by a stated max error (sound for the quantized op's outputs)."""
    m = margin or 0.0
    return Bounds(bounds.lo - m, bounds.hi + m)


def monotone_pieces_bounds(fn, b: Bounds) -> Bounds:
    """Bounds of fn over [lo, hi] for an fn monotone on each side of 0 (checks lo, hi, 0)."""
    zero = np.clip(0.0, b.lo, b.hi)
    cands = np.stack([fn(b.lo), fn(b.hi), fn(zero)])
    return Bounds(cands.min(axis=0), cands.max(axis=0))


def probe_codes(x_type: FixedType, extra=None) -> tuple[np.ndarray, bool]:
    """Input codes on which an op's accuracy is measured (int64, unique), and whether they
    are every code of the type."""
    lo, hi = x_type.min_code, x_type.max_code
    if x_type.width <= EXHAUSTIVE_BITS:
        return np.arange(lo, hi + 1, dtype=np.int64), True
    parts = [np.array([lo, lo + 1, hi - 1, hi, -1, 0, 1], dtype=np.int64)]
    parts.append(np.unique(np.linspace(lo, hi, 1 << 16).round().astype(np.int64)))
    # dense around zero: every code for |x| < 64 at up to 2**16 points
    near = (1 << max(x_type.frac_bits + 6, 0))
    step = max(1, (2 * near) >> 16)
    parts.append(np.arange(-near, near, step, dtype=np.int64))
    if extra is not None:
        parts.append(np.asarray(extra, dtype=np.int64).ravel())
    codes = np.unique(np.concatenate(parts))
    return codes[(codes >= lo) & (codes <= hi)], False


def max_abs_error(sim, ref, x_type: FixedType, y_type: FixedType, codes: np.ndarray) -> float:
    """Largest |simulated - float reference| over the given input codes (shape (N,) or (N, 1)
    broadcast against the op's channels) whose float result the output type can hold (to
    within half an lsb, i.e. rounds into it): the approximation and rounding error. Results beyond the output type's
    range saturate by the choice of that range (for interval-typed outputs such inputs are
    unreachable; quantizer-typed outputs clip like the model's quantizer)."""
    c = np.asarray(codes, dtype=np.float64)
    if c.ndim == 1:
        c = c[:, None]
    got = y_type.to_float(sim([c])[0])
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        want = np.broadcast_to(ref([x_type.to_float(c)])[0], got.shape)
    held = (want >= y_type.min_value - y_type.lsb / 2) & (want <= y_type.max_value + y_type.lsb / 2)
    return float(np.abs(got - want)[held].max(initial=0.0))


def pwl_cost(ctx, *, compare_bits: int, mults: list[tuple[int, int]], add_bits: int = 0, param_bits: int = 0,
             detail: dict):
    """Cost of an exact piecewise-linear kernel: per lane, comparators/muxes of
    `compare_bits` in total, the multipliers `mults` (in sequence), adders of `add_bits`,
    and the output cast; one beat per cycle. Like ReLU it is logic between the stream
    registers: only multipliers on DSPs add pipeline stages."""
    from ..cost.hardware import multiplier
    from ._lanes import lane_cost

    y = ctx.outputs[0]
    c = ctx.target.coeff
    dsp = lut = 0.0
    depth = 0
    for wa, wb in mults:  # constant factors: LUT products are shift-and-add logic, unregistered
        d, l, _ = multiplier(ctx.target, wa, wb)
        dsp, lut = dsp + d, lut + l
        depth += int(c["mult_latency"]) if d else 0
    lut += (compare_bits + add_bits) * c["lut_per_adder_bit"] + y.type.width * 0.5
    return lane_cost(ctx, style="elementwise_pwl", lut_per_lane=lut, dsp_per_lane=dsp, depth=depth,
                     param_bits=param_bits, detail=detail)
