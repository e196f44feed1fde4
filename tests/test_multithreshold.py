"""FINN-ONNX MultiThreshold: the simulator against qonnx's executor (exact, ties included),
the C++ bit-exact with the simulator at a fold narrower than the channels, clear errors."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError, ModelError, UnsupportedError
from compiler.frontend.reference import run_reference

QONNX = "qonnx.custom_op.general"
DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "finn")
INPUT_LSB = 2.0 ** -10   # the default input type ap_fixed<16,6>


def _mt(name, x, y, t, domain=QONNX, **attrs):
    return helper.make_node("MultiThreshold", [x, t], [y], name=name, domain=domain, out_dtype="INT8", **attrs)


def _model(nodes, shape, out_shape, inits, domain=QONNX):
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", *out_shape])]
    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits]
    m = helper.make_model(helper.make_graph(nodes, "mt", ins, outs, inits),
                          opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(domain, 1)])
    m.ir_version = 8
    return m


def _on_grid(rng, shape, lsb=INPUT_LSB, scale=2.0):
    """Unsorted thresholds on the input's grid (so inputs can tie with them)."""
    return np.round(rng.normal(scale=scale, size=shape) / lsb) * lsb


# ---- builders (each returns an ONNX model whose only MultiThreshold sits on the input) ----------
def per_channel_2d(rng, c=6, n=7, domain=QONNX):
    t = _on_grid(rng, (c, n))
    return _model([_mt("mt", "x", "y", "T", domain)], [c], [c], [("T", t)], domain)


def shared_2d(rng, c=6, n=3):
    return _model([_mt("mt", "x", "y", "T")], [c], [c], [("T", _on_grid(rng, (1, n)))])


def bipolar_2d(rng, c=6):
    """FINN's bipolar activation: y = 2 * (x >= t) - 1."""
    return _model([_mt("mt", "x", "y", "T", out_scale=2.0, out_bias=-1.0)], [c], [c], [("T", _on_grid(rng, (c, 1)))])


def scaled_2d(rng, c=5, n=4, out_scale=0.5, out_bias=-0.75):
    return _model([_mt("mt", "x", "y", "T", out_scale=out_scale, out_bias=out_bias)], [c], [c],
                  [("T", _on_grid(rng, (c, n)))])


def nchw_image(rng, c=3, h=4, w=5, n=5, shared=False):
    t = _on_grid(rng, (1 if shared else c, n))
    return _model([_mt("mt", "x", "y", "T")], [c, h, w], [c, h, w], [("T", t)])


def nhwc_image(rng, c=3, h=4, w=5, n=5):
    return _model([_mt("mt", "x", "y", "T", data_layout="NHWC")], [h, w, c], [h, w, c], [("T", _on_grid(rng, (c, n)))])


def nwc_sequence(rng, c=4, w=6, n=3):
    """Rank 3 without data_layout: qonnx takes it as NWC (channels last)."""
    return _model([_mt("mt", "x", "y", "T")], [w, c], [w, c], [("T", _on_grid(rng, (c, n)))])


def mvau_thresholds(rng, n_in=8, n_out=6, n_thr=15, per_channel_scale=False):
    """A FINN-style MVAU + thresholds: Quant input (int8, 2**-3), MatMul with int4 weights (a
    scale of 0.75, or per output channel), then per-channel thresholds on the accumulator
    (on its grid and between) with out_bias -8: signed 4-bit outputs."""
    f32 = np.float32
    w_scale = rng.choice([0.5, 0.75, 1.25, 1.5], size=(1, n_out)) if per_channel_scale else np.asarray(0.75)
    acc_lsb = 2.0 ** -3 * 0.25   # every accumulator value is a multiple of this
    t = _on_grid(rng, (n_out, n_thr), lsb=acc_lsb / 2, scale=6.0)
    nodes = [helper.make_node("Quant", ["x", "sx", "z", "bx"], ["xq"], name="qx", domain=QONNX, signed=1, narrow=0,
                              rounding_mode="ROUND"),
             helper.make_node("Quant", ["W", "sw", "z", "bw"], ["Wq"], name="qw", domain=QONNX, signed=1, narrow=1,
                              rounding_mode="ROUND"),
             helper.make_node("MatMul", ["xq", "Wq"], ["acc"], name="mvau"),
             _mt("mt", "acc", "y", "T", out_bias=-8.0)]
    inits = [("sx", f32(2.0 ** -3)), ("z", f32(0)), ("bx", f32(8)), ("sw", w_scale), ("bw", f32(4)),
             ("W", rng.integers(-7, 8, (n_in, n_out)) * w_scale), ("T", t)]
    return _model(nodes, [n_in], [n_out], inits)


def bnn_layer(rng, n_in=8, n_out=4):
    """Bipolar thresholds on the input, a {-1,+1}-weight MatMul (XNOR lanes), thresholds."""
    nodes = [_mt("mt_in", "x", "xb", "T0", out_scale=2.0, out_bias=-1.0),
             helper.make_node("BipolarQuant", ["W", "s1"], ["Wb"], name="qw", domain=QONNX),
             helper.make_node("MatMul", ["xb", "Wb"], ["acc"], name="xnor"),
             _mt("mt", "acc", "y", "T1", out_scale=-1.0, out_bias=3.0)]
    inits = [("T0", _on_grid(rng, (n_in, 1), scale=1.0)), ("W", rng.choice([-1.0, 1.0], (n_in, n_out))),
             ("s1", np.float32(1.0)), ("T1", np.sort(rng.integers(-n_in, n_in + 1, (n_out, 3)), axis=1) + 0.0)]
    return _model(nodes, [n_in], [n_out], inits)


DIFFERENTIAL = {"Threshold": [per_channel_2d, shared_2d, bipolar_2d, scaled_2d, nchw_image, nhwc_image,
                              nwc_sequence, mvau_thresholds, bnn_layer]}


def _save(model, tmp_path, name="m.onnx"):
    p = tmp_path / name
    onnx.save(model, str(p))
    return p


def _inputs(design, path, rng, n=400):
    """Inputs on the design's input grid, a quarter of them tying with a threshold of the
    first MultiThreshold when it reads the graph input."""
    t = design.graph.tensors[design.graph.inputs[0]]
    m = onnx.load(str(path))
    shape = tuple(d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim[1:])
    x = rng.normal(scale=2.0, size=(n,) + shape)
    first = m.graph.node[0]
    if first.op_type == "MultiThreshold":
        thr = numpy_helper.to_array(next(i for i in m.graph.initializer if i.name == first.input[1])).astype(float)
        layout = {a.name: helper.get_attribute_value(a) for a in first.attribute}.get("data_layout", b"").decode()
        axis = layout.index("C") if layout else {3: 2}.get(x.ndim, 1)   # qonnx's default per rank
        cidx = np.indices(x.shape)[axis]
        rows = thr[np.minimum(cidx, thr.shape[0] - 1), rng.integers(0, thr.shape[1], x.shape)]
        x = np.where(rng.random(x.shape) < 0.25, rows, x)
    return t.type.to_float(t.type.quantize(x))


def _check_exact(path, rng, n=400):
    design = compiler.compile_model(path, "zcu104")
    assert "Threshold" in {node.kind for node in design.graph.nodes()}
    x = _inputs(design, path, rng, n)
    got, want = compiler.simulate(design, x), run_reference(path, x)[0]
    assert got.shape == want.shape
    assert np.array_equal(got, want), float(np.abs(got - want).max())
    return design


@pytest.mark.parametrize("builder", DIFFERENTIAL["Threshold"], ids=lambda b: b.__name__)
def test_multithreshold_exact_against_qonnx(builder, tmp_path, rng):
    _check_exact(_save(builder(rng), tmp_path), rng)


def test_shared_thresholds_on_an_image_need_no_relayout(tmp_path, rng):
    design = _check_exact(_save(nchw_image(rng, shared=True), tmp_path), rng)
    assert [n.kind for n in design.graph.nodes()] == ["Threshold"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_domain(domain, tmp_path, rng):
    design = _check_exact(_save(per_channel_2d(rng, domain=domain), tmp_path, f"{domain}.onnx"), rng)
    assert [n.kind for n in design.graph.nodes()] == ["Threshold"]


def test_output_representation(tmp_path, rng):
    """Levels stored as exact integer codes: bipolar as +-1 on a unit scale, halves as one
    fraction bit, a non-power-of-two unit as the tensor's scale."""
    cases = [(bipolar_2d(rng), "ap_fixed<2,2>", 1.0),
             (scaled_2d(rng, out_scale=0.5, out_bias=-0.75), "ap_fixed<4,2>", 1.0),
             (scaled_2d(rng, out_scale=0.75, out_bias=1.5), "ap_ufixed<3,3>", 0.75)]
    for k, (model, want_type, want_scale) in enumerate(cases):
        path = _save(model, tmp_path, f"{k}.onnx")
        design = _check_exact(path, rng)
        t = design.graph.tensors[design.graph.outputs[0]]
        assert (t.type.cpp(), t.scale) == (want_type, want_scale), k


def test_bipolar_thresholds_feed_xnor_lanes(tmp_path, rng):
    design = _check_exact(_save(bnn_layer(rng), tmp_path), rng)
    dense = next(n for n in design.graph.nodes() if n.kind == "Dense")
    assert dense.op.kernel == "xnor"


def test_mvau_with_per_channel_weight_scales(tmp_path, rng):
    """The accumulator carries a real scale per channel: the thresholds are divided by it."""
    design = _check_exact(_save(mvau_thresholds(rng, per_channel_scale=True), tmp_path), rng, 2000)
    thr = next(n for n in design.graph.nodes() if n.kind == "Threshold")
    assert np.ndim(thr.op.in_scale) == 1


@pytest.mark.parametrize("builder", [mvau_thresholds, bnn_layer], ids=lambda b: b.__name__)
def test_folded_thresholds_bit_exact_in_csim(builder, tmp_path, rng):
    """PE=2: the threshold stage runs two lanes wide over the layer's channels, its
    thresholds one beat per memory word."""
    path = _save(builder(rng), tmp_path)
    dense = "mvau" if builder is mvau_thresholds else "xnor"
    design = compiler.compile_model(path, "zcu104", layers={dense: {"pe": 2, "simd": 4}})
    thr = next(n for n in design.graph.nodes() if n.name == "mt")
    t_in = design.graph.tensors[thr.inputs[0]]
    assert t_in.beat == 2 < t_in.channels
    x = _inputs(design, path, rng, 300)
    assert np.array_equal(compiler.simulate(design, x), run_reference(path, x)[0])
    r = compare(design, compiler.write_project(design, tmp_path / "out"), x)
    assert r.samples == 300 and r.mismatches == 0, r


@pytest.mark.parametrize("scale,bits", [(0.5, 8), (2.0, 8), (1.0, 2)], ids=["finer", "coarser", "saturating"])
def test_quantizer_after_thresholds_is_absorbed(scale, bits, tmp_path, rng):
    """A Quant that is an ap_fixed cast becomes the thresholds' output type: its rounding
    and saturation of the levels are folded into the table (a finer grid keeps the step)."""
    f32 = np.float32
    nodes = [_mt("mt", "x", "h", "T"),
             helper.make_node("Quant", ["h", "s", "z", "b"], ["y"], name="q", domain=QONNX, signed=1, narrow=0,
                              rounding_mode="ROUND")]
    path = _save(_model(nodes, [6], [6], [("T", _on_grid(rng, (6, 7))), ("s", f32(scale)), ("z", f32(0)),
                                          ("b", f32(bits))]), tmp_path)
    design = _check_exact(path, rng)
    assert [n.kind for n in design.graph.nodes()] == ["Threshold"]
    x = _inputs(design, path, rng, 200)
    r = compare(design, compiler.write_project(design, tmp_path / "out"), x)
    assert r.mismatches == 0, r


# ---- errors -------------------------------------------------------------------------------------
def test_inexact_out_bias_is_refused(tmp_path, rng):
    path = _save(scaled_2d(rng, out_scale=0.3, out_bias=0.1), tmp_path)
    with pytest.raises(UnsupportedError, match=r"^node 'mt' \(MultiThreshold\): out_scale=0\.3, out_bias=0\.1 is not "
                                               r"supported: .*\(supported: out_scale != 0 and out_bias a multiple"):
        compiler.compile_model(path, "zcu104")


def test_bad_layout_and_threshold_shape_are_refused(tmp_path, rng):
    bad_layout = _model([_mt("mt", "x", "y", "T", data_layout="NCHW")], [6], [6], [("T", _on_grid(rng, (6, 2)))])
    with pytest.raises(UnsupportedError, match=r"^node 'mt' \(MultiThreshold\): data_layout='NCHW' is not supported "
                                               r"for a rank-2 input \(supported: "):
        compiler.compile_model(_save(bad_layout, tmp_path, "a.onnx"), "zcu104")
    bad_rows = _model([_mt("mt", "x", "y", "T")], [6], [6], [("T", _on_grid(rng, (4, 2)))])
    with pytest.raises(ModelError, match=r"^node 'mt' \(MultiThreshold\): 4 rows of thresholds for 6 channels"):
        compiler.compile_model(_save(bad_rows, tmp_path, "b.onnx"), "zcu104")
    assert issubclass(UnsupportedError, CompileError) and issubclass(ModelError, CompileError)
