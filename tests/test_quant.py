"""Quantized ONNX in every form: QONNX (Quant, BipolarQuant, Trunc), QDQ, QOperator; binary,
ternary and sparse layers. Simulator vs the model's own reference (qonnx's executor for
QONNX, onnxruntime for QDQ/QOperator), C++ bit-exact with the simulator."""
import subprocess
import sys

import numpy as np
import onnx
import pytest

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError
from compiler.frontend.reference import reference_executor, run_reference
from compiler.resources import data_dir

from . import onnx_builders as B
from . import onnx_builders_quant as Q
from .conftest import model_path

DIFFERENTIAL = {"Quant": [Q.qonnx_quant, Q.bipolar, Q.trunc_v1, Q.qdq_chain, Q.qlinear_matmul]}

QONNX_MODES = ["ROUND", "HALF_EVEN", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]


def _save(model, tmp_path, name="m.onnx"):
    p = tmp_path / name
    onnx.save(model, str(p))
    return p


def _grid(design, x):
    t = design.graph.tensors[design.graph.inputs[0]].type
    return t.to_float(t.quantize(x))


def _steps(design, name, real):
    """Real values of tensor `name` in units of its quantization step."""
    t = design.graph.tensors[name]
    return np.asarray(real) / (np.asarray(t.scale) * t.type.lsb)


def _compare_out(design, path, x):
    """(fraction exact, fraction within one step, max steps) of the single output."""
    name = design.graph.outputs[0]
    ours = _steps(design, name, compiler.simulate(design, x))
    ref = _steps(design, name, run_reference(path, x)[0].reshape(ours.shape))
    d = np.abs(np.round(ours) - np.round(ref))
    return float((d == 0).mean()), float((d <= 1).mean()), float(d.max())


# ---- single QONNX quantizers ---------------------------------------------------------------
@pytest.mark.parametrize("mode", QONNX_MODES)
def test_qonnx_rounding_modes_exact(mode, tmp_path, rng):
    path = _save(Q.qonnx_quant(mode=mode), tmp_path)
    design = compiler.compile_model(path)
    # exact ties at many magnitudes, plus random values, on the input's grid
    ties = (rng.integers(-40, 40, (300, 8)) + 0.5) * 2.0 ** -3
    x = _grid(design, np.concatenate([ties, rng.normal(scale=3, size=(300, 8))]))
    exact, _, worst = _compare_out(design, path, x)
    assert exact == 1.0, f"{mode}: {worst} steps"


def test_quantizer_after_a_quantizer_keeps_both(tmp_path, rng):
    """Relu -> Quant(scale 0.25, zero point 3) -> Quant(scale 1, 2 bits): the second
    quantizer is a plain fixed-point cast of the first's output, and must not be lost
    (a quantizer types its own output; the cast stays a stage)."""
    from onnx import helper

    from .onnx_builders import make_model, quant_node

    q1, i1 = quant_node("q1", "r", "a", 0.25, 8, signed=0)
    q2, i2 = quant_node("q2", "a", "y", 1.0, 2, signed=1)
    i1 = [(k, np.float32(3.0)) if k == "q1_z" else (k, v) for k, v in i1]
    m = make_model([helper.make_node("Relu", ["x"], ["r"], name="relu"), q1, q2], [("x", [6])], [("y", [6])],
                   i1 + i2, qonnx=True)
    path = _save(m, tmp_path)
    design = compiler.compile_model(path)
    x = _grid(design, rng.normal(scale=4, size=(500, 6)))
    exact, _, worst = _compare_out(design, path, x)
    assert exact == 1.0, worst


def test_round_to_zero_matches_its_definition(tmp_path, rng):
    """qonnx's executor does not know ROUND_TO_ZERO (a Brevitas spelling of DOWN): checked
    against the definition instead."""
    path = _save(Q.qonnx_quant(mode="ROUND_TO_ZERO", scale=0.25, bits=5), tmp_path)
    design = compiler.compile_model(path)
    x = _grid(design, rng.normal(scale=3, size=(500, 8)))
    want = np.clip(np.fix(x / 0.25), -16, 15) * 0.25
    assert np.array_equal(compiler.simulate(design, x), want)


@pytest.mark.parametrize("signed,narrow,bits", [(1, 0, 4), (1, 1, 4), (0, 0, 3), (0, 1, 3), (1, 1, 2), (0, 0, 1)])
def test_qonnx_signed_narrow_combinations_exact(signed, narrow, bits, tmp_path, rng):
    path = _save(Q.qonnx_quant(signed=signed, narrow=narrow, bits=bits, scale=0.125), tmp_path)
    design = compiler.compile_model(path)
    x = _grid(design, rng.normal(scale=2, size=(500, 8)))
    exact, _, worst = _compare_out(design, path, x)
    assert exact == 1.0, worst


def test_qonnx_per_channel_scale_and_zero_point(tmp_path, rng):
    scale = rng.uniform(0.05, 0.4, 8)          # non-power-of-two, per channel
    zero = rng.integers(-3, 4, 8).astype(float)
    path = _save(Q.qonnx_quant(scale=scale, zero=zero, bits=5, signed=1), tmp_path)
    design = compiler.compile_model(path)
    x = _grid(design, rng.normal(scale=2, size=(2000, 8)))
    exact, within, worst = _compare_out(design, path, x)
    print(f"per-channel scale + zero point: exact {exact:.4%}, within 1 step {within:.4%}, worst {worst}")
    assert within >= 0.999 and exact >= 0.999


def test_qonnx_domains_in_the_wild(tmp_path, rng):
    for domain in ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "finn"):
        path = _save(Q.qonnx_quant(domain=domain), tmp_path, f"{domain}.onnx")
        design = compiler.compile_model(path)
        assert [n.kind for n in design.graph.nodes()] == ["Quant"]
        x = _grid(design, rng.normal(scale=2, size=(200, 8)))
        assert _compare_out(design, path, x)[0] == 1.0


def test_bipolar_and_trunc_exact(tmp_path, rng):
    for builder in (Q.bipolar, Q.trunc_v1):
        path = _save(builder(), tmp_path, builder.__name__ + ".onnx")
        design = compiler.compile_model(path)
        x = _grid(design, rng.normal(scale=2, size=(500, 8)))
        exact, _, worst = _compare_out(design, path, x)
        assert exact == 1.0, (builder.__name__, worst)


@pytest.mark.parametrize("per_channel", [False, True])
def test_qonnx_layer_with_folded_batchnorm(per_channel, tmp_path, rng):
    """Non-power-of-two weight scales (per channel too), BN with negative gammas folded
    into the output quantizer: at most one step from qonnx, on >= 99.9% exactly."""
    path = _save(Q.qonnx_mlp(rng, per_channel=per_channel), tmp_path)
    design = compiler.compile_model(path)
    assert "BatchNormalization" not in " ".join(n.kind for n in design.graph.nodes())
    x = _grid(design, rng.normal(size=(3000, 10)))
    exact, within, worst = _compare_out(design, path, x)
    print(f"QONNX layer + BN (per-channel={per_channel}): exact {exact:.4%}, within 1 step {within:.4%}")
    # non-power-of-two scales: near-ties round differently in qonnx's float32 arithmetic
    assert within >= 0.999 and exact >= 0.999


# ---- QDQ and QOperator -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,zero,per_axis", [(np.int8, 3, False), (np.uint8, 130, False), (np.int8, -5, True)])
def test_qdq_against_onnxruntime(dtype, zero, per_axis, tmp_path, rng):
    path = _save(Q.qdq_chain(rng, dtype=dtype, zero=zero, per_axis=per_axis), tmp_path)
    design = compiler.compile_model(path)
    x = rng.normal(scale=2, size=(3000, 12))
    exact, within, worst = _compare_out(design, path, x)
    print(f"QDQ {np.dtype(dtype).name} zp={zero} per-axis={per_axis}: exact {exact:.4%}, within 1 step {within:.4%}, "
          f"worst {worst:g}")
    assert within >= 0.999


@pytest.mark.parametrize("signed", [True, False], ids=["int4", "uint4"])
def test_qdq_int4_against_onnxruntime_and_csim(signed, tmp_path, rng):
    """Opset 21's 4-bit QDQ (packed int4/uint4 activations and per-axis int4 weights): exact
    against onnxruntime, and the C++ bit-exact with the simulator."""
    path = _save(Q.qdq_int4(rng, signed=signed), tmp_path)
    design = compiler.compile_model(path)
    x = rng.normal(scale=2, size=(2000, 12))
    exact, within, worst = _compare_out(design, path, x)
    print(f"QDQ {'int4' if signed else 'uint4'}: exact {exact:.4%}, within 1 step {within:.4%}, worst {worst:g}")
    assert exact == 1.0
    r = compare(design, compiler.write_project(design, tmp_path / "out"), x[:500])
    assert r.samples == 500 and r.mismatches == 0


@pytest.mark.parametrize("builder", [Q.qlinear_matmul, Q.matmul_integer, Q.qgemm], ids=lambda b: b.__name__)
def test_qoperator_against_onnxruntime(builder, tmp_path, rng):
    path = _save(builder(rng), tmp_path)
    design = compiler.compile_model(path)
    x = rng.normal(scale=2, size=(3000, 9))
    if builder is Q.matmul_integer:  # a float output: compare real values
        err = np.abs(compiler.simulate(design, x) - run_reference(path, x)[0]).max()
        assert err < 1e-4, err
        return
    exact, within, worst = _compare_out(design, path, x)
    print(f"{builder.__name__}: exact {exact:.4%}, within 1 step {within:.4%}, worst {worst:g}")
    assert within >= 0.999


@pytest.mark.parametrize("builder", [Q.qlinear_conv, Q.conv_integer], ids=lambda b: b.__name__)
def test_qoperator_convolutions_against_onnxruntime(builder, tmp_path, rng):
    path = _save(builder(rng), tmp_path)
    design = compiler.compile_model(path)
    x = rng.normal(scale=2, size=(300,) + tuple(design.graph.input_layouts[0].onnx_shape))
    got = compiler.simulate(design, x)
    ref = run_reference(path, x)[0]
    if builder is Q.conv_integer:  # a float output: real values
        assert np.abs(got - ref).max() < 1e-4
        return
    step = 0.05
    d = np.abs(np.round(got / step) - np.round(ref / step))
    print(f"{builder.__name__}: exact {(d == 0).mean():.4%}, within 1 step {(d <= 1).mean():.4%}")
    assert (d <= 1).mean() >= 0.999


def test_mixed_formats_are_a_clear_error(tmp_path):
    with pytest.raises(CompileError, match="node 'dq_other_scale' \\(DequantizeLinear\\).*scale"):
        compiler.compile_model(_save(Q.mismatched_qdq(), tmp_path))


def test_minifloat_is_refused_clearly(tmp_path):
    p = subprocess.run([sys.executable, "-m", "compiler.cli", model_path("D11_fp8_floatquant_gold"), "-o",
                        tmp_path / "o"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "(FloatQuant)" in p.stderr and "minifloat" in p.stderr
    assert not (tmp_path / "o").exists()


# ---- dev models ----------------------------------------------------------------------------------
def _onnx_layout(design, x):
    """IR-layout inputs -> the model's own layout, for its reference executor."""
    return design.graph.input_layouts[0].to_onnx(x)


def _inputs(name, design, rng, n):
    shape = design.graph.tensors[design.graph.inputs[0]].shape
    if name.startswith("D09"):  # MFCC features, in the model's own layout
        return design.graph.input_to_ir(rng.normal(scale=30, size=(n, 490)))
    if name.startswith("D07"):  # its input is declared bipolar
        return rng.choice([-1.0, 1.0], size=(n,) + shape)
    if name.startswith("D06"):  # MNIST pixels in [0, 1]
        return _grid(design, rng.random((n,) + shape))
    return _grid(design, rng.normal(size=(n,) + shape))


def _quantizer_agreement(name, rng, n=1000):
    path = model_path(name)
    design = compiler.compile_model(path)
    x = _inputs(name, design, rng, n)
    trace = design.simulator().trace([x])
    nodes = [nd for nd in design.graph.nodes() if nd.kind == "Quant" and not nd.outputs[0].endswith("__real")]
    refs = run_reference(path, _onnx_layout(design, x), outputs=[nd.outputs[0] for nd in nodes])
    executor = reference_executor(path)
    out = {}
    for nd, ref in zip(nodes, refs):
        ours = _steps(design, nd.outputs[0], trace[nd.outputs[0]])
        if executor == "onnxruntime":  # a QuantizeLinear's output there is q itself
            ref = np.asarray(ref) - np.asarray(nd.op.zero_point)
        else:
            ref = _steps(design, nd.outputs[0], ref)
        ref = np.asarray(ref)
        if ref.ndim >= 3:  # an image in the model's channels-first layout; the IR is channels-last
            ref = np.moveaxis(ref, 1, -1)
        d = np.abs(np.round(ours) - np.round(ref.reshape(ours.shape)))
        out[nd.outputs[0]] = (float((d == 0).mean()), float((d <= 1).mean()), d.size)
    return design, x, out


@pytest.mark.parametrize("name", ["D06_tfc_binary_w1a1", "D07_unsw_mlp_w2a2_sparse"])
def test_power_of_two_qonnx_models_exact_at_every_quantizer(name, rng):
    """Their arithmetic is integer throughout; D07's scales are not powers of two, but its
    integer requantization still reproduces qonnx's float execution exactly here."""
    design, x, agreement = _quantizer_agreement(name, rng)
    for tensor, (exact, _, n) in agreement.items():
        print(f"{name} {tensor}: {exact:.4%} of {n} exact")
        assert exact == 1.0
    ref = run_reference(model_path(name), _onnx_layout(design, x))[0]
    err = np.abs(compiler.simulate(design, x).reshape(ref.shape) - ref)
    print(f"{name} output: max abs error {err.max():.3g} (float32 reference)")
    assert err.max() <= 1e-5 * max(1.0, np.abs(ref).max())


def test_qdq_mlp_within_one_step(rng):
    design, x, agreement = _quantizer_agreement("D12_jet_mlp_qdq_int8_generated", rng)
    for tensor, (exact, within, n) in agreement.items():
        print(f"D12 {tensor}: exact {exact:.4%}, within 1 step {within:.4%} of {n}")
        assert within >= 0.999
    *inner, last = agreement.values()
    assert all(e == 1.0 for e, _, _ in inner)  # before the LUT softmax every quantizer is exact


def test_qdq_cnn_within_one_step(rng):
    """D09 (MLPerf Tiny KWS DS-CNN, tf2onnx QDQ int8): every quantizer, the output one too,
    within one step of onnxruntime on >= 99.9% of elements (near-ties round differently in
    its float32 convolutions and accumulate a little with depth)."""
    design, x, agreement = _quantizer_agreement("D09_kws_dscnn_qdq_int8", rng, n=300)
    assert "input_1" in design.graph.input_quantizers
    for tensor, (exact, within, n) in agreement.items():
        print(f"D09 {tensor}: exact {exact:.4%}, within 1 step {within:.4%} of {n}")
        assert within >= 0.999


@pytest.mark.parametrize("name,n", [("D06_tfc_binary_w1a1", 300), ("D07_unsw_mlp_w2a2_sparse", 300),
                                    ("D12_jet_mlp_qdq_int8_generated", 1000)])
def test_quantized_models_csim_bit_exact(name, n, tmp_path, rng):
    design = compiler.compile_model(model_path(name))
    out = compiler.write_project(design, tmp_path / "out")
    x = _inputs(name, design, rng, n)
    if not name.startswith("D07"):
        x = np.concatenate([x, _grid(design, rng.normal(scale=8, size=x.shape))])
    r = compare(design, out, x.reshape(len(x), -1))
    print(f"{name}: {r.samples} samples, {r.mismatches} mismatches")
    assert r.mismatches == 0


def test_binary_layers_use_no_dsp_and_no_multiplication(tmp_path):
    design = compiler.compile_model(model_path("D06_tfc_binary_w1a1"))
    dense = [n for n in design.graph.nodes() if n.kind == "Dense"]
    assert dense and all(n.op.kernel == "xnor" for n in dense)
    assert compiler.estimate(design).totals["dsp"] == 0
    out = compiler.write_project(design, tmp_path / "out")
    params = (out / "firmware" / "parameters.h").read_text()
    assert params.count("static const int kernel = 2;") == len(dense)
    header = (data_dir("templates") / "kernels" / "qc_dense.h").read_text()
    for variant in ("Lane<SIGNED>", "Lane<XNOR>"):  # a lane's function of its input and weight
        body = header[header.index(f"struct {variant} {{"):]
        body = body[body.index(" of("):]
        body = body[:body.index("\n    }\n")]
        code = "\n".join(line.split("//")[0] for line in body.splitlines())
        assert "*" not in code, f"{variant} multiplies data: {code}"


def test_sparse_layers_count_only_nonzero_multipliers():
    design = compiler.compile_model(model_path("D07_unsw_mlp_w2a2_sparse"), reuse_factor=1)
    doc = compiler.estimate(design).as_dict()
    first = next(l for l in doc["layers"] if l["op"].startswith("Dense"))
    d = first["detail"]
    print(f"D07 first layer: sparsity {d['sparsity']:.1%}, {d['multipliers']} of {d['products']} products kept")
    assert d["sparsity"] > 0.9 and d["multipliers"] == d["nonzero_weights"] < d["products"]
    assert d["multipliers_saved"] == d["products"] - d["nonzero_weights"]
    assert all(l["dsp"] == 0 for l in doc["layers"] if l["op"].startswith("Dense"))


def test_float_binary_weights_are_lowered(tmp_path, rng):
    path = _save(Q.float_binary_mlp(rng), tmp_path)
    design = compiler.compile_model(path)
    (dense,) = [n for n in design.graph.nodes() if n.kind == "Dense"]
    assert dense.op.kernel == "signed" and set(np.unique(dense.op.weight)) <= {-1.0, 1.0}
    x = rng.normal(size=(500, 16))
    err = np.abs(compiler.simulate(design, x) - run_reference(path, x)[0]).max()
    assert err < 0.01, err


def test_weights_quantized_in_the_graph_qcdq(tmp_path, rng):
    """Brevitas' QCDQ export quantizes float weights in the graph (QuantizeLinear, Clip,
    DequantizeLinear): the QuantizeLinear of a constant gives its integer codes, which the
    Clip and the DequantizeLinear then read (a real value read as codes was a wrong design)."""
    from onnx import TensorProto, helper, numpy_helper

    w = rng.normal(scale=0.3, size=(4, 6)).astype(np.float32)
    s = np.float32(np.abs(w).max() / 127)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array(s), "s"),
             numpy_helper.from_array(np.array(0, dtype=np.int8), "z"),
             numpy_helper.from_array(np.array(-127, dtype=np.int8), "lo"),
             numpy_helper.from_array(np.array(127, dtype=np.int8), "hi")]
    nodes = [helper.make_node("QuantizeLinear", ["w", "s", "z"], ["wq"], name="wq"),
             helper.make_node("Clip", ["wq", "lo", "hi"], ["wc"], name="wc"),
             helper.make_node("DequantizeLinear", ["wc", "s", "z"], ["wd"], name="wd"),
             helper.make_node("Gemm", ["x", "wd"], ["y"], name="fc", transB=1)]
    g = helper.make_graph(nodes, "qcdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    path = tmp_path / "qcdq.onnx"
    onnx.save(m, str(path))
    x = rng.normal(size=(300, 6))
    design = compiler.compile_model(path, "zcu104", calib=x)
    node = next(n for n in design.graph.nodes() if n.kind == "Dense")
    codes = np.clip(np.round(w / s), -127, 127).T
    assert np.array_equal(node.op.weight, codes)   # the codes, on their grid
    t_in, t_out = (design.graph.tensors[node.inputs[0]], design.graph.tensors[node.outputs[0]])
    assert np.allclose(np.asarray(t_out.scale) / np.asarray(t_in.scale), s)   # s rides in the output's scale
    want = run_reference(path, x)[0]
    assert np.abs(compiler.simulate(design, x) - want).max() <= 1e-3 * np.abs(want).max()


def test_calibration_sees_the_input_quantizers_codes(tmp_path, rng):
    """With a model quantizer on the input (applied on the host, scale 0.03), calibration runs
    the float semantics on that quantizer's codes: the formats it picks then hold the data
    (they were sized for values 1/0.03 too small, and saturated)."""
    from onnx import helper

    q, qi = B.quant_node("qin", "x", "xq", 0.0331, 8)
    w = rng.normal(size=(6, 4))
    m = B.make_model([q, helper.make_node("MatMul", ["xq", "W"], ["y"], name="fc")], [("x", [6])], [("y", [4])],
                     qi + [("W", w)], qonnx=True)
    path = B.save(m, tmp_path / "m.onnx")
    x = rng.normal(size=(300, 6))
    uncal = compiler.compile_model(path, "zcu104")
    cal = compiler.compile_model(path, "zcu104", calib=x)
    want = run_reference(path, x)[0]
    for design in (uncal, cal):
        assert np.abs(compiler.simulate(design, x) - want).max() <= 1e-3 * np.abs(want).max()
