"""Unary element-wise ops (Neg, Abs, Sign, Shrink exact; Exp, Sqrt, Erf, Softsign, Gelu and
Pow tables; Pow's exact integer products): differential tests against onnxruntime on every
input code of a narrow input type and after a Dense layer, Gelu's turning point, errors,
and one C simulation covering every kernel bit for bit."""
import numpy as np
import pytest
from onnx import helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError
from compiler.frontend.reference import run_reference
from compiler.numerics import FixedType

from . import onnx_builders as B

NARROW = FixedType(10, 4, True, "AP_RND_CONV", "AP_SAT")       # [-8, 8), 1024 codes
NARROW_U = FixedType(10, 4, False, "AP_RND_CONV", "AP_SAT")    # [0, 16)

# name: (ONNX op, attributes, constant inputs after x, opset, unsigned input)
UNARY = {
    "Neg": ("Neg", {}, [], 13, False),
    "Abs": ("Abs", {}, [], 13, False),
    "Sign": ("Sign", {}, [], 13, False),
    "Shrink": ("Shrink", {"lambd": 0.75, "bias": 0.5}, [], 13, False),
    "ShrinkInexact": ("Shrink", {"lambd": 0.3, "bias": 0.1}, [], 13, False),
    "Exp": ("Exp", {}, [], 13, False),
    "Erf": ("Erf", {}, [], 13, False),
    "Softsign": ("Softsign", {}, [], 13, False),
    "Gelu": ("Gelu", {}, [], 20, False),
    "GeluTanh": ("Gelu", {"approximate": "tanh"}, [], 20, False),
    "Square": ("Pow", {}, [("e", np.float32(2.0))], 13, False),
    "Cube": ("Pow", {}, [("e", np.float32(3.0))], 13, False),
    "Pow5": ("Pow", {}, [("e", np.float32(5.0))], 13, False),      # too wide for exact: odd table
    "Pow1_5": ("Pow", {}, [("e", np.float32(1.5))], 13, True),
    "Sqrt": ("Sqrt", {}, [], 13, True),
    "PowHalf": ("Pow", {}, [("e", np.float32(0.5))], 13, True),
}
KIND_OF = {"Neg": "Neg", "Abs": "Abs", "Sign": "Sign", "Shrink": "Shrink", "ShrinkInexact": "Shrink", "Exp": "Exp",
           "Erf": "Erf", "Softsign": "Softsign", "Gelu": "Gelu", "GeluTanh": "Gelu", "Square": "Pow", "Cube": "Pow",
           "Pow5": "Pow", "Pow1_5": "Pow", "Sqrt": "Sqrt", "PowHalf": "Sqrt"}
KINDS = set(KIND_OF.values())


def _node(name, x, y, node_name):
    op, attrs, consts, opset, _ = UNARY[name]
    inits = [(f"{node_name}_{c}", v) for c, v in consts]
    return helper.make_node(op, [x] + [n for n, _ in inits], [y], name=node_name, **attrs), inits, opset


def single(name: str, c: int = 4):
    def build(rng):
        node, inits, opset = _node(name, "x", "y", "act")
        return B.make_model([node], [("x", [c])], [("y", [c])], inits, opset=opset)
    build.__name__ = f"single_{name.lower()}"
    return build


def after_dense(name: str, n_in: int = 6, n_out: int = 5):
    """Gemm (then Relu for ops that need x >= 0), then the op."""
    def build(rng):
        unsigned = UNARY[name][4]
        nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["h0" if unsigned else "h"], name="fc")]
        if unsigned:
            nodes.append(helper.make_node("Relu", ["h0"], ["h"], name="relu"))
        node, inits, opset = _node(name, "h", "y", "act")
        w, b = rng.normal(size=(n_in, n_out)) / 2, rng.normal(size=n_out) / 2
        return B.make_model(nodes + [node], [("x", [n_in])], [("y", [n_out])], [("W", w), ("B", b)] + inits,
                            opset=opset)
    build.__name__ = f"dense_{name.lower()}"
    return build


def softsign_pattern(rng, c=4):
    """PyTorch's Softsign export: x / (1 + |x|) as Abs, Add, Div (becomes one Softsign op)."""
    nodes = [helper.make_node("Abs", ["x"], ["a"], name="abs"), helper.make_node("Add", ["a", "one"], ["d"], name="add"),
             helper.make_node("Div", ["x", "d"], ["y"], name="act")]
    return B.make_model(nodes, [("x", [c])], [("y", [c])], [("one", np.float32(1.0))])


def neg_softmax(rng, c=6):
    """Softmin as PyTorch exports it: Neg, then Softmax."""
    nodes = [helper.make_node("Neg", ["x"], ["n"], name="act"), helper.make_node("Softmax", ["n"], ["y"], name="sm")]
    return B.make_model(nodes, [("x", [c])], [("y", [c])])


DIFFERENTIAL = {kind: [single(n) for n, k in KIND_OF.items() if k == kind] for kind in sorted(KINDS)}  # sorted: one test order in every xdist worker
DIFFERENTIAL["Softsign"] += [softsign_pattern]
DIFFERENTIAL["Neg"] += [neg_softmax]
for _name in ("Neg", "Shrink", "Exp", "Erf", "Softsign", "Gelu", "Square", "Pow5", "Sqrt"):
    DIFFERENTIAL[KIND_OF[_name]].append(after_dense(_name))
BUILDERS = [b for bs in DIFFERENTIAL.values() for b in bs]


def _op_nodes(design):
    return [n for n in design.graph.nodes() if n.kind in KINDS]


def _f32_slack(y) -> float:
    """onnxruntime computes in float32."""
    return 1e-6 + 4 * np.finfo(np.float32).eps * float(np.abs(y[np.isfinite(y)]).max(initial=0.0))


def _every_code(t: FixedType, size: int, rng) -> np.ndarray:
    codes = np.arange(t.min_code, t.max_code + 1)
    codes = np.resize(rng.permutation(codes), (-(-codes.size // size)) * size)
    return t.to_float(codes).reshape(-1, size)


@pytest.mark.parametrize("builder", [b for b in BUILDERS if b.__name__.startswith(("single", "softsign", "neg"))],
                         ids=lambda b: b.__name__)
def test_every_input_code_against_onnxruntime(builder, tmp_path, rng):
    """Every code of a 10-bit input type: the simulator is within the op's stated error of
    onnxruntime (exact ops: equal)."""
    path = B.save(builder(rng), tmp_path / "m.onnx")
    name = builder.__name__.removeprefix("single_")
    unsigned = any(n.lower() == name and UNARY[n][4] for n in UNARY)
    x_type = NARROW_U if unsigned else NARROW
    design = compiler.compile_model(path, "zcu104", input_type=x_type)
    (node, *_) = _op_nodes(design)
    g = design.graph
    x = _every_code(x_type, g.tensors[g.inputs[0]].size, rng)
    got = compiler.simulate(design, x)
    want = run_reference(path, x)[0]
    y_type = g.tensors[g.outputs[0]].type
    # results the output type holds (Erf's and Softsign's +1 saturate one lsb below, by that type's choice)
    held = (want >= y_type.min_value - y_type.lsb / 2) & (want <= y_type.max_value + y_type.lsb / 2)
    err = float(np.abs(got - want)[held].max())
    assert np.all(np.abs(got - want)[~held] <= y_type.lsb + _f32_slack(want))
    stated = node.op.max_error
    print(f"{builder.__name__}: {node.op.describe()} -> {y_type}: max abs error {err:.3g} (stated {stated:.3g}, "
          f"lsb {y_type.lsb:.3g}, {x.size} values)")
    if builder is neg_softmax:
        assert err < 2e-3   # Softmax's tables
    else:
        assert err <= stated + _f32_slack(want)
    if builder is not neg_softmax and (node.kind in ("Neg", "Abs", "Sign") or name == "shrink"):
        assert stated == 0.0 and err == 0.0
    if name in ("square", "cube"):
        assert node.op.exact and stated <= y_type.lsb / 2


@pytest.mark.parametrize("builder", [b for b in BUILDERS if b.__name__.startswith("dense")], ids=lambda b: b.__name__)
def test_after_dense(builder, tmp_path, rng):
    """Calibrated after a Gemm: the op's own error on its actual inputs is within the stated
    one; end to end within the stated error plus the Dense error through the op's slope."""
    path = B.save(builder(rng), tmp_path / "m.onnx")
    calib = rng.normal(size=(300, 6))
    design = compiler.compile_model(path, "zcu104", calib=calib)
    (node,) = _op_nodes(design)
    g = design.graph
    x = rng.normal(size=(400, 6))
    x_ir = g.tensors[g.inputs[0]].type.to_float(g.tensors[g.inputs[0]].type.quantize(x))
    trace = design.simulator().trace([x_ir])
    h_sim, y_sim = trace[node.inputs[0]], trace[node.outputs[0]]
    y_type = g.tensors[node.outputs[0]].type
    y_f = node.op.reference([h_sim])[0]
    held = (y_f >= y_type.min_value - y_type.lsb / 2) & (y_f <= y_type.max_value + y_type.lsb / 2)
    own = float(np.abs(y_sim - y_f)[held].max())
    assert own <= node.op.max_error + 1e-12
    want = run_reference(path, x_ir)[0]
    h_ref = run_reference(path, x_ir, outputs=["h"])[0]
    dense_err = float(np.abs(h_sim - h_ref).max())
    hx = np.linspace(h_ref.min() - 0.1, h_ref.max() + 0.1, 20001)[:, None]
    slope = float(np.nanmax(np.abs(np.diff(node.op.reference([hx])[0], axis=0))) / (hx[1, 0] - hx[0, 0]))
    inside = np.abs(want) <= y_type.max_value
    err = float(np.abs(y_sim - want)[inside].max())
    bound = node.op.max_error + slope * dense_err + _f32_slack(want)
    print(f"{builder.__name__}: {node.op.describe()} -> {y_type}: max abs error {err:.3g} (own {own:.3g}, stated "
          f"{node.op.max_error:.3g}, dense {dense_err:.3g}, bound {bound:.3g})")
    assert err <= bound


def test_gelu_table_is_sound_at_its_minimum(tmp_path, rng):
    """Gelu is not monotone (minimum at x = -0.7518): on an 18-bit input every code is
    measured, and the stated error, the bounds and the design hold there."""
    from compiler.ops.gelu import minimum_at

    t = FixedType(18, 3, True, "AP_RND_CONV", "AP_SAT")
    for approx in ("none", "tanh"):
        attrs = {} if approx == "none" else {"approximate": "tanh"}
        m = B.make_model([helper.make_node("Gelu", ["x"], ["y"], name="act", **attrs)], [("x", [1])], [("y", [1])],
                         opset=20)
        path = B.save(m, tmp_path / f"g_{approx}.onnx")
        design = compiler.compile_model(path, "zcu104", input_type=t)
        (node,) = _op_nodes(design)
        assert node.op.turning_points(False) == (minimum_at(approx),)
        x = t.to_float(np.arange(t.min_code, t.max_code + 1))[:, None]
        got = compiler.simulate(design, x)
        err = float(np.abs(got - node.op.reference([x])[0]).max())
        b = node.op.bounds([compiler.ops.Bounds(np.array([-2.0]), np.array([0.0]))])[0]
        assert b.min <= float(node.op.reference([np.array([-minimum_at(approx)])])[0][0]) - node.op.max_error + 1e-12
        print(f"Gelu {approx}: U_MIN {minimum_at(approx):.6f}, every-code error {err:.3g}, "
              f"stated {node.op.max_error:.3g}, {node.op.describe()}")
        assert err <= node.op.max_error
        assert float(got.min()) >= b.min


def test_exp_output_range_follows_the_bounds(tmp_path, rng):
    """Exp chooses the output's integer bits from its input's range: no overflow of a
    proven range; calibrated ranges saturate beyond the observed maximum."""
    path = B.save(single("Exp")(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", input_type=NARROW)
    (node,) = _op_nodes(design)
    y_type = design.graph.tensors[node.outputs[0]].type
    assert not y_type.signed and y_type.max_value >= np.exp(NARROW.max_value) and y_type.overflow == "AP_SAT"
    calib = rng.uniform(-1, 2, size=(100, 4))
    design = compiler.compile_model(path, "zcu104", calib=calib)
    y_type = design.graph.tensors[_op_nodes(design)[0].outputs[0]].type
    assert y_type.max_value < 16 and y_type.overflow == "AP_SAT"
    x_type = design.graph.tensors[design.graph.inputs[0]].type
    op = _op_nodes(design)[0].op
    far = compiler.simulate(design, np.full((1, 4), 50.0))   # the input saturates at its type's top
    assert np.all(np.abs(far - np.exp(x_type.max_value)) <= op.max_error)


@pytest.mark.parametrize("case, message", [
    ("sqrt_signed", "node 'act' (Sqrt): the input 'x' may be negative (type ap_fixed<16,6,AP_RND_CONV,AP_SAT>, down to -32)"),
    ("pow_frac_signed", "node 'act' (Pow): the input 'x' may be negative"),
    ("pow_computed", "node 'act' (Pow): the exponent must be a constant (initializer)"),
    ("pow_vector", "node 'act' (Pow): an exponent of shape (4,) is not supported (supported: a scalar)"),
    ("pow_negative", "node 'act' (Pow): exponent -1 is not supported (supported: exponents > 0)"),
    ("gelu_bad", "node 'act' (Gelu): approximate='fast' is not supported (supported: 'none', 'tanh')"),
    ("shrink_nan", "node 'act' (Shrink): attribute lambd=nan must be a finite number"),
])
def test_errors_name_node_and_op(case, message, tmp_path):
    x, y = [("x", [4])], [("y", [4])]
    if case == "sqrt_signed":
        m = B.make_model([helper.make_node("Sqrt", ["x"], ["y"], name="act")], x, y)
    elif case == "pow_frac_signed":
        m = B.make_model([helper.make_node("Pow", ["x", "e"], ["y"], name="act")], x, y, [("e", np.float32(1.5))])
    elif case == "pow_computed":
        m = B.make_model([helper.make_node("Relu", ["x"], ["r"], name="r"),
                          helper.make_node("Pow", ["x", "r"], ["y"], name="act")], x, y)
    elif case == "pow_vector":
        m = B.make_model([helper.make_node("Pow", ["x", "e"], ["y"], name="act")], x, y,
                         [("e", np.full(4, 2.0, dtype=np.float32))])
    elif case == "pow_negative":
        m = B.make_model([helper.make_node("Pow", ["x", "e"], ["y"], name="act")], x, y, [("e", np.float32(-1.0))])
    elif case == "gelu_bad":
        m = B.make_model([helper.make_node("Gelu", ["x"], ["y"], name="act", approximate="fast")], x, y, opset=20)
    else:
        m = B.make_model([helper.make_node("Shrink", ["x"], ["y"], name="act", lambd=float("nan"))], x, y)
    with pytest.raises(CompileError) as e:
        compiler.compile_model(B.save(m, tmp_path / "m.onnx"), "zcu104")
    assert message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


CSIM_OPS = ["Neg", "Abs", "Sign", "Shrink", "ShrinkInexact", "Exp", "Erf", "Softsign", "Gelu", "GeluTanh", "Square",
            "Cube", "Pow5", "Pow1_5", "Sqrt"]


def all_unary(rng, c=4):
    """Every kernel reading one input (Sqrt and Pow 1.5 after a Relu), the Softsign pattern,
    and Gemm -> Gelu; all outputs."""
    nodes, inits, outputs = [helper.make_node("Relu", ["x"], ["xr"], name="relu")], [], []
    for name in CSIM_OPS:
        src = "xr" if UNARY[name][4] else "x"
        node, i, _ = _node(name, src, f"y_{name.lower()}", name.lower())
        nodes.append(node)
        inits += i
        outputs.append((f"y_{name.lower()}", [c]))
    nodes += [helper.make_node("Abs", ["x"], ["ss_a"], name="ss_abs"),
              helper.make_node("Add", ["ss_a", "one"], ["ss_d"], name="ss_add"),
              helper.make_node("Div", ["x", "ss_d"], ["y_ss"], name="ss_div"),
              helper.make_node("Gemm", ["x", "W", "B"], ["h"], name="fc"),
              helper.make_node("Gelu", ["h"], ["y_fc_gelu"], name="fc_gelu")]
    inits += [("one", np.float32(1.0)), ("W", rng.normal(size=(c, 3))), ("B", rng.normal(size=3))]
    outputs += [("y_ss", [c]), ("y_fc_gelu", [3])]
    return B.make_model(nodes, [("x", [c])], outputs, inits, opset=20)


def test_every_unary_kernel_is_bit_exact_in_csim(tmp_path, rng):
    """One g++ build: every kernel (exact ops, magnitude/full/odd tables, exact products,
    Gelu's turning point) on a 12-bit input type, values beyond the input type's range too."""
    path = B.save(all_unary(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", input_type=FixedType(12, 4, True, "AP_RND_CONV", "AP_SAT"))
    kinds = {n.kind for n in design.graph.nodes()}
    assert KINDS <= kinds, KINDS - kinds
    assert {n.op.exact for n in design.graph.nodes() if n.kind == "Pow"} == {True, False}
    out = compiler.write_project(design, tmp_path / "out")
    x = np.concatenate([rng.normal(size=(200, 4)), rng.normal(scale=4, size=(150, 4)),
                        rng.choice([-100.0, 100.0, -8.0, 7.99, 0.0, -0.75, 0.75, 0.3, -0.3, 2.0 ** -8], size=(100, 4))])
    r = compare(design, out, x)
    print(r)
    assert r.samples == 450 and r.mismatches == 0, r
    again = compiler.load_design(out)  # the saved design simulates the same bits
    for a, b in zip(design.simulator().run([x]), again.simulator().run([x])):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("x_type", [FixedType(12, 4, False), FixedType(14, 10, False), FixedType(10, -2, False),
                                    FixedType(12, 6, True)], ids=str)
def test_sqrt_is_exactly_rounded_in_every_mode(x_type):
    """The integer square root with a guard and a sticky bit rounds as rounding sqrt(x)
    itself would, for every ap_fixed rounding mode, on every input code."""
    from compiler.ops.sqrt import Sqrt

    c = np.arange(max(x_type.min_code, 0), x_type.max_code + 1).astype(np.float64)
    for rounding in ("AP_RND", "AP_TRN", "AP_RND_CONV", "AP_RND_INF", "AP_RND_ZERO", "AP_RND_MIN_INF", "AP_TRN_ZERO"):
        for y_type in (FixedType(8, 3, False, rounding, "AP_SAT"), FixedType(16, 4, False, rounding, "AP_SAT"),
                       FixedType(6, 6, False, rounding, "AP_SAT")):
            got = Sqrt().simulator([x_type], [y_type])([c])[0]
            assert np.array_equal(got, y_type.quantize(np.sqrt(x_type.to_float(c))).astype(np.float64)), y_type
