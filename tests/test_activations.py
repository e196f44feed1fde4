"""Activation ops (Clip/ReLU6, LeakyRelu/PRelu, HardSigmoid, HardSwish, Elu/Selu, Sigmoid, Tanh,
Softplus, Swish/SiLU): differential tests against onnxruntime / qonnx on every input code, after a Dense
layer, on extreme inputs, pre-typed (quantized) outputs, errors, report, and one C simulation
covering every kernel."""
import numpy as np
import pytest

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError
from compiler.frontend.reference import run_reference
from compiler.numerics import FixedType
from compiler.report import build_report, format_table

from . import onnx_builders as B
from . import onnx_builders_act as A

S, D, Q = A.single, A.after_dense, A.quantized
DIFFERENTIAL = {
    "Sigmoid": [S("Sigmoid"), D("Sigmoid"), Q("Sigmoid"), Q("Sigmoid", "ROUND")],
    "Tanh": [S("Tanh"), D("Tanh"), Q("Tanh")],
    "Softplus": [S("Softplus"), D("Softplus")],
    "Elu": [S("Elu"), S("Selu"), D("Selu"), Q("Selu", "ROUND")],
    "PRelu": [S("LeakyRelu"), S("PRelu"), A.prelu_chw, D("LeakyRelu"), D("PRelu"), Q("LeakyRelu")],
    "HardSigmoid": [S("HardSigmoid"), D("HardSigmoid")],
    "HardSwish": [S("HardSwish"), D("HardSwish")],
    "Swish": [S("Swish"), D("Swish"), Q("Swish"), A.silu(after_dense=False), A.silu(after_dense=True)],
    "Clip": [S("Relu6"), S("ClipAttrs"), S("ClipMinOnly"), D("Relu6")],
}
KINDS = set(DIFFERENTIAL)
BUILDERS = [b for bs in DIFFERENTIAL.values() for b in bs]
WIDE = FixedType(32, 24, True, "AP_RND_CONV", "AP_SAT")   # |x| up to 8.4e6


def _act_nodes(design):
    return [n for n in design.graph.nodes() if n.kind in KINDS]


def _lipschitz(op) -> float:
    """Largest slope of the op's float function (numerically, over |x| <= 64)."""
    x = np.linspace(-64, 64, 1 << 17)[:, None]
    y = op.reference([x])[0]
    return float(np.max(np.abs(np.diff(y, axis=0))) / (x[1, 0] - x[0, 0]))


def _f32_slack(y) -> float:
    """onnxruntime computes in float32."""
    return 1e-6 + 4 * np.finfo(np.float32).eps * float(np.abs(y).max(initial=0.0))


def _inputs(design, rng, n=600):
    """(IR layout, model layout) inputs: every code of a narrow input type (as many rows as
    it takes), else grid samples including the extremes."""
    g = design.graph
    t = g.tensors[g.inputs[0]]
    size = t.size
    if t.type.width <= 18:
        codes = np.arange(t.type.min_code, t.type.max_code + 1)
        codes = np.resize(rng.permutation(codes), (-(-codes.size // size)) * size)
        x_ir = t.type.to_float(codes).reshape((-1,) + t.shape)
    else:
        raw = np.concatenate([rng.normal(scale=4.0, size=(n,) + t.shape),
                              rng.choice([-1e9, 1e9, -1e4, 1e4, 0.0], size=(20,) + t.shape)])
        x_ir = t.type.to_float(t.type.quantize(raw))
    return x_ir, g.input_layouts[0].to_onnx(x_ir)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_activation_against_reference_executor(builder, tmp_path, rng):
    path = B.save(builder(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    (node,) = _act_nodes(design)
    op, g = node.op, design.graph
    x_ir, x = _inputs(design, rng)
    got = g.output_to_onnx(design.simulator().run([x_ir])[0])
    want = run_reference(path, x)[0]
    err = float(np.abs(got - want).max())
    y_type = g.tensors[node.outputs[0]].type
    if builder.__name__.startswith("quantized"):
        # every input code has its own table entry or exact arithmetic, rounded once with the
        # model's quantizer: bit-exact against the QONNX reference
        print(f"{builder.__name__}: {op.describe()} -> {y_type}: max abs error vs qonnx {err:.3g}")
        assert err == 0.0
        return
    bound = op.max_error + _f32_slack(want)
    note = ""
    if builder.__name__.startswith("dense"):
        # the activation sees the Dense layer's rounded output: its own error, plus the
        # Dense error through the function's slope
        h_sim = design.simulator().trace([x_ir])[node.inputs[0]]
        h_ref = run_reference(path, x, outputs=["h"])[0]
        dense_err = float(np.abs(h_sim - h_ref).max())
        bound += _lipschitz(op) * dense_err
        y_sim, y_f = design.simulator().trace([x_ir])[node.outputs[0]], op.reference([h_sim])[0]
        held = (y_f >= y_type.min_value - y_type.lsb / 2) & (y_f <= y_type.max_value + y_type.lsb / 2)
        own = float(np.abs(y_sim - y_f)[held].max())
        assert own <= op.max_error  # the stated accuracy, on the op's actual inputs (that the type holds)
        note = f", dense error {dense_err:.3g}, own {own:.3g}"
    print(f"{builder.__name__}: {op.describe()} -> {y_type}: max abs error {err:.3g} "
          f"(stated {op.max_error:.3g}, lsb {y_type.lsb:.3g}, bound {bound:.3g}{note}, {x.size} values)")
    assert err <= bound


@pytest.mark.parametrize("kind", ["Sigmoid", "Tanh", "Softplus", "Elu", "Selu", "LeakyRelu", "PRelu", "HardSigmoid",
                                  "HardSwish", "Relu6", "Swish"])
def test_extreme_inputs(kind, tmp_path, rng):
    """A 32-bit input type (|x| up to 8e6): clamps before indexing, saturating constants,
    no overflow; errors within the stated accuracy (measured on sampled codes here)."""
    path = B.save(S(kind, c=5)(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", input_type=WIDE)
    (node,) = _act_nodes(design)
    x_ir, x = _inputs(design, rng, n=2000)
    got = design.simulator().run([x_ir])[0]
    want = run_reference(path, x)[0]
    y_type = design.graph.tensors[node.outputs[0]].type
    err = float(np.abs(got - want).max())
    print(f"{kind}: {node.op.describe()} -> {y_type}: |x| <= {np.abs(x).max():.3g}, max abs error {err:.3g} "
          f"(stated {node.op.max_error:.3g}, lsb {y_type.lsb:.3g})")
    assert err <= node.op.max_error + _f32_slack(want)
    if kind not in ("Sigmoid", "Tanh", "Softplus", "Elu", "Selu", "Swish"):
        assert node.op.max_error < y_type.lsb  # exact arithmetic: constants precise enough at any range


def test_accuracy_statements(tmp_path, rng):
    """Exact ops state less than one output lsb (0 for ReLU6), table ops a measured error of
    the expected size; the report prints table size and accuracy."""
    expect_lut = {"Sigmoid": 1.2e-3, "Tanh": 2e-3, "Softplus": 3e-3, "Elu": 4e-3, "Selu": 8e-3}
    rows = []
    for kind in ["Sigmoid", "Tanh", "Softplus", "Elu", "Selu", "LeakyRelu", "PRelu", "HardSigmoid", "HardSwish",
                 "Relu6", "ClipAttrs"]:
        path = B.save(S(kind)(rng), tmp_path / f"{kind}.onnx")
        design = compiler.compile_model(path, "zcu104")
        (node,) = _act_nodes(design)
        y_type = design.graph.tensors[node.outputs[0]].type
        doc = build_report(design, compiler.estimate(design))
        (layer,) = doc["layers"]
        rows.append(f"{kind:12s} {layer['style']:16s} {layer['op']:60s} entries={layer.get('table_entries')} "
                    f"max_err={layer['max_abs_error']:.3g} lsb={y_type.lsb:.3g}")
        assert layer["max_abs_error"] == node.op.max_error
        if kind in expect_lut:
            assert layer["style"] == "activation_lut" and layer["table_entries"] == 1024
            assert 0 < node.op.max_error < expect_lut[kind]
            assert "max abs error" in format_table(doc)
        else:
            assert layer["style"] == "elementwise_pwl" and "table_entries" not in layer
            assert node.op.max_error < y_type.lsb
    assert "(q 655*2^-16)" in "\n".join(rows)  # LeakyRelu's quantized alpha is stated
    print("\n".join(rows))


def test_relu6_is_exact_and_keeps_the_grid(tmp_path, rng):
    path = B.save(S("Relu6")(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    (node,) = _act_nodes(design)
    assert node.op.max_error == 0.0
    assert design.graph.tensors[node.outputs[0]].type == FixedType(13, 3, False)  # [0, 6] on the input's grid


def test_mirrored_tables_only_where_exact(tmp_path, rng):
    """Round-to-nearest outputs mirror sigmoid/tanh tables (half the table for the same
    step); a FLOOR quantizer does not commute with the mirror, so the table covers x."""
    for builder, full in ((S("Sigmoid"), False), (Q("Sigmoid", "ROUND"), False), (Q("Sigmoid"), True),
                          (Q("Tanh"), True)):
        design = compiler.compile_model(B.save(builder(rng), tmp_path / "m.onnx"), "zcu104")
        (node,) = _act_nodes(design)
        assert node.op.lut_full is full, builder.__name__


def test_calibrated_types(tmp_path, rng):
    """With calibration data, outputs are narrowed to the observed range (saturating)."""
    path = B.save(D("Selu")(rng), tmp_path / "m.onnx")
    calib = rng.normal(size=(200, 6))
    design = compiler.compile_model(path, "zcu104", calib=calib)
    (node,) = _act_nodes(design)
    assert design.graph.tensors[node.outputs[0]].type.overflow == "AP_SAT"
    x = rng.normal(size=(300, 6))
    err = np.abs(compiler.simulate(design, x) - run_reference(path, x)[0])
    inside = np.abs(run_reference(path, x)[0]) < design.graph.tensors[node.outputs[0]].type.max_value
    print(f"calibrated Selu: max abs error {err[inside].max():.3g} (stated {node.op.max_error:.3g})")
    assert err[inside].max() < 0.05


@pytest.mark.parametrize("case, message", [
    ("clip_computed_min", "node 'act' (Clip): min must be a constant"),
    ("clip_vector_min", "node 'act' (Clip): min of shape (2,) is not supported (supported: a scalar)"),
    ("prelu_slope_too_long", "node 'act' (PRelu): the slope of shape (1, 6) does not broadcast"),
    ("prelu_computed_slope", "node 'act' (PRelu): slope must be a constant"),
])
def test_errors_name_node_and_op(case, message, tmp_path, rng):
    from onnx import helper

    if case == "clip_computed_min":
        nodes = [helper.make_node("Relu", ["x"], ["r"], name="r"),
                 helper.make_node("Clip", ["x", "r"], ["y"], name="act")]
        m = B.make_model(nodes, [("x", [4])], [("y", [4])])
    elif case == "clip_vector_min":
        m = B.make_model([helper.make_node("Clip", ["x", "lo"], ["y"], name="act")], [("x", [2])], [("y", [2])],
                         [("lo", np.zeros(2))])
    elif case == "prelu_slope_too_long":
        m = B.make_model([helper.make_node("PRelu", ["x", "s"], ["y"], name="act")], [("x", [3, 2, 5])],
                         [("y", [3, 2, 5])], [("s", rng.normal(size=(1, 6)))])
    else:
        nodes = [helper.make_node("Relu", ["x"], ["r"], name="r"),
                 helper.make_node("PRelu", ["x", "r"], ["y"], name="act")]
        m = B.make_model(nodes, [("x", [4])], [("y", [4])])
    with pytest.raises(CompileError) as e:
        compiler.compile_model(B.save(m, tmp_path / "m.onnx"), "zcu104")
    assert message in str(e.value), str(e.value)


def test_every_activation_kernel_is_bit_exact_in_csim(tmp_path, rng):
    """One g++ build: every activation kernel (mirrored, full and exact-coverage tables,
    saturating and quantizer-typed outputs, a Dense -> Selu chain) on a 24-bit input type,
    with values far beyond the tables' spans and beyond the input type's range."""
    path = B.save(A.all_activations(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", input_type=FixedType(24, 14, True, "AP_RND_CONV", "AP_SAT"))
    kinds = {n.kind for n in design.graph.nodes()}
    assert KINDS <= kinds, KINDS - kinds
    assert {n.op.lut_full for n in design.graph.nodes() if n.kind == "Sigmoid"} == {True, False}
    out = compiler.write_project(design, tmp_path / "out")
    x = np.concatenate([rng.normal(size=(250, 8)), rng.normal(scale=8, size=(150, 8)),
                        rng.normal(scale=3e3, size=(100, 8)),
                        rng.choice([-1e7, 1e7, -8192, 8191.999, 0.0, -2.0 ** -10, 2.0 ** -10], size=(100, 8))])
    r = compare(design, out, x)
    print(r)
    assert r.samples == 600 and r.mismatches == 0, r
    again = compiler.load_design(out)  # the saved design simulates the same bits
    for a, b in zip(design.simulator().run([x]), again.simulator().run([x])):
        assert np.array_equal(a, b)
