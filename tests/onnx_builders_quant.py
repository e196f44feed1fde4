"""Small quantized ONNX models (QONNX, QDQ, QOperator) for single-op tests."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


def _model(nodes, inputs, outputs, inits, opsets):
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", *s]) for n, s in inputs]
    outs = [helper.make_tensor_value_info(n, t, ["N", *s]) for n, s, t in outputs]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits]
    m = helper.make_model(helper.make_graph(nodes, "q", ins, outs, inits),
                          opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 8
    return m


def qonnx_quant(c=8, scale=2.0 ** -3, zero=0.0, bits=6, signed=1, narrow=0, mode="ROUND", domain=QONNX):
    """x -> Quant -> y (per-channel when `scale`/`zero` are arrays of length c)."""
    node = helper.make_node("Quant", ["x", "s", "z", "b"], ["y"], name="q", domain=domain, signed=signed,
                            narrow=narrow, rounding_mode=mode)
    f32 = np.float32
    return _model([node], [("x", [c])], [("y", [c], TensorProto.FLOAT)],
                  [("s", np.asarray(scale, f32)), ("z", np.asarray(zero, f32)), ("b", f32(bits))],
                  [("", 13), (domain, 1)])


def qonnx_mlp(rng, scale_w=0.37, scale_a=0.11, bits=4, per_channel=False):
    """Dense with Quant weights (non-power-of-two, optionally per output channel) and a
    Quant activation with a zero point, then BatchNorm -> Relu -> unsigned Quant."""
    n_in, n_out = 10, 6
    f32 = np.float32
    sw = (rng.uniform(0.2, 0.6, (n_out, 1)) if per_channel else np.asarray(scale_w)).astype(f32)
    nodes = [
        helper.make_node("Quant", ["x", "sa", "za", "ba"], ["xq"], name="qin", domain=QONNX, signed=1, narrow=0,
                         rounding_mode="ROUND"),
        helper.make_node("Quant", ["W", "sw", "zw", "bw"], ["Wq"], name="qw", domain=QONNX, signed=1, narrow=1,
                         rounding_mode="ROUND"),
        helper.make_node("Gemm", ["xq", "Wq", "B"], ["g"], name="fc", transB=1),
        helper.make_node("BatchNormalization", ["g", "gam", "bet", "mu", "var"], ["bn"], name="bn"),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("Quant", ["r", "so", "zo", "bo"], ["y"], name="qout", domain=QONNX, signed=0, narrow=0,
                         rounding_mode="ROUND"),
    ]
    inits = [("sa", f32(scale_a)), ("za", f32(0)), ("ba", f32(8)), ("W", rng.normal(size=(n_out, n_in)).astype(f32)),
             ("sw", sw), ("zw", f32(0)), ("bw", f32(bits)), ("B", rng.normal(size=n_out).astype(f32)),
             ("gam", rng.uniform(-2, 2, n_out).astype(f32)), ("bet", rng.normal(size=n_out).astype(f32)),
             ("mu", rng.normal(size=n_out).astype(f32)), ("var", rng.uniform(0.5, 2, n_out).astype(f32)),
             ("so", f32(0.07)), ("zo", f32(0)), ("bo", f32(4))]
    return _model(nodes, [("x", [n_in])], [("y", [n_out], TensorProto.FLOAT)], inits, [("", 13), (QONNX, 1)])


def bipolar(c=8, scale=1.0):
    node = helper.make_node("BipolarQuant", ["x", "s"], ["y"], name="bq", domain=QONNX)
    return _model([node], [("x", [c])], [("y", [c], TensorProto.FLOAT)], [("s", np.float32(scale))],
                  [("", 13), (QONNX, 1)])


def trunc_v1(c=8, scale=2.0 ** -4, in_bits=8, out_bits=5, mode="FLOOR"):
    f32 = np.float32
    nodes = [helper.make_node("Quant", ["x", "s", "z", "bi"], ["xq"], name="q", domain=QONNX, signed=1, narrow=0,
                              rounding_mode="ROUND"),
             helper.make_node("Trunc", ["xq", "s", "z", "bi", "bo"], ["y"], name="t", domain=QONNX, rounding_mode=mode)]
    return _model(nodes, [("x", [c])], [("y", [c], TensorProto.FLOAT)],
                  [("s", f32(scale)), ("z", f32(0)), ("bi", f32(in_bits)), ("bo", f32(out_bits))], [("", 13), (QONNX, 1)])


def qdq_chain(rng, dtype=np.int8, zero=3, per_axis=False):
    """x -> Q -> DQ -> Gemm(DQ(int8 weights, per-axis optional), DQ(int32 bias)) -> Q -> DQ."""
    n_in, n_out = 12, 7
    s_x, s_y = np.float32(0.043), np.float32(0.151)
    s_w = (rng.uniform(0.01, 0.03, n_out) if per_axis else np.asarray(0.02)).astype(np.float32)
    wq = rng.integers(-127, 128, (n_in, n_out)).astype(np.int8)
    bq = rng.integers(-500, 500, n_out).astype(np.int32)
    s_b = (s_x * s_w).astype(np.float32)
    zt = np.asarray(zero, dtype=dtype)
    nodes = [helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="qx"),
             helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"], name="dqx"),
             helper.make_node("DequantizeLinear", ["Wq", "sw", "zw"], ["W"], name="dqw", axis=1),
             helper.make_node("DequantizeLinear", ["Bq", "sb", "zb"], ["B"], name="dqb", axis=0),
             helper.make_node("Gemm", ["xd", "W", "B"], ["g"], name="fc"),
             helper.make_node("QuantizeLinear", ["g", "sy", "zy"], ["yq"], name="qy"),
             helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dqy")]
    inits = [("sx", s_x), ("zx", zt), ("Wq", wq), ("sw", s_w), ("zw", np.zeros(s_w.shape, np.int8)),
             ("Bq", bq), ("sb", s_b), ("zb", np.zeros(s_b.shape, np.int32)), ("sy", s_y), ("zy", zt)]
    return _model(nodes, [("x", [n_in])], [("y", [n_out], TensorProto.FLOAT)], inits, [("", 13)])


def qlinear_matmul(rng):
    n_in, n_out = 9, 5
    nodes = [helper.make_node("QuantizeLinear", ["x", "sa", "za"], ["a"], name="qa"),
             helper.make_node("QLinearMatMul", ["a", "sa", "za", "Bq", "sb", "zb", "sy", "zy"], ["yq"], name="qmm"),
             helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dq")]
    inits = [("sa", np.float32(0.05)), ("za", np.uint8(128)), ("Bq", rng.integers(0, 256, (n_in, n_out)).astype(np.uint8)),
             ("sb", np.float32(0.01)), ("zb", np.uint8(120)), ("sy", np.float32(0.12)), ("zy", np.uint8(100))]
    return _model(nodes, [("x", [n_in])], [("y", [n_out], TensorProto.FLOAT)], inits, [("", 13)])


def matmul_integer(rng):
    n_in, n_out = 9, 5
    nodes = [helper.make_node("QuantizeLinear", ["x", "sa", "za"], ["a"], name="qa"),
             helper.make_node("MatMulInteger", ["a", "Bq", "za", "zb"], ["acc"], name="mmi"),
             helper.make_node("Cast", ["acc"], ["accf"], name="cast", to=1),
             helper.make_node("Mul", ["accf", "sab"], ["y"], name="rescale")]
    inits = [("sa", np.float32(0.05)), ("za", np.int8(-3)), ("Bq", rng.integers(-128, 128, (n_in, n_out)).astype(np.int8)),
             ("zb", np.int8(0)), ("sab", np.float32(0.05 * 0.013))]
    return _model(nodes, [("x", [n_in])], [("y", [n_out], TensorProto.FLOAT)], inits, [("", 13)])


def qgemm(rng):
    """int8 activations: onnxruntime's uint8 x int8 kernels on x86 saturate pairwise 16-bit
    sums (the reason it recommends reduce_range), so they are no reference for full-range
    weights (seen: up to 124 steps off the operator's definition)."""
    n_in, n_out = 9, 5
    nodes = [helper.make_node("QuantizeLinear", ["x", "sa", "za"], ["a"], name="qa"),
             helper.make_node("QGemm", ["a", "sa", "za", "Bq", "sb", "zb", "C", "sy", "zy"], ["yq"], name="qg",
                              domain="com.microsoft", transB=1),
             helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dq")]
    inits = [("sa", np.float32(0.05)), ("za", np.int8(3)), ("Bq", rng.integers(-128, 128, (n_out, n_in)).astype(np.int8)),
             ("sb", np.float32(0.01)), ("zb", np.int8(0)), ("C", rng.integers(-900, 900, n_out).astype(np.int32)),
             ("sy", np.float32(0.1)), ("zy", np.int8(-2))]
    return _model(nodes, [("x", [n_in])], [("y", [n_out], TensorProto.FLOAT)], inits, [("", 13), ("com.microsoft", 1)])


def mismatched_qdq():
    """A DequantizeLinear whose scale differs from its QuantizeLinear's."""
    nodes = [helper.make_node("QuantizeLinear", ["x", "s1", "z"], ["q"], name="qx"),
             helper.make_node("DequantizeLinear", ["q", "s2", "z"], ["y"], name="dq_other_scale")]
    inits = [("s1", np.float32(0.1)), ("s2", np.float32(0.2)), ("z", np.int8(0))]
    return _model(nodes, [("x", [4])], [("y", [4], TensorProto.FLOAT)], inits, [("", 13)])


def float_binary_mlp(rng):
    """Float weights that take only two values per column (+-a): a binary layer, then BN."""
    n_in, n_out = 16, 8
    a = rng.uniform(0.1, 0.5, n_out)
    w = (np.sign(rng.normal(size=(n_in, n_out))) * a).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="bin_fc"),
             helper.make_node("BatchNormalization", ["h", "g", "b", "m", "v"], ["y"], name="bn")]
    inits = [("W", w), ("g", rng.uniform(0.5, 1.5, n_out).astype(np.float32)), ("b", rng.normal(size=n_out).astype(np.float32)),
             ("m", rng.normal(size=n_out).astype(np.float32)), ("v", rng.uniform(0.5, 2, n_out).astype(np.float32))]
    return _model(nodes, [("x", [n_in])], [("y", [n_out], TensorProto.FLOAT)], inits, [("", 13)])


def _image_model(nodes, inits, c_in, hw, out_shape, opsets=(("", 13),)):
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c_in, *hw])]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", *out_shape])]
    m = helper.make_model(helper.make_graph(nodes, "qc", ins, outs, [numpy_helper.from_array(np.asarray(v), k)
                                                                         for k, v in inits]),
                          opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = 8
    return m


def qlinear_conv(rng):
    """int8 x int8 (onnxruntime's uint8 x int8 kernels saturate on x86), per-channel weight
    scales, a bias, stride 2 and padding."""
    c_in, c_out, hw = 3, 4, (9, 8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="qx"),
             helper.make_node("QLinearConv", ["xq", "sx", "zx", "W", "sw", "zw", "sy", "zy", "B"], ["yq"],
                              name="qconv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dq")]
    sw = rng.uniform(0.005, 0.02, c_out).astype(np.float32)
    inits = [("sx", np.float32(0.04)), ("zx", np.int8(2)), ("W", rng.integers(-127, 128, (c_out, c_in, 3, 3)).astype(np.int8)),
             ("sw", sw), ("zw", np.zeros(c_out, np.int8)), ("sy", np.float32(0.05)), ("zy", np.int8(-4)),
             ("B", rng.integers(-2000, 2000, c_out).astype(np.int32))]
    return _image_model(nodes, inits, c_in, hw, (c_out, 5, 4))


def conv_integer(rng):
    c_in, c_out, hw = 2, 3, (7, 7)
    nodes = [helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="qx"),
             helper.make_node("ConvInteger", ["xq", "W", "zx", "zw"], ["acc"], name="convint", kernel_shape=[3, 3]),
             helper.make_node("Cast", ["acc"], ["accf"], name="cast", to=1),
             helper.make_node("Mul", ["accf", "sxw"], ["y"], name="rescale")]
    inits = [("sx", np.float32(0.05)), ("zx", np.uint8(120)), ("W", rng.integers(0, 256, (c_out, c_in, 3, 3)).astype(np.uint8)),
             ("zw", np.uint8(128)), ("sxw", np.float32(0.05 * 0.02))]
    return _image_model(nodes, inits, c_in, hw, (c_out, 5, 5))


def qdq_int4(rng, signed=True):
    """opset 21 int4/uint4 QDQ: x -> Q -> DQ -> MatMul(DQ(int4 weights, per-axis)) -> Q -> DQ,
    the 4-bit tensors packed two to a byte by onnx.helper."""
    n_in, n_out = 12, 7
    t4 = TensorProto.INT4 if signed else TensorProto.UINT4
    zero = 1 if signed else 8
    nodes = [helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="qx"),
             helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"], name="dqx"),
             helper.make_node("DequantizeLinear", ["Wq", "sw", "zw"], ["W"], name="dqw", axis=1),
             helper.make_node("MatMul", ["xd", "W"], ["g"], name="fc"),
             helper.make_node("QuantizeLinear", ["g", "sy", "zy"], ["yq"], name="qy"),
             helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dqy")]
    m = _model(nodes, [("x", [n_in])], [("y", [n_out], TensorProto.FLOAT)],
               [("sx", np.float32(0.3)), ("sw", rng.uniform(0.05, 0.1, n_out).astype(np.float32)),
                ("sy", np.float32(0.9))], [("", 21)])
    m.graph.initializer.extend([
        helper.make_tensor("zx", t4, [], [zero]), helper.make_tensor("zy", t4, [], [zero]),
        helper.make_tensor("Wq", TensorProto.INT4, [n_in, n_out], rng.integers(-8, 8, n_in * n_out).tolist()),
        helper.make_tensor("zw", TensorProto.INT4, [n_out], [0] * n_out)])
    m.ir_version = 10
    return m
