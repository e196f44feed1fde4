"""Real quantized and exported graphs: QONNX quantizers in the plain "qonnx" domain (what
qonnx's QKeras converter writes), MultiThreshold in every domain FINN and qonnx use, TopK
(FINN ends its networks with TopK k=1) and FINN-style streamlined graphs, QOperator models
fed integer (uint8) images, and accumulators too wide for 62-bit codes. Simulator vs the
model's own executor (qonnx for QONNX/FINN, onnxruntime for the rest), bit-exact; one C
simulation covers TopK and the threshold graph."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError
from compiler.frontend.reference import _run_qonnx, run_reference

from . import onnx_builders_quant as Q

GENERAL = "qonnx.custom_op.general"
f32 = np.float32


def _model(nodes, inputs, outputs, inits, opsets=(("", 13),)):
    """inputs: (name, shape, ONNX type); outputs: (name, shape or None, ONNX type)."""
    ins = [helper.make_tensor_value_info(n, t, ["N", *s]) for n, s, t in inputs]
    outs = [helper.make_tensor_value_info(n, t, None if s is None else ["N", *s]) for n, s, t in outputs]
    m = helper.make_model(helper.make_graph(nodes, "g", ins, outs,
                                            [numpy_helper.from_array(np.asarray(v), k) for k, v in inits]),
                          opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 8
    return m


def _save(model, tmp_path, name="m.onnx"):
    p = tmp_path / name
    onnx.save(model, str(p))
    return p


def _qonnx_reference(path, x):
    """qonnx's own reading of a model: its cleanup_model first moves Quant/BipolarQuant/
    Trunc of any domain (the QKeras converter's "qonnx") to the general domain, then its
    executor runs it."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    wrapper = cleanup_model(ModelWrapper(str(path)))
    return _run_qonnx(wrapper.model, x)


# ---- TopK --------------------------------------------------------------------------------------
def _topk_node(k, outputs=("values", "indices"), opset=13, **attrs):
    ins = ["x", "K"] if opset >= 10 else ["x"]
    extra = {} if opset >= 10 else {"k": k}
    return helper.make_node("TopK", ins, list(outputs), name="topk", **extra, **attrs)


def topk_values_indices(rng=None, n=10, k=3, largest=1, opset=13):
    """Both outputs of a TopK over a vector."""
    inits = [("K", np.array([k], np.int64))] if opset >= 10 else []
    attrs = {"largest": largest} if opset >= 11 else {}   # an attribute since opset 11
    return _model([_topk_node(k, opset=opset, **attrs)], [("x", [n], TensorProto.FLOAT)],
                  [("values", [k], TensorProto.FLOAT), ("indices", [k], TensorProto.INT64)], inits,
                  (("", opset),))


def topk_smallest(rng=None):
    return topk_values_indices(n=9, k=4, largest=0)


def topk_image_rows(rng=None, shape=(3, 4, 6), k=2):
    """NCHW: the last ONNX axis (W) is not the IR's channel axis; only the indices are used."""
    return _model([_topk_node(k, axis=-1)], [("x", list(shape), TensorProto.FLOAT)],
                  [("indices", [*shape[:-1], k], TensorProto.INT64)], [("K", np.array([k], np.int64))])


def _tied(rng, shape):
    """Values on a coarse grid: many ties, which ONNX breaks by the lower index."""
    return np.round(rng.normal(scale=2.0, size=shape) * 2) / 2


@pytest.mark.parametrize("builder", [topk_values_indices, topk_smallest, topk_image_rows],
                         ids=lambda b: b.__name__)
def test_topk_exact_against_onnxruntime(builder, tmp_path, rng):
    path = _save(builder(rng), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    shape = tuple(design.graph.input_layouts[0].onnx_shape)
    x = _tied(rng, (600,) + shape)
    got, want = compiler.simulate(design, x), run_reference(path, x)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and np.array_equal(g, w)


def test_topk_opset1_attribute_and_k_equal_n(tmp_path, rng):
    path = _save(topk_values_indices(n=6, k=6, opset=9), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    x = _tied(rng, (300, 6))
    for g, w in zip(compiler.simulate(design, x), run_reference(path, x)):
        assert np.array_equal(g, w)
    t = design.graph.tensors[design.graph.outputs[1]]
    assert t.type.cpp() == "ap_ufixed<3,3>" and t.scale == 1.0   # indices 0..5: three bits, integers


@pytest.mark.parametrize("attrs,inputs,message", [
    ({"axis": 0}, None, "axis=0 is not supported (supported: the last axis"),
    ({"sorted": 0}, None, "sorted=0 is not supported"),
    ({}, "computed", "K must be a constant (initializer)"),
    ({}, np.array([11], np.int64), "K=11 is not supported for an axis of 10 values"),
])
def test_topk_refusals_are_one_line(attrs, inputs, message, tmp_path):
    k = inputs if isinstance(inputs, np.ndarray) else np.array([3], np.int64)
    nodes = [_topk_node(3, **attrs)]
    inits = [] if isinstance(inputs, str) else [("K", k)]
    graph_inputs = [("x", [10], TensorProto.FLOAT)] + ([("K", [1], TensorProto.INT64)] if isinstance(inputs, str) else [])
    m = _model(nodes, graph_inputs,
               [("values", None, TensorProto.FLOAT), ("indices", None, TensorProto.INT64)], inits)
    with pytest.raises(CompileError) as e:
        compiler.compile_model(_save(m, tmp_path), "zcu104")
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


# ---- FINN-ONNX graphs ----------------------------------------------------------------------------
def finn_tfc_topk(rng=None, n_in=16, hidden=12, classes=10, outputs=("indices",), domain=GENERAL):
    """A streamlined FINN network's shape (after FINN's Streamline and InsertTopK): an input
    MultiThreshold (2-bit unsigned activations), a MatMul with integer-valued weights, a
    per-channel MultiThreshold on its accumulator (bipolar: 2 * (acc >= t) - 1), the last
    MatMul, its scalar Mul and per-class Add (the folded scales and biases), and TopK k=1
    giving the class index. Thresholds and biases sit on the values' grids, so ties occur."""
    rng = rng if rng is not None else np.random.default_rng(0)
    t_in = np.sort(np.round(rng.normal(scale=1.5, size=(n_in, 3)) * 8) / 8, axis=1)
    w1 = rng.integers(-3, 4, (n_in, hidden)).astype(f32)     # INT3 weights, stored as floats
    t_h = np.round(rng.normal(scale=4.0, size=(hidden, 1))) + 0.0
    w2 = rng.choice([-1.0, 1.0], (hidden, classes)).astype(f32)  # bipolar weights
    bias = (rng.integers(-8, 9, classes) * 0.1875).astype(f32)  # multiples of 0.75 / 4
    nodes = [helper.make_node("MultiThreshold", ["x", "T0"], ["a0"], name="mt_in", domain=domain, out_dtype="UINT2"),
             helper.make_node("MatMul", ["a0", "W1"], ["m1"], name="fc1"),
             helper.make_node("MultiThreshold", ["m1", "T1"], ["a1"], name="mt1", domain=domain, out_dtype="BIPOLAR",
                              out_scale=2.0, out_bias=-1.0),
             helper.make_node("MatMul", ["a1", "W2"], ["m2"], name="fc2"),
             helper.make_node("Mul", ["m2", "scale"], ["s2"], name="scale"),
             helper.make_node("Add", ["s2", "bias"], ["logits"], name="bias"),
             helper.make_node("TopK", ["logits", "K"], ["values", "indices"], name="topk", axis=-1)]
    inits = [("T0", t_in.astype(f32)), ("W1", w1), ("T1", t_h.astype(f32)), ("W2", w2), ("scale", f32(0.75)),
             ("bias", bias), ("K", np.array([1 if outputs == ("indices",) else 3], np.int64))]
    k = int(inits[-1][1][0])
    outs = [(o, [k], TensorProto.INT64 if o == "indices" else TensorProto.FLOAT) for o in outputs]
    graph_outputs = [o for o in ("values", "indices") if o in outputs]
    m = _model(nodes, [("x", [n_in], TensorProto.FLOAT)], [o for o in outs if o[0] in graph_outputs], inits,
               (("", 13), (domain, 1)))
    return m


def _finn_inputs(rng, n, n_in=16):
    x = np.round(rng.normal(scale=1.5, size=(n, n_in)) * 8) / 8     # on the thresholds' grid: ties
    return x


@pytest.mark.parametrize("domain", ["qonnx.custom_op.general", "finn.custom_op.general", "finn", "onnx.brevitas"])
def test_finn_graph_with_topk_exact_against_qonnx(domain, tmp_path, rng):
    path = _save(finn_tfc_topk(rng, domain=domain), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    kinds = [n.kind for n in design.graph.nodes()]
    assert "Threshold" in kinds and kinds[-1] == "TopK", kinds
    x = _finn_inputs(rng, 2000)
    got, want = compiler.simulate(design, x), _run_qonnx(onnx.load(str(path)), x)[0]
    assert got.shape == want.shape == (2000, 1)
    assert np.array_equal(got, want)
    assert set(np.unique(got).tolist()) <= set(range(10)) and len(np.unique(got)) > 3


def test_finn_graph_values_and_indices(tmp_path, rng):
    path = _save(finn_tfc_topk(rng, outputs=("values", "indices")), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    x = _finn_inputs(rng, 1000)
    got, want = compiler.simulate(design, x), _run_qonnx(onnx.load(str(path)), x)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


# ---- QONNX quantizers in the "qonnx" domain -------------------------------------------------------
def qkeras_style(rng=None, n_in=10, n_out=6):
    """What qonnx's QKeras converter writes (domain "qonnx"): quantized weights and bias
    (Quant on the initializers), a MatMul + Add, a ReLU and an activation Quant, then a
    BipolarQuant and a Trunc."""
    rng = rng if rng is not None else np.random.default_rng(0)
    d = "qonnx"
    nodes = [helper.make_node("Quant", ["x", "sa", "z", "b8"], ["xq"], name="qin", domain=d, signed=1, narrow=0,
                              rounding_mode="ROUND"),
             helper.make_node("Quant", ["W", "sw", "z", "b4"], ["Wq"], name="qw", domain=d, signed=1, narrow=1,
                              rounding_mode="ROUND"),
             helper.make_node("Quant", ["B", "sb", "z", "b8"], ["Bq"], name="qb", domain=d, signed=1, narrow=0,
                              rounding_mode="ROUND"),
             helper.make_node("MatMul", ["xq", "Wq"], ["m"], name="fc"),
             helper.make_node("Add", ["m", "Bq"], ["h"], name="bias"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Quant", ["r", "so", "z", "b6"], ["a"], name="qact", domain=d, signed=0, narrow=0,
                              rounding_mode="ROUND"),
             helper.make_node("Trunc", ["a", "so", "z", "b6", "b4"], ["t"], name="trunc", domain=d,
                              rounding_mode="FLOOR"),
             helper.make_node("BipolarQuant", ["h", "one"], ["sign"], name="bq", domain=d),
             helper.make_node("Concat", ["t", "sign"], ["y"], name="cat", axis=1)]
    inits = [("sa", f32(2.0 ** -4)), ("z", f32(0)), ("b8", f32(8)), ("b4", f32(4)), ("b6", f32(6)),
             ("W", rng.normal(scale=0.5, size=(n_in, n_out)).astype(f32)), ("sw", f32(0.125)),
             ("B", rng.normal(size=n_out).astype(f32)), ("sb", f32(2.0 ** -5)), ("so", f32(0.25)),
             ("one", f32(1.0))]
    return _model(nodes, [("x", [n_in], TensorProto.FLOAT)], [("y", [2 * n_out], TensorProto.FLOAT)], inits,
                  (("", 13), (d, 1)))


def test_qonnx_domain_quantizers_exact_against_qonnx(tmp_path, rng):
    path = _save(qkeras_style(rng), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    x = np.round(rng.normal(scale=2.0, size=(2000, 10)) * 32) / 32   # ties of the input quantizer
    got, want = compiler.simulate(design, x), _qonnx_reference(path, x)[0]
    assert np.array_equal(got, want), float(np.abs(got - want).max())


@pytest.mark.parametrize("builder", [Q.qonnx_quant, Q.bipolar, Q.trunc_v1], ids=lambda b: b.__name__)
def test_single_quantizers_in_the_qonnx_domain(builder, tmp_path, rng):
    model = builder()
    for node in model.graph.node:
        node.domain = "qonnx"
    model.opset_import[-1].domain = "qonnx"
    path = _save(model, tmp_path)
    design = compiler.compile_model(path, "zcu104")
    x = np.round(rng.normal(scale=3.0, size=(1000, 8)) * 16) / 16
    assert np.array_equal(compiler.simulate(design, x), _qonnx_reference(path, x)[0])


# ---- QOperator models fed integer images ------------------------------------------------------------
def uint8_qlinear_conv(rng=None, zx=128, pow2=False, c_in=3, c_out=4, hw=(9, 8)):
    """A uint8 image straight into QLinearConv (no QuantizeLinear), stride 2 and padding (its
    borders are the zero point), per-channel weight scales, an int32 bias. The weights are
    7-bit (onnxruntime's reduce_range): its uint8 x int8 kernels saturate pairwise 16-bit
    sums of full-range weights on x86, and would be no reference."""
    rng = rng if rng is not None else np.random.default_rng(0)
    sw = (2.0 ** -rng.integers(6, 9, c_out) if pow2 else rng.uniform(0.005, 0.02, c_out)).astype(f32)
    nodes = [helper.make_node("QLinearConv", ["x", "sx", "zx", "W", "sw", "zw", "sy", "zy", "B"], ["yq"],
                              name="qconv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dq")]
    inits = [("sx", f32(2.0 ** -8 if pow2 else 1 / 255)), ("zx", np.uint8(zx)),
             ("W", rng.integers(-63, 64, (c_out, c_in, 3, 3)).astype(np.int8)), ("sw", sw),
             ("zw", np.zeros(c_out, np.int8)), ("sy", f32(2.0 ** -3 if pow2 else 0.05)), ("zy", np.uint8(100)),
             ("B", rng.integers(-2000, 2000, c_out).astype(np.int32))]
    return _model(nodes, [("x", [c_in, *hw], TensorProto.UINT8)], [("y", [c_out, 5, 4], TensorProto.FLOAT)], inits)


def uint8_qlinear_matmul(rng=None, n_in=9, n_out=5):
    """uint8 x uint8 with zero points. The scales make their product exact in float32:
    onnxruntime rounds acc * float32(sa * sb / sy), which at exact ties of the real product
    can land on either side (seen: 5 of 10000 codes with 0.05, 0.01, 0.12)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    nodes = [helper.make_node("QLinearMatMul", ["x", "sa", "za", "Bq", "sb", "zb", "sy", "zy"], ["yq"], name="qmm"),
             helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dq")]
    inits = [("sa", f32(0.75 * 2 ** -5)), ("za", np.uint8(128)),
             ("Bq", rng.integers(0, 256, (n_in, n_out)).astype(np.uint8)), ("sb", f32(2.0 ** -6)), ("zb", np.uint8(120)),
             ("sy", f32(0.375)), ("zy", np.uint8(100))]
    return _model(nodes, [("x", [n_in], TensorProto.UINT8)], [("y", [n_out], TensorProto.FLOAT)], inits)


def int8_matmul_integer(rng=None, n_in=9, n_out=5):
    rng = rng if rng is not None else np.random.default_rng(0)
    nodes = [helper.make_node("MatMulInteger", ["x", "Bq", "za", "zb"], ["acc"], name="mmi"),
             helper.make_node("Cast", ["acc"], ["y"], name="cast", to=1)]
    inits = [("za", np.int8(-3)), ("Bq", rng.integers(-128, 128, (n_in, n_out)).astype(np.int8)), ("zb", np.int8(0))]
    return _model(nodes, [("x", [n_in], TensorProto.INT8)], [("y", [n_out], TensorProto.FLOAT)], inits)


def uint8_dequantize(rng=None, n=9):
    nodes = [helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["xd"], name="dq"),
             helper.make_node("Relu", ["xd"], ["y"], name="relu")]
    return _model(nodes, [("x", [n], TensorProto.UINT8)], [("y", [n], TensorProto.FLOAT)],
                  [("sx", f32(0.125)), ("zx", np.uint8(100))])


def _codes(real, step):
    return np.rint(np.asarray(real, dtype=np.float64) / float(step))


@pytest.mark.parametrize("zx,pow2", [(128, False), (0, False), (128, True)], ids=["zp128", "zp0", "pow2"])
def test_uint8_image_into_qlinear_conv_exact(zx, pow2, tmp_path, rng):
    path = _save(uint8_qlinear_conv(rng, zx=zx, pow2=pow2), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    kinds = [n.kind for n in design.graph.nodes()]
    assert kinds == (["Affine", "Conv", "Quant"] if zx else ["Conv", "Quant"]), kinds  # q - zero, only if needed
    x = rng.integers(0, 256, (300, 3, 9, 8)).astype(np.float64)
    step = 2.0 ** -3 if pow2 else 0.05
    got, want = compiler.simulate(design, x), run_reference(path, x.astype(np.uint8))[0]
    assert np.array_equal(_codes(got, f32(step)), _codes(want, f32(step)))


@pytest.mark.parametrize("builder,step", [(uint8_qlinear_matmul, f32(0.375)), (int8_matmul_integer, 1.0),
                                          (uint8_dequantize, f32(0.125))], ids=lambda b: getattr(b, "__name__", ""))
def test_integer_inputs_exact_against_onnxruntime(builder, step, tmp_path, rng):
    path = _save(builder(rng), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    t = design.graph.tensors[design.graph.inputs[0]].type
    n = design.graph.input_layouts[0].onnx_shape[0]
    x = rng.integers(t.min_code, t.max_code + 1, (2000, n)).astype(np.float64)
    dtype = np.uint8 if t.min_code == 0 else np.int8
    got, want = compiler.simulate(design, x), run_reference(path, x.astype(dtype))[0]
    assert np.array_equal(_codes(got, step), _codes(want, step))
    assert "Affine" not in [n.kind for n in design.graph.nodes()] or builder is uint8_dequantize  # zero in the bias


def test_integer_input_of_another_type_is_refused(tmp_path):
    m = uint8_qlinear_matmul()
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
    with pytest.raises(CompileError) as e:
        compiler.compile_model(_save(m, tmp_path), "zcu104")
    assert "does not match its zero point's type uint8" in str(e.value) and "\n" not in str(e.value)


# ---- accumulators beyond 62 bits ----------------------------------------------------------------------
def conv_chain(rng=None, layers=2, c=64, hw=4, bias=1e-9):
    """A pruned 4-bit CNN body without activation quantizers between its convolutions (a
    super-resolution network's shape): every bit of each exact accumulator would be kept, and
    the second layer's exceeds 62 bits (8-bit input, 4-bit weights over 3x3x64 products, a
    tiny float bias given 24 significant bits)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    nodes = [helper.make_node("Quant", ["x", "sx", "z", "b8"], ["h0"], name="qx", domain=GENERAL, signed=1, narrow=0,
                              rounding_mode="ROUND")]
    inits = [("sx", f32(2.0 ** -4)), ("z", f32(0)), ("b8", f32(8)), ("b4", f32(4)), ("sw", f32(0.3))]
    for i in range(layers):
        w = rng.integers(-7, 8, (c, c, 3, 3)) * (rng.random((c, c, 1, 1)) > 0.5)   # half the filters pruned
        inits += [(f"W{i}", (w * 0.3).astype(f32)), (f"B{i}", (rng.normal(size=c) * bias).astype(f32))]
        nodes += [helper.make_node("Quant", [f"W{i}", "sw", "z", "b4"], [f"Wq{i}"], name=f"qw{i}", domain=GENERAL,
                                   signed=1, narrow=1, rounding_mode="ROUND"),
                  helper.make_node("Conv", [f"h{i}", f"Wq{i}", f"B{i}"], [f"h{i + 1}" if i + 1 < layers else "y"],
                                   name=f"conv{i}", kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    return _model(nodes, [("x", [c, hw, hw], TensorProto.FLOAT)], [("y", [c, hw, hw], TensorProto.FLOAT)], inits,
                  (("", 13), (GENERAL, 1)))


def test_wide_accumulator_is_exact_and_its_output_narrowed(tmp_path, rng):
    """conv1's exact accumulator fits 62 bits once the bias gives up fraction bits it cannot
    hold, and its output (kept whole, > 53 bits) is rounded to 53 bits: 2**-52 of its range,
    far below the float32 reference's own rounding."""
    path = _save(conv_chain(rng), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    conv1 = design.graph.node("conv1")
    assert conv1.op.accum_type.width <= 62 and design.graph.tensors[conv1.outputs[0]].type.width == 53
    x = rng.normal(size=(20, 64, 4, 4))
    got, want = compiler.simulate(design, x), _run_qonnx(onnx.load(str(path)), x)[0]
    assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max()


def test_accumulator_beyond_62_bits_is_refused_in_one_line(tmp_path):
    with pytest.raises(CompileError) as e:
        compiler.compile_model(_save(conv_chain(layers=3), tmp_path), "zcu104")
    msg = str(e.value)
    assert msg.startswith("node 'conv2' (Conv") and "supported: accumulators up to 62 bits" in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize("zero,scale,message", [
    (2.0 ** 63 - 1, 0.125, "is not supported (supported: integers with |zero point| <= 2**32"),
    (2.0 ** 31, 1000.3, "needs more than 62 bits (supported: |zero point| * 2**shift < 2**62"),
])
def test_huge_zero_points_are_refused_in_one_line(zero, scale, message, tmp_path, rng):
    path = _save(Q.qonnx_quant(zero=zero, scale=scale, bits=32), tmp_path)
    with pytest.raises(CompileError) as e:
        compiler.compile_model(path, "zcu104", calib=rng.normal(scale=4 * scale, size=(50, 8)))
    assert str(e.value).startswith("node 'q' (Quant") and message in str(e.value) and "\n" not in str(e.value)


DIFFERENTIAL = {"TopK": [topk_values_indices, topk_smallest, topk_image_rows, finn_tfc_topk],
                "Threshold": [finn_tfc_topk], "Quant": [qkeras_style, uint8_qlinear_conv],
                "Conv": [uint8_qlinear_conv, conv_chain], "Dense": [finn_tfc_topk, uint8_qlinear_matmul]}


# ---- C simulation ---------------------------------------------------------------------------------------
def test_topk_and_threshold_graph_bit_exact_in_csim(tmp_path, rng):
    """The FINN graph with both TopK outputs (k=3), the MAC layers folded (PE=2 / PE=5), so
    the thresholds run two lanes wide and TopK inserts five values per beat over two beats."""
    path = _save(finn_tfc_topk(rng, outputs=("values", "indices")), tmp_path)
    design = compiler.compile_model(path, "zcu104", layers={"fc1": {"pe": 2, "simd": 4}, "fc2": {"pe": 5, "simd": 6}})
    topk = [n for n in design.graph.nodes() if n.kind == "TopK"]
    assert len(topk) == 2 and all(design.graph.tensors[n.inputs[0]].beat == 5 for n in topk)
    x = _finn_inputs(rng, 400)
    for g, w in zip(compiler.simulate(design, x), _run_qonnx(onnx.load(str(path)), x)):
        assert np.array_equal(g, w)
    r = compare(design, compiler.write_project(design, tmp_path / "out"), x)
    assert r.samples == 400 and r.mismatches == 0, r
