"""The generated C++ (g++ + hls4ml's ap_types headers) is bit-exact with the simulator."""
import numpy as np
import pytest

import compiler
from compiler.backend.csim import compare

from .conftest import model_path

CASES = {
    "D01_jet_mlp_float": {},
    "D02_jet_mlp_bn_float": {},
    "D05_jet_mlp_qonnx_w6a6": {},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_csim_bit_exact_on_1000_inputs(name, tmp_path, rng):
    design = compiler.compile_model(model_path(name), "zcu104", calib=rng.normal(size=(500, 16)), **CASES[name])
    out = compiler.write_project(design, tmp_path / "out")
    # a mix of typical values and values far outside the calibration range (saturation paths)
    x = np.concatenate([rng.normal(size=(900, 16)), rng.normal(scale=20, size=(100, 16))])
    r = compare(design, out, x)
    print(f"{name}: {r.samples} samples, {r.mismatches} mismatches, build {r.seconds_build:.1f} s")
    assert r.samples == 1000
    assert r.mismatches == 0


def test_csim_with_folded_layers(tmp_path, rng):
    """A reuse factor folds the MAC array; the arithmetic (and so the output) is unchanged."""
    path = model_path("D05_jet_mlp_qonnx_w6a6")
    design = compiler.compile_model(path, "zcu104", reuse_factor=4, layer_reuse={"MatMul_0": 16})
    assert {n.op.reuse_factor for n in design.graph.nodes() if n.kind == "Dense"} == {4, 16}
    out = compiler.write_project(design, tmp_path / "out")
    r = compare(design, out, rng.normal(size=(300, 16)))
    assert r.mismatches == 0


def test_synthesis_literals_equal_the_simulated_codes(tmp_path):
    """weights.h carries each constant twice: ap_fixed literals for synthesis, integer codes
    for C simulation. They must be the same numbers."""
    import re

    from compiler.numerics import FixedType

    design = compiler.compile_model(model_path("D05_jet_mlp_qonnx_w6a6"), "zcu104")
    text = (compiler.write_project(design, tmp_path / "out") / "firmware" / "weights.h").read_text()
    synth, sim = text.split("#else")
    literals = dict(re.findall(r"static const (ap_u?fixed<[^>]*>) (\w+)\[\d+\]", synth)[i][::-1]
                    for i in range(len(re.findall(r"static const ap_", synth))))
    checked = 0
    for name, values in re.findall(r"static const ap_u?fixed<[^>]*> (\w+)\[\d+\] = \{([^}]*)\}", synth):
        codes = re.search(rf"static const long long {name}_codes\[\d+\] = \{{([^}}]*)\}}", sim).group(1)
        t = FixedType.parse(literals[name])
        want = t.to_float(np.array([int(c) for c in codes.split(",")]))
        assert np.array_equal(np.array([float(v) for v in values.split(",")]), want), name
        checked += 1
    assert checked >= 10
