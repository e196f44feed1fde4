"""FixedType against exact rational arithmetic (hypothesis)."""
from fractions import Fraction
import math

import numpy as np
from hypothesis import given, settings, strategies as st

from compiler.numerics.fixed import MAX_FRACTION_BITS
from compiler.numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedType, exact_type, shift_round

types = st.builds(FixedType, width=st.integers(1, 40), int_bits=st.integers(-8, 44), signed=st.booleans(),
                  rounding=st.sampled_from(ROUNDING_MODES), overflow=st.sampled_from(OVERFLOW_MODES))


def exact_round(q: Fraction, mode: str) -> int:
    """The rounding modes on exact rationals, straight from their definitions."""
    f = math.floor(q)
    rest = q - f
    if rest == 0:
        return f
    half = rest == Fraction(1, 2)
    if mode == "AP_TRN":
        return f
    if mode == "AP_TRN_ZERO":
        return f if q >= 0 else f + 1
    if not half:
        return f + 1 if rest > Fraction(1, 2) else f
    return {"AP_RND": f + 1, "AP_RND_ZERO": f if q > 0 else f + 1, "AP_RND_MIN_INF": f,
            "AP_RND_INF": f + 1 if q > 0 else f, "AP_RND_CONV": f + (f % 2)}[mode]


def exact_overflow(v: int, t: FixedType) -> int:
    lo, hi = t.min_code, t.max_code
    if lo <= v <= hi and not (t.overflow == "AP_SAT_SYM" and t.signed and t.width > 1 and v == lo):
        return v
    if t.overflow == "AP_WRAP":
        v &= (1 << t.width) - 1
        return v - (1 << t.width) if t.signed and v > hi else v
    if t.overflow == "AP_SAT_ZERO":
        return 0
    if t.overflow == "AP_SAT_SYM" and t.signed and t.width > 1:
        lo = -hi
    return min(max(v, lo), hi)


def exact_quantize(x: Fraction, t: FixedType) -> int:
    return exact_overflow(exact_round(x * 2 ** t.frac_bits, t.rounding), t)


@settings(max_examples=400, deadline=None)
@given(t=types, xs=st.lists(st.fractions(max_denominator=1 << 12).filter(lambda f: abs(f) < 2 ** 30), min_size=1,
                             max_size=20))
def test_quantize_matches_exact_arithmetic(t, xs):
    xs = [Fraction(float(x)) for x in xs]  # what a double holds
    got = t.quantize(np.array([float(x) for x in xs]))
    assert got.tolist() == [exact_quantize(x, t) for x in xs]
    if t.width <= 53:
        assert t.quantize(np.array([float(x) for x in xs]), np.float64).tolist() == got.tolist()


@settings(max_examples=400, deadline=None)
@given(src=types, dst=types, data=st.data())
def test_cast_matches_exact_arithmetic(src, dst, data):
    codes = data.draw(st.lists(st.integers(src.min_code, src.max_code), min_size=1, max_size=20))
    got = dst.cast(np.array(codes, dtype=np.int64), src)
    if src.width <= 53 and dst.width <= 53:  # the simulator's float64 path must agree
        assert dst.cast(np.array(codes, dtype=np.float64), src).tolist() == got.tolist()
    want = [exact_quantize(Fraction(c, 2 ** src.frac_bits) if src.frac_bits >= 0 else Fraction(c * 2 ** -src.frac_bits), dst)
            for c in codes]
    assert got.tolist() == want


@given(st.integers(-(1 << 40), 1 << 40), st.integers(1, 20), st.sampled_from(ROUNDING_MODES))
def test_shift_round(v, shift, mode):
    assert int(shift_round(np.array([v]), shift, mode)[0]) == exact_round(Fraction(v, 2 ** shift), mode)


@given(st.integers(-(1 << 30), 1 << 30), st.integers(-(1 << 30), 1 << 30), st.integers(-10, 20))
def test_exact_type_holds_its_range(a, b, frac):
    lo, hi = min(a, b), max(a, b)
    t = exact_type(lo, hi, frac)
    assert t.min_code <= lo and hi <= t.max_code
    narrower = FixedType(t.width - 1, t.int_bits - 1, t.signed) if t.width > 1 else None
    if narrower is not None:
        assert lo < narrower.min_code or hi > narrower.max_code


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.integers(2, 32))
def test_for_range_is_tight_and_holds(a, b, width):
    lo, hi = min(a, b), max(a, b)
    t = FixedType.for_range(lo, hi, width, rounding="AP_RND")

    def holds(f: FixedType) -> bool:   # every value of [lo, hi] rounds to a code the type has (no wrap)
        return f.min_value <= lo and math.floor(hi / f.lsb + 0.5) <= f.max_code

    assert holds(t)
    wrapped = t.to_float(t.quantize(np.array([lo, hi])))
    assert np.all(np.abs(wrapped - [lo, hi]) <= t.lsb / 2)   # rounded, never wrapped
    if lo == hi == 0:
        return  # any integer width holds zero
    if t.frac_bits == MAX_FRACTION_BITS:
        return  # the finest binary point taken: smaller values flush to zero
    assert not holds(FixedType(width, t.int_bits - 1, t.signed, "AP_RND"))


def test_two_bit_types_keep_a_binary_point_near_the_range():
    """Rounding up by half a step is all round-to-nearest can do: a 2-bit signed type for
    +-1.33 is ap_fixed<2,2> (codes -2..1 in steps of 1), not a 56-integer-bit zero."""
    assert FixedType.for_range(-1.33, 1.33, 2, rounding="AP_RND_CONV") == FixedType(2, 2, True, "AP_RND_CONV")
    assert FixedType.for_range(-1.33, 1.33, 3, rounding="AP_RND_CONV").int_bits == 2


def test_tiny_ranges_take_the_finest_binary_point():
    """Denormal-sized data (seen in onnx's own test inputs, 1e-310) gets 2**-MAX_FRACTION_BITS steps."""
    t = FixedType.for_range(0.0, 1e-310, 16)
    assert t.frac_bits == MAX_FRACTION_BITS and t.quantize(np.array([1e-310]))[0] == 0


def test_cpp_spelling_round_trips():
    for t in (FixedType(16, 6), FixedType(8, 0, False, "AP_RND", "AP_SAT"), FixedType(5, -2, True, "AP_RND_CONV")):
        assert FixedType.parse(t.cpp()) == t
    assert FixedType(16, 6).cpp() == "ap_fixed<16,6>"
    assert FixedType(8, 0, False, "AP_TRN", "AP_SAT").cpp() == "ap_ufixed<8,0,AP_TRN,AP_SAT>"


def test_quantize_refuses_nan():
    import pytest

    with pytest.raises(ValueError):
        FixedType(8, 4).quantize(np.array([np.nan]))
