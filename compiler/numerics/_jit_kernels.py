"""The numba kernels behind compiler/numerics/jit.py (imported only through jit.kernels()).
Plain loops over C-contiguous arrays, the channel innermost (vectorized by LLVM); they
release the GIL, so the simulator's batch chunks run them on every core."""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(nogil=True, cache=True, error_model="numpy")


@_jit
def _round(v, rounding):
    if rounding == 1:
        return np.floor(v)
    if rounding == 2:
        return np.rint(v)
    return v


@_jit
def _affine1(v, pre, m, offset, add, sub, rounding, lo, hi):
    return min(max(_round((v + pre) * m + offset, rounding) + add, lo), hi) - sub


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _affine_rows(x, out, pre, mult, mult_neg, offset, add, sub, rounding, lo, hi):
    rows, c = x.shape
    for r in range(rows):
        for j in range(c):
            v = np.float64(x[r, j])
            m = mult[j] if mult_neg is None or v >= 0 else mult_neg[j]
            out[r, j] = _affine1(v, pre[j], m, offset[j], add[j], sub[j], rounding, lo, hi)


@_jit
def affine(x, out, pre, mult, mult_neg, offset, add, sub, rounding, lo, hi):
    """out[r, j] = min(max(R((x[r, j] + pre[j]) * m + offset[j]) + add[j], lo), hi) - sub[j],
    with m = mult_neg[j] for negative x (a PReLU's slope; None: no such case, a version
    without the test), else mult[j]; in float64 (x is converted exactly, as numpy's float64
    ufuncs convert it). Adding add (+0.0 at least) leaves no -0.0: integer codes have none."""
    _affine_rows(x, out, pre, mult, mult_neg, offset, add, sub, rounding, lo, hi)


@_jit
def affine_inplace(x, pre, mult, mult_neg, offset, add, sub, rounding, lo, hi):
    """affine(x, x, ...) with one array: LLVM then knows what aliases and vectorizes (two
    arrays that overlap fail its run-time check and take the scalar loop, 3x slower)."""
    _affine_rows(x, x, pre, mult, mult_neg, offset, add, sub, rounding, lo, hi)


@_jit
def depthwise(x, w, kh, kw, sh, sw, dh, dw, pt, pl, out, pre, mult, offset, add, sub, rounding, lo, hi):
    """out (n, Ho, Wo, C) = the affine finish (as affine's, per channel k) of the depthwise
    sums, summed in out's dtype (x and w have it too), one output row at a time (it stays
    in L1). Zero padding: taps outside the image are skipped (their products are zeros)."""
    n, h, wd, c = x.shape
    ho, wo = out.shape[1], out.shape[2]
    for s in range(n):
        for oh in range(ho):
            orow = out[s, oh]
            orow[:] = 0
            for i in range(kh):
                ih = oh * sh - pt + i * dh
                if ih < 0 or ih >= h:
                    continue
                xrow = x[s, ih]
                for j in range(kw):
                    wt = w[i * kw + j]
                    for ow in range(wo):
                        iw = ow * sw - pl + j * dw
                        if iw < 0 or iw >= wd:
                            continue
                        xv, ov = xrow[iw], orow[ow]
                        for k in range(c):
                            ov[k] += xv[k] * wt[k]
            for ow in range(wo):
                for k in range(c):
                    orow[ow, k] = _affine1(np.float64(orow[ow, k]), pre[k], mult[k], offset[k], add[k], sub[k],
                                           rounding, lo, hi)


@_jit
def im2col(x, kh, kw, sh, sw, dh, dw, pt, pl, out):
    """out (n, Ho, Wo, kh*kw*C): each output pixel's window, tap-major then channel (a
    convolution's weight rows), zeros outside the image; x (C-contiguous) in out's dtype.
    A kernel row inside the image without dilation is one contiguous run of kw*C values."""
    n, h, wd, c = x.shape
    ho, wo = out.shape[1], out.shape[2]
    xr = x.reshape(n, h, wd * c)
    run = kw * c
    for s in range(n):
        for oh in range(ho):
            for ow in range(wo):
                row = out[s, oh, ow]
                iw0 = ow * sw - pl
                for i in range(kh):
                    ih = oh * sh - pt + i * dh
                    t0 = i * run
                    if ih < 0 or ih >= h:
                        for q in range(run):
                            row[t0 + q] = 0
                    elif dw == 1 and iw0 >= 0 and iw0 + kw <= wd:
                        src = xr[s, ih]
                        b0 = iw0 * c
                        for q in range(run):
                            row[t0 + q] = src[b0 + q]
                    else:
                        for j in range(kw):
                            iw = iw0 + j * dw
                            t = t0 + j * c
                            for k in range(c):
                                row[t + k] = x[s, ih, iw, k] if 0 <= iw < wd else 0


@_jit
def _shift_round(v, shift, mode):
    """A non-negative int64 v times 2**-shift, rounded (mode: jit.SHIFT_ROUNDING's codes)."""
    if shift <= 0:
        return v << -shift
    q = v >> shift
    rest = v - (q << shift)
    half = np.int64(1) << (shift - 1)
    if mode == 1:
        q += rest >= half
    elif mode == 2:
        q += rest > half or (rest == half and (q & 1) == 1)
    elif mode == 3:
        q += rest > half
    return q


@_jit
def softmax(x, out, d_shift, d_max, exp_hi, exp_lo, lo_bits, e_shift, e_mode, recip, recip_bits, fs, k_max,
            y_shift, y_mode, y_max):
    """ops/softmax.py's lookup-table softmax per row of integer codes x (held as floats):
    d = max - x on the exp index's grid (truncated, saturated at d_max), e = hi * lo table
    product rounded by e_shift, S = sum e, the reciprocal of S's 10 bits below its leading
    one, and y = e * r * 2**(k_max - k) rounded by y_shift and saturated at y_max."""
    rows, n = x.shape
    e = np.empty(n, np.int64)
    lo_mask = (np.int64(1) << lo_bits) - 1
    r_mask = (np.int64(1) << recip_bits) - 1
    for r in range(rows):
        m = x[r, 0]
        for j in range(1, n):
            m = max(m, x[r, j])
        s = np.int64(0)
        for j in range(n):
            d = np.int64(m - x[r, j])
            dq = min(d >> d_shift, d_max) if d_shift >= 0 else min(d, d_max) << -d_shift
            dq = min(dq, d_max)
            e[j] = _shift_round(exp_hi[dq >> lo_bits] * exp_lo[dq & lo_mask], e_shift, e_mode)
            s += e[j]
        p = np.int64(0)
        while (s >> (p + 1)) > 0:
            p += 1
        rec = recip[(s >> (p - recip_bits)) & r_mask]
        up = k_max - (p - fs)
        for j in range(n):
            out[r, j] = min(_shift_round((e[j] * rec) << up, y_shift, y_mode), y_max)
