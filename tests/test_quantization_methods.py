"""Calibration methods in the compile path, outlier channel splitting, automatic per-layer
precision, and the reader-resolution rule that keeps D01's logits precise without
calibration (issue: quantization methods)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

import compiler
from compiler.calibrate import float_run
from compiler.frontend.onnx import load_onnx
from compiler.options import CompileOptions
from compiler.passes import PIPELINE
from compiler.passes.split_outliers import split_outliers, split_rows
from compiler.verify import sqnr_db
from tests.conftest import model_path
from tests.onnx_builders import make_model, save

DIGITS = "examples/digits_mlp.onnx"


def _ort(path, x):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x.astype(np.float32)})[0]


def _outlier_mlp(tmp_path, outlier=12.0):
    """16 -> 24 -> 24 -> 6 ReLU MLP whose second layer holds a few weights far above the rest."""
    rng = np.random.default_rng(3)
    w1, w2, w3 = rng.normal(0, 0.4, (16, 24)), rng.normal(0, 0.3, (24, 24)), rng.normal(0, 0.3, (24, 6))
    w2[5, 7], w2[11, 2], w2[17, 20] = outlier, -0.8 * outlier, 0.6 * outlier
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h1"], name="fc1"),
             helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
             helper.make_node("MatMul", ["r1", "W2"], ["h2"], name="fc2"),
             helper.make_node("Relu", ["h2"], ["r2"], name="relu2"),
             helper.make_node("MatMul", ["r2", "W3"], ["y"], name="fc3")]
    m = make_model(nodes, [("x", [16])], [("y", [6])], [("W1", w1), ("W2", w2), ("W3", w3)])
    return save(m, tmp_path / "outliers.onnx"), rng.normal(size=(600, 16))


def _float_outputs(path, x, **opts):
    """The IR's float semantics after the passes up to (and with) split_outliers."""
    g = load_onnx(str(path))
    o = CompileOptions(**opts)
    for p in PIPELINE[:PIPELINE.index(split_outliers) + 1]:
        g = p(g, o)
    return float_run(g, {g.inputs[0]: x})[g.outputs[0]], g, o


# ---- the reader rule: D01 without calibration --------------------------------------------------
def test_d01_default_formats_agree_with_onnxruntime():
    """Softmax quantizes max - x to 2**-12 itself, so the logits keep 12 fraction bits (interval
    bounds leave the 16-bit logits one); D01 reaches >= 99% argmax agreement without calibration."""
    path = model_path("D01_jet_mlp_float")
    d = compiler.compile_model(str(path), "zcu104")
    logits = d.graph.producer(d.graph.node("Softmax").inputs[0])
    assert d.graph.tensors[logits.outputs[0]].type.frac_bits >= 12
    x = np.clip(np.random.default_rng(0).standard_normal((1000, 16)), -32, 31)
    ref = np.concatenate([_ort(path, x[i:i + 1]) for i in range(len(x))])
    assert np.mean(compiler.simulate(d, x).argmax(1) == ref.argmax(1)) >= 0.99


def test_reader_rule_yields_to_a_given_width():
    path = model_path("D01_jet_mlp_float")
    d = compiler.compile_model(str(path), "zcu104")
    last = d.graph.producer(d.graph.node("Softmax").inputs[0]).name
    d8 = compiler.compile_model(str(path), "zcu104", layers={last: {"act_bits": 8}})
    assert d8.graph.tensors[d8.graph.node(last).outputs[0]].type.width == 8


# ---- calibration methods in the compile path ------------------------------------------------------
@pytest.mark.parametrize("method", ["minmax", "percentile", "mse", "kl", "aciq"])
def test_every_method_compiles_and_clips_within_the_observed_range(method):
    calib = np.load("examples/digits_calib_x.npy")
    base = compiler.compile_model(DIGITS, "zcu104", calib=calib, width=6, calib_method="minmax")
    d = compiler.compile_model(DIGITS, "zcu104", calib=calib, width=6, calib_method=method)
    assert d.options["calib_method"] == method
    for name, t in d.graph.tensors.items():   # a clip never widens a type
        assert t.type.int_bits <= base.graph.tensors[name].type.int_bits
    y = compiler.simulate(d, np.load("examples/digits_test_x.npy"))
    assert y.shape == (360, 10) and np.all(np.isfinite(y))


def test_percentile_clips_an_outlier_activation(tmp_path):
    """One sample 100x larger than the rest sets min/max's range; percentile ignores it."""
    path, x = _outlier_mlp(tmp_path)
    x = x.copy()
    x[0] *= 100
    mm = compiler.compile_model(str(path), "zcu104", calib=x, width=8, calib_method="minmax")
    pc = compiler.compile_model(str(path), "zcu104", calib=x, width=8, calib_method="percentile", calib_percentile=99.9)
    name = mm.graph.inputs[0]
    assert pc.graph.tensors[name].type.int_bits < mm.graph.tensors[name].type.int_bits
    clean = x[1:]
    ref = _ort(path, clean)
    assert sqnr_db(ref, compiler.simulate(pc, clean)) > sqnr_db(ref, compiler.simulate(mm, clean)) + 6


def test_weight_calibration_saturates_clipped_weights(tmp_path):
    """Three weights at 10 sigma: at 4 bits, MSE clips them and saturates (min/max would give
    the other 573 a step of half their spread)."""
    path, x = _outlier_mlp(tmp_path, outlier=3.0)
    d = compiler.compile_model(str(path), "zcu104", calib=x, weight_width=4, weight_calib_method="mse")
    fc2 = d.graph.node("fc2").op
    assert fc2.weight_type.overflow == "AP_SAT"
    assert np.abs(fc2.weight).max() <= max(fc2.weight_type.max_value, -fc2.weight_type.min_value)
    plain = compiler.compile_model(str(path), "zcu104", calib=x, weight_width=4)
    assert fc2.weight_type.int_bits < plain.graph.node("fc2").op.weight_type.int_bits


def test_unknown_method_is_one_line(tmp_path):
    from compiler.calibrate.methods import METHODS
    from compiler.cli import CALIB_METHODS

    assert CALIB_METHODS == METHODS
    r = subprocess.run([sys.executable, "-m", "compiler.cli", DIGITS, "--calib", "examples/digits_calib_x.npy",
                        "--calib-method", "entropy", "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr
    with pytest.raises(compiler.CompileError, match="supported: minmax"):
        compiler.compile_model(DIGITS, "zcu104", calib_method="entropy")


# ---- outlier channel splitting -----------------------------------------------------------------------
def test_split_rows_halves_the_largest_and_keeps_every_sum():
    src, factor = split_rows(np.array([1.0, 8.0, 3.0]), 3)
    assert list(src) == [0, 1, 2, 1, 1, 1]           # 8 -> 4, 4 -> 2 (twice)
    for i in range(3):
        assert factor[src == i].sum() == 1.0
    assert max(np.array([1.0, 8.0, 3.0])[src] * factor) == 3.0


def test_ocs_keeps_float_outputs_and_lowers_the_quantization_error(tmp_path):
    path, x = _outlier_mlp(tmp_path)
    plain, _, _ = _float_outputs(path, x)
    split, g, opts = _float_outputs(path, x, ocs=0.1)
    assert opts.split == {"fc2": 2, "fc3": 2}
    assert g.node("fc2").op.n_in == 26 and g.node("fc1").op.n_out == 26
    np.testing.assert_allclose(split, plain, rtol=1e-12, atol=1e-12)
    ref = _ort(path, x)
    errors, int_bits = {}, {}
    for ocs in (0.0, 0.1):
        d = compiler.compile_model(str(path), "zcu104", calib=x, weight_width=5, ocs=ocs)
        errors[ocs] = sqnr_db(ref, compiler.simulate(d, x))
        int_bits[ocs] = d.graph.node("fc2").op.weight_type.int_bits
    assert int_bits[0.1] == int_bits[0.0] - 1        # 12 -> 6: the step halves for every weight
    assert errors[0.1] > errors[0.0] + 1.5            # measured 9.4 -> 11.8 dB
    # the extra channel is real work in the estimate
    e0 = compiler.compile_model(str(path), "zcu104", calib=x, weight_width=5, reuse_factor=1).estimator().estimate()
    e1 = compiler.compile_model(str(path), "zcu104", calib=x, weight_width=5, reuse_factor=1,
                                ocs=0.1).estimator().estimate()
    assert e1.costs[e1.names.index("fc2")].lut > e0.costs[e0.names.index("fc2")].lut * 0.5
    assert sum(c.ff for c in e1.costs) > sum(c.ff for c in e0.costs)


def test_ocs_counts_a_convolution_s_input_channels():
    """D04's second conv: RATIO of its input channels, not of its taps x channels rows; exact in float."""
    path = model_path("D04_conv2d_bn_pool_float")
    x = np.random.default_rng(0).normal(size=(20, 25, 25, 1))
    plain, g0, _ = _float_outputs(path, x)
    split, g, opts = _float_outputs(path, x, ocs=0.25)
    convs = [n.name for n in g0.nodes() if n.kind == "Conv"]
    for name in opts.split:
        cin = len(g0.node(name).op.input_channel_max())
        assert opts.split[name] == max(1, round(0.25 * cin))
        assert len(g.node(name).op.input_channel_max()) == cin + opts.split[name]
    assert set(opts.split) & set(convs)
    np.testing.assert_allclose(split, plain, rtol=1e-9, atol=1e-9)


def test_ocs_leaves_a_layer_reading_the_graph_input(tmp_path):
    path, x = _outlier_mlp(tmp_path)
    _, g, opts = _float_outputs(path, x, ocs=0.2)
    assert "fc1" not in opts.split and g.node("fc1").op.n_in == 16


# ---- automatic per-layer precision ----------------------------------------------------------------------
def test_auto_precision_on_digits_is_cheaper_than_16_bits_and_holds_on_held_out(tmp_path):
    """Calibrated on the even half of the held-out digits (data the model never saw), checked
    on the odd half; the choice reproduces through --config."""
    x = np.load("examples/digits_test_x.npy")
    calib, held = x[0::2], x[1::2]
    d = compiler.compile_model(DIGITS, "zcu104", calib=calib, reuse_factor=4, auto_precision="argmax:0.99")
    a = d.options["auto_precision"]
    assert a["measured"] >= 0.99 and a["cost_share"] < a["start_cost_share"]
    sixteen = compiler.compile_model(DIGITS, "zcu104", calib=calib, reuse_factor=4)
    from compiler.precision import design_cost
    assert design_cost(d) < design_cost(sixteen)
    ref = _ort(DIGITS, held)
    assert np.mean(compiler.simulate(d, held).argmax(1) == ref.argmax(1)) >= 0.99
    # report.json carries it in --config format, and --config compiles the same design
    np.save(tmp_path / "calib.npy", calib)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(a["config"]))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "compiler.cli", DIGITS, "--target", "zcu104", "--reuse-factor", "4",
                        "--calib", str(tmp_path / "calib.npy"), "--config", str(cfg), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    again = compiler.load_design(str(out))
    assert np.array_equal(compiler.simulate(again, held), compiler.simulate(d, held))
    assert compiler.estimate(again).totals == compiler.estimate(d).totals


def test_auto_precision_sqnr_and_report(tmp_path):
    calib = np.load("examples/digits_test_x.npy")[0::2]
    np.save(tmp_path / "calib.npy", calib)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "compiler.cli", DIGITS, "--target", "zcu104", "--reuse-factor", "4",
                        "--calib", str(tmp_path / "calib.npy"), "--auto-precision", "sqnr:30", "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "report.json").read_text())
    a = doc["options"]["auto_precision"]
    assert a["criterion"] == "sqnr:30" and a["measured"] >= 30
    assert set(a["config"]) == {"width", "weight_width", "layers"}


@pytest.mark.parametrize("args, message", [
    (["--auto-precision", "argmax:0.99"], "calibration data"),
    (["--auto-precision", "top5:0.9", "--calib", "examples/digits_calib_x.npy"], "expected 'argmax:A'"),
    (["--auto-precision", "argmax:1.5", "--calib", "examples/digits_calib_x.npy"], "expected 'argmax:A'"),
])
def test_auto_precision_errors_are_one_line(tmp_path, args, message):
    r = subprocess.run([sys.executable, "-m", "compiler.cli", DIGITS, "-o", str(tmp_path / "o"), *args],
                       capture_output=True, text=True)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o").exists()


def test_auto_precision_refuses_given_widths():
    with pytest.raises(compiler.CompileError, match="give one"):
        compiler.compile_model(DIGITS, "zcu104", calib=np.load("examples/digits_calib_x.npy"),
                               auto_precision="argmax:0.99", layers={"fc1": {"act_bits": 8}})


def test_onnx_model_proto_works_for_auto_precision():
    m = onnx.load(DIGITS)
    d = compiler.compile_model(m, "zcu104", calib=np.load("examples/digits_test_x.npy")[0::2], reuse_factor=4,
                               auto_precision="sqnr:20")
    assert d.options["auto_precision"]["measured"] >= 20


# ---- per-channel weight formats ---------------------------------------------------------------------
def test_headroom_matches_per_channel_types():
    from compiler.numerics import FixedType
    from compiler.ops.base import FormatPolicy
    from compiler.passes.per_channel_weights import headroom

    w = np.array([[1.7, 0.4, -0.1, 0.0], [-0.3, 0.2, 0.05, 0.0]])
    k4 = headroom(w, FormatPolicy(weight_width=4))
    assert list(k4) == [0, 2, 4, 0]   # 0.4 -> 1.6 and 0.1 -> 1.6 still fit ap_fixed<4,2>
    for c, k in enumerate(k4):   # scaled by 2**k the channel still fits the layer's type
        t = FixedType.for_range(float(w.min()), float(w.max()), 4, signed=True, rounding="AP_RND_CONV")
        assert np.abs(w[:, c] * 2.0 ** k).max() <= max(t.max_value, -t.min_value)


def test_per_channel_weights_lower_the_error_and_cost_a_requantizer():
    x, calib = np.load("examples/digits_test_x.npy"), np.load("examples/digits_calib_x.npy")
    ref = _ort(DIGITS, x)
    tensor = compiler.compile_model(DIGITS, "zcu104", calib=calib, weight_width=4, width=8, reuse_factor=4)
    chan = compiler.compile_model(DIGITS, "zcu104", calib=calib, weight_width=4, width=8, reuse_factor=4,
                                  per_channel_weights=True)
    assert chan.options["per_channel"] == {"fc1": 3, "fc2": 2, "fc3": 1}
    assert [n.kind for n in chan.graph.nodes()] == ["Dense", "Quant"] * 3 + ["Softmax"]
    s_tensor, s_chan = (sqnr_db(ref, compiler.simulate(d, x)) for d in (tensor, chan))
    assert s_chan > s_tensor + 2           # measured 12.3 -> 15.4 dB
    assert compiler.estimate(chan).totals["lut"] > compiler.estimate(tensor).totals["lut"]


@pytest.mark.parametrize("model", ["digits", "D04_conv2d_bn_pool_float"])
def test_per_channel_designs_csim_bit_exact(model, tmp_path):
    from compiler.backend.csim import compare

    path = DIGITS if model == "digits" else str(model_path(model))
    d = compiler.compile_model(path, "zcu104", weight_width=6, reuse_factor=8, per_channel_weights=True)
    assert d.options["per_channel"]
    shape = tuple(d.graph.tensors[d.graph.inputs[0]].shape)
    x = [np.random.default_rng(1).uniform(0, 1, size=(50,) + shape)]
    compiler.write_project(d, tmp_path / "o")
    r = compare(d, tmp_path / "o", x)
    assert r.samples == 50 and r.mismatches == 0


def test_per_channel_weights_are_free_before_a_requantizer(tmp_path):
    """Float weights read by the model's own quantizer: per-channel formats without a flag and
    without an extra node (the quantizer's per-channel shift undoes them); C-sim bit-exact."""
    from compiler.backend.csim import compare
    from tests.onnx_builders import quant_node

    rng = np.random.default_rng(5)
    w = rng.normal(0, 1, (12, 8)) * np.ldexp(1.0, -np.arange(8))   # columns 1x .. 1/128x
    q, inits = quant_node("q", "h", "y", 0.01, 8)
    m = make_model([helper.make_node("MatMul", ["x", "W"], ["h"], name="fc"), q], [("x", [12])], [("y", [8])],
                   [("W", w), *inits], qonnx=True)
    path = save(m, tmp_path / "wq.onnx")
    x = rng.normal(size=(200, 12))
    d = compiler.compile_model(str(path), "zcu104", calib=x, weight_width=6)
    assert d.options["per_channel"] == {"fc": 7} and [n.kind for n in d.graph.nodes()] == ["Dense", "Quant"]
    plain = compiler.compile_model(str(path), "zcu104", calib=x, weight_width=16)
    err = {k: np.abs(compiler.simulate(k_d, x) - x @ w).max() for k, k_d in (("chan", d), ("16", plain))}
    assert err["chan"] <= 2 * err["16"] + 0.01          # 6-bit per-channel weights, close to 16-bit ones
    compiler.write_project(d, tmp_path / "o")
    r = compare(d, tmp_path / "o", [x[:40]])
    assert r.mismatches == 0
