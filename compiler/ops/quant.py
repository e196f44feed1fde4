"""Quant: a quantizer on an activation, in integer arithmetic.

    q = clamp(R(x_real / scale + zero_point), qmin, qmax)      output codes q - zero_point
    (bipolar: q = +1 if x_real >= threshold else -1; flipped channels: +1 if x_real <= threshold)

It represents a QONNX Quant/BipolarQuant/Trunc, an ONNX QuantizeLinear, or a requantizer the
compiler inserts (scale=None: a dynamic-fixed-point type chosen from the value range). The
output tensor's real value is code * 2**-frac * out_scale, where a per-tensor power-of-two
scale becomes fraction bits (out_scale 1) and any other scale stays as the tensor's scale.

In hardware, one of two kernels (the cost model picks the cheaper per layer, `kernel`):
"requant": x_code * m >> shift, rounded with the quantizer's mode, then clamped. The
integer multiplier m (per channel) carries every real scale on the way (input scale, the
quantizer's scale, binary points) and has enough bits that its error stays below 2**-16
of an output step over the whole input range (`deviation_lsb` states it). Zero points only
move the clamp bounds, because codes store q - zero_point.
"thresholds": the same function as per-channel integer thresholds on x_code (_threshold.py),
derived from it code for code: no multiplier, 2**b - 1 comparisons for b output bits; a
BatchNorm, ReLU and the producing layer's bias folded into the quantizer cost nothing more.
Bipolar quantizers always use it (one threshold). The simulator is the same for both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..numerics import FixedType, buffers, exact_type, jit
from ..numerics.requant import REQUANT_MODES, bipolar_codes, multiplier, quantizer_codes, round_real, round_shift
from ..cost.hardware import multiplier as multiplier_cost
from . import register
from ._lanes import LaneOp, lane_context, lane_cost
from ._threshold import table_for, threshold_context, threshold_cost
from .base import Bounds, CostContext, HlsContext, TypingContext, is_unit

MAX_MULT_BITS = 30
MAX_THRESHOLDS = 255  # more levels than 8 output bits: comparators cost more than a multiplier
DEVIATION_BITS = 17   # the multiplier keeps its error below 2**-16 of an output step
QUANT_BLOCK = 1 << 16   # elements per block of the simulator's requantizer (float64 scratch: 512 KiB, in cache)
OFFSET_FRAC_BITS = 18  # an offset rounds to 2**-19 of an output step at most (with the multiplier's 2**-17)


def _pow2_exponent(scale) -> int | None:
    """k with scale == 2**-k when the scale is one power of two, else None."""
    arr = np.asarray(scale, dtype=np.float64).reshape(-1)
    if arr.size == 0 or not np.all(arr == arr[0]) or arr[0] <= 0:
        return None
    m, e = math.frexp(float(arr[0]))
    return -(e - 1) if m == 0.5 else None


@register
@dataclass
class Quant(LaneOp):
    channel_params: ClassVar[tuple[str, ...]] = ("scale", "zero_point", "threshold", "flip", "pre_scale", "pre_shift",
                                                 "in_scale", "mult", "offset", "shift")   # pruning slices them
    kind = "Quant"
    template = "quant"
    rounds_input = True

    scale: float | np.ndarray | None = None   # None: dynamic fixed point chosen when typed
    zero_point: int | np.ndarray = 0
    qmin: int | None = None
    qmax: int | None = None
    rounding: str = "AP_RND_CONV"
    bipolar: bool = False
    threshold: np.ndarray | None = None       # bipolar: per-channel threshold on x_real (default 0)
    flip: np.ndarray | None = None            # bipolar: per channel, +1 when x_real <= threshold
    extra_frac: int = 0                       # output codes mean (q - z) * 2**-extra_frac (Trunc)
    pre_scale: np.ndarray | None = None       # per channel: quantize x_real * pre_scale + pre_shift
    pre_shift: np.ndarray | None = None       # (an affine op folded in; pre_scale may be negative)
    in_scale: float | np.ndarray = 1.0        # set by the scale pass
    # chosen when typed
    mult: np.ndarray | None = None            # per-channel integer multipliers (signed)
    offset: np.ndarray | None = None          # per-channel integer offsets at the product's precision
    shift: int | np.ndarray = 0               # per-channel right shifts (an int for a pure shift)
    mult_bits: int = 0
    deviation_lsb: float = 0.0                # max |integer result - exact quantizer| before rounding, in steps
    kernel: str = ""                          # "requant" or "thresholds" (chosen with the parallelism)

    KERNELS = ("requant", "thresholds")

    def __post_init__(self):
        if self.rounding not in REQUANT_MODES:
            raise ValueError(f"rounding mode {self.rounding!r} (supported: {', '.join(REQUANT_MODES)})")

    def describe(self) -> str:
        if self.bipolar:
            return "Quant bipolar" + (" (thresholds)" if self.threshold is not None else "")
        if self.scale is None:
            return "Requant (DFP)"
        return f"Quant [{self.qmin},{self.qmax}]"

    # ---- the quantizer's grid -------------------------------------------------------------
    @property
    def out_frac(self) -> int:
        """Fraction bits of the output codes: a per-tensor power-of-two scale becomes them."""
        k = None if self.scale is None or self.bipolar else _pow2_exponent(self.scale)
        return (k or 0) + self.extra_frac

    def out_scale(self):
        if self.bipolar or _pow2_exponent(self.scale) is None:
            return self.scale
        return 1.0

    def code_bounds(self) -> tuple[int, int]:
        if self.bipolar:
            return -1, 1
        z = np.asarray(self.zero_point)
        return int(self.qmin - z.max()), int(self.qmax - z.min())

    def as_fixed_type(self) -> FixedType | None:
        """The ap_fixed type whose assignment is exactly this quantizer, when there is one
        (unit input scale, power-of-two scale, no zero point, full or symmetric range, an
        ap_fixed rounding mode): then the producer's output cast can do the work."""
        k = None if self.scale is None or self.bipolar else _pow2_exponent(self.scale)
        if k is None or self.extra_frac or self.pre_scale is not None or not is_unit(self.in_scale) \
                or np.any(np.asarray(self.zero_point) != 0) \
                or self.rounding not in ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF",
                                         "AP_RND_INF", "AP_RND_CONV"):
            return None
        lo, hi = self.qmin, self.qmax
        for signed in (True, False):
            width = (hi - lo).bit_length()
            t = FixedType(max(width, 1), max(width, 1) - k, signed, self.rounding, "AP_SAT")
            if (t.min_code, t.max_code) == (lo, hi):
                return t
            if signed and lo == -hi and hi > 0:
                t = FixedType(width, width - k, True, self.rounding, "AP_SAT_SYM")
                if t.max_code == hi:
                    return t
        return None

    def host_codes(self, x_real: np.ndarray) -> np.ndarray:
        """Output codes for a real model input, computed as the model defines its input
        quantizer: in float32, as the float32 input tensor would be (this runs on the host,
        so the hardware input is the integer codes)."""
        if self.bipolar:
            return self._real_out(np.asarray(x_real, dtype=np.float32).astype(np.float64))
        return quantizer_codes(x_real, self.scale, self.zero_point, self.qmin, self.qmax, self.rounding)

    # ---- float semantics (on fixed values: real = fixed * scale) ---------------------------
    def rescale(self, in_scales):
        self.in_scale = in_scales[0]
        return [1.0 if self.scale is None else self.out_scale()]

    def _real_out(self, x_real):
        if self.bipolar:
            return bipolar_codes(x_real, self.threshold, self.flip)
        q = round_real(x_real / self.scale + self.zero_point, self.rounding)
        q = np.clip(q, self.qmin, self.qmax) - self.zero_point
        return q * 2.0 ** -self.out_frac

    def _pre(self, x_real):
        if self.pre_scale is None:
            return x_real
        return x_real * self.pre_scale + self.pre_shift

    def reference(self, xs):
        if self.scale is None:
            return [xs[0] * self.in_scale]  # a requantizer to unit scale: its output is the real value
        return [self._real_out(self._pre(xs[0] * self.in_scale))]

    def bounds(self, ins):
        if self.scale is None:
            s = np.asarray(self.in_scale)  # positive
            return [Bounds(ins[0].lo * s, ins[0].hi * s)]
        if self.bipolar:
            return [Bounds(np.full_like(ins[0].lo, -1.0), np.full_like(ins[0].hi, 1.0))]
        lo, hi = (self._real_out(self._pre(b * self.in_scale)) for b in (ins[0].lo, ins[0].hi))
        return [Bounds(np.minimum(lo, hi), np.maximum(lo, hi))]

    # ---- formats -------------------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        out, x_type = ctx.outputs[0], ctx.inputs[0].type
        if self.scale is None:  # inserted requantizer: a DFP type from the range
            t = out.type if out.type is not None else ctx.narrowed()
            self.scale, self.zero_point, self.qmin, self.qmax = 2.0 ** -t.frac_bits, 0, t.min_code, t.max_code
            self.rounding = t.rounding if t.rounding in REQUANT_MODES else "AP_RND"
        lo, hi = self.code_bounds()
        out.type = exact_type(lo, hi, self.out_frac)
        out.model_typed = True
        if self.bipolar:
            return
        # q = R(x_real * pre_scale / scale + pre_shift / scale + z) = R(x_code * M + O + z): the
        # zero point rides inside the rounding (ties and sign-dependent modes depend on it)
        scale = np.asarray(self.scale, dtype=np.float64)
        m_real = np.asarray(self.in_scale, dtype=np.float64) * 2.0 ** -x_type.frac_bits / scale
        o_real = np.zeros(1)
        if self.pre_scale is not None:
            m_real = m_real * self.pre_scale
            o_real = np.asarray(self.pre_shift, dtype=np.float64) / scale
        m_real = np.atleast_1d(m_real)
        # An offset beyond what any input can move (a Gemm beta of 1e20) saturates every output
        # to its side, and a multiplier so large that one input step crosses the whole output
        # range (an alpha of 1e20) saturates every nonzero input: capping either at that
        # reach gives the same codes and keeps the arithmetic inside 62 bits.
        z_abs = float(np.max(np.abs(np.asarray(self.zero_point, dtype=np.float64))))
        q_lim = float(max(abs(self.qmin), abs(self.qmax))) + z_abs + 1.0
        x_max = float(max(-x_type.min_code, x_type.max_code))
        o_cap = q_lim + np.abs(m_real) * x_max
        o_real = np.where(np.abs(o_real) > o_cap, np.sign(o_real) * o_cap, o_real)
        cap = 2.0 * (q_lim + float(np.max(np.abs(o_real))))
        m_real = np.where(np.abs(m_real) > cap, np.sign(m_real) * cap, m_real)
        # A channel whose whole input range moves the output by less than the deviation budget
        # (a dead channel's scale of 2**-180) is its offset alone: a shift of 195 bits would
        # put that offset far beyond 62 bits.
        m_real = np.where(np.abs(m_real) * x_max < 2.0 ** -(DEVIATION_BITS + 4), 0.0, m_real)
        k = _pow2_exponent(m_real)
        if k is not None and not np.any(o_real):  # a pure shift: exact
            self.mult, self.shift, self.mult_bits, self.deviation_lsb = np.ones(m_real.shape, np.int64), k, 1, 0.0
            self.offset = None
            self._zero_point_inside(m_real.shape)
            return
        # Per channel an integer multiplier and its own shift (channel scales can differ by
        # orders of magnitude, e.g. a folded BatchNormalization). Only inputs that can land
        # inside the clamp range matter (the rest saturate), so the error of m * 2**-s, at
        # most |M| * 2**-bits, is at most (range + |offset|) * 2**-bits output steps:
        # DEVIATION_BITS more than that range keep the deviation below 2**-16 of a step (a
        # float32 model's own rounding of the same quantity is of that order).
        z = np.asarray(self.zero_point, dtype=np.float64)
        q_span = float(np.max(np.abs([self.qmin - z, self.qmax - z]))) + 1.0
        o_abs = np.abs(np.broadcast_to(o_real, m_real.shape))
        bits = math.ceil(math.log2(q_span + float(o_abs.max()))) + DEVIATION_BITS
        bits = min(max(bits, 8), MAX_MULT_BITS, 60 - x_type.width)
        mag, shift = multiplier(np.abs(m_real), bits)
        if np.any(o_real):
            # the offset lives on the product's grid, 2**-shift of an output step: a large
            # multiplier (a small shift) gets extra (exact) bits so the offset's rounding
            # stays within the deviation budget too
            need = OFFSET_FRAC_BITS - shift
            room = 62 - x_type.width - 2 - int(mag.max(initial=1)).bit_length()
            lift = np.clip(need, 0, max(int(room), 0))
            mag, shift = mag << lift, shift + lift
        self.mult, self.shift = np.where(m_real < 0, -mag, mag), shift
        self.offset = np.rint(np.ldexp(np.broadcast_to(o_real, m_real.shape), shift)).astype(np.int64) \
            if np.any(o_real) else None
        self.mult_bits = int(np.abs(self.mult).max()).bit_length() + int(bool(np.any(self.mult < 0)))
        with np.errstate(divide="ignore"):
            x_rel = np.where(m_real != 0, np.minimum(x_max, (q_span + o_abs) / np.abs(m_real)), 0.0)
        dev = x_rel * np.abs(self.mult * np.ldexp(1.0, -shift) - m_real)
        if self.offset is not None:
            dev = dev + np.abs(self.offset * np.ldexp(1.0, -shift) - o_real)
        self.deviation_lsb = float(np.max(dev))
        self._zero_point_inside(m_real.shape)
        if self.offset is not None and int(np.abs(self.offset).max()).bit_length() > 60:
            raise ValueError("the requantizer's offset (the folded bias and shift) needs more than 62 bits next to its "
                             "multiplier (supported: offsets within reach of the input's range)")

    def _zero_point_inside(self, shape) -> None:
        """Add the zero point to the offset, on the product's grid, where the rounding shifts
        (shift > 0); elsewhere the result is exact and the zero point is added after it."""
        z = np.rint(np.broadcast_to(np.asarray(self.zero_point, dtype=np.float64), shape)).astype(np.int64)
        if not np.any(z):
            return
        sh = np.broadcast_to(np.asarray(self.shift, dtype=np.int64), shape)
        # z * 2**shift must stay inside the 62-bit integer arithmetic (int64 would wrap silently)
        worst = max((abs(int(a)) << max(int(b), 0) for a, b in zip(z.reshape(-1), sh.reshape(-1))), default=0)
        if worst >= 1 << 62:
            raise ValueError(f"zero point {int(np.abs(z).max())} at the requantizer's precision (2**{int(sh.max())}) "
                             "needs more than 62 bits (supported: |zero point| * 2**shift < 2**62; use a smaller "
                             "zero point or a scale nearer the input's)")
        add = np.where(sh > 0, z << np.clip(sh, 0, 62), 0)
        self.offset = add if self.offset is None else self.offset + add

    def _zero_after(self):
        """The zero point added after the rounding (channels whose shift is not > 0), or None."""
        z = np.asarray(self.zero_point, dtype=np.float64)
        if not np.any(z):
            return None
        return np.where(np.asarray(self.shift) <= 0, z, 0.0)

    # ---- bit-accurate simulation ----------------------------------------------------------------
    def simulator(self, in_types, out_types):
        (x_type,), _ = in_types, out_types
        if self.bipolar:
            thr, flip = self._bipolar_codes(x_type)

            def run_sign(ins):
                x = ins[0]
                pos = x >= thr if flip is None else np.where(flip, x <= thr, x >= thr)
                return [np.where(pos, 1.0, -1.0)]

            return run_sign
        z = np.asarray(self.zero_point, dtype=np.float64)
        z_any = bool(np.any(z))
        z_after = self._zero_after()
        mult, shift, mode, offset = self.mult, self.shift, self.rounding, self.offset
        (x_type,) = in_types
        x_max = float(max(-x_type.min_code, x_type.max_code))
        bound = x_max * float(np.abs(mult).max()) + float(0 if offset is None else np.abs(offset).max())
        if bound < 2 ** 52 and np.all(np.asarray(shift) < 1000):
            # exact in float64: products and offsets are integers below 2**53, the per-channel
            # power-of-two scaling is exact, and rounding works on the exact quotient
            # the power-of-two scale rides on the multiplier and offset: (x*m + o) * 2**-s and
            # x*(m*2**-s) + o*2**-s are the same exact number (one pass fewer)
            scale = np.ldexp(1.0, -np.asarray(shift, dtype=np.int64))
            m_f = np.asarray(mult, dtype=np.float64) * scale
            o_f = None if offset is None else np.asarray(offset, dtype=np.float64) * scale
            qmin, qmax = float(self.qmin), float(self.qmax)

            # A scalar zero point that only rides inside the rounding (every shift > 0, none
            # added after it) can leave it when the rounding commutes with adding it: floor
            # with any integer, ties-to-even with an even one (R(t + z) = R(t) + z). Then
            # clamp(R(t + z), qmin, qmax) - z = clamp(R(t), lo, hi) = R(clamp(t, lo, hi)) with
            # lo = qmin - z, hi = qmax - z (R is monotone and keeps integers): the offset
            # without z (exact integers on the product's grid), two passes fewer. Only for
            # lo >= 0, where no -0.0 can appear (the old form never makes one: z - z = +0.0).
            z_out = None
            if (z_any and z.ndim == 0 and float(z).is_integer() and offset is not None
                    and (z_after is None or not np.any(z_after)) and self.qmin - float(z) >= 0
                    and (mode == "AP_TRN" or (mode == "AP_RND_CONV" and int(z) % 2 == 0))):
                sh = np.broadcast_to(np.asarray(shift, dtype=np.int64), np.shape(offset))
                if np.all(sh > 0) and np.all(sh <= 62):
                    o2 = np.asarray(offset, dtype=np.int64) - (np.int64(int(z)) << sh)
                    if x_max * float(np.abs(mult).max()) + float(np.abs(o2).max()) < 2 ** 52:
                        z_out = float(z)
                        o2_f = o2.astype(np.float64) * scale
            # with a nonzero scalar zero point subtracted at the end, adding the zeros of
            # z_after changes nothing (not even a -0.0: -0.0 - z == +0.0 - z)
            z_add = z_after
            if z_after is not None and z.ndim == 0 and z_any and not np.any(z_after):
                z_add = None
            # output codes within 2**24 are exact float32 values (narrow outputs)
            narrow_ok = max(abs(float(self.qmin) - float(z.min())), abs(float(self.qmax) - float(z.max()))) < 2 ** 24

            def passes(x, v, out, m_f, o_f, o2_f, z_add, z):
                """The quantizer on x into out, with v (float64, x's shape, or None: a new one;
                may be out) for the intermediate values."""
                v = np.multiply(x, m_f, out=v, dtype=np.float64)
                if z_out is not None:
                    v += o2_f
                    np.clip(v, qmin - z_out, qmax - z_out, out=v)
                    return np.rint(v, out=out) if mode == "AP_RND_CONV" else np.floor(v, out=out)
                if o_f is not None:
                    v += o_f
                v = np.rint(v, out=v) if mode == "AP_RND_CONV" else round_real(v, mode)
                if z_add is not None:
                    v += z_add
                if z_any:
                    np.clip(v, qmin, qmax, out=v)
                    return np.subtract(v, z, out=out)   # codes store q - zero point
                return np.clip(v, qmin, qmax, out=out)

            whole = (m_f, o_f, o2_f if z_out is not None else None, z_add, z)
            # per-channel parameters (last axis) allow blocks of rows that stay in cache; with
            # few channels, k rows at a time against the parameters repeated k times (long
            # inner loops; the same operations on every element)
            params = [a for a in whole if a is not None]
            flat_ok = all(np.ndim(a) <= 1 for a in params)
            tiled = {}

            def tiles(c):
                if c not in tiled:
                    k = max(1, 512 // c)
                    tiled[c] = k, tuple(None if a is None else np.tile(np.broadcast_to(a, (c,)) if np.ndim(a) else a, k)
                                        if np.ndim(a) else a for a in whole)
                return tiled[c]

            # the compiled loop (numerics/jit.py): the same steps in one pass, per channel
            compiled = {} if mode in jit.ROUNDING and jit.available() else None

            def requant_kwargs(c):
                """The requantizer on c channels as jit.Affine's keywords, or None (numpy's)."""
                if compiled is None or not (flat_ok and all(np.size(a) in (1, c) for a in params)):
                    return None
                return dict(mult=m_f, offset=0.0 if o_f is None else o_f, add=0.0 if z_add is None else z_add,
                            sub=z if z_any else 0.0, rounding=jit.ROUNDING[mode], lo=qmin, hi=qmax)

            def affine(c):
                if c not in compiled:
                    compiled[c] = jit.Affine(c, **requant_kwargs(c))
                return compiled[c]

            def run_float(ins, narrow=False):
                """Exact in float64 (float32 codes too); block by block: the passes run on a
                float64 scratch block in cache, the last writes the output (float32 when narrow)."""
                x = ins[0]
                shape = np.broadcast_shapes(x.shape, *(np.shape(a) for a in params))
                out = buffers.empty(shape, np.float32 if narrow else np.float64)
                c = x.shape[-1] if x.ndim >= 2 else 0
                per_channel = shape == x.shape and flat_ok and c and all(np.size(a) in (1, c) for a in params)
                if compiled is not None and per_channel and jit.worth(x.size):
                    return [affine(c)(np.ascontiguousarray(x), out)]
                if not per_channel or x.size <= QUANT_BLOCK:
                    passes(x, None if narrow else out, out, *whole)
                    return [out]
                k, tw = tiles(c)
                x2, o2 = x.reshape(-1, c), out.reshape(-1, c)
                rows = max(k, QUANT_BLOCK // c // k * k)
                scratch = np.empty(min(rows, len(x2)) * c, np.float64) if narrow else None
                for r0 in range(0, len(x2), rows):
                    xb, ob = x2[r0:r0 + rows], o2[r0:r0 + rows]
                    m = len(xb)
                    if m % k == 0:
                        xb, ob, p = xb.reshape(-1, k * c), ob.reshape(-1, k * c), tw
                    else:
                        p = whole
                    vb = scratch[:m * c].reshape(ob.shape) if narrow else ob
                    passes(xb, vb, ob, *p)
                return [out]

            run_float.narrow_inputs = True
            run_float.narrow_output = narrow_ok
            run_float.requant_kwargs = requant_kwargs
            return run_float

        def run(ins):
            prod = ins[0].astype(np.int64) * mult
            if offset is not None:
                prod += offset
            q = round_shift(prod, shift, mode).astype(np.float64)
            if z_after is not None:
                q += z_after
            return [np.clip(q, self.qmin, self.qmax) - z]

        run.narrow_inputs = True   # float32 codes: the astype above is exact
        return run

    def _bipolar_codes(self, x_type: FixedType):
        """Thresholds in input codes: x_real >= t  <=>  x_code >= ceil(t / unit), and
        x_real <= t  <=>  x_code <= floor(t / unit), with unit = in_scale * 2**-f."""
        if self.threshold is None:
            return 0.0, None
        t = np.asarray(self.threshold, dtype=np.float64) / (np.asarray(self.in_scale) * 2.0 ** -x_type.frac_bits)
        big = float(2 ** 60)
        t = np.clip(t, -big, big)
        if self.flip is None:
            return np.ceil(t), None
        flip = np.asarray(self.flip, dtype=bool)
        return np.where(flip, np.floor(t), np.ceil(t)), flip

    # ---- hardware -----------------------------------------------------------------------------
    def kernel_choices(self) -> tuple[str, ...]:
        """The kernels this quantizer can be built with (bipolar ones: thresholds only;
        thresholds only up to MAX_THRESHOLDS levels)."""
        if self.bipolar:
            return ("thresholds",)
        if self.mult is None or self.qmax - self.qmin > MAX_THRESHOLDS:
            return ("requant",)
        return self.KERNELS

    @property
    def active_kernel(self) -> str:
        return self.kernel or ("thresholds" if self.bipolar else "requant")

    def threshold_table(self, x_type: FixedType, channels: int):
        """The thresholds of this quantizer on x_type's codes (cached per input type)."""
        key = (x_type, channels, self.mult is None or id(self.mult))
        memo = self.__dict__.get("_thresholds")
        if memo is not None and memo[0] == key:
            return memo[1]
        run = self.simulator([x_type], [None])
        table = table_for(lambda x: run([x])[0], x_type, channels, step=2 if self.bipolar else 1)
        self.__dict__["_thresholds"] = (key, table)
        return table

    def cost(self, ctx: CostContext):
        """The chosen kernel's cost; before the choice (kernel ""), the cheaper one's."""
        if self.kernel or len(self.kernel_choices()) == 1:
            return self.kernel_cost(ctx, self.active_kernel)
        from ..cost.model import device_share

        costs = [self.kernel_cost(ctx, k) for k in self.kernel_choices()]
        return min(costs, key=lambda c: device_share(c.resources(), ctx.target.resources))

    def kernel_cost(self, ctx: CostContext, kernel: str):
        x, y = ctx.inputs[0], ctx.outputs[0]
        if kernel == "thresholds":
            table = self.threshold_table(x.type, x.channels)
            return threshold_cost(ctx, table.count, x.type, y.type,
                                  detail={"kernel": "thresholds", "output_bits": y.type.width})
        c = ctx.target.coeff
        mult_bits = 0 if self.mult is None or np.all(self.mult == 1) else self.mult_bits
        dsp, m_lut, m_ff = multiplier_cost(ctx.target, x.type.width, mult_bits) if mult_bits else (0.0, 0.0, 0.0)
        prod = x.type.width + mult_bits
        adder = c["lut_per_adder_bit"]
        lut = m_lut + prod * adder + 2 * y.type.width * adder
        ff = m_ff + (prod + y.type.width) * c.get("ff_per_reg_bit", 1.0)
        shift_bits = 6 if np.ndim(self.shift) else 0
        params = (mult_bits + shift_bits + 2 * y.type.width + (prod if self.offset is not None else 0))
        return lane_cost(ctx, style="requant" if mult_bits else "requant_shift", lut_per_lane=lut, ff_per_lane=ff,
                         dsp_per_lane=dsp, depth=(int(c["mult_latency"]) if mult_bits else 0) + 2, param_bits=params,
                         detail={"kernel": "requant", "multiplier_bits": mult_bits})

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        channels = x.channels
        x_type, y_type = x.type, ctx.outputs[0].type
        if self.active_kernel == "thresholds":
            return threshold_context(ctx, self.threshold_table(x_type, channels), x_type, y_type)
        d = dict(lane_context(ctx), kernel="requant", x_width=x_type.width, x_signed=x_type.signed,
                 y_width=y_type.width)
        z = np.broadcast_to(np.rint(np.asarray(self.zero_point, dtype=np.float64)).astype(np.int64), (channels,))
        lo = np.full(channels, self.qmin, dtype=np.int64)      # the clamp is on q, before the zero point goes
        hi = np.full(channels, self.qmax, dtype=np.int64)
        mult = np.broadcast_to(self.mult, (channels,)).astype(np.int64)
        m_type = exact_type(min(int(mult.min()), 0), max(int(mult.max()), 0), 0)
        offset = np.broadcast_to(self.offset if self.offset is not None else 0, (channels,)).astype(np.int64)
        o_type = exact_type(min(int(offset.min()), 0), max(int(offset.max()), 0), 0)
        b_type = exact_type(min(int(lo.min()), int((lo - z).min()), 0), max(int(hi.max()), int((hi - z).max()), 0), 0)
        z_type = exact_type(min(int(z.min()), 0), max(int(z.max()), 0), 0)
        shift = np.broadcast_to(np.asarray(self.shift, dtype=np.int64), (channels,))
        s_type = exact_type(min(int(shift.min()), 0), max(int(shift.max()), 0), 0)
        prod_bits = max(x_type.width + 2 + m_type.width + max(0, -int(shift.min())), int(shift.max()) + 2,
                        o_type.width + 2)
        d.update(mult=ctx.lane_constant("m", m_type, mult), mult_type=m_type,
                 shift=ctx.lane_constant("sh", s_type, shift), shift_type=s_type,
                 mode=REQUANT_MODES.index(self.rounding), lo=ctx.lane_constant("lo", b_type, lo),
                 hi=ctx.lane_constant("hi", b_type, hi), bound_type=b_type,
                 zp=ctx.lane_constant("zp", z_type, z), zp_type=z_type,
                 offset=ctx.lane_constant("o", o_type, offset), offset_type=o_type, prod_bits=prod_bits)
        return d
