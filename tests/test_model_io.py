"""Model inputs and outputs: several graph inputs (API, CLI .npz data, reference executor, C
simulation), one value per sample (rank-1 graph inputs), graph outputs that pass an input
through or repeat another output, and onnx's backend test cases as a whole."""
import functools
import subprocess
import sys

import numpy as np
import pytest
from onnx import helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import DataError
from compiler.frontend.reference import run_reference
from compiler.validation import onnx_backend

from . import onnx_builders as B


def two_input_model(rng, n=6, m=4):
    """Two feature vectors: a Dense on each, their sum and their concatenation as outputs."""
    return B.make_model([helper.make_node("MatMul", ["a", "Wa"], ["ha"], name="da"),
                         helper.make_node("MatMul", ["b", "Wb"], ["hb"], name="db"),
                         helper.make_node("Add", ["ha", "hb"], ["s"], name="sum"),
                         helper.make_node("Concat", ["ha", "b"], ["c"], name="cat", axis=1)],
                        [("a", [n]), ("b", [m])], [("s", [m]), ("c", [2 * m])],
                        [("Wa", rng.normal(size=(n, m))), ("Wb", rng.normal(size=(m, m)))])


def test_two_inputs_match_the_reference_and_the_cpp(tmp_path, rng):
    path = B.save(two_input_model(rng), tmp_path / "m.onnx")
    calib = [rng.normal(size=(200, 6)), rng.normal(size=(200, 4))]
    design = compiler.compile_model(path, "zcu104", calib=calib)
    assert design.graph.inputs == ["a", "b"]
    x = [rng.normal(size=(300, 6)), rng.normal(size=(300, 4))]
    got = compiler.simulate(design, x)
    assert np.array_equal(np.concatenate(got, axis=1),
                          np.concatenate(compiler.simulate(design, {"b": x[1], "a": x[0]}), axis=1))
    for y, want in zip(got, run_reference(path, x)):
        assert np.abs(y - want).max() <= 0.01 * np.abs(want).max()
    r = compare(design, compiler.write_project(design, tmp_path / "out"), design.graph.inputs_to_ir(x))
    assert r.samples == 300 and r.mismatches == 0, r


@pytest.mark.parametrize("data, message", [
    (lambda rng: rng.normal(size=(5, 6)), "the model has 2 inputs (a, b)"),
    (lambda rng: [rng.normal(size=(5, 6))], "the model has 2 inputs"),
    (lambda rng: {"a": rng.normal(size=(5, 6))}, "missing b"),
    (lambda rng: {"a": 0, "b": 0, "c": 0}, "unknown c"),
    (lambda rng: [rng.normal(size=(5, 6)), rng.normal(size=(4, 4))], "different batch sizes"),
    (lambda rng: [rng.normal(size=(5, 6)), rng.normal(size=(5, 3))], "input 'b': shape (5, 3)"),
])
def test_bad_data_for_two_inputs_is_one_line(data, message, tmp_path, rng):
    design = compiler.compile_model(B.save(two_input_model(rng), tmp_path / "m.onnx"), "zcu104")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        compiler.simulate(design, data(rng))
    assert "\n" not in str(e.value)


def test_cli_takes_one_npz_array_per_input(tmp_path, rng):
    path = B.save(two_input_model(rng), tmp_path / "m.onnx")
    np.savez(tmp_path / "x.npz", a=rng.normal(size=(50, 6)), b=rng.normal(size=(50, 4)))
    cmd = [sys.executable, "-m", "compiler.cli"]
    p = subprocess.run(cmd + ["verify", str(path), "--target", "zcu104", "--data", str(tmp_path / "x.npz")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "50 samples" in p.stdout
    p = subprocess.run(cmd + [str(path), "--target", "zcu104", "--calib", str(tmp_path / "x.npz"),
                              "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_one_value_per_sample_and_pass_through_outputs(tmp_path, rng):
    """A rank-1 input (a scalar per sample), an output that is the input itself, and an
    output naming the same tensor as another: each output is its own stream."""
    m = B.make_model([helper.make_node("Mul", ["x", "k"], ["y"], name="scale"),
                      helper.make_node("Identity", ["y"], ["y2"], name="alias")],
                     [("x", [])], [("y", []), ("x_out", []), ("y2", [])], [("k", np.float32(1.5))])
    m.graph.output[1].name = "x"
    path = B.save(m, tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    x = np.round(rng.normal(size=200) * 64) / 64
    y, x_out, y2 = compiler.simulate(design, x)
    assert y.shape == (200,) and np.array_equal(x_out, x) and np.array_equal(y, y2)
    assert np.abs(y - 1.5 * x).max() <= design.graph.tensors[design.graph.outputs[0]].type.lsb
    r = compare(design, compiler.write_project(design, tmp_path / "out"), design.graph.inputs_to_ir(x))
    assert r.mismatches == 0, r


# onnx's backend cases: each matches or is refused in one line (naming node and op where a
# node is at fault, and what is supported), never wrong and never a crash
MIN_MATCHING = 114   # of 140 (README: what stays refused and why)


@functools.lru_cache(maxsize=None)
def _outcome(case_id: str):
    return onnx_backend.run(next(c for c in onnx_backend.cases() if c.id == case_id))


@pytest.mark.parametrize("case", onnx_backend.cases(), ids=lambda c: c.id)
def test_onnx_backend_case(case):
    o = _outcome(case.id)
    assert o.status in ("match", "refused"), f"{o.status}: {o.detail}"
    if o.status == "refused":
        assert "\n" not in o.detail, o.detail
        if o.detail.startswith("node "):
            assert "): " in o.detail and "supported" in o.detail, o.detail


def test_onnx_backend_cases_matching():
    matching = [c.id for c in onnx_backend.cases() if _outcome(c.id).status == "match"]
    assert len(matching) >= MIN_MATCHING, len(matching)


@pytest.mark.parametrize("op", ["Sum", "Mean"])
def test_sum_and_mean_of_several_tensors(op, tmp_path, rng):
    """Sum/Mean of tensors and a constant: a chain of sums, then one affine stage."""
    m = B.make_model([helper.make_node("Relu", ["x"], ["r"], name="r"),
                      helper.make_node(op, ["x", "r", "k", "x"], ["y"], name="s")],
                     [("x", [4])], [("y", [4])], [("k", rng.normal(size=4))])
    path = B.save(m, tmp_path / "m.onnx")
    x = rng.normal(size=(300, 4))
    design = compiler.compile_model(path, "zcu104", calib=x)
    assert [n.kind for n in design.graph.nodes()].count("Add") == 2
    want = run_reference(path, x)[0]
    assert np.abs(compiler.simulate(design, x) - want).max() <= 0.01 * np.abs(want).max()
