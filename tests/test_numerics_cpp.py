"""FixedType against the real ap_types headers: every rounding and overflow mode, on
thousands of values, for double -> fixed and fixed -> fixed conversions."""
import itertools
import subprocess

import numpy as np
import pytest

from compiler.backend.toolchain import ap_types_include, compile_cpp
from compiler.numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedType

# Targets chosen to cover narrow/wide, signed/unsigned, negative and oversized integer bits.
TARGET_SHAPES = [(8, 3, True), (6, 2, False), (5, -2, True), (4, 6, True), (12, 12, False), (1, 1, True)]
# Sources are exact on their own grid, so the fixed -> fixed path is checked independently.
SOURCES = [FixedType(20, 8, True), FixedType(16, 4, False), FixedType(24, 1, True)]


def _targets():
    for (w, i, s), q, o in itertools.product(TARGET_SHAPES, ROUNDING_MODES, OVERFLOW_MODES):
        yield FixedType(w, i, s, q, o)


def _doubles(rng, n):
    spread = np.ldexp(rng.uniform(-1, 1, n), rng.integers(-8, 12, n))
    # exact ties and near-ties at many scales are where rounding modes differ
    ties = np.ldexp(rng.integers(-4000, 4000, n) + 0.5, -rng.integers(0, 10, n))
    return np.concatenate([spread, ties, [0.0, -0.0, 1e300, -1e300, 2.0**70 + 2.0**20]])


@pytest.fixture(scope="module")
def cpp_results(tmp_path_factory):
    rng = np.random.default_rng(1234)
    doubles = _doubles(rng, 1500)
    src_values = {str(s): s.to_float(rng.integers(s.min_code, s.max_code + 1, 1500)) for s in SOURCES}
    targets = list(_targets())
    lines = ["#include <cstdio>", "#include <vector>", "#include \"ap_fixed.h\"",
             "int main() {", "  std::vector<double> v; double d;",
             "  while (std::scanf(\"%lf\", &d) == 1) v.push_back(d);",
             f"  const size_t nd = {len(doubles)}, ns = {len(next(iter(src_values.values())))};"]
    for k, t in enumerate(targets):
        lines.append(f"  for (size_t j = 0; j < nd; ++j) {{ {t.cpp()} x = v[j]; std::printf(\"%.17g\\n\", x.to_double()); }}")
        for si, s in enumerate(SOURCES):
            lines.append(f"  for (size_t j = 0; j < ns; ++j) {{ {s.cpp()} a = v[nd + {si} * ns + j]; "
                         f"{t.cpp()} x = a; std::printf(\"%.17g\\n\", x.to_double()); }}")
    lines += ["  return 0;", "}"]
    work = tmp_path_factory.mktemp("apfixed")
    src = work / "check.cpp"
    src.write_text("\n".join(lines))
    exe = work / "check"
    compile_cpp([src], exe, [ap_types_include()], flags=("-O0", "-DNDEBUG"))
    stdin = "\n".join(repr(float(x)) for x in np.concatenate([doubles, *src_values.values()]))
    out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout
    values = np.array([float(x) for x in out.split()])
    return targets, doubles, src_values, values


def test_every_mode_matches_ap_fixed(cpp_results):
    targets, doubles, src_values, values = cpp_results
    pos, failures, checked = 0, [], 0
    for t in targets:
        got = t.to_float(t.quantize(doubles))
        want = values[pos:pos + len(doubles)]
        pos += len(doubles)
        bad = np.flatnonzero(got != want)
        checked += len(doubles)
        if bad.size:
            failures.append(f"{t} from double {doubles[bad[0]]!r}: ours {got[bad[0]]!r}, ap_fixed {want[bad[0]]!r} ({bad.size} values)")
        for s in SOURCES:
            vals = src_values[str(s)]
            got = t.to_float(t.cast(s.quantize(vals), s))
            assert np.array_equal(got, t.to_float(t.cast(s.quantize(vals, np.float64), s))), f"{t} from {s}: float path"
            want = values[pos:pos + len(vals)]
            pos += len(vals)
            bad = np.flatnonzero(got != want)
            checked += len(vals)
            if bad.size:
                failures.append(f"{t} from {s} {vals[bad[0]]!r}: ours {got[bad[0]]!r}, ap_fixed {want[bad[0]]!r} ({bad.size} values)")
    assert pos == len(values)
    assert checked > 100_000
    assert not failures, "\n".join(failures[:20])
