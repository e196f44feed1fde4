"""Fixed-point types with the exact semantics of Xilinx `ap_fixed` / `ap_ufixed`.

A fixed-point value is an integer *code* (int64) plus a `FixedType`; its real value is
code * 2**-frac_bits. All conversions below reproduce what the `ap_types` headers do on
assignment: first quantization (rounding of the dropped fraction bits, decided from the
first dropped bit, the OR of the rest, and the sign of the source), then overflow handling
of the rounded value against the target range. `tests/test_numerics_cpp.py` checks every
mode against g++ and the headers shipped with hls4ml.

Codes are int64, so widths are limited to MAX_WIDTH bits; wider types are refused.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from . import buffers, jit
from .jit import ROUND_FLOOR, ROUND_NONE, ROUND_RINT, ROUNDING, Affine

ROUNDING_MODES = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_MIN_INF",
                  "AP_RND_INF", "AP_RND_CONV")
OVERFLOW_MODES = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")
MAX_WIDTH = 62  # keeps every shifted code and every exact product sum inside int64
FLOAT_EXACT = 53  # widest type whose codes a float64 holds exactly


@dataclass(frozen=True)
class FixedType:
    """ap_fixed<width, int_bits, rounding, overflow> (or ap_ufixed when not signed)."""

    width: int
    int_bits: int
    signed: bool = True
    rounding: str = "AP_TRN"
    overflow: str = "AP_WRAP"

    def __post_init__(self):
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"fixed-point width {self.width} outside 1..{MAX_WIDTH}")
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f"unknown rounding mode {self.rounding!r} (supported: {', '.join(ROUNDING_MODES)})")
        if self.overflow not in OVERFLOW_MODES:
            raise ValueError(f"unknown overflow mode {self.overflow!r} (supported: {', '.join(OVERFLOW_MODES)})")

    # ---- basic facts -------------------------------------------------------------
    @property
    def frac_bits(self) -> int:
        return self.width - self.int_bits

    @property
    def lsb(self) -> float:
        return math.ldexp(1.0, -self.frac_bits)

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min_value(self) -> float:
        return math.ldexp(self.min_code, -self.frac_bits)

    @property
    def max_value(self) -> float:
        return math.ldexp(self.max_code, -self.frac_bits)

    def cpp(self) -> str:
        """C++ spelling, defaults omitted: ap_fixed<16,6> or ap_ufixed<8,0,AP_RND,AP_SAT>."""
        name = "ap_fixed" if self.signed else "ap_ufixed"
        args = [str(self.width), str(self.int_bits)]
        if self.rounding != "AP_TRN" or self.overflow != "AP_WRAP":
            args.append(self.rounding)
        if self.overflow != "AP_WRAP":
            args.append(self.overflow)
        return f"{name}<{','.join(args)}>"

    __str__ = cpp

    def with_modes(self, rounding: str | None = None, overflow: str | None = None) -> "FixedType":
        return FixedType(self.width, self.int_bits, self.signed,
                         rounding or self.rounding, overflow or self.overflow)

    @classmethod
    def parse(cls, text: str) -> "FixedType":
        """Inverse of cpp(): accepts ap_fixed<W,I[,Q[,O[,N]]]> and ap_ufixed<...>."""
        m = re.fullmatch(r"\s*ap_(u?)fixed\s*<\s*([^>]*)>\s*", text)
        if not m:
            raise ValueError(f"not an ap_fixed type: {text!r}")
        parts = [p.strip() for p in m.group(2).split(",")]
        if len(parts) < 2 or len(parts) > 5:
            raise ValueError(f"not an ap_fixed type: {text!r}")
        if len(parts) == 5 and parts[4] not in ("0",):
            raise ValueError(f"saturation bits N={parts[4]} are not supported: {text!r}")
        rounding = parts[2] if len(parts) > 2 else "AP_TRN"
        overflow = parts[3] if len(parts) > 3 else "AP_WRAP"
        return cls(int(parts[0]), int(parts[1]), m.group(1) != "u", rounding, overflow)

    # ---- conversions -----------------------------------------------------------------
    # Codes are exact integers held either as int64 or as float64. The simulator keeps
    # tensors in float64 (every tensor type is at most FLOAT_EXACT bits wide, so this is
    # exact) because BLAS then does the integer matrix products; accumulator-wide values
    # use int64. Both paths implement the same ap_fixed semantics.
    def quantize(self, x, dtype=np.int64) -> np.ndarray:
        """Real numbers -> codes, exactly as `ap_fixed(double)` does. NaN/inf are refused.
        In a simulator batch run, large float64 conversions take numerics/jit.py's loop."""
        x = np.asarray(x, dtype=np.float64)
        if not np.isfinite(np.sum(x)) and not np.all(np.isfinite(x)):  # one pass when all is well
            raise ValueError("cannot convert NaN or infinity to fixed point")
        if (dtype == np.float64 and self.rounding in ROUNDING and self.overflow == "AP_SAT"
                and self.frac_bits >= 0 and self.width <= FLOAT_EXACT - 1 and jit.worth(x.size) and x.ndim):
            # x * 2**f, rounded, saturated: the same steps as below, in one pass
            return Affine(x.shape[-1], mult=math.ldexp(1.0, self.frac_bits), rounding=ROUNDING[self.rounding],
                          lo=self.min_code, hi=self.max_code)(np.ascontiguousarray(x), buffers.empty(x.shape))
        # exact power-of-two scaling; a multiply is much faster than ldexp and cannot
        # underflow for frac_bits >= 0 (a value too large for a double becomes inf, which
        # every overflow mode below handles as the huge multiple of 2**width it stands for)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = x * math.ldexp(1.0, self.frac_bits) if self.frac_bits >= 0 else np.ldexp(x, self.frac_bits)
            return self._finish(round_scaled(scaled, self.rounding, exact_half=False), dtype)

    def to_float(self, codes) -> np.ndarray:
        return np.asarray(codes, dtype=np.float64) * math.ldexp(1.0, -self.frac_bits)

    def cast(self, codes, src: "FixedType") -> np.ndarray:
        """Codes of type `src` -> codes of this type, as `dst = src_value` does in C++.
        float64 codes give float64 codes, int64 codes give int64 codes."""
        codes = np.asarray(codes)
        shift = src.frac_bits - self.frac_bits
        if codes.dtype.kind == "f":
            scaled = codes * math.ldexp(1.0, -shift) if shift else codes  # exact: a power of two
            if shift <= 0:
                return self._finish(scaled, np.float64)
            exact_half = src.width <= FLOAT_EXACT - 1 and shift <= FLOAT_EXACT - 1
            return self._finish(round_scaled(scaled, self.rounding, exact_half), np.float64)
        codes = codes.astype(np.int64, copy=False)
        if shift > 0 and codes.ndim:
            if self.rounding == "AP_TRN" and shift <= 61:
                value = codes >> shift      # shift_round's floor (its increment is 0): one pass
            else:
                value = shift_round(codes, shift, self.rounding)
            if self.overflow == "AP_SAT":   # _overflow's nested where on value's own bounds, in one pass
                return np.clip(value, self.min_code, self.max_code)
            over, under = value > self.max_code, value < self.min_code
        elif shift > 0:
            value = shift_round(codes, shift, self.rounding)
            over, under = value > self.max_code, value < self.min_code
        else:
            k = -shift
            over = codes > (self.max_code >> k)
            under = codes < -((-self.min_code) >> k)
            # wraps mod 2**64, which keeps the low bits a wrap needs (none survive k >= 63)
            value = codes << k if k < 63 else np.zeros_like(codes)
        return self._overflow(value, over, under)

    def cast_plan(self, src: "FixedType", lo_code: float | None = None, hi_code: float | None = None) -> "CastPlan":
        """The float64 cast from `src` split as finish(v + offset), so a caller can fold the
        offset into an addition it makes anyway. Given bounds of the source codes, the
        overflow check is dropped when they prove it cannot trigger."""
        shift = src.frac_bits - self.frac_bits
        offset, kind = 0.0, "generic"
        if shift <= 0:
            kind = "exact"
        elif src.width <= FLOAT_EXACT - 1 and shift <= FLOAT_EXACT - 1:
            if self.rounding == "AP_RND":
                offset, kind = math.ldexp(1.0, shift - 1), "floor"
            elif self.rounding == "AP_TRN":
                kind = "floor"
            elif self.rounding == "AP_RND_CONV":
                kind = "rint"
        check = True
        if lo_code is not None and hi_code is not None and kind != "generic" and self.width <= FLOAT_EXACT - 1:
            rnd = np.floor if kind == "floor" else np.rint
            lo = float(rnd((lo_code + offset) * math.ldexp(1.0, -shift))) if kind != "exact" else lo_code * 2.0 ** -shift
            hi = float(rnd((hi_code + offset) * math.ldexp(1.0, -shift))) if kind != "exact" else hi_code * 2.0 ** -shift
            check = not (self.min_code <= lo and hi <= self.max_code and
                         not (self.overflow == "AP_SAT_SYM" and self.signed and lo == self.min_code))
        return CastPlan(self, src, offset, math.ldexp(1.0, -shift), kind, check)

    def _finish(self, rounded: np.ndarray, dtype) -> np.ndarray:
        """Overflow handling of rounded integer values held in float64 (any magnitude)."""
        if self.width <= FLOAT_EXACT - 1:
            out = self._overflow_float(rounded)
            return out if dtype == np.float64 else out.astype(np.int64)
        # wide types: bring the value into int64 without changing what the mode keeps
        if self.overflow == "AP_WRAP":
            rounded = np.fmod(rounded, math.ldexp(1.0, self.width))  # exact; low bits survive
        else:
            rounded = np.clip(rounded, -math.ldexp(1.0, 62), math.ldexp(1.0, 62) - 1024)
        value = rounded.astype(np.int64)
        out = self._overflow(value, value > self.max_code, value < self.min_code)
        return out if dtype != np.float64 else out.astype(np.float64)

    def _overflow_float(self, v: np.ndarray) -> np.ndarray:
        hi, lo = float(self.max_code), float(self.min_code)
        mode = self.overflow
        if v.size == 0:
            return v
        if mode == "AP_SAT" or (mode == "AP_SAT_SYM" and not self.signed):
            return np.clip(v, lo, hi, out=v)  # one pass, no need to look first
        vmax, vmin = float(v.max()), float(v.min())
        if vmax <= hi and vmin >= lo and not (mode == "AP_SAT_SYM" and self.signed and vmin == lo and self.width > 1):
            return v
        if mode == "AP_WRAP":
            w = np.mod(v, math.ldexp(1.0, self.width))  # exact, in [0, 2**width)
            if not (np.isfinite(vmax) and np.isfinite(vmin)):
                w = np.where(np.isfinite(v), w, 0.0)  # beyond double range: a multiple of 2**width
            return np.where(w > hi, w - math.ldexp(1.0, self.width), w) if self.signed else w
        if mode == "AP_SAT_ZERO":
            return np.where((v > hi) | (v < lo), 0.0, v)
        if mode == "AP_SAT_SYM" and self.signed and self.width > 1:  # 1-bit: the header keeps -1
            lo = -hi
        return np.clip(v, lo, hi)

    def _overflow(self, value, over, under) -> np.ndarray:
        """Overflow handling of int64 values, given which ones exceed the range (computed
        by the caller, since a far out-of-range value may have wrapped in int64)."""
        mode = self.overflow
        if mode == "AP_WRAP":
            if not (np.any(over) or np.any(under)):
                return value
            low = value & ((1 << self.width) - 1)
            return np.where(low > self.max_code, low - (1 << self.width), low) if self.signed else low
        if mode == "AP_SAT_ZERO":
            return np.where(over | under, 0, value)
        lo = self.min_code
        if mode == "AP_SAT_SYM" and self.signed and self.width > 1:  # 1-bit: the header keeps -1
            lo = -self.max_code
            under = under | (value == self.min_code)
        return np.where(over, self.max_code, np.where(under, lo, value))

    # ---- construction from ranges -------------------------------------------------------
    @classmethod
    def for_range(cls, lo: float, hi: float, width: int, *, signed: bool | None = None,
                  rounding: str = "AP_TRN", overflow: str = "AP_WRAP") -> "FixedType":
        """The type of `width` bits with the fewest integer bits that holds [lo, hi]
        (after rounding up by one lsb where the rounding mode may round up)."""
        if signed is None:
            signed = lo < 0
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("range must be finite")
        mag = max(abs(lo), abs(hi))
        if mag == 0:
            return cls(width, 1 if signed else 0, signed, rounding, overflow)
        # at most MAX_FRACTION_BITS fraction bits: values below 2**-MAX_FRACTION_BITS (denormal
        # noise) flush to zero, as they would in float32
        int_bits = max(math.frexp(mag)[1] + (1 if signed else 0) - 2, width - MAX_FRACTION_BITS)
        truncates = rounding in ("AP_TRN", "AP_TRN_ZERO")
        while True:
            t = cls(width, int_bits, signed, rounding, overflow)
            # round to nearest takes a value up by at most half a step: hi's rounded code must
            # fit (a whole step of slack would leave a 2-bit signed type no binary point at all)
            top = hi <= t.max_value if truncates else math.floor(hi / t.lsb + 0.5) <= t.max_code
            if top and lo >= t.min_value:
                return t
            int_bits += 1


MAX_FRACTION_BITS = 128   # the finest binary point a chosen type takes (see FixedType.for_range)


@dataclass(frozen=True)
class CastPlan:
    """dst.cast(v, src) == plan.finish(v + plan.offset) for float64 codes v (see cast_plan)."""

    dst: FixedType
    src: FixedType
    offset: float
    scale: float
    kind: str            # "exact" (no rounding), "floor", "rint", or "generic"
    check_overflow: bool

    def finish(self, v: np.ndarray, prescaled: bool = False) -> np.ndarray:
        """In place where it can; v must already include the offset, and, if `prescaled`,
        be multiplied by `scale` (exact: a power of two), e.g. folded into weights."""
        if self.kind == "generic":
            if prescaled:
                v = v / self.scale
            return self.dst.cast(v - self.offset if self.offset else v, self.src)
        if self.scale != 1.0 and not prescaled:
            v *= self.scale
        if self.kind == "floor":
            np.floor(v, out=v)
        elif self.kind == "rint":
            np.rint(v, out=v)
        return self.dst._overflow_float(v) if self.check_overflow else v

    def one_step(self, relu_floor: float | None = None):
        """finish(max(v, relu_floor), prescaled=True) as one rounding and one clip, for the
        simulator's compiled loops (numerics/jit.py): (rounding, lo, hi), or None where the
        finish is not of that form (generic rounding; wrapping or zeroing overflow). The
        ReLU moves behind the rounding (R(max(v, f)) == max(R(v), R(f)): R is monotone)."""
        d = self.dst
        if self.kind == "generic" or (self.check_overflow and not (
                d.overflow == "AP_SAT" or (d.overflow == "AP_SAT_SYM" and not d.signed))):
            return None
        rounding = {"exact": ROUND_NONE, "floor": ROUND_FLOOR, "rint": ROUND_RINT}[self.kind]
        lo, hi = (float(d.min_code), float(d.max_code)) if self.check_overflow else (-math.inf, math.inf)
        if relu_floor is not None:
            f = float(relu_floor)
            lo = max(lo, math.floor(f) if self.kind == "floor" else float(np.rint(f)) if self.kind == "rint" else f)
        return rounding, lo, hi


def exact_type(lo_code: int, hi_code: int, frac_bits: int, **modes) -> FixedType:
    """The narrowest type with `frac_bits` fraction bits that holds every code in
    [lo_code, hi_code] exactly (used for accumulators and exact intermediate values)."""
    lo_code, hi_code = int(lo_code), int(hi_code)
    signed = lo_code < 0
    if signed:
        width = max((-lo_code - 1).bit_length(), max(hi_code, 0).bit_length()) + 1
    else:
        width = max(hi_code.bit_length(), 1)
    return FixedType(width, width - frac_bits, signed, **modes)


def shift_round(codes: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """codes * 2**-shift rounded to an integer with an ap_fixed rounding mode (shift > 0)."""
    codes = np.asarray(codes, dtype=np.int64)
    while shift > 61:  # keep masks inside int64: fold far bits into a sticky LSB
        extra = min(shift - 61, 62)
        lost = (codes & ((1 << extra) - 1)) != 0
        codes = (codes >> extra) | lost
        shift -= extra
    floor = codes >> shift
    if rounding == "AP_TRN":
        return floor + np.zeros(np.shape(floor), dtype=np.int64)   # as round_increment's zeros give
    if rounding == "AP_RND":  # the first dropped bit alone decides: bit shift-1 of the code
        return floor + ((codes >> (shift - 1)) & 1)
    rest = codes & ((1 << shift) - 1)
    first = (rest >> (shift - 1)) & 1 == 1
    sticky = (rest & ((1 << (shift - 1)) - 1)) != 0
    return floor + round_increment(rounding, first, sticky, codes < 0, floor)


def round_scaled(s: np.ndarray, rounding: str, exact_half: bool) -> np.ndarray:
    """Round exact real values (float64) to integers with a rounding mode (round_increment's).
    `exact_half`: s + 0.5 is exact (s has few enough significant bits), allowing the
    one-pass forms of the common modes."""
    if rounding == "AP_TRN":
        return np.floor(s)
    if rounding == "AP_RND_CONV":
        return np.rint(s)  # IEEE round-half-to-even is exactly AP_RND_CONV
    if rounding == "AP_RND" and exact_half:
        return np.floor(s + 0.5)
    floor = np.floor(s)
    rest = s - floor  # exact for doubles
    first = rest >= 0.5
    if rounding == "AP_RND":
        return floor + first
    sticky = np.where(first, rest > 0.5, rest > 0.0)
    return floor + round_increment(rounding, first, sticky, s < 0, floor)


def round_increment(rounding, first, sticky, negative, floor):
    """0/1 to add to the floor of a value, given its first dropped bit, the OR of the
    remaining dropped bits and its sign: the decision table of ap_fixed's quantization
    modes, plus the two requantization modes without an ap_fixed counterpart (CEIL, and
    UP = away from zero; numerics/requant.py)."""
    if rounding == "AP_TRN":
        return np.zeros(np.shape(first), dtype=np.int64)
    if rounding == "AP_RND":
        inc = first
    elif rounding == "AP_RND_ZERO":
        inc = first & (negative | sticky)
    elif rounding == "AP_RND_MIN_INF":
        inc = first & sticky
    elif rounding == "AP_RND_INF":
        inc = first & (~negative | sticky)
    elif rounding == "AP_RND_CONV":
        inc = first & ((np.fmod(floor, 2) != 0) | sticky)  # ties go to the even neighbour
    elif rounding == "AP_TRN_ZERO":
        inc = negative & (first | sticky)
    elif rounding == "CEIL":
        inc = first | sticky
    elif rounding == "UP":
        inc = ~negative & (first | sticky)
    else:  # pragma: no cover - callers validate modes
        raise ValueError(rounding)
    return np.asarray(inc, dtype=np.int64)


def grid_codes(values, frac_bits: int) -> np.ndarray:
    """Real values rounded (ties to even) onto the 2**-frac_bits grid, as int64 codes; used
    for constants kept at accumulator precision (biases, shifts)."""
    return FixedType(MAX_WIDTH, MAX_WIDTH - frac_bits, True, "AP_RND_CONV", "AP_SAT").quantize(values)
