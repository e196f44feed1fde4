"""Whole-tensor models: fixed-size models whose first axis is not a batch (PyTorch's
(sequence, batch, features) attention layout, a (2, 3) @ (3, 4) product, a rank-1 signal).

The importer's converters read every ONNX tensor as (batch, *sample). Such a model is read as
if every tensor had one more axis of size 1 in front (a virtual batch), so one sample is the
model's whole tensor. Its nodes see that virtual batch by rewriting what names an axis: a
non-negative `axis`/`axes` moves up by one, a Transpose keeps axis 0 first, a Reshape target
or Tile's repeats gain a leading 1, Pad's pads a leading 0 at both ends; an implicit "every
axis" (Squeeze, the Reduce ops, Slice without axes) is spelt out so it leaves the virtual
batch alone. Only the ops listed here are accepted: an op whose meaning depends on a batch
or channel axis (Conv, pooling, BatchNormalization, Gemm, ...) would silently compute
something else, so the import refuses it. Constant subgraphs keep their own shapes (the
rewrite applies to nodes reading a computed tensor).
"""
from __future__ import annotations

import numpy as np

from .values import Act, Const

# no axis semantics: element-wise, broadcasting from the trailing axis
ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "Pow", "Neg", "Abs", "Exp", "Log", "Sqrt",
    "Reciprocal", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "Softplus", "Softsign", "Clip", "Erf", "Gelu", "Sign", "Shrink", "Identity", "Dropout", "Cast", "MatMul",
    "Quant", "BipolarQuant", "Trunc", "Expand",
    "Gemm",   # of two computed matrices only (convert_dense: their MatMul); a constant B is refused
}
# op -> (attribute naming one axis, its default by opset: (first opset, default), ...)
AXIS = {
    "Softmax": ((1, 1), (13, -1)), "LogSoftmax": ((1, 1), (13, -1)), "Hardmax": ((1, 1), (13, -1)),
    "Flatten": ((1, 1),), "Concat": ((1, None),), "Split": ((1, 0),), "Gather": ((1, 0),),
    "QuantizeLinear": ((1, 1),), "DequantizeLinear": ((1, 1),), "LayerNormalization": ((1, -1),),
    "TopK": ((1, -1),), "ArgMax": ((1, 0),), "ArgMin": ((1, 0),),
}
REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
          "ReduceSumSquare", "ReduceLogSumExp"}
# opset from which the Reduce op takes its axes as an input instead of an attribute
REDUCE_AXES_INPUT = {"ReduceSum": 13}
OTHER = {"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Slice", "Pad", "Tile", "Constant"}
SUPPORTED = ELEMENTWISE | set(AXIS) | REDUCE | OTHER


def _up(axes) -> list[int]:
    return [int(a) + 1 if int(a) >= 0 else int(a) for a in np.asarray(axes).reshape(-1)]


def _const(values) -> Const:
    return Const(np.asarray(values, dtype=np.int64))


def rewrite(op: str, opset: int, attrs: dict, ins: list, rank: int, fail) -> tuple[dict, list]:
    """(attrs, inputs) of node `op` as it reads tensors with a virtual batch axis in front.
    `rank`: the ONNX rank of its first computed input; `fail(message)` raises the node's
    one-line refusal."""
    attrs, ins = dict(attrs), list(ins)
    if op not in SUPPORTED:
        fail(f"{op} in a model without a batch axis is not supported (this model's tensors are whole samples; "
             f"supported there: element-wise ops, MatMul, Softmax, Concat, Split, Slice, Transpose, Reshape, "
             f"Squeeze/Unsqueeze, Reduce*, Pad, Tile)")
    if op in AXIS and (op != "Gather" or isinstance(ins[0], Act)):   # a Gather from a constant table: its axis is the table's
        default = next((d for first, d in reversed(AXIS[op]) if opset >= first), None)
        if "axis" in attrs or default is not None:
            attrs["axis"] = _up([attrs.get("axis", default)])[0]
    elif op == "Transpose":
        perm = attrs.get("perm", list(range(rank))[::-1])
        attrs["perm"] = [0] + [int(p) + 1 for p in perm]
    elif op == "Reshape":
        shape = np.asarray(_value(ins[1], fail, "the target shape")).reshape(-1)
        ins[1] = _const(np.concatenate([[1], shape]))
    elif op == "Tile":
        ins[1] = _const(np.concatenate([[1], np.asarray(_value(ins[1], fail, "repeats")).reshape(-1)]))
    elif op in ("Squeeze", "Unsqueeze"):
        as_input = opset >= 13
        axes = _value(ins[1], fail, "axes") if as_input and len(ins) > 1 and ins[1] is not None else attrs.get("axes")
        if axes is None:
            if op == "Unsqueeze":
                fail("Unsqueeze without axes")
            fail("Squeeze without axes in a model without a batch axis is not supported (give the axes)")
        if as_input:
            ins[1] = _const(_up(axes))
        else:
            attrs["axes"] = _up(axes)
    elif op in REDUCE:
        as_input = opset >= REDUCE_AXES_INPUT.get(op, 18)
        axes = (_value(ins[1], fail, "axes") if len(ins) > 1 and ins[1] is not None else None) if as_input \
            else attrs.get("axes")
        if axes is None or np.size(axes) == 0:
            if as_input and attrs.get("noop_with_empty_axes", 0):
                return attrs, ins
            axes = list(range(rank))
        if as_input:
            ins = [ins[0], _const(_up(axes))]
        else:
            attrs["axes"] = _up(axes)
    elif op == "Slice":
        if opset < 10:
            attrs["axes"] = _up(attrs.get("axes", range(len(attrs.get("starts", [])))))
        else:
            starts = _value(ins[1], fail, "starts")
            axes = _value(ins[3], fail, "axes") if len(ins) > 3 and ins[3] is not None else range(np.size(starts))
            ins = ins + [None] * (4 - len(ins))
            ins[3] = _const(_up(axes))
    elif op == "Pad":
        if opset < 11:
            pads = list(attrs.get("pads", attrs.get("paddings", [])))
            half = len(pads) // 2
            attrs["pads"] = [0] + pads[:half] + [0] + pads[half:]
        elif len(ins) > 3 and ins[3] is not None:
            ins[3] = _const(_up(_value(ins[3], fail, "axes")))
        else:
            pads = np.asarray(_value(ins[1], fail, "pads")).reshape(-1)
            half = len(pads) // 2
            ins[1] = _const(np.concatenate([[0], pads[:half], [0], pads[half:]]))
    return attrs, ins


def _value(v, fail, what: str) -> np.ndarray:
    if not isinstance(v, Const):
        fail(f"{what} must be a constant")
    return np.asarray(v.value)
