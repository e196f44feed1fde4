"""Tiny ONNX models built with onnx.helper, one or a few ops each, for differential tests."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


def make_model(nodes, inputs, outputs, inits=(), opset=13, qonnx=False):
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", *s]) for n, s in inputs]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", *s]) for n, s in outputs]
    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits]
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(QONNX, 1)] if qonnx else [])
    m = helper.make_model(helper.make_graph(nodes, "t", ins, outs, inits), opset_imports=opsets)
    m.ir_version = 8
    return m


def save(model, path):
    onnx.save(model, str(path))
    return path


def quant_node(name, x, out, scale, bits, signed=1, narrow=0, mode="ROUND"):
    return (helper.make_node("Quant", [x, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name, domain=QONNX,
                             signed=signed, narrow=narrow, rounding_mode=mode),
            [(f"{name}_s", np.float32(scale)), (f"{name}_z", np.float32(0)), (f"{name}_b", np.float32(bits))])


def dense_matmul_add(rng, n_in=7, n_out=5):
    w, b = rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
    return make_model([helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
                       helper.make_node("Add", ["h", "B"], ["y"], name="add")],
                      [("x", [n_in])], [("y", [n_out])], [("W", w), ("B", b)])


def dense_gemm(rng, n_in=6, n_out=4):
    w, c = rng.normal(size=(n_out, n_in)), rng.normal(size=(1, n_out))
    return make_model([helper.make_node("Gemm", ["x", "W", "C"], ["y"], name="gemm", transB=1, alpha=0.5, beta=2.0)],
                      [("x", [n_in])], [("y", [n_out])], [("W", w), ("C", c)])


def batchnorm(rng, c=6):
    params = [("s", rng.uniform(0.5, 2, c)), ("bb", rng.normal(size=c)), ("m", rng.normal(size=c)),
              ("v", rng.uniform(0.5, 2, c))]
    return make_model([helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["y"], name="bn",
                                        epsilon=1e-3)], [("x", [c])], [("y", [c])], params)


def arith_chain(rng, c=5):
    """Mul, Add, Sub, Div by per-channel constants, then ReLU (nothing to fuse into)."""
    return make_model([helper.make_node("Mul", ["x", "k1"], ["a"], name="mul"),
                       helper.make_node("Add", ["a", "k2"], ["b"], name="add"),
                       helper.make_node("Sub", ["k3", "b"], ["c"], name="sub"),
                       helper.make_node("Div", ["c", "k4"], ["d"], name="div"),
                       helper.make_node("Relu", ["d"], ["y"], name="relu")],
                      [("x", [c])], [("y", [c])],
                      [("k1", rng.normal(size=c)), ("k2", rng.normal(size=c)), ("k3", np.float32(0.5)),
                       ("k4", rng.uniform(1, 3, c))])


def softmax(rng, n=10):
    return make_model([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1)], [("x", [n])], [("y", [n])])


def quant_two_readers(rng, c=6):
    """A QONNX Quant whose input has another reader, so it stays an explicit cast stage."""
    q, qi = quant_node("q", "r", "yq", 2.0 ** -3, 5, signed=1, narrow=1)
    return make_model([helper.make_node("Relu", ["x"], ["r"], name="relu"), q,
                       helper.make_node("Softmax", ["r"], ["ys"], name="sm", axis=-1)],
                      [("x", [c])], [("yq", [c]), ("ys", [c])], qi, qonnx=True)


def all_ops(rng):
    """Every IR op kind standalone in one graph (one C-simulation build covers them all)."""
    c = 8
    q, qi = quant_node("q", "r", "yq", 2.0 ** -4, 6, signed=0, mode="FLOOR")
    nodes = [helper.make_node("Mul", ["x", "k1"], ["a"], name="scale_in"),
             helper.make_node("Add", ["a", "k2"], ["b"], name="shift_in"),
             helper.make_node("Relu", ["b"], ["r"], name="relu"), q,
             helper.make_node("Gemm", ["r", "W", "C"], ["g"], name="fc", transB=0),
             helper.make_node("Softmax", ["g"], ["ys"], name="sm", axis=-1)]
    inits = [("k1", rng.normal(size=c)), ("k2", rng.normal(size=c)), ("W", rng.normal(size=(c, 5))),
             ("C", rng.normal(size=5))] + qi
    return make_model(nodes, [("x", [c])], [("yq", [c]), ("ys", [5])], inits, qonnx=True)
