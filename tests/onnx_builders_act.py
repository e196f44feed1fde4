"""ONNX models for the activation tests (tests/test_activations.py): each activation alone,
after a Dense layer, on a (C, H, W) tensor, between QONNX quantizers, and all of them in one
graph for a single C-simulation build."""
from __future__ import annotations

import numpy as np
from onnx import helper

from .onnx_builders import make_model, quant_node

# (ONNX op, attributes, constant inputs as (name, array) after x, opset)
ACTIVATIONS = {
    "Sigmoid": ("Sigmoid", {}, [], 13),
    "Tanh": ("Tanh", {}, [], 13),
    "Softplus": ("Softplus", {}, [], 13),
    "Elu": ("Elu", {"alpha": 0.7}, [], 13),
    "Selu": ("Selu", {}, [], 13),
    "LeakyRelu": ("LeakyRelu", {"alpha": 0.01}, [], 13),
    "PRelu": ("PRelu", {}, [("slope", "per_channel")], 13),
    "HardSigmoid": ("HardSigmoid", {"alpha": 0.2, "beta": 0.5}, [], 13),
    "HardSwish": ("HardSwish", {}, [], 14),
    "Swish": ("Swish", {"alpha": 1.3}, [], 24),
    "Relu6": ("Clip", {}, [("lo", np.float32(0.0)), ("hi", np.float32(6.0))], 13),
    "ClipAttrs": ("Clip", {"min": -0.1, "max": 0.3}, [], 6),
    "ClipMinOnly": ("Clip", {}, [("lo", np.float32(-1.5))], 13),
}


def _node(kind, x, y, name, rng, c):
    op, attrs, consts, opset = ACTIVATIONS[kind]
    inits, names = [], []
    for cname, value in consts:
        if isinstance(value, str):  # per-channel slope, broadcast like ONNX: (C,) for (N, C)
            value = rng.uniform(-0.5, 0.5, size=c)
        inits.append((f"{name}_{cname}", value))
        names.append(f"{name}_{cname}")
    return helper.make_node(op, [x, *names], [y], name=name, **attrs), inits, opset


def single(kind: str, c: int = 7):
    """One activation on an (N, c) input."""
    def build(rng):
        node, inits, opset = _node(kind, "x", "y", "act", rng, c)
        return make_model([node], [("x", [c])], [("y", [c])], inits, opset=opset)
    build.__name__ = f"single_{kind.lower()}"
    return build


def after_dense(kind: str, n_in: int = 6, n_out: int = 5):
    """Gemm, then the activation (a separate stage: only Relu fuses into Dense)."""
    def build(rng):
        node, inits, opset = _node(kind, "h", "y", "act", rng, n_out)
        w, b = rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
        return make_model([helper.make_node("Gemm", ["x", "W", "B"], ["h"], name="fc"), node],
                          [("x", [n_in])], [("y", [n_out])], [("W", w), ("B", b)] + inits, opset=opset)
    build.__name__ = f"dense_{kind.lower()}"
    return build


def silu(after_dense: bool):
    """PyTorch's SiLU export, x * Sigmoid(x), alone or after a Gemm (becomes one Swish op)."""
    def build(rng, c=5):
        nodes, inits, x = [], [], "x"
        if after_dense:
            nodes.append(helper.make_node("Gemm", ["x", "W", "B"], ["h"], name="fc"))
            inits += [("W", rng.normal(size=(6, c))), ("B", rng.normal(size=c))]
            x = "h"
        nodes += [helper.make_node("Sigmoid", [x], ["s"], name="sig"), helper.make_node("Mul", [x, "s"], ["y"], name="act")]
        return make_model(nodes, [("x", [6 if after_dense else c])], [("y", [c])], inits, opset=13)
    build.__name__ = "dense_silu" if after_dense else "single_silu"
    return build


def prelu_chw(rng, c=3, h=2, w=5):
    """PRelu on an (N, C, H, W) tensor with an ONNX (C, 1, 1) slope: one slope per channel."""
    return make_model([helper.make_node("PRelu", ["x", "slope"], ["y"], name="act")],
                      [("x", [c, h, w])], [("y", [c, h, w])], [("slope", rng.uniform(-0.3, 0.3, (c, 1, 1)))])


def quantized(kind: str, out_mode: str = "FLOOR", c: int = 6):
    """QONNX: 5-bit input quantizer, the activation, an output quantizer (absorbed: it types
    the activation's output). A FLOOR output quantizer forbids mirrored tables."""
    def build(rng):
        qi, ii = quant_node("qin", "x", "xq", 2.0 ** -2, 5)
        node, inits, opset = _node(kind, "xq", "a", "act", rng, c)
        signed = 0 if kind in ("Sigmoid", "HardSigmoid", "Softplus") else 1
        qo, io = quant_node("qout", "a", "y", 2.0 ** -6, 8, signed=signed, mode=out_mode)
        return make_model([qi, node, qo], [("x", [c])], [("y", [c])], ii + inits + io, opset=max(opset, 11),
                          qonnx=True)
    build.__name__ = f"quantized_{kind.lower()}_{out_mode.lower()}"
    return build


CSIM_KINDS = ["Sigmoid", "Tanh", "Softplus", "Elu", "Selu", "LeakyRelu", "PRelu", "HardSigmoid", "HardSwish",
              "Relu6", "ClipMinOnly"]


def all_activations(rng, c=8):
    """Every activation kernel reading the same input, plus Dense -> Selu and a quantized
    branch (5-bit input, FLOOR-quantized outputs: full tables, exact coverage), all outputs."""
    nodes, inits, outputs = [], [], []
    for kind in CSIM_KINDS:
        node, i, _ = _node(kind, "x", f"y_{kind.lower()}", kind.lower(), rng, c)
        nodes.append(node)
        inits += i
        outputs.append((f"y_{kind.lower()}", [c]))
    nodes += [helper.make_node("Sigmoid", ["x"], ["x_sig"], name="silu_sig"),   # SiLU: Swish
              helper.make_node("Mul", ["x_sig", "x"], ["y_silu"], name="silu")]
    outputs.append(("y_silu", [c]))
    nodes.append(helper.make_node("Gemm", ["x", "W", "B"], ["h"], name="fc"))
    inits += [("W", rng.normal(size=(c, 5))), ("B", rng.normal(size=5))]
    node, i, _ = _node("Selu", "h", "y_fc_selu", "fc_selu", rng, 5)
    nodes.append(node)
    inits += i
    outputs.append(("y_fc_selu", [5]))
    qi, ii = quant_node("qin", "x", "xq", 2.0 ** -2, 5)
    nodes.append(qi)
    inits += ii
    for kind, signed in (("Sigmoid", 0), ("Tanh", 1), ("LeakyRelu", 1)):
        node, i, _ = _node(kind, "xq", f"q_{kind.lower()}", f"q{kind.lower()}", rng, c)
        qo, io = quant_node(f"qo_{kind.lower()}", f"q_{kind.lower()}", f"yq_{kind.lower()}", 2.0 ** -6, 8,
                            signed=signed, mode="FLOOR")
        nodes += [node, qo]
        inits += i + io
        outputs.append((f"yq_{kind.lower()}", [c]))
    return make_model(nodes, [("x", [c])], outputs, inits, opset=14, qonnx=True)
