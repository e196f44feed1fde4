"""ConvTranspose (polyphase Conv + DeconvShuffle): differential tests against onnxruntime for
many attribute combinations in 1-D and 2-D (strides, pads, output_padding, dilations,
groups and depthwise, auto_pad, output_shape, bias or not, model-quantized weights), the
lowering's structure (each model weight stored once, no shuffle for stride 1), the shuffle's
cost, exact errors for what is refused, and one C simulation with a folded ConvTranspose."""
import numpy as np
import pytest
from onnx import helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError
from compiler.frontend.reference import run_reference

from .onnx_builders import quant_node, save
from .onnx_builders_cnn import model
from .test_cnn_ops import error_bound, grid_inputs


def _build(name, c_in=3, c_out=4, spatial=(5, 4), kernel=(3, 3), group=1, bias=True, **attrs):
    """A builder of one ConvTranspose on an (N, C_in, *spatial) input."""
    def build(rng):
        w = rng.normal(scale=0.5, size=(c_in, c_out // group) + tuple(kernel))
        ins, inits = ["x", "W"], [("W", w)]
        if bias:
            ins.append("B")
            inits.append(("B", rng.normal(size=c_out)))
        node = helper.make_node("ConvTranspose", ins, ["y"], name="deconv", group=group, **attrs)
        return model([node], (c_in,) + tuple(spatial), [], inits)
    build.__name__ = name
    return build


B = _build
CASES = [
    B("plain_s2", strides=[2, 2]),
    B("pytorch_pads_output_padding", strides=[3, 2], pads=[1, 1, 1, 1], output_padding=[1, 1], kernel_shape=[3, 3]),
    B("dilated_asymmetric_pads", strides=[2, 3], dilations=[2, 1], pads=[0, 2, 1, 0]),
    B("dilation_above_stride", strides=[2, 2], dilations=[3, 2], bias=False),
    B("stride1_dilated", strides=[1, 1], dilations=[2, 2], pads=[1, 0, 2, 1]),
    B("stride1_default", c_in=2, c_out=3, spatial=(4, 6), kernel=(2, 3)),
    B("large_pads_crop", strides=[2, 2], pads=[4, 3, 3, 4]),
    B("auto_same_upper", strides=[2, 2], auto_pad="SAME_UPPER"),
    B("auto_same_lower", strides=[3, 2], auto_pad="SAME_LOWER"),
    B("auto_valid", strides=[2, 1], auto_pad="VALID"),
    B("output_shape", strides=[2, 3], output_shape=[10, 12]),
    B("output_shape_cropped", strides=[2, 3], output_shape=[8, 10]),
    B("output_shape_same_upper", strides=[2, 3], output_shape=[9, 9], auto_pad="SAME_UPPER"),
    B("output_shape_output_padding", strides=[2, 2], output_shape=[10, 8], output_padding=[1, 0]),
    B("grouped", c_in=4, c_out=6, group=2, strides=[2, 2], pads=[1, 0, 0, 1]),
    B("depthwise_multiplier", c_out=6, group=3, strides=[2, 2]),
    B("depthwise", c_out=3, group=3, strides=[2, 1], bias=False, pads=[1, 1, 0, 0]),
    B("stride_above_kernel", kernel=(2, 2), strides=[4, 3]),
    B("conv1d_pads_output_padding", spatial=(6,), kernel=(3,), strides=[2], pads=[1, 0], output_padding=[1]),
    B("conv1d_dilated_grouped", spatial=(5,), kernel=(4,), c_out=6, group=3, strides=[3], dilations=[2]),
    B("conv1d_same_lower", spatial=(6,), kernel=(3,), strides=[2], auto_pad="SAME_LOWER", bias=False),
    B("conv1d_stride1", spatial=(7,), kernel=(5,), strides=[1], pads=[2, 1]),
]


def quantized_weights(rng, c_in=3, c_out=4):
    """QONNX: a 6-bit input quantizer and a 4-bit per-output-channel weight quantizer
    (axis 1 of a ConvTranspose weight) on a stride-2 2-D ConvTranspose with a bias."""
    qi, ii = quant_node("qin", "x", "xq", 2.0 ** -3, 6)
    w = rng.normal(scale=0.5, size=(c_in, c_out, 3, 3)).astype(np.float32)
    scale = (2.0 ** -np.arange(2, 2 + c_out)).reshape(1, c_out, 1, 1).astype(np.float32)
    qw = helper.make_node("Quant", ["W", "qw_s", "qw_z", "qw_b"], ["Wq"], name="qw",
                          domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    node = helper.make_node("ConvTranspose", ["xq", "Wq", "B"], ["y"], name="deconv", strides=[2, 2],
                            pads=[1, 1, 0, 0], output_padding=[1, 1])
    m = model([qi, qw, node], (c_in, 4, 5), [], ii + [("W", w), ("qw_s", scale), ("qw_z", np.float32(0)),
                                                       ("qw_b", np.float32(4)), ("B", rng.normal(size=c_out))])
    m.opset_import.append(helper.make_opsetid("qonnx.custom_op.general", 1))
    return m


ALL = CASES + [quantized_weights]
DIFFERENTIAL = {"DeconvShuffle": [b for b in ALL if b.__name__ not in ("stride1_dilated", "stride1_default",
                                                                      "conv1d_stride1")],
                "Conv": ALL}


def _kinds(design):
    return [n.kind for n in design.graph.nodes()]


@pytest.mark.parametrize("builder", ALL, ids=lambda b: b.__name__)
def test_conv_transpose_against_onnxruntime(builder, tmp_path, rng):
    path = save(builder(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    stride1 = "stride1" in builder.__name__
    assert _kinds(design)[-2:] == (["Conv"] if stride1 else ["Conv", "DeconvShuffle"])[-2:]
    assert ("DeconvShuffle" in _kinds(design)) != stride1
    x = grid_inputs(design, rng, n=200)
    got = compiler.simulate(design, x)
    want = run_reference(path, x)[0]
    assert got.shape == want.shape
    err, bound = float(np.abs(got - want).max()), error_bound(design)
    print(f"{builder.__name__}: max abs error {err:.3g} (bound {bound:.3g}, outputs up to {np.abs(want).max():.3g})")
    assert err <= bound


def test_model_quantized_weights_are_exact_on_their_grid(tmp_path, rng):
    """Quantized input and weights: the polyphase Conv keeps the weights' 4-bit grid (the
    inserted entries are zeros) and the per-channel scales follow each phase column."""
    path = save(quantized_weights(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    conv = next(n.op for n in design.graph.nodes() if n.kind == "Conv")
    assert conv.weights_from_model and conv.weight_type.width == 4
    x = grid_inputs(design, rng, n=100)
    want = run_reference(path, x)[0]
    assert np.abs(compiler.simulate(design, x) - want).max() <= 1e-6 * (1 + np.abs(want).max())  # float32


def test_polyphase_stores_each_weight_once(tmp_path, rng):
    """The Conv's array holds every model weight exactly once (tap k of channel o in phase
    (k*d) mod s); the rest are zeros, so the nonzero MACs per coarse pixel are the model's
    weight count, and there are ~1/(sh*sw) as many coarse pixels as output pixels."""
    m = _build("w", c_in=3, c_out=4, spatial=(6, 5), strides=[2, 3], pads=[1, 1, 1, 1], output_padding=[1, 2])(rng)
    w = next(i for i in m.graph.initializer if i.name == "W")
    design = compiler.compile_model(save(m, tmp_path / "m.onnx"), "zcu104")
    conv, shuffle = (n.op for n in design.graph.nodes())
    stored = conv.weight[conv.weight != 0]
    original = np.frombuffer(w.raw_data, dtype=np.float32) if w.raw_data else np.array(w.float_data)
    wq = conv.weight_type
    assert np.array_equal(np.sort(stored), np.sort(wq.to_float(wq.quantize(original.astype(np.float64)))))
    assert conv.n_out == 4 * 2 * 3 and conv.strides == (1, 1)
    g = design.graph
    coarse = g.tensors[g.nodes()[0].outputs[0]].shape
    out = g.tensors[g.outputs[0]].shape
    assert coarse[0] * coarse[1] * 6 >= out[0] * out[1] and coarse[0] * coarse[1] <= out[0] * out[1]
    assert shuffle.describe() == f"DeconvShuffle 2x3 ->{out[0]}x{out[1]}"


def test_shuffle_cost_is_its_buffer_and_beats(tmp_path, rng):
    """The shuffle reads the next coarse row while it writes the current one's output rows,
    one beat each per cycle: its interval is the first row plus the longer side per row."""
    path = save(_build("c", spatial=(6, 5), strides=[2, 2], pads=[1, 0, 0, 0])(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    layers = {name: c for name, _, c in compiler.estimate(design).layers}
    sh = layers["deconv"]
    g = design.graph
    qh, qw, cc = g.tensors[g.nodes()[0].outputs[0]].shape
    oh, ow, c = g.tensors[g.outputs[0]].shape
    k_in, k_out = sh.detail["in_fold"], sh.detail["out_fold"]
    row_in, row_out = qw * cc // k_in, ow * c // k_out
    rows_of = np.bincount((np.arange(oh) + 1) // 2, minlength=qh)   # off_h = 1: pads 1 at the top
    assert design.graph.nodes()[1].op.off_h == 1
    assert sh.ii == row_in + sum(max(row_in if q + 1 < qh else 0, rows_of[q] * row_out) for q in range(qh))
    assert sh.dsp == 0 and sh.detail["buffer_elements"] == 2 * qw * cc


ERRORS = [
    (dict(spatial=(3, 3, 3), kernel=(2, 2, 2)), "input of shape (N, 3, 3, 3, 3) is not supported (supported: 1-D "
                                                "and 2-D images"),
    (dict(strides=[2, 2], output_padding=[-1, 0]), "negative output_padding [-1, 0] is not supported"),
    (dict(strides=[2, 2], output_shape=[12, 9]), "output shape [12, 9] is larger than the transposed convolution's "
                                                  "[11, 9]"),
    (dict(strides=[1, 1], pads=[3, 3, 3, 3]), "the output would be empty"),
    (dict(strides=[1, 1], pads=[-1, 0, 0, 0]), "negative pads [-1, 0, 0, 0] are not supported"),
    (dict(auto_pad="FOO"), "auto_pad=FOO is not supported"),
    (dict(c_in=3, c_out=4, group=2), "group=2 does not fit 3 input channels"),
    (dict(strides=[2]), "attribute strides=[2] should have 2 values"),
    (dict(output_shape=[1, 4, 7, 6]), "attribute output_shape=[1, 4, 7, 6] should have 2 values"),
    (dict(kernel_shape=[2, 2]), "kernel_shape=[2, 2] does not match the weight"),
]


@pytest.mark.parametrize("attrs,message", ERRORS, ids=[m[:30] for _, m in ERRORS])
def test_refused_with_a_clear_message(attrs, message, tmp_path, rng):
    attrs = dict(attrs)
    if attrs.get("group", 1) > 1 and attrs["c_in"] % attrs["group"]:
        # a weight whose first axis is C_in but C_in does not split into the groups
        m = _build("e", c_in=3, c_out=4, group=1)(rng)
        m.graph.node[0].attribute.append(helper.make_attribute("group", 2))
        del m.graph.node[0].attribute[0]  # the group=1 written by the builder
    else:
        m = _build("e", **attrs)(rng)
    with pytest.raises(CompileError) as e:
        compiler.compile_model(save(m, tmp_path / "m.onnx"), "zcu104")
    text = str(e.value)
    assert "\n" not in text and "node 'deconv' (ConvTranspose)" in text and message in text, text


def test_computed_weight_is_refused(tmp_path, rng):
    nodes = [helper.make_node("Relu", ["W"], ["Wr"], name="r"),
             helper.make_node("ConvTranspose", ["x", "Wr"], ["y"], name="deconv", strides=[2, 2])]
    m = model(nodes, (3, 4, 4), [], [])
    m.graph.input.append(helper.make_tensor_value_info("W", 1, [3, 2, 3, 3]))
    with pytest.raises(CompileError, match="weight must be a constant"):
        compiler.compile_model(save(m, tmp_path / "m.onnx"), "zcu104")


# ---- C simulation ------------------------------------------------------------------------------
def deconv_chain(rng):
    """Two ConvTransposes (a pytorch-style upsampler, then a grouped, dilated one) with a
    Relu between them, then a 1x1 Conv: shuffles at several beat widths."""
    w1 = rng.normal(scale=0.4, size=(3, 4, 3, 3))
    w2 = rng.normal(scale=0.4, size=(4, 3, 2, 3))
    w3 = rng.normal(scale=0.4, size=(2, 6, 1, 1))
    nodes = [helper.make_node("ConvTranspose", ["x", "W1", "B1"], ["a"], name="up1", strides=[2, 2],
                              pads=[1, 1, 1, 1], output_padding=[1, 1]),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("ConvTranspose", ["r", "W2"], ["b"], name="up2", strides=[1, 2], dilations=[2, 1],
                              group=2, pads=[0, 1, 1, 0]),
             helper.make_node("Conv", ["b", "W3"], ["y"], name="mix", kernel_shape=[1, 1])]
    return model(nodes, (3, 3, 4), [], [("W1", w1), ("B1", rng.normal(size=4)), ("W2", w2), ("W3", w3)])


def test_conv_transpose_kernels_bit_exact(tmp_path, rng):
    path = save(deconv_chain(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", reuse_factor=1, layer_reuse={"up1_phases": 24, "up2_phases": 4})
    g = design.graph
    assert _kinds(design).count("DeconvShuffle") == 2
    beats = {n.name: (g.tensors[n.inputs[0]].beat, g.tensors[n.outputs[0]].beat) for n in g.nodes()}
    # folded Convs: the shuffles read part-pixel beats, and write narrower ones than they read
    assert beats["up1"] == (8, 4) and beats["up2"] == (12, 6), beats
    out = compiler.write_project(design, tmp_path / "out")
    shape = design.graph.tensors[design.graph.inputs[0]].shape
    x = np.concatenate([rng.normal(size=(80,) + shape), rng.normal(scale=15, size=(20,) + shape)])
    r = compare(design, out, x)
    print(f"{r.samples} samples, {r.mismatches} mismatches, build {r.seconds_build:.1f} s, run {r.seconds_run:.1f} s")
    assert r.samples == 100 and r.mismatches == 0
    xo = grid_inputs(design, rng, n=50)
    assert np.abs(compiler.simulate(design, xo) - run_reference(path, xo)[0]).max() <= error_bound(design)
