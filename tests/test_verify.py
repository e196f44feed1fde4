"""qcompile verify: the reference executor chosen from the model's domains and ops, and the
error split into the input cast's and the design's own."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import compiler
from compiler.errors import ModelError
from compiler.frontend.reference import executor_plan, reference_executor, run_reference
from compiler.verify import format_verify, verify

from .conftest import model_path

D05 = "D05_jet_mlp_qonnx_w6a6"


@pytest.fixture(scope="module")
def d05():
    return compiler.compile_model(model_path(D05), "zcu104")


@pytest.fixture(scope="module")
def d05_default_domain(tmp_path_factory):
    """D05 with its Quant nodes in the default domain, as some exporters write them."""
    m = onnx.load(str(model_path(D05)))
    moved = 0
    for n in m.graph.node:
        if n.op_type == "Quant":
            n.domain = ""
            moved += 1
    assert moved == 11
    path = tmp_path_factory.mktemp("d05") / "model.onnx"
    onnx.save(m, str(path))
    return path


def _x(n=400, seed=7):
    return np.random.default_rng(seed).normal(size=(n, 16))


# ---- the reference executor ----------------------------------------------------------------------
def test_default_domain_quantizers_run_on_qonnx_with_the_same_result(d05, d05_default_domain):
    """onnxruntime cannot run a default-domain Quant; qonnx can once it sits in the domain qonnx
    registers it under. The reference, and so every number verify reports, is the original's."""
    assert reference_executor(d05_default_domain) == "qonnx" == reference_executor(model_path(D05))
    x = _x()
    want = run_reference(model_path(D05), x)[0]
    assert np.array_equal(run_reference(d05_default_domain, x)[0], want)
    # qonnx computes in float throughout, intermediate tensors included
    inner = run_reference(d05_default_domain, x, outputs=[_first_quant(d05_default_domain)])[0]
    assert inner.dtype == np.float64 and inner.shape[0] == len(x)
    got, orig = verify(d05, str(d05_default_domain), x), verify(d05, str(model_path(D05)), x)
    assert got == orig and got.reference == "qonnx"


def _first_quant(path) -> str:
    m = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    return next(n.output[0] for n in m.graph.node if n.op_type == "Quant" and n.input[0] not in inits)


def test_standard_model_runs_on_onnxruntime():
    assert reference_executor(model_path("D01_jet_mlp_float")) == "onnxruntime"
    assert reference_executor(model_path("D12_jet_mlp_qdq_int8_generated")) == "onnxruntime"


def _one_node(tmp_path, op_type, domain="", opset=13):
    node = helper.make_node(op_type, ["x"], ["y"], name="odd", domain=domain)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    path = tmp_path / f"{op_type}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=imports), str(path))
    return path


@pytest.mark.parametrize("op_type, domain, opset, message", [
    ("FooOp", "", 13, "node 'odd' (FooOp): op FooOp is not a standard ONNX op and is not a QONNX op"),
    ("Gelu", "", 13, "node 'odd' (Gelu): op Gelu does not exist in opset 13 of the standard domain"),
    ("FooOp", "qonnx.custom_op.general", 13, "node 'odd' (FooOp): op qonnx.custom_op.general:FooOp is not a QONNX op"),
])
def test_op_no_executor_knows_is_a_one_line_error(tmp_path, op_type, domain, opset, message):
    path = _one_node(tmp_path, op_type, domain, opset)
    for call in (lambda: reference_executor(path), lambda: run_reference(path, np.zeros((2, 4)))):
        with pytest.raises(ModelError) as e:
            call()
        assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_standard_op_at_its_opset_stays_on_onnxruntime(tmp_path):
    assert executor_plan(onnx.load(str(_one_node(tmp_path, "Gelu", opset=20)))) == ("onnxruntime", {})
    plan = executor_plan(onnx.load(str(_one_node(tmp_path, "MultiThreshold"))))
    assert plan == ("qonnx", {0: "qonnx.custom_op.general"})


# ---- the input cast's error apart from the design's ------------------------------------------
def test_d05_error_is_the_input_cast_not_the_design(d05):
    """D05's float inputs cast to its 16-bit input type change the float model's outputs by
    far more than the design differs from the float model on the cast inputs."""
    x = _x(1000)
    r = verify(d05, str(model_path(D05)), x)
    (total,), (design,), (cast,) = r.outputs, r.design, r.input_cast
    print(f"D05: input cast {cast.max_abs_error:.3g} ({cast.sqnr_db:.1f} dB), design {design.max_abs_error:.3g} "
          f"({design.sqnr_db:.1f} dB), total {total.max_abs_error:.3g} ({total.sqnr_db:.1f} dB)")
    assert not r.inputs_on_grid
    assert cast.max_abs_error > 1e-3 and design.max_abs_error < cast.max_abs_error / 10
    assert total.max_abs_error <= design.max_abs_error + cast.max_abs_error + 1e-12
    # the total is what verify always reported: simulator vs the reference on the raw inputs
    want = np.abs(compiler.simulate(d05, x) - run_reference(model_path(D05), x)[0]).max()
    assert total.max_abs_error == pytest.approx(want, rel=1e-12, abs=1e-15)
    text = format_verify(r)
    print(text)
    assert len(text.splitlines()) == 5 and "input cast" in text and "design" in text and "total" in text
    assert "ap_fixed<16,6" in text.splitlines()[0]


def test_inputs_on_the_grid_have_no_cast_error(d05):
    """The same samples snapped to the input type first: no cast error, and what is left is the
    design's error measured above on the cast inputs."""
    x = _x(1000)
    t = d05.graph.tensors[d05.graph.inputs[0]].type
    on_grid = t.to_float(t.quantize(x))
    r = verify(d05, str(model_path(D05)), on_grid)
    raw = verify(d05, str(model_path(D05)), x)
    assert r.inputs_on_grid and r.input_cast[0].max_abs_error == 0 and r.input_cast[0].sqnr_db == float("inf")
    assert r.design == r.outputs
    assert r.outputs[0].max_abs_error == raw.design[0].max_abs_error
    text = format_verify(r)
    assert "on the input type's grid" in text and "input cast (" not in text and len(text.splitlines()) == 3


def test_labels_accuracy_stays_end_to_end(d05):
    x = _x(500)
    labels = run_reference(model_path(D05), x)[0].argmax(1)
    r = verify(d05, str(model_path(D05)), x, labels)
    assert r.accuracy_reference == 1.0
    assert r.accuracy_reference_cast == pytest.approx(r.input_cast[0].argmax_agreement)
    assert r.accuracy_simulator == pytest.approx(r.outputs[0].argmax_agreement)
    assert "on the cast inputs" in format_verify(r).splitlines()[-1]


def test_default_domain_qonnx_model_compiles_and_verifies_from_the_cli(d05_default_domain):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "compiler.cli", "verify", str(d05_default_domain), "-n", "100"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "(qonnx)" in p.stdout and "input cast" in p.stdout and "design" in p.stdout


def test_verify_in_chunks_under_a_progress_bar_gives_the_same_result(d05, monkeypatch, capsys):
    """With a progress bar, verify runs in chunks of samples; every number stays the same, and the
    bar goes to stderr only."""
    x = _x(n=1100)
    monkeypatch.setenv("QCOMPILE_PROGRESS", "0")
    whole = verify(d05, str(model_path(D05)), x)
    monkeypatch.setenv("QCOMPILE_PROGRESS", "1")
    from compiler import progress
    assert len(progress.slices(len(x), at_least=256)) == 5   # chunks of 256 (at least), about 20 at most
    chunked = verify(d05, str(model_path(D05)), x)
    assert chunked == whole
    out = capsys.readouterr()
    assert out.out == "" and "verify" in out.err
