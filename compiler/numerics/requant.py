"""Integer requantization: q = clamp(R(x * m / 2**shift), lo, hi) on exact integer codes.

This is how the hardware applies a non-power-of-two scale (the gemmlowp / integer-only
inference scheme): a fixed-point multiplier m and a right shift, then one rounding with the
quantizer's mode and a clamp. R covers the ap_fixed modes and the two QONNX modes that have
no ap_fixed counterpart (CEIL, and UP = away from zero). templates/kernels/qc_quant.h
implements the same decision table in C++.
"""
from __future__ import annotations


import numpy as np

from .fixed import ROUNDING_MODES, round_increment, round_scaled

REQUANT_MODES = ROUNDING_MODES + ("CEIL", "UP")

# QONNX rounding_mode attribute -> our mode (half-way cases spelled out in the comments)
QONNX_ROUNDING = {
    "ROUND": "AP_RND_CONV", "HALF_EVEN": "AP_RND_CONV",   # ties to even
    "FLOOR": "AP_TRN", "CEIL": "CEIL",
    "DOWN": "AP_TRN_ZERO", "ROUND_TO_ZERO": "AP_TRN_ZERO",  # toward zero
    "UP": "UP",                                            # away from zero
    "HALF_UP": "AP_RND_INF",                               # ties away from zero
    "HALF_DOWN": "AP_RND_ZERO",                            # ties toward zero
}


def round_shift(v: np.ndarray, shift, mode: str) -> np.ndarray:
    """Exact integers v (int64) * 2**-shift rounded with `mode`. `shift` is an int or an
    array broadcast against v (per channel); shift <= 0 is an exact left shift."""
    v = np.asarray(v, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if shift.ndim == 0 and int(shift) > 62:  # beyond the int64 range every bit lies below the rounding point
        return round_shift((v >> 1) | (v & 1), int(shift) - 1, mode)
    if np.any(shift > 62):
        raise ValueError("per-channel shifts above 62 are not supported")
    left = shift <= 0
    s = np.where(left, 1, shift)  # placeholder 1 where the shift is a left shift
    floor = v >> s
    rest = v & ((np.int64(1) << s) - 1)
    first = ((rest >> (s - 1)) & 1) == 1
    sticky = (rest & ((np.int64(1) << (s - 1)) - 1)) != 0
    _check_mode(mode)
    inc = round_increment(mode, first, sticky, v < 0, floor)
    out = floor + inc
    if np.any(left):
        out = np.where(left, v << np.where(left, -shift, 0), out)
    return out


def _check_mode(mode: str) -> None:
    if mode not in REQUANT_MODES:
        raise ValueError(f"unknown rounding mode {mode!r} (supported: {', '.join(REQUANT_MODES)})")


def round_real(x: np.ndarray, mode: str) -> np.ndarray:
    """The same modes on real numbers (float reference semantics of a quantizer)."""
    _check_mode(mode)
    return round_scaled(np.asarray(x, dtype=np.float64), mode, exact_half=False)


def multiplier(m_real: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per entry an integer m and a shift s with m * 2**-s ~ m_real (> 0), m having `bits`
    bits: relative error <= 2**-bits for every entry, however different their sizes."""
    m_real = np.asarray(m_real, dtype=np.float64)
    exp = np.frexp(np.where(m_real > 0, m_real, 1.0))[1]
    shift = (bits - exp).astype(np.int64)            # m_real * 2**shift in [2**(bits-1), 2**bits)
    m = np.rint(np.ldexp(m_real, shift)).astype(np.int64)
    carry = m >= (1 << bits)                         # rounding carried into a new bit
    shift = np.where(carry, shift - 1, shift)
    m = np.where(carry, np.rint(np.ldexp(m_real, shift)).astype(np.int64), m)
    return np.where(m_real > 0, m, 0), np.where(m_real > 0, shift, 0)


def quantizer_codes(x_real, scale, zero_point, qmin: int, qmax: int, mode: str) -> np.ndarray:
    """A real-valued tensor's codes under a (Q)ONNX quantizer, as the model computes them in
    float32: clamp(R(x / scale) + zero_point, qmin, qmax) - zero_point. Quant's host side
    (ops/quant.py) and the board package's driver both call this."""
    x32 = np.asarray(x_real, dtype=np.float32)
    q = round_real((x32 / np.asarray(scale, dtype=np.float32)).astype(np.float64)
                   + np.asarray(zero_point, dtype=np.float64), mode)
    return np.clip(q, qmin, qmax) - np.asarray(zero_point, dtype=np.float64)


def bipolar_codes(x_real, threshold=None, flip=None) -> np.ndarray:
    """+1 where x >= threshold (x <= threshold where flip), else -1 (a BipolarQuant)."""
    x = np.asarray(x_real, dtype=np.float64)
    t = 0.0 if threshold is None else threshold
    pos = x >= t if flip is None else np.where(flip, x <= t, x >= t)
    return np.where(pos, 1.0, -1.0)
