"""Bad or unusual inputs are clear CompileErrors (CLI: one line, exit 2, no traceback, no output
folder), never tracebacks, hangs or silently wrong designs. Models are built in tmp_path."""
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import compiler
from compiler.errors import CompileError, DataError, ModelError, OutputError, TargetError, UnsupportedError

from .conftest import model_path

QONNX = "qonnx.custom_op.general"


# ---- tiny model builders ---------------------------------------------------------------
def vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def init(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def graph_model(nodes, ins, outs, inits=(), opset=13, qonnx=False):
    ops = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(QONNX, 1)] if qonnx else [])
    m = helper.make_model(helper.make_graph(nodes, "g", ins, outs, list(inits)), opset_imports=ops)
    m.ir_version = 8
    return m


def unary(op, shape=(4,), dt=TensorProto.FLOAT, **attrs):
    return graph_model([helper.make_node(op, ["x"], ["y"], name="n", **attrs)], [vi("x", ["N", *shape], dt)],
                       [vi("y", ["N", *shape], dt)])


def gemm(w=None, b=None, n_in=4, n_out=3, **attrs):
    w = np.ones((n_in, n_out)) if w is None else w
    b = np.zeros(n_out) if b is None else b
    return graph_model([helper.make_node("Gemm", ["x", "W", "B"], ["y"], name="fc", **attrs)], [vi("x", ["N", n_in])],
                       [vi("y", ["N", n_out])], [init("W", w), init("B", b)])


def matmul(w, x_shape=(4,)):
    return graph_model([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], [vi("x", ["N", *x_shape])],
                       [vi("y", ["N", 3])], [init("W", w)])


def quant(bits=8, scale=0.125, zero=0.0, **attrs):
    a = dict(signed=1, narrow=0, rounding_mode="ROUND")
    a.update(attrs)
    n = helper.make_node("Quant", ["x", "s", "z", "b"], ["y"], name="q", domain=QONNX, **a)
    return graph_model([n], [vi("x", ["N", 8])], [vi("y", ["N", 8])],
                       [init("s", scale), init("z", zero), init("b", bits)], qonnx=True)


def qdq(zero_type=TensorProto.INT8, scale=0.1, **attrs):
    q = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="ql", **attrs)
    d = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dql", **attrs)
    return graph_model([q, d], [vi("x", ["N", 8])], [vi("y", ["N", 8])],
                       [init("s", scale), helper.make_tensor("z", zero_type, [], [0])], opset=21)


def conv(w_shape=(4, 3, 3, 3), x_shape=(3, 8, 8), bias=None, **attrs):
    rng = np.random.default_rng(0)
    ins, inits = ["x", "W"], [init("W", rng.normal(size=w_shape))]
    if bias is not None:
        ins.append("B")
        inits.append(init("B", bias))
    return graph_model([helper.make_node("Conv", ins, ["y"], name="conv", **attrs)], [vi("x", ["N", *x_shape])],
                       [vi("y", ["N", 4, 6, 6])], inits)


def pool(op="MaxPool", x_shape=(3, 4, 4), **attrs):
    return graph_model([helper.make_node(op, ["x"], ["y"], name="mp", **attrs)], [vi("x", ["N", *x_shape])],
                       [vi("y", ["N", 3, 2, 2])])


def with_const(op, const, x_shape=(4,), order=("x", "k"), **attrs):
    return graph_model([helper.make_node(op, list(order), ["y"], name="n", **attrs)], [vi("x", ["N", *x_shape])],
                       [vi("y", ["N", *x_shape])], [init("k", const)])


def reshape(shape):
    return graph_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")], [vi("x", ["N", 6])],
                       [vi("y", ["N", 4])], [init("s", shape, np.int64)])


def bn(c=4, s=None, v=None, eps=1e-5):
    return graph_model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn", epsilon=eps)],
                       [vi("x", ["N", c])], [vi("y", ["N", c])],
                       [init("s", np.ones(c) if s is None else s), init("b", np.zeros(c)), init("m", np.zeros(c)),
                        init("v", np.ones(c) if v is None else v)])


def relu_with_input_shape(shape):
    m = unary("Relu")
    del m.graph.input[0].type.tensor_type.shape.dim[:]
    for d in shape:
        dim = m.graph.input[0].type.tensor_type.shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        elif d is not None:
            dim.dim_value = d
    return m


def external_weight(location):
    t = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3], data_location=TensorProto.EXTERNAL)
    e = t.external_data.add()
    e.key, e.value = "location", location
    return graph_model([helper.make_node("Gemm", ["x", "W"], ["y"], name="fc")], [vi("x", ["N", 4])],
                       [vi("y", ["N", 3])], [t])


def raw_weight(dims, raw=b""):
    t = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=dims, raw_data=raw)
    return graph_model([helper.make_node("Gemm", ["x", "W"], ["y"], name="fc")], [vi("x", ["N", dims[0]])],
                       [vi("y", ["N", dims[1]])], [t])


def two_nodes(n1, n2, outputs=("y",)):
    return graph_model([n1, n2], [vi("x", ["N", 4])], [vi(o, ["N", 4]) for o in outputs])


def _no_shape():
    m = unary("Relu")
    m.graph.input[0].type.tensor_type.ClearField("shape")
    return m


def per_axis_weight(axis=0, n_scales=3):
    """A Gemm whose weight is DequantizeLinear'd per axis (scales along `axis`)."""
    w = helper.make_tensor("Wq", TensorProto.INT8, [3, 4], [1] * 12)
    d = helper.make_node("DequantizeLinear", ["Wq", "ws", "wz"], ["W"], name="dqw", axis=axis)
    g = helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", transB=1)
    return graph_model([d, g], [vi("x", ["N", 4])], [vi("y", ["N", 3])],
                       [w, init("ws", np.full(n_scales, 0.5)), helper.make_tensor("wz", TensorProto.INT8, [n_scales],
                                                                                   [0] * n_scales)], opset=13)


def with_model(build, **fields):
    """A model from `build` with top-level fields (ir_version, ...) set."""
    m = build()
    for k, v in fields.items():
        setattr(m, k, v)
    return m


def _weight_of_type(data_type, values):
    m = gemm()
    m.graph.initializer[0].CopyFrom(helper.make_tensor("W", data_type, [4, 3], values))
    return m


def _renamed(name):
    m = gemm()
    m.graph.node[0].name = name
    return m


def _negative_dims():
    m = gemm()
    m.graph.initializer[0].dims[0] = -4
    return m


def _duplicate(field):
    m = gemm()
    getattr(m.graph, field).append(getattr(m.graph, field)[0])
    return m


def _constant_external(location):
    """A Constant node whose value lives in an external file."""
    t = onnx.TensorProto(name="v", data_type=TensorProto.FLOAT, dims=[3], data_location=TensorProto.EXTERNAL)
    e = t.external_data.add()
    e.key, e.value = "location", location
    return graph_model([helper.make_node("Constant", [], ["c"], name="cst", value=t),
                        helper.make_node("Gemm", ["x", "W", "c"], ["y"], name="fc")],
                       [vi("x", ["N", 4])], [vi("y", ["N", 3])], [init("W", np.ones((4, 3)))])


def _huge_constant_of_shape():
    return graph_model([helper.make_node("ConstantOfShape", ["s"], ["big"], name="cos"),
                        helper.make_node("Add", ["x", "big"], ["y"], name="add")],
                       [vi("x", ["N", 4])], [vi("y", ["N", 4])], [init("s", [30000, 30000], np.int64)])


def gemm_opset(version):
    m = gemm()
    m.opset_import[0].version = version
    return m


def _output_initializer():
    m = gemm()
    m.graph.output.append(vi("W", [4, 3]))
    return m


N = helper.make_node
NAN, INF = float("nan"), float("inf")

# (id, builder, error class, message fragments)
MODEL_CASES = [
    # weights / constants
    ("nan_weight", lambda: gemm(w=np.where(np.eye(4, 3) > 0, NAN, 1.0)), CompileError, ["node 'fc'", "finite"]),
    ("nan_bias", lambda: gemm(b=[NAN, 0, 1]), CompileError, ["node 'fc'", "NaN or infinity"]),
    ("gemm_alpha_nan", lambda: gemm(alpha=NAN), CompileError, ["node 'fc'", "finite"]),
    ("mul_by_nan", lambda: with_const("Mul", np.full(4, np.nan)), CompileError, ["node 'n'", "finite"]),
    ("div_by_zero", lambda: with_const("Div", np.zeros(4)), CompileError, ["node 'n' (Div)", "division by zero"]),
    ("truncated_weight", lambda: raw_weight([4, 3], b"\0" * 10), ModelError, ["initializer 'W'", "unreadable"]),
    ("huge_initializer", lambda: raw_weight([10 ** 9, 3]), ModelError, ["initializer 'W'", "more than this compiler accepts"]),
    ("external_escape", lambda: external_weight("../../etc/passwd"), ModelError, ["initializer 'W'", "leaves the model's folder"]),
    ("external_missing", lambda: external_weight("weights.bin"), ModelError, ["initializer 'W'", "not found"]),
    # graph inputs
    ("zero_dim", lambda: relu_with_input_shape(["N", 0]), ModelError, ["graph input 'x'", "dimension 1 is 0; dimensions must be positive"]),
    ("negative_dim", lambda: relu_with_input_shape(["N", -3]), ModelError, ["graph input 'x'", "dimension 1 is -3"]),
    ("symbolic_dim", lambda: relu_with_input_shape(["N", "F"]), ModelError, ["graph input 'x'", "dimension 1 is F"]),
    ("unknown_dim", lambda: relu_with_input_shape(["N", None]), ModelError, ["graph input 'x'", "only the batch"]),
    ("no_shape", _no_shape, ModelError, ["graph input 'x' has no tensor shape"]),
    ("scalar_input", lambda: relu_with_input_shape([]), ModelError, ["graph input 'x' is a scalar"]),
    ("huge_input", lambda: relu_with_input_shape(["N", 10 ** 9]), ModelError, ["graph input 'x'", "larger than"]),
    ("input_is_initializer", lambda: graph_model([N("Relu", ["x"], ["y"], name="r")], [vi("x", ["N", 4])],
                                                 [vi("y", ["N", 4])], [init("x", np.ones((1, 4)))]),
     ModelError, ["no (non-constant) input"]),
    # graph structure
    ("dangling_input", lambda: graph_model([N("Add", ["x", "ghost"], ["y"], name="add")], [vi("x", ["N", 4])],
                                           [vi("y", ["N", 4])]), ModelError, ["node 'add' (Add)", "'ghost'"]),
    ("dangling_output", lambda: graph_model([N("Relu", ["x"], ["y"], name="r")], [vi("x", ["N", 4])],
                                            [vi("nope", ["N", 4])]), ModelError, ["graph output 'nope'"]),
    ("cycle", lambda: graph_model([N("Add", ["x", "b"], ["a"], name="add1"), N("Relu", ["a"], ["b"], name="relu")],
                                  [vi("x", ["N", 4])], [vi("a", ["N", 4])]), ModelError, ["cycle", "'add1' (Add)"]),
    ("self_loop", lambda: graph_model([N("Add", ["x", "a"], ["a"], name="add1")], [vi("x", ["N", 4])],
                                      [vi("a", ["N", 4])]), ModelError, ["cycle", "'add1' (Add)"]),
    ("output_is_initializer", _output_initializer, UnsupportedError, ["graph output 'W' is a constant"]),
    ("output_from_constant", lambda: graph_model([N("Relu", ["k"], ["y"], name="r")], [vi("x", ["N", 4])],
                                                 [vi("y", [4])], [init("k", np.ones(4))]),
     UnsupportedError, ["graph output 'y' is a constant"]),
    # ops and domains
    ("unknown_op", lambda: unary("Frobnicate"), UnsupportedError, ["node 'n' (Frobnicate)", "supported:", "Gemm"]),
    ("unnamed_unknown_op", lambda: graph_model([N("Hardmax", ["x"], ["y"])], [vi("x", ["N", 4])], [vi("y", ["N", 4])]),
     UnsupportedError, ["node 'Hardmax_0' (Hardmax)", "supported:"]),
    ("unknown_domain", lambda: graph_model([N("Relu", ["x"], ["y"], name="n", domain="com.example")],
                                           [vi("x", ["N", 4])], [vi("y", ["N", 4])]),
     UnsupportedError, ["node 'n' (Relu)", "com.example:Relu is not supported"]),
    ("bool_not", lambda: unary("Not", dt=TensorProto.BOOL), UnsupportedError,
     ["graph input 'x'", "element type", "supported: float types, int8"]),
    ("logsoftmax_too_wide", lambda: unary("LogSoftmax", shape=(8192,), axis=-1), UnsupportedError,
     ["node 'n' (LogSoftmax)", "supported:"]),
    ("cast_int8", lambda: unary("Cast", to=TensorProto.INT8), UnsupportedError, ["node 'n' (Cast)", "supported:"]),
    ("multithreshold_layout", lambda: graph_model([N("MultiThreshold", ["x", "t"], ["y"], name="mt", domain=QONNX,
                                                   data_layout="NCHW")],
                                           [vi("x", ["N", 8])], [vi("y", ["N", 8])], [init("t", np.zeros((8, 3)))],
                                           qonnx=True), UnsupportedError, ["node 'mt' (MultiThreshold)",
                                                                           "data_layout='NCHW'", "supported:"]),
    # Gemm / MatMul
    ("gemm_transA", lambda: gemm(transA=1), UnsupportedError, ["node 'fc' (Gemm)", "transA=1", "supported: 0"]),
    ("gemm_weight_shape", lambda: gemm(w=np.ones((5, 3))), CompileError, ["node 'fc' (Gemm)", "does not match 4 input"]),
    ("gemm_bias_shape", lambda: gemm(b=np.ones(7)), UnsupportedError, ["node 'fc' (Gemm)", "bias C", "supported:"]),
    ("gemm_1d_weight", lambda: graph_model([N("Gemm", ["x", "W"], ["y"], name="fc")], [vi("x", ["N", 4])],
                                           [vi("y", ["N", 3])], [init("W", np.ones(4))]),
     UnsupportedError, ["node 'fc' (Gemm)", "rank 1", "supported:"]),
    ("gemm_dynamic_weight", lambda: graph_model([N("Gemm", ["x", "w"], ["y"], name="fc")],
                                                [vi("x", ["N", 4]), vi("w", [4, 3])], [vi("y", ["N", 3])]),
     CompileError, ["node 'fc' (Gemm)", "must be a constant"]),
    ("matmul_3d_weight", lambda: matmul(np.ones((2, 4, 3))), UnsupportedError, ["node 'mm' (MatMul)", "rank 3"]),
    ("matmul_3d_input", lambda: matmul(np.ones((4, 3)), x_shape=(5, 4)), UnsupportedError,
     ["node 'mm' (MatMul)", "(N, 5, 4)", "supported: (N, features)"]),
    ("matmul_inner_mismatch", lambda: matmul(np.ones((6, 3))), CompileError, ["node 'mm' (MatMul)", "4 input features"]),
    ("matmul_weight_first", lambda: graph_model([N("MatMul", ["W", "x"], ["y"], name="mm")], [vi("x", ["N", 4])],
                                                [vi("y", ["N", 3])], [init("W", np.ones((3, 4)))]),
     CompileError, ["node 'mm' (MatMul)", "computed tensor"]),
    # Softmax
    ("softmax_batch_axis", lambda: unary("Softmax", shape=(5,), axis=0), UnsupportedError, ["node 'n' (Softmax)", "axis=0"]),
    ("softmax_axis_oob", lambda: unary("Softmax", shape=(5,), axis=5), UnsupportedError, ["node 'n' (Softmax)", "axis=5"]),
    # BatchNormalization
    ("bn_negative_variance", lambda: bn(v=-np.ones(4), eps=0.0), CompileError,
     ["node 'bn' (BatchNormalization)", "variance + epsilon must be positive"]),
    ("bn_param_length", lambda: bn(s=np.ones(5)), CompileError, ["node 'bn' (BatchNormalization)", "4 channels"]),
    # QONNX Quant / BipolarQuant
    ("quant_bits_vector", lambda: quant(bits=[4, 4]), CompileError, ["node 'q' (Quant)", "one integer"]),
    ("quant_bits_0", lambda: quant(bits=0), UnsupportedError, ["node 'q' (Quant)", "bit width 0", "supported: 1..32"]),
    ("quant_bits_40", lambda: quant(bits=40), UnsupportedError, ["node 'q' (Quant)", "bit width 40", "supported: 1..32"]),
    ("quant_bits_negative", lambda: quant(bits=-3), UnsupportedError, ["node 'q' (Quant)", "bit width -3"]),
    ("quant_bits_fraction", lambda: quant(bits=4.5), CompileError, ["node 'q' (Quant)", "one integer"]),
    ("quant_scale_zero", lambda: quant(scale=0.0), CompileError, ["node 'q' (Quant)", "positive and finite"]),
    ("quant_scale_negative", lambda: quant(scale=-0.5), CompileError, ["node 'q' (Quant)", "positive and finite"]),
    ("quant_scale_nan", lambda: quant(scale=NAN), CompileError, ["node 'q' (Quant)", "positive and finite"]),
    ("quant_scale_inf", lambda: quant(scale=INF), CompileError, ["node 'q' (Quant)", "positive and finite"]),
    ("quant_zero_fraction", lambda: quant(zero=0.5), UnsupportedError, ["node 'q' (Quant)", "zero points"]),
    ("quant_bad_rounding", lambda: quant(rounding_mode="SIDEWAYS"), UnsupportedError,
     ["node 'q' (Quant)", "SIDEWAYS", "supported:"]),
    ("quant_scale_length", lambda: quant(scale=np.full(3, 0.1)), CompileError,
     ["node 'q' (Quant)", "scale of shape (3,) does not broadcast to the input's shape (1, 8)"]),
    ("quant_missing_inputs", lambda: graph_model([N("Quant", ["x", "s"], ["y"], name="q", domain=QONNX)],
                                                 [vi("x", ["N", 8])], [vi("y", ["N", 8])], [init("s", 0.1)], qonnx=True),
     CompileError, ["node 'q' (Quant)", "expected 4 inputs"]),
    ("bipolar_scale_zero", lambda: graph_model([N("BipolarQuant", ["x", "s"], ["y"], name="bq", domain=QONNX)],
                                               [vi("x", ["N", 8])], [vi("y", ["N", 8])], [init("s", 0.0)], qonnx=True),
     CompileError, ["node 'bq' (BipolarQuant)", "positive and finite"]),
    # QDQ
    ("qdq_float8e4m3", lambda: qdq(TensorProto.FLOAT8E4M3FN), UnsupportedError,
     ["node 'ql' (QuantizeLinear)", "float8_e4m3fn", "supported:"]),
    ("qdq_float8e5m2", lambda: qdq(TensorProto.FLOAT8E5M2), UnsupportedError, ["node 'ql' (QuantizeLinear)", "float8_e5m2"]),
    ("qdq_scale_zero", lambda: qdq(scale=0.0), CompileError, ["node 'ql' (QuantizeLinear)", "positive and finite"]),
    ("qdq_scale_nan", lambda: qdq(scale=NAN), CompileError, ["node 'ql' (QuantizeLinear)", "positive and finite"]),
    ("qdq_blocked", lambda: graph_model(
        [N("QuantizeLinear", ["x", "s", "z"], ["q"], name="ql", axis=1, block_size=4),
         N("DequantizeLinear", ["q", "s", "z"], ["y"], name="dql", axis=1, block_size=4)],
        [vi("x", ["N", 8])], [vi("y", ["N", 8])], [init("s", np.full((1, 2), 0.1)), init("z", np.zeros((1, 2)), np.int8)],
        opset=21), UnsupportedError, ["node 'ql' (QuantizeLinear)", "block_size", "supported:"]),
    # Conv / pooling
    ("conv4d", lambda: conv((4, 3, 3, 3, 3, 3), (3, 8, 8, 8, 8)), UnsupportedError,
     ["node 'conv' (Conv)", "supported: 1-D, 2-D and 3-D"]),
    ("conv_on_vector", lambda: conv((4, 3, 3), (3,)), UnsupportedError, ["node 'conv' (Conv)", "(N, 3)"]),
    ("conv_kernel_too_big", lambda: conv((4, 3, 9, 9), (3, 5, 5)), CompileError, ["node 'conv' (Conv)", "larger than the padded input"]),
    ("conv_channel_mismatch", lambda: conv((4, 5, 3, 3)), CompileError, ["node 'conv' (Conv)", "group=1 does not fit"]),
    ("conv_group_zero", lambda: conv(group=0), CompileError, ["node 'conv' (Conv)", "group=0"]),
    ("conv_stride_zero", lambda: conv(strides=[0, 0]), CompileError, ["node 'conv' (Conv)", "must be positive"]),
    ("conv_dilation_zero", lambda: conv(dilations=[0, 0]), CompileError, ["node 'conv' (Conv)", "must be positive"]),
    ("conv_negative_pads", lambda: conv(pads=[-1] * 4), UnsupportedError, ["node 'conv' (Conv)", "negative pads"]),
    ("conv_kernel_shape_attr", lambda: conv(kernel_shape=[5, 5]), CompileError, ["node 'conv' (Conv)", "kernel_shape=[5, 5]"]),
    ("conv_bias_length", lambda: conv(bias=np.ones(7)), CompileError, ["node 'conv' (Conv)", "bias of 7 values"]),
    ("conv_strides_length", lambda: conv(strides=[1]), CompileError, ["node 'conv' (Conv)", "should have 2 values"]),
    ("conv_auto_pad_bogus", lambda: conv(auto_pad="BOGUS"), UnsupportedError, ["node 'conv' (Conv)", "auto_pad=BOGUS", "supported:"]),
    ("conv_huge_dilation", lambda: conv(dilations=[10 ** 9] * 2), CompileError, ["node 'conv' (Conv)", "larger than"]),
    ("maxpool_kernel_too_big", lambda: pool(kernel_shape=[9, 9]), CompileError, ["node 'mp' (MaxPool)", "larger than"]),
    ("maxpool_no_kernel", lambda: pool(), CompileError, ["node 'mp' (MaxPool)", "kernel_shape is missing"]),
    ("maxpool_stride_zero", lambda: pool(kernel_shape=[2, 2], strides=[0, 0]), CompileError, ["node 'mp' (MaxPool)", "positive"]),
    # shape ops
    ("reshape_size", lambda: reshape([-1, 4]), CompileError, ["node 'rs' (Reshape)", "cannot reshape (6,) to (4,)"]),
    ("reshape_two_minus1", lambda: reshape([-1, -1]), CompileError, ["node 'rs' (Reshape)", "more than one -1"]),
    ("reshape_dynamic", lambda: graph_model([N("Reshape", ["x", "s"], ["y"], name="rs")],
                                            [vi("x", ["N", 6]), vi("s", [2], TensorProto.INT64)], [vi("y", ["N", 6])]),
     CompileError, ["node 'rs' (Reshape)", "target shape must be a constant"]),
    ("transpose_not_perm", lambda: unary("Transpose", shape=(3, 4), perm=[0, 1, 1]), CompileError,
     ["node 'n' (Transpose)", "not a permutation"]),
    ("transpose_moves_batch", lambda: unary("Transpose", shape=(3, 4), perm=[1, 0, 2]), UnsupportedError,
     ["node 'n' (Transpose)", "batch dimension"]),
    ("squeeze_batch", lambda: graph_model([N("Squeeze", ["x", "ax"], ["y"], name="sq"), N("Relu", ["y"], ["z"], name="r")],
                                          [vi("x", ["N", 4])], [vi("z", [4])], [init("ax", [0], np.int64)]),
     UnsupportedError, ["node 'sq' (Squeeze)", "batch dimension"]),
    ("concat_batch_axis", lambda: graph_model([N("Concat", ["x", "x"], ["y"], name="cat", axis=0)], [vi("x", ["N", 4])],
                                              [vi("y", ["N", 4])]), UnsupportedError, ["node 'cat' (Concat)", "batch dimension"]),
    ("concat_constant", lambda: graph_model([N("Concat", ["x", "k"], ["y"], name="cat", axis=1)], [vi("x", ["N", 4])],
                                            [vi("y", ["N", 6])], [init("k", np.ones((1, 2)))]),
     CompileError, ["node 'cat' (Concat)", "computed tensor"]),
    ("depth_to_space_block", lambda: graph_model([N("DepthToSpace", ["x"], ["y"], name="d2s", blocksize=3)],
                                                 [vi("x", ["N", 4, 4, 4])], [vi("y", ["N", 1, 8, 8])]),
     CompileError, ["node 'd2s' (DepthToSpace)", "blocksize=3"]),
    # element-wise
    ("add_const_length", lambda: with_const("Add", np.ones(5)), CompileError, ["node 'n' (Add)", "does not broadcast"]),
    ("add_const_batch", lambda: with_const("Add", np.ones((3, 4))), CompileError, ["node 'n' (Add)", "varies along axis 0"]),
    ("const_div_by_tensor", lambda: with_const("Div", np.ones(4), order=("k", "x")), UnsupportedError,
     ["node 'n' (Div)", "dividing a constant by a tensor"]),
    ("div_two_tensors", lambda: graph_model([N("Relu", ["x"], ["r"], name="r"), N("Div", ["x", "r"], ["y"], name="n")],
                                            [vi("x", ["N", 4])], [vi("y", ["N", 4])]),
     UnsupportedError, ["node 'n' (Div)", "two computed tensors", "supported:"]),
    ("clip_nan", lambda: graph_model([N("Clip", ["x", "lo", "hi"], ["y"], name="clip")], [vi("x", ["N", 4])],
                                     [vi("y", ["N", 4])], [init("lo", NAN), init("hi", 1.0)]),
     CompileError, ["node 'clip' (Clip)", "NaN"]),
    ("leakyrelu_alpha_nan", lambda: unary("LeakyRelu", alpha=NAN), CompileError, ["node 'n' (LeakyRelu)", "finite"]),
    ("hardsigmoid_alpha_nan", lambda: unary("HardSigmoid", alpha=NAN), CompileError, ["node 'n' (HardSigmoid)", "finite"]),
    ("prelu_slope_length", lambda: with_const("PRelu", np.ones(7)), CompileError, ["node 'n' (PRelu)", "does not broadcast"]),
    ("pad_negative", lambda: graph_model([N("Pad", ["x", "p"], ["y"], name="pad")], [vi("x", ["N", 3, 4, 4])],
                                         [vi("y", ["N", 3, 2, 2])], [init("p", [0, 0, -1, -1, 0, 0, -1, -1], np.int64)]),
     UnsupportedError, ["node 'pad' (Pad)", "negative pads"]),
    ("pad_wrap", lambda: graph_model([N("Pad", ["x", "p"], ["y"], name="pad", mode="wrap")],
                                        [vi("x", ["N", 3, 4, 4])], [vi("y", ["N", 3, 6, 6])],
                                        [init("p", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)]),
     UnsupportedError, ["node 'pad' (Pad)", "mode=wrap", "supported: constant, edge, reflect"]),
    ("resize_linear", lambda: graph_model([N("Resize", ["x", "", "sc"], ["y"], name="rz", mode="linear")],
                                          [vi("x", ["N", 3, 4, 4])], [vi("y", ["N", 3, 8, 8])], [init("sc", [1, 1, 2, 2])]),
     UnsupportedError, ["node 'rz' (Resize)", "mode=linear", "supported: nearest"]),
    ("resize_zero_scale", lambda: graph_model([N("Resize", ["x", "", "sc"], ["y"], name="rz", mode="nearest")],
                                              [vi("x", ["N", 3, 4, 4])], [vi("y", ["N", 3, 8, 8])], [init("sc", [1, 1, 0, 0])]),
     CompileError, ["node 'rz' (Resize)", "scales"]),
]


# found by fuzzing, fixed: silently wrong designs, tracebacks and out-of-memory cases
FIXED_CASES = [
    ("cast_float_to_int", lambda: graph_model(
        [N("Relu", ["x"], ["r"], name="relu"), N("Cast", ["r"], ["y"], name="c", to=TensorProto.INT32)],
        [vi("x", ["N", 4])], [vi("y", ["N", 4], TensorProto.INT32)]), ["node 'c' (Cast)", "round toward zero"]),
    ("quantizelinear_output", lambda: graph_model(
        [N("QuantizeLinear", ["x", "s", "z"], ["y"], name="q")], [vi("x", ["N", 4])], [vi("y", ["N", 4], TensorProto.INT8)],
        [init("s", 0.1), init("z", 0, np.int8)]), ["graph output 'y'", "QuantizeLinear", "DequantizeLinear"]),
    ("two_writers", lambda: graph_model([N("Relu", ["x"], ["y"], name="a"), N("Sigmoid", ["x"], ["y"], name="b")],
                                        [vi("x", ["N", 4])], [vi("y", ["N", 4])]), ["tensor 'y' is written by two nodes"]),
    ("trunc_widens", lambda: graph_model(
        [N("Quant", ["x", "s", "z", "bi"], ["xq"], name="q", domain=QONNX, signed=1, narrow=0, rounding_mode="ROUND"),
         N("Trunc", ["xq", "s", "z", "bi", "bo"], ["y"], name="t", domain=QONNX, rounding_mode="FLOOR")],
        [vi("x", ["N", 4])], [vi("y", ["N", 4])], [init("s", 0.1), init("z", 0.0), init("bi", 4.0), init("bo", 8.0)],
        qonnx=True), ["node 't' (Trunc)", "only removes bits"]),
    ("quant_bits_nan", lambda: graph_model(
        [N("Quant", ["x", "s", "z", "b"], ["y"], name="q", domain=QONNX)], [vi("x", ["N", 8])], [vi("y", ["N", 8])],
        [init("s", 0.1), init("z", 0.0), init("b", np.nan)], qonnx=True), ["node 'q' (Quant)", "bit width"]),
    ("huge_intermediate", lambda: graph_model(
        [N("Pad", ["x", "p"], ["y"], name="pad")], [vi("x", ["N", 3, 100, 100])], [vi("y", ["N", 3, 200100, 200100])],
        [init("p", [0, 0, 100000, 100000, 0, 0, 100000, 100000], np.int64)]),
     ["node 'pad' (Pad) output", "larger than this compiler accepts"]),
    ("opset_from_the_future", lambda: graph_model([N("Relu", ["x"], ["y"], name="r")], [vi("x", ["N", 4])],
                                                  [vi("y", ["N", 4])], opset=99), ["opset 99 is newer"]),

    ("concat_axis", lambda: graph_model([N("Concat", ["x", "x"], ["y"], name="cat", axis=7)], [vi("x", ["N", 4])],
                                        [vi("y", ["N", 8])]), ["node 'cat' (Concat)", "axis 7"]),
    ("resize_nan_scale", lambda: graph_model([N("Resize", ["x", "", "s"], ["y"], name="rs", mode="nearest")],
                                             [vi("x", ["N", 3, 4, 4])], [vi("y", ["N", 3, 8, 8])],
                                             [init("s", [1, 1, np.nan, 2])]), ["node 'rs' (Resize)", "finite"]),
    ("resize_zero_size", lambda: graph_model([N("Resize", ["x", "", "", "z"], ["y"], name="rs", mode="nearest")],
                                             [vi("x", ["N", 3, 4, 4])], [vi("y", ["N", 3, 0, 0])],
                                             [init("z", [1, 3, 0, 0], np.int64)]), ["node 'rs' (Resize)", "empty"]),
    ("resize_huge", lambda: graph_model([N("Resize", ["x", "", "s"], ["y"], name="rs", mode="nearest")],
                                        [vi("x", ["N", 3, 4, 4])], [vi("y", ["N", 3, 40000, 40000])],
                                        [init("s", [1, 1, 1e4, 1e4])]), ["node 'rs' (Resize)", "larger than"]),
    ("softmax_huge", lambda: unary("Softmax", shape=(100000,), axis=-1), ["node 'n' (Softmax)", "up to 4096"]),

    # issue #9, the mutation fuzz: each was a traceback, a silent acceptance or a corrupt design
    ("qdq_axis_out_of_range", lambda: per_axis_weight(axis=7), ["node 'dqw' (DequantizeLinear)", "axis 7 is outside"]),
    ("qdq_axis_missing_per_axis", lambda: graph_model(
        [N("DequantizeLinear", ["Wq", "ws"], ["W"], name="dqw"), N("Gemm", ["x", "W"], ["y"], name="fc")],
        [vi("x", ["N", 4])], [vi("y", ["N", 3])],
        [helper.make_tensor("Wq", TensorProto.INT8, [4, 3], [1] * 12), init("ws", np.full(4, 0.5))], opset=13),
     ["node 'dqw' (DequantizeLinear)", "per-axis scale of shape (4,) does not match axis 1 of size 3"]),
    ("qdq_scale_length", lambda: per_axis_weight(axis=0, n_scales=2),
     ["node 'dqw' (DequantizeLinear)", "per-axis scale of shape (2,) does not match axis 0 of size 3"]),
    ("squeeze_axis_out_of_range", lambda: graph_model(
        [N("Unsqueeze", ["x"], ["u"], name="u", axes=[2]), N("Squeeze", ["u"], ["y"], name="sq", axes=[5])],
        [vi("x", ["N", 4])], [vi("y", ["N", 4])], opset=11), ["node 'sq' (Squeeze)", "axes value 5 is outside"]),
    ("unsqueeze_without_axes", lambda: graph_model(
        [N("Unsqueeze", ["x"], ["u"], name="u"), N("Relu", ["u"], ["y"], name="r")],
        [vi("x", ["N", 4])], [vi("y", ["N", 4, 1])], opset=11), ["node 'u' (Unsqueeze)", "axes are missing"]),
    ("conv_zero_stride_same", lambda: conv(strides=[0, 1], auto_pad="SAME_UPPER"),
     ["onnx.checker rejects the model", "strides must only contain positive values"]),
    ("string_weight", lambda: _weight_of_type(TensorProto.STRING, [b"a"] * 12),
     ["initializer 'W'", "element type STRING"]),
    ("complex_weight", lambda: _weight_of_type(TensorProto.COMPLEX64, [complex(1, 2)] * 12),
     ["initializer 'W'", "element type COMPLEX64"]),
    ("external_data_nul", lambda: external_weight("a\0b"), ["initializer 'W'", "external data path 'a\\x00b'"]),
    ("constant_node_external_parent", lambda: _constant_external("../secret.bin"),
     ["node 'cst' (Constant) attribute 'value'", "leaves the model's folder"]),
    ("constant_node_external_absolute", lambda: _constant_external("/etc/hostname"),
     ["node 'cst' (Constant) attribute 'value'", "leaves the model's folder"]),
    ("node_name_nul", lambda: _renamed("fc\0x"), ["node name 'fc\\x00x' (Gemm) contains control characters"]),
    ("node_name_newline", lambda: _renamed("fc\nfrom Gemm"), ["node name 'fc\\nfrom Gemm' (Gemm) contains control"]),
    ("opset_zero", lambda: gemm_opset(0), ["opset import 'ai.onnx' has version 0"]),
    ("opset_negative", lambda: gemm_opset(-1), ["opset import 'ai.onnx' has version -1"]),
    ("ir_version_zero", lambda: with_model(gemm, ir_version=0), ["onnx.checker rejects the model", "ir_version"]),
    ("ir_version_99", lambda: with_model(gemm, ir_version=99), ["onnx.checker rejects the model", "ir_version 99"]),
    ("negative_initializer_dims", _negative_dims, ["onnx.checker rejects the model", "Negative dimension"]),
    ("duplicate_graph_inputs", lambda: _duplicate("input"), ["onnx.checker rejects the model", "'x' has been used as "
                                                                                                 "graph input names"]),
    ("duplicate_initializers", lambda: _duplicate("initializer"), ["onnx.checker rejects the model",
                                                                   "initializer name is not unique"]),
    ("op_newer_than_the_opset", lambda: graph_model(   # folded before the checker ran: 8 GiB allocated
        [N("ConstantOfShape", ["s"], ["c"], name="cos"), N("Add", ["x", "c"], ["y"], name="add")],
        [vi("x", ["N", 4])], [vi("y", ["N", 4])], [init("s", [1, 2 ** 31], np.int64)], opset=8),
     ["node 'cos' (ConstantOfShape)", "does not exist in opset 8"]),
    ("quant_attribute_of_another_type", lambda: quant(signed=1.0),
     ["node 'q' (Quant)", "attribute 'signed' is of type FLOAT; Quant takes INT"]),
    ("control_character_in_an_attribute", lambda: quant(rounding_mode="\x00"),
     ["node 'q' (Quant)", "rounding_mode=\\x00 is not supported"]),
    ("constant_of_shape_huge", _huge_constant_of_shape,
     ["node 'cos' (ConstantOfShape)", "9e+08 elements, more than this compiler accepts"]),
]
MODEL_CASES += [(case, build, CompileError, fragments) for case, build, fragments in FIXED_CASES]


@pytest.mark.parametrize("build, kind, fragments", [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES])
def test_bad_model_is_a_clear_error(tmp_path, build, kind, fragments):
    path = tmp_path / "m.onnx"
    onnx.save(build(), str(path))
    with pytest.raises(kind) as e:
        compiler.compile_model(path, "zcu104")
    msg = str(e.value)
    assert "\n" not in msg
    for f in fragments:
        assert f in msg, msg


@pytest.mark.parametrize("content", [b"", b"hello world\n", b"\x00" * 1000, b"\xff" * 1000,
                                     bytes(range(256)) * 20], ids=["empty", "text", "zeros", "ff", "bytes"])
def test_garbage_file_is_a_model_error(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        compiler.compile_model(path, "zcu104")


def test_truncated_real_model(tmp_path):
    path = tmp_path / "trunc.onnx"
    path.write_bytes(model_path("D01_jet_mlp_float").read_bytes()[:3000])
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        compiler.compile_model(path, "zcu104")


def test_paths_that_are_not_model_files(tmp_path):
    (tmp_path / "dir.onnx").mkdir()
    (tmp_path / "link.onnx").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="not a file"):
        compiler.compile_model(tmp_path / "dir.onnx", "zcu104")
    with pytest.raises(ModelError, match="no such file"):
        compiler.compile_model(tmp_path / "link.onnx", "zcu104")
    with pytest.raises(ModelError, match="no such file"):
        compiler.compile_model(tmp_path / "missing.onnx", "zcu104")


# ---- options --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def d01_path():
    return model_path("D01_jet_mlp_float")


@pytest.mark.parametrize("kwargs, kind, fragment", [
    (dict(width=0), CompileError, "width 0 is outside the supported 2..32 bits"),
    (dict(width=64), CompileError, "width 64 is outside"),
    (dict(weight_width=1), CompileError, "weight width 1 is outside"),
    (dict(clock_mhz=0), TargetError, "is outside the supported (0, 2000] MHz"),
    (dict(clock_mhz=-100), TargetError, "is outside the supported (0, 2000] MHz"),
    (dict(clock_mhz=float("nan")), TargetError, "is outside the supported (0, 2000] MHz"),
    (dict(fps=0), CompileError, "fps must be positive"),
    (dict(fps=float("nan")), CompileError, "fps must be positive"),
    (dict(latency_us=-1), CompileError, "latency_us must be positive"),
    (dict(fit=True, caps={"foo": 0.5}), CompileError, "resource cap foo=0.5"),
    (dict(fit=True, caps={"dsp": 0}), CompileError, "resource cap dsp=0"),
    (dict(fit=True, caps={"dsp": float("nan")}), CompileError, "resource cap dsp=nan"),
    (dict(layer_reuse={"nope": 2}), CompileError, "unknown layer(s) nope"),
    (dict(layer_reuse={"Softmax": 4}), CompileError, "node 'Softmax' (Softmax): has no reuse factor"),
    (dict(layer_reuse={"_class__keras_layers_core_Dense__": 0}), CompileError, "reuse_factor=0 (supported: a positive integer)"),
], ids=lambda v: repr(v) if not isinstance(v, type) else v.__name__)
def test_bad_option_is_a_clear_error(d01_path, kwargs, kind, fragment):
    with pytest.raises(kind) as e:
        compiler.compile_model(d01_path, "zcu104", **kwargs)
    assert fragment in str(e.value)


@pytest.mark.parametrize("target", ["nonexistent", "", "/tmp"])
def test_unknown_target(d01_path, target):
    with pytest.raises(TargetError, match="unknown target"):
        compiler.compile_model(d01_path, target)


def test_bad_board_file(d01_path, tmp_path):
    board = tmp_path / "board.toml"
    board.write_text("this is = not [valid toml\n")
    with pytest.raises(TargetError, match="not valid TOML"):
        compiler.compile_model(d01_path, str(board))


def test_impossible_fold_requests(d01_path):
    with pytest.raises(CompileError, match="the wall"):
        compiler.compile_model(d01_path, "zcu104", fps=1e15)
    with pytest.raises(CompileError, match="impossible"):
        compiler.compile_model(d01_path, "zcu104", latency_us=1e-9)
    with pytest.raises(CompileError, match="impossible"):
        compiler.compile_model(d01_path, "zcu104", fit=True, caps={"dsp": 1e-9, "lut": 1e-9, "ff": 1e-9})


# ---- data: calibration, simulate ------------------------------------------------------
@pytest.fixture(scope="module")
def d01(d01_path):
    return compiler.compile_model(d01_path, "zcu104")


BAD_DATA = [
    ("wrong_width", np.zeros((4, 15)), "does not match the model input (batch, 16)"),
    ("one_d", np.zeros(16), "shape (16,) does not match"),
    ("scalar", np.float32(3), "shape () does not match"),
    ("three_d", np.zeros((4, 4, 4)), "shape (4, 4, 4) does not match"),
    ("empty", np.zeros((0, 16)), "no samples"),
    ("empty_1d", np.zeros((0,)), "shape (0,) does not match"),
    ("all_nan", np.full((4, 16), np.nan), "NaN or infinity"),
    ("one_inf", np.where(np.eye(4, 16) > 0, np.inf, 0.0), "NaN or infinity"),
    ("none_objects", np.array([[None] * 16], dtype=object), "NaN or infinity"),
    ("structured", np.zeros(8, dtype=[("a", "f4", (16,))]), "shape (8,) does not match"),
]


@pytest.mark.parametrize("x, fragment", [c[1:] for c in BAD_DATA], ids=[c[0] for c in BAD_DATA])
def test_bad_simulate_input(d01, x, fragment):
    with pytest.raises(DataError) as e:
        compiler.simulate(d01, x)
    assert fragment in str(e.value)


@pytest.mark.parametrize("x, fragment", [c[1:] for c in BAD_DATA if c[0] in ("wrong_width", "one_d", "empty", "all_nan")],
                         ids=["wrong_width", "one_d", "empty", "all_nan"])
def test_bad_calibration_data(d01_path, x, fragment):
    with pytest.raises(DataError) as e:
        compiler.compile_model(d01_path, "zcu104", calib=x)
    assert "calibration data" in str(e.value) and fragment in str(e.value)


# ---- estimate overrides ---------------------------------------------------------------
DENSE = "_class__keras_layers_core_Dense__"
BAD_OVERRIDES = [
    ("list", [1], "overrides must be a dict"),
    ("str", "x", "overrides must be a dict"),
    ("unknown_layer", {"nope": {"reuse_factor": 2}}, "override for unknown layer 'nope'"),
    ("int_layer_key", {0: {"reuse_factor": 2}}, "override for unknown layer 0"),
    ("layer_not_dict", {DENSE: 2}, "overrides must be a dict of"),
    ("layer_none", {DENSE: None}, "overrides must be a dict of"),
    ("rf_zero", {DENSE: {"reuse_factor": 0}}, "reuse_factor=0 (supported: 1, 2, 4"),
    ("rf_not_divisor", {DENSE: {"reuse_factor": 3}}, "reuse_factor=3"),
    ("rf_str", {DENSE: {"reuse_factor": "2"}}, "reuse_factor='2'"),
    ("rf_float", {DENSE: {"reuse_factor": 2.0}}, "reuse_factor=2.0"),
    ("rf_bool", {DENSE: {"reuse_factor": True}}, "reuse_factor=True"),
    ("rf_list", {DENSE: {"reuse_factor": [2]}}, "reuse_factor=[2]"),
    ("wb_zero", {DENSE: {"weight_bits": 0}}, "weight_bits=0 (supported: integers 2..32)"),
    ("wb_64", {DENSE: {"weight_bits": 64}}, "weight_bits=64"),
    ("ab_zero", {DENSE: {"act_bits": 0}}, "act_bits=0 (supported: integers 2..32)"),
    ("ab_nan", {DENSE: {"act_bits": float("nan")}}, "act_bits=nan"),
    ("pruning_one", {DENSE: {"pruning": 1.0}}, "pruning=1.0 (supported: a fraction in [0, 1))"),
    ("pruning_negative", {DENSE: {"pruning": -0.1}}, "pruning=-0.1"),
    ("pruning_nan", {DENSE: {"pruning": float("nan")}}, "pruning=nan"),
    ("pruning_str", {DENSE: {"pruning": "0.5"}}, "pruning='0.5'"),
    ("unknown_knob", {DENSE: {"speed": 2}}, "unknown override 'speed' (supported: reuse_factor"),
    ("softmax_rf", {"Softmax": {"reuse_factor": 2}}, "layer 'Softmax' (Softmax) has no reuse_factor"),
]


@pytest.mark.parametrize("overrides, fragment", [c[1:] for c in BAD_OVERRIDES], ids=[c[0] for c in BAD_OVERRIDES])
def test_bad_estimate_overrides(d01, overrides, fragment):
    with pytest.raises(CompileError) as e:
        compiler.estimate(d01, overrides)
    assert fragment in str(e.value)


@pytest.mark.parametrize("configs, fragment", [
    ([5], "configuration 0: overrides must be a dict"),
    ([None], "configuration 0: overrides must be a dict"),
    ([{DENSE: None}], "configuration 0"),
    ([{DENSE: {"reuse_factor": 0}}], "configuration 0: layer"),
    ([{DENSE: {"reuse_factor": 2}}, {DENSE: {"pruning": 2}}], "configuration 1: layer"),
    ([{DENSE: {"act_bits": "8"}}], "act_bits='8'"),
    ([{DENSE: {"pruning": float("nan")}}], "pruning=nan"),
], ids=["int", "none", "layer_none", "rf_zero", "second_bad", "ab_str", "pruning_nan"])
def test_bad_estimate_batch(d01, configs, fragment):
    with pytest.raises(CompileError) as e:
        compiler.estimate_batch(d01, configs)
    assert fragment in str(e.value)


# ---- output folders -------------------------------------------------------------------
def test_output_folder_errors(d01, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(OutputError, match="already exists"):
        compiler.write_project(d01, f)
    with pytest.raises(OutputError, match="is not a folder"):
        compiler.write_project(d01, f, force=True)
    assert f.read_text() == "x"


def test_load_design_errors(tmp_path):
    with pytest.raises(OutputError, match="not a qcompile output folder"):
        compiler.load_design(tmp_path / "missing")
    (tmp_path / "fake" / "design").mkdir(parents=True)
    (tmp_path / "fake" / "design" / "design.json").write_text("{not json")
    with pytest.raises(OutputError, match="not valid JSON"):
        compiler.load_design(tmp_path / "fake")


# ---- the command line: one line, exit 2, no traceback, no output folder ----------------
def qcompile(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "compiler.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("qcompile: error: ")
    for f in fragments:
        assert f in lines[0], lines[0]


def test_cli_model_error_names_node_and_op(tmp_path):
    m = tmp_path / "m.onnx"
    onnx.save(quant(bits=40), str(m))
    out = tmp_path / "out"
    assert_one_line_error(qcompile(m, "--target", "zcu104", "-o", out), "node 'q' (Quant)", "bit width 40", "supported:")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [m]  # no temporary folder either


def test_cli_bad_calibration_npy(tmp_path, d01_path):
    bad = tmp_path / "calib.npy"
    np.save(bad, np.full((8, 16), np.nan))
    out = tmp_path / "out"
    assert_one_line_error(qcompile(d01_path, "--calib", bad, "-o", out), "calibration data", "NaN or infinity")
    assert not out.exists()


def test_cli_verify_bad_data_npy(tmp_path, d01_path):
    bad = tmp_path / "data.npy"
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_one_line_error(qcompile("verify", d01_path, "--data", bad), "data", "not a .npy or .npz file")


def test_cli_zero_clock(tmp_path, d01_path):
    out = tmp_path / "out"
    assert_one_line_error(qcompile(d01_path, "--clock-mhz", "0", "-o", out), "is outside the supported (0, 2000] MHz")
    assert not out.exists()


# ---- found by fuzzing, fixed: silently wrong designs and unsafe outputs --------------------
def _save(model, tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(model, p)
    return p





def test_integer_inputs_are_typed_exactly(tmp_path):
    """An int8 graph input is taken at its integer values (not as ap_fixed<16,6>)."""
    path = _save(graph_model([N("Relu", ["x"], ["y"], name="r")], [vi("x", ["N", 4], TensorProto.INT8)],
                             [vi("y", ["N", 4], TensorProto.INT8)], opset=14), tmp_path)
    design = compiler.compile_model(path, "zcu104")
    x = np.array([[100, -5, 127, 3]], dtype=np.int8)
    assert compiler.simulate(design, x).tolist() == [[100, 0, 127, 3]]


def test_force_never_replaces_a_foreign_folder(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    design = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104")
    with pytest.raises(OutputError, match="not a qcompile output folder"):
        compiler.write_project(design, victim, force=True)
    assert (victim / "precious.txt").read_text() == "keep me"
    out = compiler.write_project(design, tmp_path / "out")
    assert compiler.write_project(design, out, force=True) == out  # an earlier output is replaced


def test_force_keeps_files_qcompile_did_not_write(tmp_path):
    """--force replaces an earlier output only when every file in it is one qcompile wrote
    (its .qcompile marker lists them), and never a folder without the marker."""
    design = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104")
    out = compiler.write_project(design, tmp_path / "out")
    assert (out / ".qcompile").is_file()
    (out / "firmware" / "my_notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"holds files qcompile did not write \(firmware/my_notes.txt\)"):
        compiler.write_project(design, out, force=True)
    assert (out / "firmware" / "my_notes.txt").read_text() == "mine"
    (out / "firmware" / "my_notes.txt").unlink()
    (out / ".qcompile").unlink()   # an output folder without the marker: not ours to replace
    with pytest.raises(OutputError, match="no .qcompile marker"):
        compiler.write_project(design, out, force=True)


def test_a_new_output_folder_is_claimed_once(tmp_path, monkeypatch):
    """Two compiles into the same new folder: the second finds it claimed (create-or-fail)
    and fails, instead of replacing the first one's output."""
    import compiler.backend.emit as emit

    design = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104")
    out = tmp_path / "out"
    render = emit.render_project

    def render_while_another_compile_claims(*args, **kwargs):
        files = render(*args, **kwargs)
        out.mkdir()                  # the other compile got there first
        (out / "theirs.txt").write_text("first")
        return files
    monkeypatch.setattr(emit, "render_project", render_while_another_compile_claims)
    with pytest.raises(OutputError, match="already exists"):
        compiler.write_project(design, out)
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]   # no temporary folder left behind


def test_board_file_strings_cannot_inject_code(tmp_path):
    """A board's name and part reach C++ comments and Tcl: the part must be a part name,
    and names are made inert (one comment line, one quoted Tcl word)."""
    from compiler.backend.emit import tcl_word
    from compiler.resources import data_dir

    text = (data_dir("hw_models") / "pynq-z2.toml").read_text()
    board = tmp_path / "board.toml"
    board.write_text(text.replace('part = "xc7z020clg400-1"', 'part = "xc7z020clg400-1}; exec rm -rf ~; #"'))
    with pytest.raises(TargetError, match="key 'part' must be a device part name"):
        compiler.compile_model(model_path("D01_jet_mlp_float"), str(board))
    board.write_text(text.replace('name = "pynq-z2"', 'name = "pynq\\n#include <evil.h>"'))
    with pytest.raises(TargetError, match="key 'name' must be a one-line string"):
        compiler.compile_model(model_path("D01_jet_mlp_float"), str(board))
    board.write_text(text.replace('name = "pynq-z2"', 'name = "pynq [exec evil] \\\\"'))
    design = compiler.compile_model(model_path("D01_jet_mlp_float"), str(board))
    out = compiler.write_project(design, tmp_path / "out")
    tcl = (out / "build.tcl").read_text().splitlines()
    assert tcl[0].startswith("# Generated by qcompile") and not tcl[0].endswith("\\")
    assert tcl_word("a [b] $c {d} \\ \"e\"\n") == '"a \\[b\\] \\$c \\{d\\} \\\\ \\"e\\"\\u000a"'


def test_node_names_cannot_inject_cpp(tmp_path):
    """Names with control characters are refused up front (validate.check_structure); any
    other text reaches C++ only through cpp_identifier or the comment filter."""
    model = gemm(w=np.ones((4, 3)))
    model.graph.node[0].name = "fc\n#error INJECTED \\"
    with pytest.raises(ModelError, match=r"node name 'fc\\n#error INJECTED .*' \(Gemm\) contains control characters"):
        compiler.compile_model(_save(model, tmp_path), "zcu104")
    model.graph.node[0].name = 'fc */ #error INJECTED "\\'
    design = compiler.compile_model(_save(model, tmp_path), "zcu104")
    out = compiler.write_project(design, tmp_path / "out")
    for f in (out / "firmware").glob("*"):
        for line in f.read_text().splitlines():
            assert not line.lstrip().startswith("#error"), f
            assert not (line.rstrip().endswith("\\") and "//" in line), f   # a comment continued


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(clock_mhz=float("inf")), "outside the supported (0, 2000] MHz"),
    (dict(clock_mhz="abc"), "clock_mhz must be a number"),
    (dict(reuse_factor=0), "reuse factor must be at least 1"),
    (dict(reuse_factor=2.5), "reuse_factor must be an integer"),
    (dict(input_type="float"), "input type 'float'"),
    (dict(input_type="ap_fixed<200,100>"), "input type 'ap_fixed<200,100>'"),
    (dict(caps=[1]), "caps must be a dict"),
    (dict(layer_reuse={"x": "y"}), "layer_reuse must be a dict"),
    (dict(target=None), "target must be a board name"),
])
def test_bad_api_arguments_are_clear_errors(kwargs, fragment):
    with pytest.raises(CompileError) as e:
        compiler.compile_model(model_path("D01_jet_mlp_float"), **{"target": "zcu104", **kwargs})
    assert fragment in str(e.value), str(e.value)


def test_bad_api_calls_are_clear_errors(tmp_path):
    with pytest.raises(CompileError, match="model must be a path"):
        compiler.compile_model(None)
    with pytest.raises(CompileError, match="expected a compiled design"):
        compiler.estimate(None)
    design = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104")
    with pytest.raises(CompileError, match="configs must be a list"):
        compiler.estimate_batch(design, 5)
    layer = design.graph.nodes()[0].name
    with pytest.raises(CompileError, match="numpy int64; pass a Python number"):
        compiler.estimate(design, {layer: {"reuse_factor": np.int64(2)}})
    two = graph_model([N("Add", ["a", "b"], ["y"], name="add")], [vi("a", ["N", 4]), vi("b", ["N", 4])],
                      [vi("y", ["N", 4])])
    with pytest.raises(CompileError, match="the model has 2 inputs"):
        compiler.simulate(compiler.compile_model(_save(two, tmp_path), "zcu104"), np.zeros((3, 4)))


def test_bad_cli_data_and_counts_are_one_line_errors(tmp_path):
    text = tmp_path / "strings.npy"
    np.save(text, np.array([["a"] * 16] * 4))
    scalar = tmp_path / "scalar.npy"
    np.save(scalar, np.float32(3))
    labels = tmp_path / "labels.npy"
    np.save(labels, np.full(5, 99))
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((5, 16), np.float32))
    assert_one_line_error(qcompile(model_path("D01_jet_mlp_float"), "--calib", text, "-o", tmp_path / "a"), "expected real numbers")
    assert_one_line_error(qcompile("verify", model_path("D01_jet_mlp_float"), "--data", scalar), "expected real numbers")
    assert_one_line_error(qcompile("verify", model_path("D01_jet_mlp_float"), "--data", data, "--labels", labels), "class indices")
    assert_one_line_error(qcompile(model_path("D01_jet_mlp_float"), "--csim", "--csim-n", "0", "-o", tmp_path / "b"), "--csim-n")
    assert_one_line_error(qcompile(model_path("D01_jet_mlp_float"), "--caps", "dsp=0.5", "-o", tmp_path / "c"), "caps bound a folding request")
    assert not any((tmp_path / n).exists() for n in "abc")





def test_inf_weight_is_one_line_naming_the_model_op(tmp_path):
    """No RuntimeWarning first, and the message names the model's op too (Gemm became Dense)."""
    w = np.ones((4, 3))
    w[0, 0] = np.inf
    path = _save(gemm(w=w), tmp_path)
    proc = qcompile(path, "-o", tmp_path / "out")
    assert_one_line_error(proc, "(Dense, from Gemm", "finite")
