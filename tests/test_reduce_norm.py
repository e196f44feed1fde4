"""Reductions and normalizations (Softmax and LogSoftmax on any axis, ReduceSum/Mean/Max/Min,
InstanceNormalization, LayerNormalization): differential tests against onnxruntime on every
layout case (per item, per pixel over channels, over spatial axes, through a data-moving
layout), opset < 13 Softmax semantics, error messages, and one C simulation covering every
kernel bit-exact."""
import numpy as np
import pytest
from onnx import helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError
from compiler.frontend.reference import run_reference

from . import onnx_builders as B


def _conv(c_in: int, c_out: int, rng, out="h"):
    """A 1x1 Conv: its output is channels-last inside (the layout a real network hands on)."""
    w = rng.normal(scale=0.5, size=(c_out, c_in, 1, 1))
    return helper.make_node("Conv", ["x", "w"], [out], name="conv"), [("w", w)]


def image_model(make, c=4, hw=(5, 6), c_out=4, opset=13, conv=True):
    """x (N, c, H, W) [-> Conv 1x1] -> the op(s) `make(rng, src)` returns (nodes, outputs, inits)."""
    def builder(rng):
        nodes, inits = [], []
        src = "x"
        if conv:
            n, inits = _conv(c, c_out, rng)
            nodes, src = [n], "h"
        more, outs, extra = make(rng, src)
        return B.make_model(nodes + more, [("x", [c, *hw])], outs, inits + extra, opset=opset)
    return builder


def single(op, shape, out_shape, opset=13, name=None, inputs=(), inits=(), **attrs):
    def make(rng, src):
        return [helper.make_node(op, [src, *inputs], ["y"], name="op", **attrs)], [("y", out_shape)], list(inits)

    def builder(rng):
        more, outs, extra = make(rng, "x")
        return B.make_model(more, [("x", list(shape))], outs, extra, opset=opset)
    builder.__name__ = name or f"{op.lower()}_{'x'.join(map(str, shape))}"
    return builder


def named(builder, name):
    builder.__name__ = name
    return builder


def _img(op, name, out_shape, opset=13, c_out=4, inputs=(), inits=(), **attrs):
    def make(rng, src):
        ins = [src] + [i for i in inputs]
        return [helper.make_node(op, ins, ["y"], name="op", **attrs)], [("y", out_shape)], []
    base = image_model(make, c_out=c_out, opset=opset)

    def builder(rng):
        m = base(rng)
        for k, v in inits:  # integer constants (make_model stores floats)
            m.graph.initializer.append(B.numpy_helper.from_array(np.asarray(v, dtype=np.int64), k))
        return m
    return named(builder, name)


def _axes(values):
    return [("axes", np.asarray(values, dtype=np.int64))]


def _norm_params(rng, c):
    return [("s", rng.uniform(0.5, 2.0, size=c)), ("b", rng.normal(size=c))]


def layer_norm_model(shape, axis, name):
    def builder(rng):
        block = shape[axis:] if axis >= 0 else shape[len(shape) + axis:]
        inits = [("s", rng.uniform(0.5, 2.0, size=block)), ("b", rng.normal(size=block))]
        node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], name="op", axis=axis, epsilon=1e-5)
        return B.make_model([node], [("x", list(shape[1:]))], [("y", list(shape[1:]))], inits, opset=17)
    builder.__name__ = name
    return builder


def _instance_norm(rng, src):
    return ([helper.make_node("InstanceNormalization", [src, "s", "b"], ["y"], name="op", epsilon=1e-5)],
            [("y", [4, 5, 6])], _norm_params(rng, 4))


SOFTMAX = [
    single("Softmax", (6, 5), (6, 5), name="softmax_rank3_classes", axis=-1),           # (N, anchors, classes)
    _img("Softmax", "softmax_channels_per_pixel", [4, 5, 6], axis=1),                   # streamed, per pixel
    _img("Softmax", "softmax_over_rows_transposed", [4, 5, 6], axis=2),                 # a layout move
    _img("Softmax", "softmax_opset11_whole_sample", [4, 5, 6], opset=11, axis=1),      # coerced to 2-D
    _img("Softmax", "softmax_opset11_rows_cols", [4, 5, 6], opset=11, axis=2),
]
LOG_SOFTMAX = [
    single("LogSoftmax", (6, 5), (6, 5), name="log_softmax_rank3", axis=-1),
    single("LogSoftmax", (7,), (7,), opset=11, name="log_softmax_vector_opset11", axis=1),
    _img("LogSoftmax", "log_softmax_channels_per_pixel", [4, 5, 6], axis=1),
    _img("LogSoftmax", "log_softmax_opset11_whole_sample", [4, 5, 6], opset=11, axis=1),
]
REDUCE = [
    _img("ReduceMean", "mean_spatial_keepdims", [4, 1, 1], axes=[2, 3], keepdims=1),    # like GlobalAveragePool
    _img("ReduceSum", "sum_channels_per_pixel", [5, 6], opset=11, axes=[1], keepdims=0),
    _img("ReduceMax", "max_over_cols", [4, 5, 1], axes=[3]),
    _img("ReduceMin", "min_channels_rows_transposed", [1, 1, 6], axes=[1, 2]),
    _img("ReduceMean", "mean_all_opset18_input", [1, 1, 1], opset=18, inputs=("axes",), inits=_axes([1, 2, 3])),
    _img("ReduceSum", "sum_rows_opset13_input", [4, 6], opset=13, inputs=("axes",), inits=_axes([-2]),
         keepdims=0),
    _img("ReduceMean", "mean_rows_odd_count", [4, 1, 6], axes=[2]),                    # 1/5: a stated rounding
    single("ReduceMean", (12,), (1,), opset=11, name="mean_vector", axes=[1]),
    single("ReduceSum", (3, 4), (3,), opset=11, name="sum_last_axis_rank3", axes=[2], keepdims=0),
]
NORMS = [
    named(image_model(_instance_norm), "instance_norm_after_conv"),
    named(image_model(_instance_norm, conv=False), "instance_norm_input"),
    layer_norm_model((1, 6, 8), -1, "layer_norm_last_axis"),
    layer_norm_model((1, 3, 4, 5), -2, "layer_norm_two_axes"),
]
DIFFERENTIAL = {
    "Softmax": SOFTMAX,
    "LogSoftmax": LOG_SOFTMAX,
    "Reduce": REDUCE,
    "InstanceNorm": NORMS[:2],
    "LayerNorm": NORMS[2:],
}
BUILDERS = SOFTMAX + LOG_SOFTMAX + REDUCE + NORMS
KINDS = {"Softmax", "LogSoftmax", "Reduce", "InstanceNorm", "LayerNorm"}


def _nodes(design):
    return [n for n in design.graph.nodes() if n.kind in KINDS]


def _f32_slack(y) -> float:
    return 1e-5 + 8 * np.finfo(np.float32).eps * float(np.abs(y).max(initial=0.0))


def _upstream_error(design, node, x_ir) -> float:
    """How far the op's input is from float (the Conv's rounding), times the op's gain."""
    g = design.graph
    if node.inputs[0] in g.inputs:
        return 0.0
    return float(g.tensors[node.inputs[0]].type.lsb)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_against_onnxruntime(builder, tmp_path, rng):
    path = B.save(builder(rng), tmp_path / "m.onnx")
    x = rng.normal(scale=1.5, size=(64,) + tuple(d.dim_value for d in
                                                 B.onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[1:]))
    design = compiler.compile_model(path, "zcu104", calib=x)
    t_in = design.graph.tensors[design.graph.inputs[0]].type
    x = t_in.to_float(t_in.quantize(x))  # exactly representable: the error is the design's own
    (node,) = _nodes(design)
    got = compiler.simulate(design, x)
    want = run_reference(path, x)[0]
    assert got.shape == want.shape
    err = float(np.abs(got - want).max())
    # the op's own stated error, plus what its input's rounding (a Conv before it) moves it,
    # plus onnxruntime's float32
    y_type = design.graph.tensors[node.outputs[0]].type
    gain = {"Softmax": 0.5, "LogSoftmax": 2.0, "Reduce": float(getattr(node.op, "reduce", 1)),
            "InstanceNorm": 8.0, "LayerNorm": 8.0}[node.kind]
    if node.kind == "Reduce" and node.op.mode != "sum":
        gain = 1.0
    up = _upstream_error(design, node, design.graph.input_to_ir(x)) * gain
    bound = node.op.max_error + up + _f32_slack(want) + (y_type.lsb if node.kind == "Reduce" else 0.0)
    print(f"{builder.__name__}: {node.op.describe()} -> {y_type}: max abs error {err:.3g} "
          f"(stated {node.op.max_error:.3g}, upstream {up:.3g}, bound {bound:.3g})")
    assert err <= bound


def test_layouts_move_data_only_where_needed(tmp_path, rng):
    """Per-pixel softmax and spatial reductions read the Conv's channels-last stream as it is;
    a reduction over channels and rows needs one Transpose."""
    def kinds(builder):
        design = compiler.compile_model(B.save(builder(rng), tmp_path / "m.onnx"), "zcu104")
        return {n.kind for n in design.graph.nodes()}, design
    for b in (SOFTMAX[1], REDUCE[0], REDUCE[1], REDUCE[2], NORMS[0]):
        k, _ = kinds(b)
        assert "Transpose" not in k, (b.__name__, k)
    k, _ = kinds(REDUCE[3])
    assert "Transpose" in k
    _, d = kinds(REDUCE[0])
    (node,) = _nodes(d)
    assert node.op.form == "items" and node.op.reduce == 30 and node.op.inner == 4
    _, d = kinds(REDUCE[1])
    (node,) = _nodes(d)
    assert node.op.form == "lanes"


def test_mean_of_a_power_of_two_is_exact(tmp_path, rng):
    b = single("ReduceMean", (4, 4, 2), (4, 1, 2), opset=11, name="m", axes=[2])
    design = compiler.compile_model(B.save(b(rng), tmp_path / "m.onnx"), "zcu104")
    (node,) = _nodes(design)
    assert node.op.reduce == 4 and node.op.recip_type.quantize(0.25) * node.op.recip_type.lsb == 0.25


def test_accuracy_statements(tmp_path, rng):
    for builder, limit in ((LOG_SOFTMAX[0], 1.5e-3), (NORMS[0], 5e-3), (NORMS[2], 5e-3)):
        design = compiler.compile_model(B.save(builder(rng), tmp_path / "m.onnx"), "zcu104")
        (node,) = _nodes(design)
        y_type = design.graph.tensors[node.outputs[0]].type
        print(f"{builder.__name__}: stated {node.op.max_error:.3g}, lsb {y_type.lsb:.3g}")
        assert 0 < node.op.max_error < limit + y_type.lsb / 2


def _error_model(case):
    if case == "batch_axis":
        return B.make_model([helper.make_node("ReduceSum", ["x"], ["y"], name="op", axes=[0])],
                            [("x", [4])], [("y", [4])], opset=11)
    if case == "no_axes":
        return B.make_model([helper.make_node("ReduceMean", ["x"], ["y"], name="op")],
                            [("x", [4])], [("y", [1])], opset=11)
    if case == "softmax_axis0":
        return B.make_model([helper.make_node("Softmax", ["x"], ["y"], name="op", axis=0)],
                            [("x", [4])], [("y", [4])])
    if case == "computed_axes":
        nodes = [helper.make_node("Relu", ["a"], ["r"], name="r"),
                 helper.make_node("ReduceMean", ["x", "r"], ["y"], name="op")]
        m = B.make_model(nodes, [("x", [4])], [("y", [1])], opset=18)
        m.graph.input.append(helper.make_tensor_value_info("a", 7, ["N", 1]))
        return m
    if case == "layer_norm_stats":
        node = helper.make_node("LayerNormalization", ["x", "s"], ["y", "mean"], name="op")
        return B.make_model([node], [("x", [4])], [("y", [4])], [("s", np.ones(4))], opset=17)
    if case == "too_wide":
        return B.make_model([helper.make_node("LogSoftmax", ["x"], ["y"], name="op", axis=1)],
                            [("x", [8192])], [("y", [8192])], opset=11)
    if case == "keepdims":
        return B.make_model([helper.make_node("ReduceMax", ["x"], ["y"], name="op", keepdims=2)],
                            [("x", [4])], [("y", [1])], opset=11)
    raise AssertionError(case)


@pytest.mark.parametrize("case, message", [
    ("batch_axis", "node 'op' (ReduceSum): reducing over the batch axis (0) is not supported"),
    ("no_axes", "node 'op' (ReduceMean): no axes: reducing over every axis includes the batch axis (0)"),
    ("softmax_axis0", "node 'op' (Softmax): axis=0 on a rank-2 input is not supported"),
    ("computed_axes", "node 'op' (ReduceMean): axes must be a constant"),
    ("layer_norm_stats", "node 'op' (LayerNormalization): outputs ['mean'] (mean, inverse standard deviation) "
                         "are not supported (supported: Y only)"),
    ("too_wide", "node 'op' (LogSoftmax): LogSoftmax over 8192 values is not supported (supported: up to 4096"),
    ("keepdims", "node 'op' (ReduceMax): keepdims=2 (supported: 0, 1)"),
])
def test_errors_name_node_and_op(case, message, tmp_path):
    with pytest.raises(CompileError) as e:
        compiler.compile_model(B.save(_error_model(case), tmp_path / "m.onnx"), "zcu104")
    assert message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def all_kernels(rng):
    """x (N, 4, 5, 6) -> Conv 1x1 (8 channels) -> every kernel of this module, each an output."""
    w = rng.normal(scale=0.5, size=(8, 4, 1, 1))
    s, b = rng.uniform(0.5, 2.0, size=8), rng.normal(size=8)
    ls, lb = rng.uniform(0.5, 2.0, size=6), rng.normal(size=6)
    nodes = [helper.make_node("Conv", ["x", "w"], ["h"], name="conv"),
             helper.make_node("Softmax", ["h"], ["sm"], name="sm", axis=1),
             helper.make_node("LogSoftmax", ["h"], ["lsm"], name="lsm", axis=1),
             helper.make_node("ReduceMean", ["h", "ax23"], ["mean"], name="mean", keepdims=1),
             helper.make_node("ReduceSum", ["h", "ax1"], ["sum"], name="sum", keepdims=0),
             helper.make_node("ReduceMax", ["h", "ax3"], ["max"], name="max"),
             helper.make_node("ReduceMin", ["h", "ax2"], ["min"], name="min"),
             helper.make_node("InstanceNormalization", ["h", "s", "b"], ["inorm"], name="inorm"),
             helper.make_node("LayerNormalization", ["h", "ls", "lb"], ["lnorm"], name="lnorm", axis=-1)]
    outs = [("sm", [8, 5, 6]), ("lsm", [8, 5, 6]), ("mean", [8, 1, 1]), ("sum", [5, 6]), ("max", [8, 5, 1]),
            ("min", [8, 1, 6]), ("inorm", [8, 5, 6]), ("lnorm", [8, 5, 6])]
    inits = [("w", w), ("s", s), ("b", b), ("ls", ls), ("lb", lb)]
    m = B.make_model(nodes, [("x", [4, 5, 6])], outs, inits, opset=18)
    for name, v in (("ax23", [2, 3]), ("ax1", [1]), ("ax3", [3]), ("ax2", [2])):
        m.graph.initializer.append(B.numpy_helper.from_array(np.asarray(v, dtype=np.int64), name))
    return m


def test_every_kernel_is_bit_exact_in_csim(tmp_path, rng):
    """One g++ build: Softmax and LogSoftmax per pixel, ReduceMean over the image (items
    form), ReduceSum over channels (lanes form), ReduceMax over columns, ReduceMin over
    rows, InstanceNormalization (frame buffer) and LayerNormalization over the last axis
    (after a transpose), with the Conv folded so the streams arrive 2 channels per beat."""
    path = B.save(all_kernels(rng), tmp_path / "m.onnx")
    x = np.concatenate([rng.normal(size=(40, 4, 5, 6)), rng.normal(scale=6, size=(20, 4, 5, 6)),
                        np.zeros((2, 4, 5, 6)), np.full((2, 4, 5, 6), 3.0)])
    design = compiler.compile_model(path, "zcu104", calib=x[:40], layers={"conv": {"pe": 2, "simd": 4}})
    kinds = {n.kind for n in design.graph.nodes()}
    assert KINDS <= kinds, KINDS - kinds
    forms = {n.op.form for n in design.graph.nodes() if n.kind == "Reduce"}
    assert forms == {"items", "lanes"}
    inorm = next(n for n in design.graph.nodes() if n.kind == "InstanceNorm")
    assert design.graph.tensors[inorm.inputs[0]].beat < 8  # a folded stream into the frame buffer
    out = compiler.write_project(design, tmp_path / "out")
    r = compare(design, out, design.graph.input_to_ir(x))
    print(r)
    assert r.samples == len(x) and r.mismatches == 0, r
    inside = x[:40]  # within the calibrated range (the others saturate the Conv's output)
    want = run_reference(path, inside)
    got = compiler.simulate(design, inside)
    for name, g, w in zip([o.name for o in B.onnx.load(str(path)).graph.output], got, want):
        err = float(np.abs(g - w).max())
        print(f"{name}: max abs error {err:.3g}")
        assert err < 0.05 * max(1.0, float(np.abs(w).max())), name
