"""Seeded, bounded mutation fuzzing of compile_model, write_project, load_design and simulate.

A case is a seed model (a dev model in ../shared/models/dev, optionally a corpus model from
benchmarks/corpus/collect.py) with 1..3 mutations (MUTATORS) drawn by a generator seeded
from the case id, so an id `<seed>-<run seed>-<index>` (e.g. D07-0-123) rebuilds the same
bytes, target and data. Each case runs in a worker process of a pool (a hang or a hard
crash costs one case and one worker restart): save the mutated model, compile it for the
case's board with calibration data in the seed's input shapes, write the project, load
it back, simulate the loaded design on test inputs snapped to its input grid, and run the
model's reference executor (compiler.frontend.reference) on the same numbers. classify()
then says:

    ok       compiled, every output within the corpus tolerance (max |sim - ref| <= 5% of
             max |ref| + 4 lsb of the output type); sub-status ok-unjudged when the
             reference cannot run the model but onnx.checker accepts it
    refused  a CompileError with a one-line message: the clean refusal
    crash    any other exception (type, message, innermost frame), a CompileError whose
             message is empty, multi-line or holds control characters, or a worker death
    hang     no result within the case timeout
    wrong    compiled, but an output is off beyond tolerance, of another shape or count,
             the reference is NaN/inf, the reloaded design simulates differently,
             onnx.checker rejects the model (an invalid model accepted silently), or
             its shape inference does and the compile said nothing

The checker's verdict is taken on the model with the exporter quirks the compiler
tolerates repaired (compiler.frontend.validate.with_quirks_repaired), seeds included, so
that a rejection always comes from a mutation. A shape-inference disagreement (full_check)
must be refused or warned about (a ModelWarning); a seed whose unmutated baseline is not ok on both
targets is excluded. Used by benchmarks/fuzz.py and tests/test_fuzz.py; the compiler itself
never imports this module.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import unicodedata
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from compiler.errors import ModelWarning
from compiler.frontend.validate import with_quirks_repaired
from compiler.validation.inputs import draw, input_kinds, snap

REPO = Path(__file__).resolve().parents[2]
TARGETS = ("pynq-z2", "zcu104")
RELATIVE_TOLERANCE = 0.05  # the corpus tolerance (benchmarks/corpus/run.py)
LSB_TOLERANCE = 4
N_CALIB, N_TEST = 64, 8
MAX_DRAWN = 4_000_000      # elements of calibration + test data the fuzzer itself allocates
MAX_TENSOR = 1_000_000     # elements of a tensor a mutator rewrites
SLOW_SEEDS = ("D08",)      # 512x512 input: seconds per case
QUANTIZERS = ("QuantizeLinear", "DequantizeLinear", "Quant", "BipolarQuant", "Trunc", "IntQuant")
CUSTOM_DOMAIN = "qonnx.custom_op.general"
CLASSES = ("ok", "refused", "crash", "hang", "wrong")
FAILURES = ("crash", "hang", "wrong")


# =============================================================================================
# mutators: each changes a model in place and says what it did (one line), or returns None
# when it does not apply to this model; the generator is the case's own
Mutate = Callable[[onnx.ModelProto, np.random.Generator], "str | None"]


@dataclass(frozen=True)
class Mutator:
    name: str
    fn: Mutate
    doc: str


MUTATORS: list[Mutator] = []


def _mutator(fn: Mutate) -> Mutate:
    MUTATORS.append(Mutator(fn.__name__.removeprefix("mut_"), fn, (fn.__doc__ or "").strip().splitlines()[0]))
    return fn


HOSTILE_INTS = (0, -1, -7, 1, 3, 64, 2 ** 31 - 1, -(2 ** 31), 2 ** 62)
HOSTILE_FLOATS = (0.0, -1.0, 1e20, -1e20, 1e-20, 1e-45, math.nan, math.inf, -math.inf)
HOSTILE_STRINGS = (b"", b"FUZZ", b"SAME_UPPER", b"SAME_LOWER", b"VALID", b"NOTSET", b"ROUND", b"FLOOR", b"\x00")
HOSTILE_NAMES = ("a\nb", "nul\x00name", "quo\"te's", "x" * 10000, "\u00e4\u540d\U0001f642", "", " ",
                 "../../etc/passwd", "int", "a b-c.d/e", "1x", "$(id)`id`", "\\", "x\r\ny", "\t")
HOSTILE_LOCATIONS = ("../outside.bin", "../../../../../../etc/passwd", "/etc/hostname", "/dev/zero",
                     "nul\x00.bin", "missing.bin", "", "sub/../../x.bin", "C:\\x.bin")
NEIGHBOURS = {
    "Relu": ("LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Softplus", "Abs", "Identity", "HardSigmoid", "PRelu"),
    "LeakyRelu": ("Relu", "Elu", "PRelu"), "Selu": ("Elu", "Relu"), "Elu": ("Selu", "Relu"),
    "Sigmoid": ("Tanh", "HardSigmoid", "Relu"), "Tanh": ("Sigmoid", "Relu"),
    "Add": ("Sub", "Mul", "Div", "Max", "Min", "Sum", "Pow", "And"), "Sub": ("Add", "Div"),
    "Mul": ("Add", "Div", "MatMul"), "Div": ("Mul", "Sub", "Mod"),
    "MatMul": ("Gemm", "Mul", "MatMulInteger", "Add"), "Gemm": ("MatMul", "Mul"),
    "Conv": ("ConvTranspose", "ConvInteger", "MaxPool"), "MaxPool": ("AveragePool", "LpPool", "GlobalMaxPool", "Conv"),
    "AveragePool": ("MaxPool", "GlobalAveragePool"), "Softmax": ("LogSoftmax", "Hardmax", "Sigmoid"),
    "BatchNormalization": ("InstanceNormalization", "LayerNormalization"),
    "Reshape": ("Expand", "Tile", "Flatten"), "Flatten": ("Reshape", "Squeeze"), "Transpose": ("Identity", "Squeeze"),
    "Squeeze": ("Unsqueeze", "Flatten"), "Unsqueeze": ("Squeeze",),
    "QuantizeLinear": ("DequantizeLinear", "DynamicQuantizeLinear"), "DequantizeLinear": ("QuantizeLinear", "Cast"),
    "Quant": ("BipolarQuant", "Trunc", "IntQuant", "FloatQuant"), "BipolarQuant": ("Quant", "Sign"),
    "Trunc": ("Quant",), "Concat": ("Sum", "Add"), "Gather": ("GatherElements", "Slice"), "Shape": ("Size",),
    "Pow": ("Mul",), "Identity": ("Dropout", "Relu"),
}
CUSTOM_OPS = ("Quant", "BipolarQuant", "Trunc", "IntQuant", "FloatQuant", "MultiThreshold")
# ops whose output the compiler folds away or absorbs: the interesting intermediate outputs
FOLDED_OPS = ("BatchNormalization", "Add", "Mul", "Sub", "Div", "Quant", "BipolarQuant", "Trunc", "QuantizeLinear",
              "DequantizeLinear", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout",
              "Constant", "Cast", "Shape", "Gather", "Concat")


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _q(name: str) -> str:
    """A name for a description: repr (control characters escaped), long ones cut."""
    return repr(name) if len(name) <= 40 else f"{name[:24]!r}...({len(name)} chars)"


def _node_label(model: onnx.ModelProto, k: int) -> str:
    n = model.graph.node[k]
    return f"node {k} {_q(n.name)} ({n.op_type})"


def _initializer_names(model: onnx.ModelProto) -> set[str]:
    return {t.name for t in model.graph.initializer}


def _data_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = _initializer_names(model)
    return [v for v in model.graph.input if v.name not in inits]


def _node_outputs(model: onnx.ModelProto) -> list[str]:
    return [o for n in model.graph.node for o in n.output if o]


def _fresh(model: onnx.ModelProto, base: str) -> str:
    used = {t for n in model.graph.node for t in list(n.input) + list(n.output)}
    used |= _initializer_names(model) | {v.name for v in model.graph.input}
    k = 0
    while f"fuzz_{base}_{k}" in used:
        k += 1
    return f"fuzz_{base}_{k}"


def _types(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    """Every tensor's type as shape inference sees it: qonnx's for models with its custom ops
    (onnx's own stops at them), onnx's otherwise; nothing for what neither infers."""
    from compiler.frontend.reference import CUSTOM_DOMAINS

    inferred = model
    if any(n.domain in CUSTOM_DOMAINS for n in model.graph.node):
        try:
            from qonnx.core.modelwrapper import ModelWrapper
            from qonnx.transformation.infer_shapes import InferShapes

            copy = onnx.ModelProto()
            copy.CopyFrom(model)
            with warnings.catch_warnings():  # its notes on old-style domains
                warnings.simplefilter("ignore")
                inferred = ModelWrapper(copy).transform(InferShapes()).model
        except Exception:  # noqa: BLE001 - no qonnx, or a model it cannot handle: onnx's inference
            inferred = model
    try:
        inferred = onnx.shape_inference.infer_shapes(inferred, strict_mode=False)
    except Exception:  # noqa: BLE001 - an already broken model: declared types only
        pass
    g = inferred.graph
    out = {v.name: v.type for v in list(g.value_info) + list(g.input) + list(g.output)}
    for t in g.initializer:
        out.setdefault(t.name, helper.make_tensor_type_proto(t.data_type, list(t.dims)))
    return out


def _value_info(model: onnx.ModelProto, name: str) -> onnx.ValueInfoProto:
    """A graph output record for an existing tensor, typed as inference knows it (float if not:
    qonnx computes custom ops in float)."""
    vi = onnx.ValueInfoProto(name=name)
    t = _types(model).get(name)
    if t is not None and t.HasField("tensor_type") and t.tensor_type.elem_type:
        vi.type.CopyFrom(t)
    else:
        vi.type.tensor_type.elem_type = TensorProto.FLOAT
    return vi


def _has_shape(model: onnx.ModelProto, name: str, types: dict[str, onnx.TypeProto] | None = None) -> bool:
    """Inference knows the tensor's shape: it can be a graph output the checker accepts."""
    t = (types if types is not None else _types(model)).get(name)
    return t is not None and t.HasField("tensor_type") and t.tensor_type.HasField("shape")


def _declare_output(model: onnx.ModelProto, vi: onnx.ValueInfoProto, position: int | None = None) -> None:
    """A graph output; a value_info record of the same name goes (qonnx refuses duplicates)."""
    g = model.graph
    for k in reversed(range(len(g.value_info))):
        if g.value_info[k].name == vi.name:
            del g.value_info[k]
    if position is None:
        g.output.append(vi)
    else:
        g.output.insert(position, vi)


def _float_tensors(model: onnx.ModelProto) -> list[str]:
    """Computed float tensors (node outputs and graph inputs): where an inserted Add can go."""
    types = _types(model)
    cands = [v.name for v in _data_inputs(model)] + _node_outputs(model)
    return [t for t in cands if t in types and types[t].HasField("tensor_type")
            and types[t].tensor_type.elem_type == TensorProto.FLOAT]


def _rewire(model: onnx.ModelProto, old: str, new: str, skip: onnx.NodeProto | None = None) -> None:
    """Every reader of `old` (node inputs, graph outputs) reads `new` instead."""
    for n in model.graph.node:
        if n is skip:
            continue
        for k, t in enumerate(n.input):
            if t == old:
                n.input[k] = new
    for o in model.graph.output:
        if o.name == old:
            o.name = new


def _insert_after(model: onnx.ModelProto, tensor: str, nodes: list[onnx.NodeProto]) -> None:
    """Insert nodes right after the producer of `tensor` (at the front for graph inputs and
    constants), which keeps the node list topologically sorted."""
    pos = 0
    for k, n in enumerate(model.graph.node):
        if tensor in n.output:
            pos = k + 1
    for j, n in enumerate(nodes):
        model.graph.node.insert(pos + j, n)


def _add_initializer(model: onnx.ModelProto, t: TensorProto) -> None:
    """An initializer, also declared as a graph input when IR < 4 requires it."""
    model.graph.initializer.append(t)
    if model.ir_version < 4:
        model.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))


def _splice_add(model: onnx.ModelProto, rng: np.random.Generator, other: str, nodes: list[onnx.NodeProto]) -> str | None:
    """Add `other` (made by `nodes`) to a float tensor and let the tensor's readers see the sum."""
    cands = _float_tensors(model)
    if not cands:
        return None
    t = _pick(rng, cands)
    out = _fresh(model, "sum")
    add = helper.make_node("Add", [t, other], [out], name=_fresh(model, "add"))
    _rewire(model, t, out)
    _insert_after(model, t, nodes + [add])
    return t


def _constant_slots(model: onnx.ModelProto) -> list[tuple[str, TensorProto]]:
    """Every constant tensor, initializers and Constant nodes' `value`, as (label, proto)."""
    out = [(f"initializer {_q(t.name)}", t) for t in model.graph.initializer]
    for n in model.graph.node:
        if n.op_type == "Constant":
            out += [(f"Constant {_q(n.output[0] if n.output else '')}", a.t) for a in n.attribute
                    if a.name == "value" and a.type == AttributeProto.TENSOR]
    return out


def _array(t: TensorProto) -> np.ndarray | None:
    """A constant's values, or None for what the fuzzer does not rewrite (external, strings, huge)."""
    if t.data_location == TensorProto.EXTERNAL or t.data_type in (TensorProto.STRING, 0):
        return None
    if math.prod(t.dims) > MAX_TENSOR or any(d < 0 for d in t.dims):
        return None
    try:
        a = numpy_helper.to_array(t)
    except Exception:  # noqa: BLE001 - malformed by an earlier mutation
        return None
    return a if a.dtype.kind in "fiub" else None


def _sync_declaration(model: onnx.ModelProto, t: TensorProto) -> None:
    """An initializer that IR 3 also lists as a graph input: that record follows its new type."""
    for v in model.graph.input:
        if v.name == t.name:
            v.type.CopyFrom(helper.make_tensor_type_proto(t.data_type, list(t.dims)))


def _store(model: onnx.ModelProto, slot: TensorProto, values: np.ndarray) -> None:
    slot.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(values), slot.name))
    _sync_declaration(model, slot)


def _constant_of(model: onnx.ModelProto, name: str) -> TensorProto | None:
    """The constant tensor called `name`: an initializer, or a Constant node's value."""
    for t in model.graph.initializer:
        if t.name == name:
            return t
    for n in model.graph.node:
        if n.op_type == "Constant" and name in n.output:
            return next((a.t for a in n.attribute if a.name == "value" and a.type == AttributeProto.TENSOR), None)
    return None


@_mutator
def mut_attr_value(model, rng):
    """numeric/string attribute (axis, alpha, strides, pads, perm, epsilon, keepdims, ...) to 0, negative, huge, out of range, wrong length or another type"""
    cands = [(k, j) for k, n in enumerate(model.graph.node) for j, a in enumerate(n.attribute)
             if a.type in (AttributeProto.INT, AttributeProto.INTS, AttributeProto.FLOAT, AttributeProto.FLOATS,
                           AttributeProto.STRING)]
    if not cands:
        return None
    k, j = _pick(rng, cands)
    a = model.graph.node[k].attribute[j]
    old, before = _attr_text(a), a.SerializeToString()
    if rng.random() < 0.1:  # the attribute's type itself
        a.CopyFrom(helper.make_attribute(a.name, _other_type(a)))
        return f"{_node_label(model, k)}: attribute {a.name} {old} -> {_attr_text(a)} (another type)"
    if a.type == AttributeProto.INT:
        a.i = int(_pick(rng, HOSTILE_INTS + (a.i + 1, a.i - 1, -a.i - 1, a.i + 5)))
    elif a.type == AttributeProto.FLOAT:
        a.f = float(_pick(rng, HOSTILE_FLOATS + (a.f * 1e20, -a.f)))
    elif a.type == AttributeProto.STRING:
        a.s = _pick(rng, HOSTILE_STRINGS)
    elif a.type == AttributeProto.INTS:
        v = _edit_list(rng, list(a.ints), lambda: int(_pick(rng, HOSTILE_INTS)))
        del a.ints[:]
        a.ints.extend(v)
    else:
        v = _edit_list(rng, list(a.floats), lambda: float(_pick(rng, HOSTILE_FLOATS)))
        del a.floats[:]
        a.floats.extend(v)
    if a.SerializeToString() == before:  # drew the value it had
        return None
    return f"{_node_label(model, k)}: attribute {a.name} {old} -> {_attr_text(a)}"


def _other_type(a: AttributeProto):
    """A value of another attribute type: INT -> FLOAT, INTS -> INT, FLOAT -> INT, ... -> STRING."""
    if a.type == AttributeProto.INT:
        return float(a.i)
    if a.type == AttributeProto.INTS:
        return int(a.ints[0]) if len(a.ints) else 0
    if a.type == AttributeProto.FLOAT:
        return int(a.f) if math.isfinite(a.f) else 0
    if a.type == AttributeProto.FLOATS:
        return b"1.0"
    return 1


def _edit_list(rng, v: list, hostile: Callable[[], object]) -> list:
    how = _pick(rng, ("element", "element", "longer", "shorter", "empty", "zeros", "negate"))
    if how == "element" and v:
        v[int(rng.integers(len(v)))] = hostile()
    elif how == "longer" or not v:
        v.append(v[-1] if v and rng.random() < 0.5 else hostile())
    elif how == "shorter":
        v.pop()
    elif how == "empty":
        v = []
    elif how == "zeros":
        v = [type(x)(0) for x in v]
    else:
        v = [-x for x in v]
    return v


def _attr_text(a: AttributeProto) -> str:
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


@_mutator
def mut_attr_drop(model, rng):
    """remove an attribute (Unsqueeze's axes, Conv's kernel_shape, Gemm's transB, Quant's signed, ...)"""
    cands = [(k, j) for k, n in enumerate(model.graph.node) for j in range(len(n.attribute))
             if n.op_type != "Constant"]
    if not cands:
        return None
    k, j = _pick(rng, cands)
    name = model.graph.node[k].attribute[j].name
    del model.graph.node[k].attribute[j]
    return f"{_node_label(model, k)}: attribute {name} removed"


ADDABLE: dict[str, Callable[[np.random.Generator], object]] = {
    "axis": lambda r: int(_pick(r, (-9, -1, 0, 1, 5))),
    "axes": lambda r: list(_pick(r, ([0], [-1], [9], [0, 0], [1, 2]))),
    "keepdims": lambda r: int(_pick(r, (0, 1, 2))),
    "alpha": lambda r: float(_pick(r, HOSTILE_FLOATS)),
    "beta": lambda r: float(_pick(r, HOSTILE_FLOATS)),
    "auto_pad": lambda r: _pick(r, ("SAME_UPPER", "SAME_LOWER", "VALID", "FUZZ")),
    "group": lambda r: int(_pick(r, (0, 2, -1, 2 ** 31 - 1))),
    "dilations": lambda r: list(_pick(r, ([0], [2], [2, 2], [0, 0]))),
    "strides": lambda r: list(_pick(r, ([0], [2, 2], [0, 0], [-1, 1]))),
    "pads": lambda r: list(_pick(r, ([1], [1, 1, 1, 1], [-1, -1, -1, -1], [99, 0, 0, 99]))),
    "perm": lambda r: list(_pick(r, ([0], [1, 0], [0, 0], [0, 2, 1, 3]))),
    "transA": lambda r: int(_pick(r, (1, 2))),
    "transB": lambda r: int(_pick(r, (0, 1, -1))),
    "epsilon": lambda r: float(_pick(r, (0.0, -1.0, math.nan, 1e20))),
    "fuzz_unknown": lambda r: 1,
}
WINDOW_OPS = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "ConvInteger", "LpPool")


@_mutator
def mut_attr_add(model, rng):
    """add an attribute the node did not have (auto_pad SAME_UPPER with strides 0, axis, group, perm, unknown names)"""
    nodes = [k for k, n in enumerate(model.graph.node) if n.op_type != "Constant"]
    if not nodes:
        return None
    windows = [k for k in nodes if model.graph.node[k].op_type in WINDOW_OPS]
    k = _pick(rng, windows) if windows and rng.random() < 0.5 else _pick(rng, nodes)
    n = model.graph.node[k]
    have = {a.name for a in n.attribute}
    names = ["auto_pad"] if n.op_type in WINDOW_OPS and "auto_pad" not in have and rng.random() < 0.6 else \
        [a for a in ADDABLE if a not in have]
    if not names:
        return None
    name = _pick(rng, names)
    n.attribute.append(helper.make_attribute(name, ADDABLE[name](rng)))
    text = f"{_node_label(model, k)}: attribute {name}={_attr_text(n.attribute[-1])} added"
    if name == "auto_pad" and rng.random() < 0.5:  # with the strides SAME padding divides by
        rank = next((len(a.ints) for a in n.attribute if a.name == "kernel_shape"), 2)
        for j in reversed(range(len(n.attribute))):
            if n.attribute[j].name == "strides":
                del n.attribute[j]
        n.attribute.append(helper.make_attribute("strides", [0] * rank))
        text += f", strides {[0] * rank}"
    return text


@_mutator
def mut_init_values(model, rng):
    """constant values scaled by 1e20 or 1e-20, NaN/inf elements, zeros, negated, integer extremes"""
    cands = [(label, t, a) for label, t in _constant_slots(model) if (a := _array(t)) is not None and a.size]
    if not cands:
        return None
    label, t, a = _pick(rng, cands)
    a = a.copy()
    with np.errstate(all="ignore"):
        if a.dtype.kind == "f":
            how = _pick(rng, ("x1e20", "x1e-20", "NaN element", "inf element", "-inf element", "zeros", "negated",
                              "all NaN"))
            flat = a.reshape(-1)
            spot = int(rng.integers(flat.size))
            if how == "x1e20":
                a = a * np.asarray(1e20, a.dtype) if a.dtype != np.float16 else np.full_like(a, np.inf)
            elif how == "x1e-20":
                a = a * np.asarray(1e-20, a.dtype)
            elif how.endswith("element"):
                flat[spot] = {"NaN element": np.nan, "inf element": np.inf, "-inf element": -np.inf}[how]
            elif how == "zeros":
                a = np.zeros_like(a)
            elif how == "negated":
                a = -a
            else:
                a = np.full_like(a, np.nan)
        elif a.dtype.kind == "b":
            how, a = "inverted", ~a
        else:
            info = np.iinfo(a.dtype)
            how = _pick(rng, ("dtype max", "dtype min", "zeros", "-1", "2^63-1 (int64)"))
            a = {"dtype max": np.full_like(a, info.max), "dtype min": np.full_like(a, info.min),
                 "zeros": np.zeros_like(a), "-1": np.full_like(a, -1 if info.min < 0 else info.max),
                 "2^63-1 (int64)": np.full(a.shape, 2 ** 63 - 1, np.int64)}[how]
    _store(model, t, a)
    return f"{label} {list(a.shape)}: values {how}"


DTYPE_CHANGES = ("int32", "float64", "float16", "int8", "bool", "uint64", "STRING", "complex64", "UNDEFINED")


@_mutator
def mut_init_dtype(model, rng):
    """constant's data type changed: int32, float64, float16, int8, bool, uint64, STRING, complex64, undefined"""
    cands = [(label, t, a) for label, t in _constant_slots(model) if (a := _array(t)) is not None]
    if not cands:
        return None
    label, t, a = _pick(rng, cands)
    to = _pick(rng, DTYPE_CHANGES)
    old = TensorProto.DataType.Name(t.data_type)
    with np.errstate(all="ignore"):
        if to == "STRING":
            new = helper.make_tensor(t.name, TensorProto.STRING, list(t.dims), [repr(float(v)).encode() for v in a.flat])
            t.CopyFrom(new)
            _sync_declaration(model, t)
        elif to == "complex64":
            new = TensorProto(name=t.name, data_type=TensorProto.COMPLEX64, dims=list(t.dims),
                              raw_data=a.astype(np.complex64).tobytes())
            t.CopyFrom(new)
            _sync_declaration(model, t)
        elif to == "UNDEFINED":
            t.data_type = TensorProto.UNDEFINED
        else:
            b = np.nan_to_num(a.astype(np.float64)) if to in ("int32", "int8", "uint64") else a
            if to in ("int32", "int8", "uint64"):
                b = np.round(b).clip(np.iinfo(to).min, np.iinfo(to).max) if to != "int8" else np.round(b) % 256 - 128
            _store(model, t, b.astype(to))
    return f"{label}: data type {old} -> {to}"


@_mutator
def mut_init_shape(model, rng):
    """constant's dims changed without its data: reversed, extra 1, dropped, doubled, zero, negative (raw proto), scalar"""
    cands = [(label, t) for label, t in _constant_slots(model) if t.data_type != TensorProto.STRING]
    if not cands:
        return None
    label, t = _pick(rng, cands)
    old = list(t.dims)
    how = _pick(rng, ("reversed", "append 1", "prepend 1", "drop last", "double first", "zero", "negative", "scalar"))
    d = list(old)
    if how == "reversed":
        d = d[::-1]
    elif how == "append 1":
        d.append(1)
    elif how == "prepend 1":
        d.insert(0, 1)
    elif how == "drop last" and d:
        d.pop()
    elif how == "double first" and d:
        d[0] *= 2
    elif how in ("zero", "negative") and d:
        k = int(rng.integers(len(d)))
        d[k] = 0 if how == "zero" else -max(1, abs(d[k]))
    elif how == "scalar":
        d = []
    if d == old:
        return None
    del t.dims[:]
    t.dims.extend(d)
    return f"{label}: dims {old} -> {d} ({how})"


@_mutator
def mut_init_dup(model, rng):
    """a second initializer with an existing name and other values (before or after it)"""
    inits = model.graph.initializer
    cands = [k for k, t in enumerate(inits) if _array(t) is not None]
    if not cands:
        return None
    k = _pick(rng, cands)
    a = _array(inits[k])
    how = _pick(rng, ("zeros", "negated", "flattened"))
    b = {"zeros": np.zeros_like(a), "negated": -a if a.dtype.kind != "b" else ~a, "flattened": a.reshape(-1)}[how]
    dup = numpy_helper.from_array(np.ascontiguousarray(b), inits[k].name)
    where = "before" if rng.random() < 0.5 else "after"
    inits.insert(k if where == "before" else k + 1, dup)
    return f"initializer {_q(dup.name)} duplicated {where} itself ({how})"


@_mutator
def mut_init_drop(model, rng):
    """remove an initializer a node reads (IR 3: sometimes also its graph-input record)"""
    used = {t for n in model.graph.node for t in n.input}
    cands = [k for k, t in enumerate(model.graph.initializer) if t.name in used]
    if not cands:
        return None
    k = _pick(rng, cands)
    name = model.graph.initializer[k].name
    del model.graph.initializer[k]
    text = f"initializer {_q(name)} removed"
    if rng.random() < 0.5:
        for j in reversed(range(len(model.graph.input))):
            if model.graph.input[j].name == name:
                del model.graph.input[j]
                text += " with its graph input"
    return text


@_mutator
def mut_quant_param(model, rng):
    """quantizer parameters: per-axis scale/zero-point length mismatch, zero point 2^63-1 or dtype extremes, scale 0/NaN/negative, bit width 0/65/2.5, axis out of range"""
    cands = [k for k, n in enumerate(model.graph.node) if n.op_type in QUANTIZERS]
    if not cands:
        return None
    k = _pick(rng, cands)
    n = model.graph.node[k]
    label = _node_label(model, k)
    how = _pick(rng, ("scale length", "scale value", "zero point extreme", "zero point length", "bit width", "axis",
                      "flags"))
    if how == "axis":
        value = int(_pick(rng, (7, -9, 2 ** 31 - 1, 1, -1)))
        for j in reversed(range(len(n.attribute))):
            if n.attribute[j].name == "axis":
                del n.attribute[j]
        n.attribute.append(helper.make_attribute("axis", value))
        return f"{label}: axis={value}"
    if how == "flags":
        name = _pick(rng, ("signed", "narrow", "rounding_mode"))
        for j in reversed(range(len(n.attribute))):
            if n.attribute[j].name == name:
                del n.attribute[j]
        value = _pick(rng, ("FUZZ", "FLOOR", "CEIL")) if name == "rounding_mode" else int(_pick(rng, (2, -1)))
        n.attribute.append(helper.make_attribute(name, value))
        return f"{label}: {name}={value!r}"
    index = {"scale length": 1, "scale value": 1, "zero point extreme": 2, "zero point length": 2,
             "bit width": 3 if n.op_type != "Trunc" else int(_pick(rng, (3, 4)))}[how]
    if index >= len(n.input) or not n.input[index]:
        return None
    # a private copy: the parameter may be shared with other quantizers
    t = _constant_of(model, n.input[index])
    a = None if t is None else _array(t)
    if a is None:
        return None
    with np.errstate(all="ignore"):
        if how == "scale length" or how == "zero point length":
            m = a.size + 1 if a.size <= 1 or rng.random() < 0.5 else a.size - 1
            b = np.resize(a.reshape(-1), m)
        elif how == "scale value":
            b = np.full_like(a, _pick(rng, (0.0, -1.0, np.nan, np.inf, 1e-30, 1e30)))
        elif how == "zero point extreme":
            if a.dtype.kind == "f":  # QONNX: a float zero point
                b = np.full_like(a, _pick(rng, (0.5, 1e20, -3.0, np.nan)))
            else:
                info = np.iinfo(a.dtype)
                b = _pick(rng, (np.full(a.shape, 2 ** 63 - 1, np.int64), np.full_like(a, info.max),
                                np.full_like(a, info.min)))
        else:
            b = np.full_like(a, _pick(rng, (0.0, 1.0, 33.0, 64.0, 65.0, -2.0, 2.5, np.nan)))
    private = _fresh(model, "qparam")
    t2 = numpy_helper.from_array(np.ascontiguousarray(b), private)
    _add_initializer(model, t2)
    n.input[index] = private
    return f"{label}: input {index} ({how}) {a.dtype}{list(a.shape)} -> {b.dtype}{list(b.shape)} " \
           f"{_short_values(b)}"


def _short_values(b: np.ndarray) -> str:
    flat = b.reshape(-1)
    return np.array2string(flat[:3], precision=3) + ("..." if flat.size > 3 else "")


@_mutator
def mut_node_remove(model, rng):
    """remove a node and rewire its readers to its first input (a Quant, the input Div, a BatchNorm, ...)"""
    g = model.graph
    cands = [k for k, n in enumerate(g.node) if n.input and n.input[0] and len(g.node) > 1]
    if not cands:
        return None
    k = _pick(rng, cands)
    n = g.node[k]
    label = _node_label(model, k)
    src, outs = n.input[0], [o for o in n.output if o]
    retyped = {o.name for o in g.output if o.name in outs}
    del g.node[k]
    for o in outs:
        _rewire(model, o, src)
    if retyped:  # the graph output is now `src`: declare its own type, as an exporter would
        vi = _value_info(model, src)
        for k, o in reversed(list(enumerate(g.output))):
            if o.name == src:
                del g.output[k]
                _declare_output(model, vi, k)
    return f"{label} removed, its readers read {_q(src)}"


@_mutator
def mut_output_intermediate(model, rng):
    """make an intermediate tensor a graph output (often one the compiler folds: BatchNorm, Add before Relu, Quant)"""
    g = model.graph
    outs = {o.name for o in g.output}
    cands = [(k, t) for k, n in enumerate(g.node) for t in n.output if t and t not in outs]
    folded = [(k, t) for k, t in cands if g.node[k].op_type in FOLDED_OPS]
    if not cands:
        return None
    types = _types(model)  # tensors of a known shape first: a well-formed output record
    cands = [c for c in cands if _has_shape(model, c[1], types)] or cands
    folded = [c for c in folded if _has_shape(model, c[1], types)] or folded
    k, t = _pick(rng, folded) if folded and rng.random() < 0.6 else _pick(rng, cands)
    vi = _value_info(model, t)
    how = _pick(rng, ("appended", "appended", "prepended", "replacing the outputs"))
    if how == "replacing the outputs":
        del g.output[:]
    _declare_output(model, vi, 0 if how == "prepended" else None)
    return f"output of {_node_label(model, k)} {_q(t)} {how} as a graph output"


@_mutator
def mut_output_edit(model, rng):
    """graph outputs: a missing tensor, none at all, one listed twice, a graph input, a wrong declared type"""
    g = model.graph
    if not g.output:
        return None
    how = _pick(rng, ("missing tensor", "no outputs", "listed twice", "a graph input", "wrong elem_type",
                      "wrong shape"))
    o = g.output[int(rng.integers(len(g.output)))]
    if how == "missing tensor":
        o.name = "fuzz_missing"
    elif how == "no outputs":
        del g.output[:]
    elif how == "listed twice":
        g.output.append(o)
    elif how == "a graph input":
        ins = _data_inputs(model)
        if not ins:
            return None
        g.output.append(ins[0])
    elif how == "wrong elem_type":
        o.type.tensor_type.elem_type = _pick(rng, (TensorProto.INT8, TensorProto.DOUBLE, TensorProto.STRING))
    else:
        shape = o.type.tensor_type.shape
        shape.dim.add().dim_value = 999
    return f"graph output {_q(o.name)}: {how}"


@_mutator
def mut_node_swap(model, rng):
    """swap two nodes in the node list (adjacent or anywhere; may break topological order)"""
    g = model.graph
    if len(g.node) < 2:
        return None
    i = int(rng.integers(len(g.node) - 1))
    j = i + 1 if rng.random() < 0.5 else int(rng.integers(len(g.node)))
    if i == j:
        return None
    a, b = onnx.NodeProto(), onnx.NodeProto()
    a.CopyFrom(g.node[i])
    b.CopyFrom(g.node[j])
    g.node[i].CopyFrom(b)
    g.node[j].CopyFrom(a)
    return f"nodes {i} ({a.op_type}) and {j} ({b.op_type}) swapped"


@_mutator
def mut_node_cycle(model, rng):
    """a node reads the output of one of its descendants (a cycle)"""
    g = model.graph
    cands = []
    for i, n in enumerate(g.node):
        if not n.input:
            continue
        reached = set(n.output)
        for j in range(i + 1, len(g.node)):
            if reached.intersection(g.node[j].input):
                reached.update(g.node[j].output)
                if g.node[j].output:
                    cands.append((i, j))
    if not cands:
        return None
    i, j = _pick(rng, cands)
    g.node[i].input[0] = g.node[j].output[0]
    return f"{_node_label(model, i)} reads {_q(g.node[j].output[0])}, the output of its descendant node {j}"


@_mutator
def mut_rename(model, rng):
    """rename a node or tensor (everywhere) to one with \\n, NUL, quotes, 10000 chars, non-ASCII, '', or another tensor's name"""
    g = model.graph
    if rng.random() < 0.4 and g.node:
        k = int(rng.integers(len(g.node)))
        new = _pick(rng, HOSTILE_NAMES)
        old = g.node[k].name
        g.node[k].name = new
        return f"node {k} ({g.node[k].op_type}) renamed {_q(old)} -> {_q(new)}"
    tensors = [v.name for v in _data_inputs(model)] + [t.name for t in g.initializer] + _node_outputs(model)
    if not tensors:
        return None
    old = _pick(rng, tensors)
    collide = [t for t in tensors if t != old]
    new = _pick(rng, collide) if collide and rng.random() < 0.15 else _pick(rng, HOSTILE_NAMES)
    _rename_tensor(model, old, new)
    return f"tensor {_q(old)} renamed -> {_q(new)}"


def _rename_tensor(model: onnx.ModelProto, old: str, new: str) -> None:
    g = model.graph
    for n in g.node:
        for seq in (n.input, n.output):
            for k, t in enumerate(seq):
                if t == old:
                    seq[k] = new
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.name == old:
            v.name = new
    for t in g.initializer:
        if t.name == old:
            t.name = new
    for a in g.quantization_annotation:
        if a.tensor_name == old:
            a.tensor_name = new


@_mutator
def mut_opset(model, rng):
    """opset import: default domain to 0, -1, 1, 99; removed; listed twice; custom domains removed; none at all"""
    imports = model.opset_import
    how = _pick(rng, ("version", "version", "remove default", "twice", "remove custom", "none"))
    default = [o for o in imports if o.domain in ("", "ai.onnx")]
    if how == "version" and default:
        old = default[0].version
        default[0].version = int(_pick(rng, (0, -1, 1, 5, 99)))
        if default[0].version == old:
            return None
        return f"opset import ai.onnx {old} -> {default[0].version}"
    if how == "remove default" and default:
        for k in reversed(range(len(imports))):
            if imports[k].domain in ("", "ai.onnx"):
                del imports[k]
        return "opset import for ai.onnx removed"
    if how == "twice" and default:
        imports.append(helper.make_opsetid("", default[0].version + 1))
        return f"opset import ai.onnx listed twice ({default[0].version}, {default[0].version + 1})"
    if how == "remove custom":
        custom = [k for k, o in enumerate(imports) if o.domain not in ("", "ai.onnx")]
        if not custom:
            return None
        names = [imports[k].domain for k in custom]
        for k in reversed(custom):
            del imports[k]
        return f"opset imports {names} removed"
    if how == "none":
        del imports[:]
        return "every opset import removed"
    return None


@_mutator
def mut_ir_version(model, rng):
    """ir_version to 0, -1, 1, 2, 3, 4, 99 or 2^40"""
    old = model.ir_version
    model.ir_version = int(_pick(rng, (0, -1, 1, 2, 3, 4, 99, 2 ** 40)))
    return None if model.ir_version == old else f"ir_version {old} -> {model.ir_version}"


INPUT_ELEM_TYPES = (TensorProto.INT8, TensorProto.UINT8, TensorProto.INT32, TensorProto.INT64, TensorProto.DOUBLE,
                    TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.BOOL, TensorProto.STRING,
                    TensorProto.COMPLEX64, 0, 99)


@_mutator
def mut_input_type(model, rng):
    """graph input: elem_type (int, double, float16, STRING, complex, undefined, 99), a dim 0/-1/2^40/+1/symbolic, rank +-1, no shape, no type"""
    ins = _data_inputs(model)
    if not ins:
        return None
    v = _pick(rng, ins)
    tt = v.type.tensor_type
    how = _pick(rng, ("elem_type", "elem_type", "dim", "dim", "symbolic dim", "extra dim", "dropped dim", "no shape",
                      "no type"))
    dims = tt.shape.dim
    if how == "elem_type":
        old = tt.elem_type
        tt.elem_type = int(_pick(rng, INPUT_ELEM_TYPES))
        return f"graph input {_q(v.name)}: elem_type {old} -> {tt.elem_type}"
    if how in ("dim", "symbolic dim") and len(dims):
        k = int(rng.integers(len(dims)))
        old = dims[k].dim_value or dims[k].dim_param
        if how == "dim":
            dims[k].dim_value = int(_pick(rng, (0, -1, -5, 2 ** 40, 2 ** 62, 3, (dims[k].dim_value or 1) + 1)))
            new = dims[k].dim_value
        else:
            dims[k].dim_param = new = "M"
        return f"graph input {_q(v.name)}: dim {k} {old!r} -> {new!r}"
    if how == "extra dim":
        dims.add().dim_value = int(_pick(rng, (1, 3)))
    elif how == "dropped dim" and len(dims):
        del dims[len(dims) - 1]
    elif how == "no shape":
        tt.ClearField("shape")
    elif how == "no type":
        v.ClearField("type")
    else:
        return None
    return f"graph input {_q(v.name)}: {how}"


@_mutator
def mut_input_dup(model, rng):
    """graph inputs: one listed twice, an extra unused one, one named like an intermediate tensor or an initializer"""
    g = model.graph
    ins = _data_inputs(model)
    how = _pick(rng, ("twice", "twice at the front", "unused extra", "shadows an intermediate", "shadows an initializer"))
    if how.startswith("twice") and ins:
        dup = onnx.ValueInfoProto()
        dup.CopyFrom(ins[0])
        if how == "twice":
            g.input.append(dup)
        else:
            g.input.insert(0, dup)
        return f"graph input {_q(dup.name)} listed {how}"
    if how == "unused extra":
        g.input.append(helper.make_tensor_value_info("fuzz_extra", TensorProto.FLOAT, [1, 3]))
        return "unused graph input 'fuzz_extra' [1, 3] added"
    if how == "shadows an intermediate":
        outs = _node_outputs(model)
        if not outs:
            return None
        name = _pick(rng, outs)
    else:
        inits = [t.name for t in g.initializer if t.name not in {v.name for v in g.input}]
        if not inits:
            return None
        name = _pick(rng, inits)
    g.input.append(_value_info(model, name))
    return f"graph input named {_q(name)} added ({how})"


@_mutator
def mut_constant(model, rng):
    """Constant nodes: an initializer moved into one, value_float/ints/string/sparse forms added to a tensor, none or two values"""
    g = model.graph
    how = _pick(rng, ("from initializer", "from initializer", "value_float", "value_floats", "value_int",
                      "value_ints", "value_string", "sparse_value", "no value", "two values"))
    if how == "from initializer":
        declared = {v.name for v in g.input}
        cands = [k for k, t in enumerate(g.initializer) if t.name not in declared or model.ir_version < 4]
        if not cands:
            return None
        k = _pick(rng, cands)
        t = onnx.TensorProto()
        t.CopyFrom(g.initializer[k])
        del g.initializer[k]
        for j in reversed(range(len(g.input))):
            if g.input[j].name == t.name:
                del g.input[j]
        g.node.insert(0, helper.make_node("Constant", [], [t.name], name=_fresh(model, "const"), value=t))
        return f"initializer {_q(t.name)} made a Constant node"
    out = _fresh(model, "const")
    value = float(_pick(rng, (0.0, 1e20, math.nan)))
    attrs = {"value_float": {"value_float": value}, "value_floats": {"value_floats": [value]},
             "value_int": {"value_int": 1}, "value_ints": {"value_ints": [0, 1]},
             "value_string": {"value_string": "fuzz"}, "no value": {},
             "two values": {"value_float": value, "value_int": 2},
             "sparse_value": {"sparse_value": helper.make_sparse_tensor(
                 helper.make_tensor("v", TensorProto.FLOAT, [1], [value]),
                 helper.make_tensor("i", TensorProto.INT64, [1], [0]), [1])}}[how]
    node = helper.make_node("Constant", [], [out], name=out, **attrs)
    t = _splice_add(model, rng, out, [node])
    return None if t is None else f"Constant ({how}, {value}) added to {_q(t)}"


@_mutator
def mut_external_data(model, rng):
    """a constant's data made external: ../, absolute, /dev/zero, NUL, missing or empty location, bad offset/length"""
    cands = [(label, t) for label, t in _constant_slots(model) if _array(t) is not None]
    if not cands:
        return None
    label, t = _pick(rng, cands)
    nbytes = _array(t).nbytes
    location = _pick(rng, HOSTILE_LOCATIONS)
    offset, length = _pick(rng, (("0", str(nbytes)), ("0", str(nbytes)), ("-1", str(nbytes)),
                                 ("0", str(2 ** 62)), ("99999999999", "4")))
    kept = TensorProto(name=t.name, data_type=t.data_type, dims=list(t.dims))
    kept.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        e = kept.external_data.add()
        e.key, e.value = key, value
    t.CopyFrom(kept)
    return f"{label}: data external at {_q(location)} offset {offset} length {length}"


@_mutator
def mut_const_of_shape(model, rng):
    """a ConstantOfShape with a huge ([2^20, 2^20], [10^12], [2^62]), empty or negative shape, added to a tensor or a graph output"""
    shape = list(_pick(rng, ([2 ** 20, 2 ** 20], [1, 10 ** 12], [2 ** 62], [0], [-1, 4], [1, 2 ** 31], [2 ** 40, 1, 1])))
    sname, out = _fresh(model, "shape"), _fresh(model, "cos")
    value = helper.make_tensor("value", TensorProto.FLOAT, [1], [0.0])
    _add_initializer(model, numpy_helper.from_array(np.array(shape, np.int64), sname))  # the shape only: tiny
    node = helper.make_node("ConstantOfShape", [sname], [out], name=out, value=value)
    if rng.random() < 0.3:
        model.graph.node.insert(0, node)
        model.graph.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, shape))
        return f"ConstantOfShape {shape} as a graph output"
    t = _splice_add(model, rng, out, [node])
    return None if t is None else f"ConstantOfShape {shape} added to {_q(t)}"


@_mutator
def mut_loop_huge(model, rng):
    """a Loop with a constant trip count of 2^62 (10^12, 2^31-1) adding one per iteration, added to a tensor"""
    trips = int(_pick(rng, (2 ** 62, 10 ** 12, 2 ** 31 - 1)))
    m, cond, v0, out = (_fresh(model, s) for s in ("trips", "cond", "v0", "loop"))
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Constant", [], ["one"], value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])),
         helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "fuzz_loop_body",
        [helper.make_tensor_value_info("iter", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])])
    for t in (numpy_helper.from_array(np.array(trips, np.int64), m), numpy_helper.from_array(np.array(True), cond),
              numpy_helper.from_array(np.zeros(1, np.float32), v0)):
        _add_initializer(model, t)
    node = helper.make_node("Loop", [m, cond, v0], [out], name=out, body=body)
    t = _splice_add(model, rng, out, [node])
    return None if t is None else f"Loop with trip count {trips} added to {_q(t)}"


@_mutator
def mut_op_swap(model, rng):
    """op_type replaced by a neighbouring op (Relu->LeakyRelu, Add->Sub, Gemm->MatMul, Quant->BipolarQuant, ...) or moved to another domain"""
    g = model.graph
    if not g.node:
        return None
    known = [k for k, n in enumerate(g.node) if n.op_type in NEIGHBOURS]
    k = _pick(rng, known) if known and rng.random() < 0.8 else int(rng.integers(len(g.node)))
    n = g.node[k]
    label = _node_label(model, k)
    if n.op_type not in NEIGHBOURS or rng.random() < 0.15:  # the domain instead, or an unknown op
        how = _pick(rng, ("domain", "unknown op"))
        if how == "unknown op":
            n.op_type = "FuzzOp"
            return f"{label}: op_type -> 'FuzzOp'"
        old = n.domain
        n.domain = "" if n.domain not in ("", "ai.onnx") else CUSTOM_DOMAIN
        return f"{label}: domain {old!r} -> {n.domain!r}"
    new = _pick(rng, NEIGHBOURS[n.op_type])
    n.op_type = new
    if new in CUSTOM_OPS and n.domain in ("", "ai.onnx"):
        n.domain = CUSTOM_DOMAIN
    elif new not in CUSTOM_OPS:
        n.domain = ""
    return f"{label}: op_type -> {new!r}"


@_mutator
def mut_value_info(model, rng):
    """a value_info record for an intermediate tensor with a wrong elem_type, extra dim or another size"""
    outs = _node_outputs(model)
    if not outs:
        return None
    t = _pick(rng, outs)
    vi = _value_info(model, t)
    how = _pick(rng, ("elem_type", "extra dim", "size"))
    tt = vi.type.tensor_type
    if how == "elem_type":
        tt.elem_type = TensorProto.INT8 if tt.elem_type != TensorProto.INT8 else TensorProto.DOUBLE
    elif how == "extra dim" or not len(tt.shape.dim):
        tt.shape.dim.add().dim_value = 7
    else:
        d = tt.shape.dim[len(tt.shape.dim) - 1]
        d.dim_value = (d.dim_value or 1) + 3
    g = model.graph
    for k in reversed(range(len(g.value_info))):
        if g.value_info[k].name == t:
            del g.value_info[k]
    g.value_info.append(vi)
    return f"value_info for {_q(t)}: wrong {how}"


MUTATOR_BY_NAME = {m.name: m for m in MUTATORS}


# =============================================================================================
# seeds and cases
@dataclass
class Seed:
    name: str                 # D07_unsw_mlp_w2a2_sparse, or a corpus model's name
    short: str                # the case-id prefix: D07, or the corpus name
    path: str
    input_range: str = "normal"   # for inputs without a QONNX datatype annotation
    _bytes: bytes | None = field(default=None, repr=False)

    def model(self) -> onnx.ModelProto:
        """The checker-clean seed (a fresh copy)."""
        if self._bytes is None:
            self._bytes = with_quirks_repaired(onnx.load(self.path), {}).SerializeToString()
        return onnx.ModelProto.FromString(self._bytes)


def shared_dir() -> Path | None:
    """../shared as tests/conftest.py finds it: $QCOMPILE_SHARED, the repo's sibling, /work/shared."""
    for cand in (os.environ.get("QCOMPILE_SHARED"), REPO.parent / "shared", "/work/shared"):
        if cand and (Path(cand) / "models" / "dev" / "MANIFEST.json").is_file():
            return Path(cand)
    return None


def dev_seeds(shared: Path | None = None, include_slow: bool = False) -> list[Seed]:
    shared = shared or shared_dir()
    if shared is None:
        return []
    dev = Path(shared) / "models" / "dev"
    out = []
    for entry in json.loads((dev / "MANIFEST.json").read_text()):
        path = dev / entry["name"] / "model.onnx"
        short = entry["name"].split("_")[0]
        if path.is_file() and (include_slow or short not in SLOW_SEEDS):
            out.append(Seed(entry["name"], short, str(path)))
    return out


def corpus_seeds(corpus: Path = REPO / "build" / "corpus") -> list[Seed]:
    """The corpus models of benchmarks/corpus/collect.py, where that folder exists."""
    try:
        doc = json.loads((Path(corpus) / "manifest.json").read_text())
    except (OSError, ValueError):
        return []
    return [Seed(e["name"], e["name"], str(Path(corpus) / e["file"]), e.get("input_range", "normal"))
            for e in doc.get("models", []) if (Path(corpus) / e["file"]).is_file()]


@dataclass
class Case:
    id: str
    seed: str
    target: str
    model: bytes
    mutations: list[tuple[str, str]]   # (mutator, what it did)
    data_seed: list[int]
    input_range: str = "normal"

    def job(self) -> dict:
        return {"id": self.id, "target": self.target, "model": self.model, "data_seed": self.data_seed,
                "input_range": self.input_range}


def _seed_key(seed: Seed) -> int:
    return zlib.crc32(seed.short.encode())


def baseline_case(seed: Seed, target: str) -> Case:
    return Case(f"{seed.short}-base-{target}", seed.name, target, seed.model().SerializeToString(), [],
                [_seed_key(seed), 0], seed.input_range)


def build_case(seed: Seed, run_seed: int, index: int) -> Case:
    """Case `index` of run `run_seed` on this seed: everything drawn from the case's own
    generator, so the id alone rebuilds it."""
    rng = np.random.default_rng([run_seed, index, _seed_key(seed)])
    target = TARGETS[int(rng.integers(len(TARGETS)))]
    n = 1 + int(rng.choice(3, p=[0.5, 0.3, 0.2]))
    model = seed.model()
    applied: list[tuple[str, str]] = []
    for _ in range(n):
        for _attempt in range(12):  # a mutator that does not apply: draw another
            mut = MUTATORS[int(rng.integers(len(MUTATORS)))]
            trial = onnx.ModelProto()
            trial.CopyFrom(model)
            try:
                what = mut.fn(trial, rng)
                data = trial.SerializeToString() if what else b""
            except Exception:  # noqa: BLE001 - an earlier mutation left a shape this one cannot handle
                what = None
            if what:
                model = onnx.ModelProto.FromString(data)
                applied.append((mut.name, what))
                break
    return Case(f"{seed.short}-{run_seed}-{index}", seed.name, target, model.SerializeToString(), applied,
                [run_seed, index, _seed_key(seed), 1], seed.input_range)


def parse_case_id(case_id: str) -> tuple[str, str, str]:
    """'D07-0-123' -> ('D07', '0', '123'); 'D07-base-zcu104' -> ('D07', 'base', 'zcu104')."""
    short, run, index = case_id.rsplit("-", 2) if "-base-" not in case_id else \
        (case_id.split("-base-")[0], "base", case_id.split("-base-")[1])
    return short, run, index


def case_from_id(case_id: str, seeds: Iterable[Seed]) -> Case:
    short, run, index = parse_case_id(case_id)
    seed = next((s for s in seeds if s.short == short), None)
    if seed is None:
        raise ValueError(f"no seed {short!r} for case {case_id!r}")
    return baseline_case(seed, index) if run == "base" else build_case(seed, int(run), int(index))


# =============================================================================================
# running one case (in a worker) and classifying it
@dataclass
class Observation:
    """What one case did, as the runner saw it; classify() judges it."""
    compiled: bool = False                  # compile_model returned a design
    error: BaseException | None = None      # the exception that ended the case
    stage: str = ""                         # where: load, compile, write, load_design, simulate
    checker: str | None = None              # None: onnx.checker accepts the (quirk-repaired) model
    inference: str | None = None            # None: and its shape inference (full_check) too
    warned: bool = False                    # the compile issued a ModelWarning
    reference_error: str | None = None      # the reference executor could not run the model
    simulated: list[np.ndarray] | None = None
    reference: list[np.ndarray] | None = None
    reference64: list[np.ndarray] | None = None   # in float64, computed when the float32 one disagrees
    lsb: list[float] = field(default_factory=list)   # one output step in real units, per output
    reload_mismatch: str | None = None      # the reloaded design simulates differently
    declared_outputs: int | None = None     # graph outputs the model file lists
    timed_out: bool = False
    note: str = ""                          # why nothing was simulated (input too large, ...)


@dataclass
class Verdict:
    status: str      # ok | refused | crash | hang | wrong
    sub: str         # ok, ok-unjudged, refused, exception, message, hang, invalid-accepted, mismatch, ...
    detail: str      # one line


def message_problem(msg: str) -> str | None:
    """Why a CompileError message is not a clean one-line refusal, or None when it is."""
    if not msg.strip():
        return "an empty message"
    if len(msg.splitlines()) > 1 or any(c in msg for c in "\n\r"):
        return "several lines"
    bad = sorted({c for c in msg if unicodedata.category(c) in ("Cc", "Zl", "Zp")})
    return f"control characters {''.join(bad)!r}" if bad else None


def tolerance(reference: np.ndarray, lsb: float) -> float:
    return RELATIVE_TOLERANCE * float(np.abs(reference).max(initial=0.0)) + LSB_TOLERANCE * lsb or 1e-9


def classify(obs: Observation) -> Verdict:
    from compiler.errors import CompileError

    if obs.timed_out:
        return Verdict("hang", "hang", f"no result within the timeout (stage {obs.stage or '?'})")
    e = obs.error
    if e is not None and not isinstance(e, CompileError):
        return Verdict("crash", "exception", f"{type(e).__name__} in {obs.stage}: {_one_line(str(e))}")
    if e is not None:
        problem = message_problem(str(e))
        if problem:
            return Verdict("crash", "message", f"{type(e).__name__} in {obs.stage} with {problem}: "
                                               f"{repr(str(e))[:200]}")
        if not obs.compiled or obs.checker is None:
            return Verdict("refused", "refused" if not obs.compiled else f"refused-at-{obs.stage}", str(e)[:300])
    if not obs.compiled:
        return Verdict("crash", "no-design", f"neither a design nor an error (stage {obs.stage})")
    if obs.checker is not None:  # whatever the numbers say; they are noted for triage
        then = f"then refused in {obs.stage}: {_one_line(str(e))}" if e is not None else \
            "outputs within tolerance" if (j := _judge(obs)).sub == "ok" else f"{j.sub}: {j.detail}"
        return Verdict("wrong", "invalid-accepted",
                       f"compiled a model onnx.checker rejects: {_one_line(obs.checker)} [{then}]"[:400])
    if obs.inference is not None and not obs.warned:
        return Verdict("wrong", "inference-unwarned",
                       f"compiled, without a warning, a model onnx's shape inference rejects: "
                       f"{_one_line(obs.inference)}"[:400])
    return _judge(obs)


def _judge(obs: Observation) -> Verdict:
    """A compiled design's outputs against the model's declared outputs and its reference."""
    if obs.reload_mismatch:
        return Verdict("wrong", "reload", obs.reload_mismatch)
    got, want = obs.simulated, obs.reference
    if got is not None and obs.declared_outputs is not None and len(got) != obs.declared_outputs:
        return Verdict("wrong", "count", f"the design has {len(got)} outputs, the model declares {obs.declared_outputs}")
    if obs.reference_error is not None:
        return Verdict("ok", "ok-unjudged", f"no reference: {_one_line(obs.reference_error)}")
    if got is None or want is None:
        return Verdict("ok", "ok-unjudged", obs.note or "not simulated")
    if len(got) != len(want):
        return Verdict("wrong", "count", f"{len(got)} outputs, the reference has {len(want)}")
    worst, detail = -1.0, ""
    for k, (y, w) in enumerate(zip(got, want)):
        y, w = np.asarray(y, dtype=np.float64), np.asarray(w, dtype=np.float64)
        if y.shape != w.shape:
            return Verdict("wrong", "shape", f"output {k}: shape {y.shape}, the reference's is {w.shape}")
        if not np.all(np.isfinite(w)):
            return Verdict("wrong", "nonfinite", f"output {k}: the reference holds NaN or infinity, the design compiled")
        tol = tolerance(w, obs.lsb[k] if k < len(obs.lsb) else 0.0)
        err = float(np.abs(y - w).max(initial=0.0)) if np.all(np.isfinite(y)) else math.inf
        if err / tol > worst:
            worst = err / tol
            detail = f"output {k}: max error {err:.3g}, tolerance {tol:.3g} (range {np.abs(w).max(initial=0):.3g})"
    if worst > 1.0:
        if obs.reference64 is not None:
            again = _judge(dataclasses.replace(obs, reference=obs.reference64, reference64=None))
            if again.status == "ok":   # float32 rounding in the reference, not in the design
                return Verdict("ok", "ok-float64", f"{detail} against onnxruntime; {again.detail} in float64")
        return Verdict("wrong", "mismatch", detail)
    return Verdict("ok", "ok", detail)


def _one_line(s: str) -> str:
    s = s.strip()
    first = s.splitlines()[0] if s else ""
    return first[:300]


def _one_or_list(xs: list):
    return xs[0] if len(xs) == 1 else xs


def _as_list(y) -> list[np.ndarray]:
    return y if isinstance(y, list) else [y]


def checker_message(path: Path, full_check: bool = False) -> str | None:
    """onnx.checker's verdict on the model with the exporter quirks the compiler tolerates
    repaired (compiler.frontend.validate.with_quirks_repaired: a missing custom-domain opset
    import, IR-3 initializers that are not graph inputs, unsorted nodes, outputs without a
    shape). full_check adds shape inference, whose disagreements the compiler must refuse
    or warn about."""
    try:
        m = with_quirks_repaired(onnx.load(str(path)), {})
        onnx.checker.check_model(m, full_check=full_check)
    except Exception as e:  # noqa: BLE001 - ValidationError, InferenceError, protobuf errors alike
        return f"{type(e).__name__}: {_one_line(str(e)) or type(e).__name__}"
    return None


def observe(path: Path, target: str, data_seed: list[int], input_range: str = "normal",
            progress: Callable[[str], None] = lambda stage: None) -> Observation:
    """Run the model through the compiler's public API and its reference executor."""
    import compiler
    from compiler.frontend.reference import run_reference

    obs = Observation()

    def stage(name: str) -> None:
        obs.stage = name
        progress(name)

    try:
        stage("load")
        g = compiler.load_onnx(str(path))
        shapes = [tuple(int(d) for d in s) for s in g.onnx_input_shapes]
        names = list(g.inputs)
        m = onnx.load(str(path), load_external_data=False)
        kinds = input_kinds(m, names, input_range)
        obs.declared_outputs = len(m.graph.output)
        per_sample = sum(math.prod(s) for s in shapes)
        drawable = all(d >= 0 for s in shapes for d in s) and per_sample * (N_CALIB + N_TEST) <= MAX_DRAWN
        xs: list[np.ndarray] | None = None
        calib = None
        if drawable:
            rng = np.random.default_rng(data_seed)
            xs = [draw(rng, k, s, N_TEST) for k, s in zip(kinds, shapes)]
            # the test samples are part of the calibration set, as in the corpus run
            calib = _one_or_list([np.concatenate([draw(rng, k, s, N_CALIB), x]) for k, s, x in zip(kinds, shapes, xs)])
        else:
            obs.note = f"input shapes {shapes} too large or negative to draw data for"
        stage("compile")
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ModelWarning)
            design = compiler.compile_model(str(path), target, calib=calib)
        obs.compiled = True
        obs.warned = any(issubclass(w.category, ModelWarning) for w in seen)
        stage("checker")
        obs.checker = checker_message(path)
        obs.inference = checker_message(path, full_check=True) if obs.checker is None else None
        stage("write")
        compiler.write_project(design, path.parent / "out")
        stage("load_design")
        loaded = compiler.load_design(path.parent / "out")
        if xs is None:
            return obs
        stage("simulate")
        xs = snap(loaded, xs)
        obs.simulated = _as_list(compiler.simulate(loaded, _one_or_list(xs)))
        fresh = _as_list(compiler.simulate(design, _one_or_list(xs)))
        for k, (a, b) in enumerate(zip(fresh, obs.simulated)):
            if np.shape(a) != np.shape(b) or not np.array_equal(a, b, equal_nan=True):
                obs.reload_mismatch = f"output {k}: the loaded design's simulation differs from the compiled one's"
                break
    except Exception as e:  # noqa: BLE001 - classify() decides what this exception means
        obs.error = e
        return obs
    stage("reference")
    try:
        obs.reference = run_reference(str(path), _one_or_list(xs), whole_tensor=bool(loaded.graph.whole_tensor))
    except Exception as e:  # noqa: BLE001 - the reference cannot run the model: nothing to compare
        obs.reference_error = f"{type(e).__name__}: {_one_line(str(e))}"
    lg = loaded.graph
    for name in lg.outputs:
        try:  # one step of the output in real units (a non-power-of-two scale multiplies the code)
            t = lg.tensors[name]
            obs.lsb.append(float(t.type.lsb) * float(np.max(np.abs(t.scale))))
        except Exception:  # noqa: BLE001 - an output without a fixed-point type
            obs.lsb.append(0.0)
    if obs.reference is not None and _judge(obs).sub == "mismatch" and not lg.whole_tensor:
        stage("reference64")
        try:
            obs.reference64 = float64_reference(onnx.load(str(path)), xs)
        except Exception as e:  # noqa: BLE001 - ops the numpy evaluator lacks: the float32 verdict stands
            obs.note = f"no float64 reference: {type(e).__name__}: {_one_line(str(e))}"
    return obs


def float64_reference(model: onnx.ModelProto, xs: list[np.ndarray]) -> list[np.ndarray] | None:
    """The model's outputs computed in float64 by onnx's numpy ReferenceEvaluator (the model
    converted to opset 21 and every float tensor to double), one sample at a time; None for
    models with custom-domain ops. A design that is exact where onnxruntime's float32
    accumulation lands on the other side of a rounding tie (an AveragePool of integer codes
    before a QuantizeLinear) disagrees with the float32 reference, not with the model."""
    from onnx import version_converter
    from onnx.reference import ReferenceEvaluator

    if any(n.domain not in ("", "ai.onnx") for n in model.graph.node):
        return None
    m = version_converter.convert_version(model, max(21, next((o.version for o in model.opset_import
                                                               if o.domain in ("", "ai.onnx")), 21)))

    def widen(t: TensorProto) -> None:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    for t in m.graph.initializer:
        widen(t)
    for n in m.graph.node:
        for a in n.attribute:
            if a.HasField("t"):
                widen(a.t)
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
    for v in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.DOUBLE
    inits = {t.name for t in m.graph.initializer}
    feeds = [v for v in m.graph.input if v.name not in inits]
    ev = ReferenceEvaluator(m)
    per = []
    for k in range(len(xs[0])):
        inputs = {}
        for v, x in zip(feeds, xs):
            dt = helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type or TensorProto.DOUBLE)
            inputs[v.name] = np.asarray(x[k:k + 1]).astype(dt)
        per.append(ev.run(None, inputs))
    return [np.concatenate([np.asarray(p[j], dtype=np.float64) for p in per]) for j in range(len(per[0]))]


def _frames(e: BaseException) -> tuple[str, str]:
    """The innermost traceback frame and the innermost one in the compiler, as path:line."""
    tb = traceback.extract_tb(e.__traceback__)

    def where(f) -> str:
        p = Path(f.filename)
        try:
            rel = str(p.resolve().relative_to(REPO))
        except ValueError:
            rel = f.filename.split("site-packages/")[-1]
        return f"{rel}:{f.lineno}"
    inner = where(tb[-1]) if tb else ""
    own = next((where(f) for f in reversed(tb) if "/compiler/" in f.filename.replace(os.sep, "/")
                and "validation/fuzz.py" not in f.filename), "")
    return inner, own


def run_job(job: dict, progress: Callable[[str], None] = lambda stage: None) -> dict:
    """One case (a job from Case.job) in this process: a JSON-able result."""
    warnings.simplefilter("ignore")
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="qfuzz-") as td:
        path = Path(td) / "model.onnx"
        path.write_bytes(job["model"])
        obs = observe(path, job["target"], job["data_seed"], job.get("input_range", "normal"), progress)
        verdict = classify(obs)
    res = {"id": job["id"], "target": job["target"], "status": verdict.status, "sub": verdict.sub,
           "detail": verdict.detail, "stage": obs.stage, "checker": obs.checker,
           "seconds": round(time.time() - t0, 2)}
    if obs.error is not None:
        inner, own = _frames(obs.error)
        res.update(error_type=type(obs.error).__name__, frame=inner, compiler_frame=own)
        if verdict.status == "crash":
            res["traceback"] = "".join(traceback.format_exception(obs.error, limit=-12))[-4000:]
    return res


# =============================================================================================
# the worker pool: a worker per job slot, killed and replaced on a timeout
def _worker_main(rfd: int, wfd: int, memory_gb: float) -> None:
    """A worker process (started by _Slot): cases in on one pipe, stages and results out on
    the other, until a None job."""
    import importlib

    try:
        import resource

        limit = int(memory_gb * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # a huge allocation fails here, not the host
    except (ImportError, ValueError, OSError):
        pass
    warnings.simplefilter("ignore")
    jobs, out = Connection(rfd, writable=False), Connection(wfd, readable=False)
    # imported before "ready", so that a case's time is its own
    for mod in ("compiler", "compiler.frontend.reference", "qonnx.core.onnx_exec"):
        try:
            importlib.import_module(mod)
        except ImportError:
            pass
    out.send(("ready", None))
    while True:
        try:
            job = jobs.recv()
        except EOFError:  # the driver went away
            return
        if job is None:
            return
        try:
            res = run_job(job, lambda stage: out.send(("stage", stage)))
        except BaseException as e:  # noqa: BLE001 - the harness itself failed on this case: report it
            res = {"id": job["id"], "target": job["target"], "status": "crash", "sub": "harness",
                   "detail": f"{type(e).__name__} in the fuzz harness: {_one_line(str(e))}", "stage": "harness",
                   "traceback": traceback.format_exc(limit=-12)}
        out.send(("result", res))


WORKER = "import sys; from compiler.validation.fuzz import _worker_main; _worker_main(*map(int, sys.argv[1:3]), " \
         "float(sys.argv[3]))"


class _Slot:
    """One worker process: a plain `python -c` child (no re-import of the caller's __main__,
    as multiprocessing's spawn would do) talking over two pipes."""

    def __init__(self, index: int, log_dir: Path, memory_gb: float):
        self.index, self.log, self.memory_gb = index, log_dir / f"worker-{index}.log", memory_gb
        self.log.unlink(missing_ok=True)  # a run's own log
        self.start()

    def start(self) -> None:
        to_worker, from_worker = os.pipe(), os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
               # workers side by side: one BLAS/OpenMP thread each
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        with open(self.log, "ab") as log:  # onnxruntime's and the compiler's chatter goes here
            self.proc = subprocess.Popen(
                [sys.executable, "-c", WORKER, str(to_worker[0]), str(from_worker[1]), str(self.memory_gb)],
                pass_fds=(to_worker[0], from_worker[1]), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
        os.close(to_worker[0])
        os.close(from_worker[1])
        self.jobs = Connection(to_worker[1], readable=False)
        self.conn = Connection(from_worker[0], writable=False)
        self.ready, self.done = False, 0
        self.case: Case | None = None
        self.started, self.stage, self.born = 0.0, "", time.time()

    def send(self, case: Case) -> None:
        self.case, self.started, self.stage = case, time.time(), "sent"
        self.jobs.send(case.job())

    def _close(self) -> None:
        for c in (self.jobs, self.conn):
            try:
                c.close()
            except OSError:
                pass

    def restart(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._close()
        self.start()

    def stop(self) -> None:
        try:
            self.jobs.send(None)
        except OSError:  # already gone
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._close()


class Pool:
    """`jobs` worker processes; run() hands them cases, and a case without a result after
    `timeout` seconds is a hang: its worker is killed and replaced."""

    def __init__(self, jobs: int, log_dir: Path, memory_gb: float = 8.0, recycle: int = 200):
        log_dir.mkdir(parents=True, exist_ok=True)
        self.recycle = recycle
        self.slots = [_Slot(k, log_dir, memory_gb) for k in range(max(1, jobs))]

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        for s in self.slots:
            s.stop()

    def run(self, cases: Iterator[Case], timeout: float, deadline: float = math.inf,
            on_result: Callable[[Case, dict], None] = lambda c, r: None) -> list[tuple[Case, dict]]:
        """Run cases until they run out or `deadline` (time.time()) passes; no new case starts after it."""
        results: list[tuple[Case, dict]] = []
        exhausted = False
        slots = self.slots

        def finish(s: _Slot, res: dict) -> None:
            results.append((s.case, res))
            on_result(s.case, res)
            s.case = None
            s.done += 1

        while True:
            for s in slots:  # hand out work
                if s.ready and s.case is None and not exhausted:
                    case = next(cases, None) if time.time() < deadline else None
                    if case is None:
                        exhausted = True
                    else:
                        s.send(case)
            if exhausted and all(s.case is None for s in slots):
                return results
            now = time.time()
            wait = min([s.started + timeout - now for s in slots if s.case is not None] + [1.0])
            for conn in wait_connections([s.conn for s in slots], timeout=max(0.05, wait)):
                s = next(s for s in slots if s.conn is conn)
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):  # the worker died: a signal, an abort in native code, OOM
                    if s.case is None:
                        raise RuntimeError(f"a fuzz worker died outside a case; see {s.log}") from None
                    try:
                        code = s.proc.wait(5)
                    except subprocess.TimeoutExpired:
                        code = None
                    finish(s, {"id": s.case.id, "target": s.case.target, "status": "crash", "sub": "worker-died",
                               "detail": f"the worker died (exit code {code}) in stage {s.stage}",
                               "stage": s.stage})
                    s.restart()
                    continue
                if kind == "ready":
                    s.ready = True
                elif kind == "stage":
                    s.stage = payload
                else:
                    finish(s, payload)
                    if s.done >= self.recycle:  # bound what a long-lived worker accumulates
                        s.stop()
                        s.start()
            now = time.time()
            for s in slots:
                if s.case is not None and now > s.started + timeout and not s.conn.poll():
                    finish(s, {"id": s.case.id, "target": s.case.target, "status": "hang", "sub": "hang",
                               "detail": f"no result within {timeout:g} s (stage {s.stage})", "stage": s.stage})
                    s.restart()
                elif not s.ready and now - s.born > 300:
                    raise RuntimeError(f"a fuzz worker did not start within 300 s; see {s.log}")


# =============================================================================================
# a run: baselines, cases, the report
@dataclass
class RunResult:
    run_seed: int
    requested: int
    seconds: float
    baseline: list[dict]
    excluded: dict[str, str]                  # seed name -> why
    cases: list[dict]                         # one per case, with seed and mutations
    out: Path | None = None

    @property
    def counts(self) -> Counter:
        return Counter(r["status"] for r in self.cases)

    @property
    def failed(self) -> bool:
        return any(r["status"] in FAILURES for r in self.cases + self.baseline)

    def to_json(self) -> dict:
        return {"run_seed": self.run_seed, "requested": self.requested, "ran": len(self.cases),
                "seconds": round(self.seconds, 1), "counts": dict(self.counts), "excluded": self.excluded,
                "tolerance": {"relative": RELATIVE_TOLERANCE, "lsb": LSB_TOLERANCE},
                "mutators": {m.name: m.doc for m in MUTATORS}, "signatures": signatures(self.cases),
                "baseline": self.baseline, "cases": self.cases}


def _record(case: Case, res: dict) -> dict:
    return {**res, "seed": case.seed, "mutations": [{"mutator": m, "what": w} for m, w in case.mutations]}


def fuzz(seeds: list[Seed], count: int = 5000, run_seed: int = 0, budget: float = math.inf, jobs: int = 2,
         timeout: float = 60.0, out: Path | None = None, log: Callable[[str], None] = print,
         memory_gb: float = 8.0) -> RunResult:
    """Baselines of the seeds on both targets, then `count` cases (fewer when `budget`
    seconds run out) spread round-robin over the seeds whose baseline is ok. Failing models
    are saved as <out>/cases/<id>.onnx and everything as <out>/results.json."""
    t0 = time.time()
    deadline = t0 + budget
    out = Path(out) if out is not None else REPO / "build" / "fuzz"
    cases_dir = out / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    for old in cases_dir.glob("*.onnx"):  # the folder holds one run's failures
        old.unlink()

    def save(case: Case, res: dict) -> None:
        if res["status"] in FAILURES:
            (cases_dir / f"{case.id}.onnx").write_bytes(case.model)
            log(f"  {res['status']:7s} {case.id:16s} {_mutation_text(case.mutations)[:110]} | {res['detail'][:160]}")

    pool = Pool(jobs, out, memory_gb)
    with pool:
        return _fuzz_on(pool, seeds, count, run_seed, deadline, timeout, out, log, save, t0)


def _fuzz_on(pool: Pool, seeds: list[Seed], count: int, run_seed: int, deadline: float, timeout: float, out: Path,
             log: Callable[[str], None], save: Callable[[Case, dict], None], t0: float) -> RunResult:
    base = iter([baseline_case(s, t) for s in seeds for t in TARGETS])
    baseline = [_record(c, r) for c, r in pool.run(base, timeout, on_result=save)]
    excluded: dict[str, str] = {}
    for r in sorted(baseline, key=lambda r: r["id"]):
        if r["sub"] != "ok" and r["seed"] not in excluded:
            excluded[r["seed"]] = f"{r['target']}: {r['status']} ({r['sub']}): {r['detail']}"
    live = [s for s in seeds if s.name not in excluded]
    for s in seeds:
        log(f"  seed {s.name:34s} " + (f"EXCLUDED: {excluded[s.name][:150]}" if s.name in excluded else "ok"))
    done = [0]

    def progress(case: Case, res: dict) -> None:
        save(case, res)
        done[0] += 1
        if done[0] % 50 == 0:
            log(f"  ... {done[0]} cases, {time.time() - t0:.0f} s")

    gen = (build_case(live[i % len(live)], run_seed, i) for i in range(count)) if live else iter(())
    ran = pool.run(gen, timeout, deadline, on_result=progress)
    records = sorted((_record(c, r) for c, r in ran), key=lambda r: int(r["id"].rsplit("-", 1)[1]))
    result = RunResult(run_seed, count, time.time() - t0, baseline, excluded, records, out)
    (out / "results.json").write_text(json.dumps(result.to_json(), indent=1, default=str) + "\n")
    return result


def _mutation_text(mutations) -> str:
    items = [(m["mutator"], m["what"]) if isinstance(m, dict) else m for m in mutations]
    return "; ".join(f"{name}: {what}" for name, what in items) or "(unmutated)"


def _normalize(msg: str) -> str:
    """A message without what names one case's nodes, tensors or sizes: like messages group."""
    msg = re.sub(r"'[^']*'|\"[^\"]*\"", "'*'", msg)
    # onnx's checker names tensors, nodes and types unquoted
    for pattern, repl in ((r"\S+ (in initializer but not in graph input|initializer name is not unique)", r"* \1"),
                          (r"node name: [^)]*", "node name: *"), (r"\(op_type:\w+", "(op_type:*"),
                          (r"tensor\(\w+\)", "tensor(*)"), (r"\w+ (typestr: )\w+", r"* \1*"),
                          (r"\w+ has inconsistent type", "* has inconsistent type"),
                          (r"\(tensor name: [^)]*\)", "(tensor name: *)")):
        msg = re.sub(pattern, repl, msg)
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "N", msg)[:160]


def signature(r: dict) -> str:
    """What a failure has in common with others of its kind."""
    if r["status"] == "crash":
        where = r.get("compiler_frame") or r.get("frame") or r.get("stage", "")
        if r["sub"] == "message":
            return f"crash: {r.get('error_type')} message not one clean line, raised at {where}"
        if r["sub"] in ("worker-died", "harness", "no-design"):
            return f"crash: {r['sub']} in stage {r.get('stage')}"
        return f"crash: {r.get('error_type')} at {where}"
    if r["status"] == "hang":
        return f"hang in stage {r.get('stage')}"
    if r["status"] == "wrong":
        if r["sub"] == "invalid-accepted":
            return f"wrong: accepted an invalid model: {_normalize(r.get('checker') or '')}"
        muts = sorted({m["mutator"] for m in r.get("mutations", [])})
        return f"wrong: {r['sub']} after {'+'.join(muts) or 'no mutation'}"
    return r["status"]


def signatures(records: list[dict]) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for r in records:
        if r["status"] in FAILURES:
            groups.setdefault(signature(r), []).append(r)
    return [{"signature": sig, "count": len(rs), "example": rs[0]["id"], "seed": rs[0]["seed"],
             "mutations": _mutation_text(rs[0].get("mutations", [])), "detail": rs[0]["detail"]}
            for sig, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def report(result: RunResult) -> str:
    """The run as a table: baselines, counts per class, per mutator, signatures, failures."""
    lines = []
    c = result.counts
    ran = len(result.cases)
    lines.append(f"seeds: {len(result.baseline) // len(TARGETS)} ({len(result.excluded)} excluded)")
    for seed, why in result.excluded.items():
        lines.append(f"  excluded {seed}: {why[:200]}")
    bad_base = [r for r in result.baseline if r["status"] in FAILURES]
    for r in bad_base:
        lines.append(f"  baseline {r['status']} {r['id']}: {r['detail'][:200]}")
    lines.append(f"\n{ran} cases run (of {result.requested} requested"
                 + (", stopped by the budget" if ran < result.requested else "") + f"), run seed {result.run_seed}, "
                 f"{result.seconds:.0f} s")
    unjudged = sum(1 for r in result.cases if r["sub"] == "ok-unjudged")
    lines.append("  " + ", ".join(f"{k} {c[k]}" for k in CLASSES) + f"   (ok-unjudged {unjudged} of the ok)")
    per: dict[str, Counter] = {m.name: Counter() for m in MUTATORS}
    for r in result.cases:
        for name in {m["mutator"] for m in r["mutations"]}:
            per[name][r["status"]] += 1
            per[name]["cases"] += 1
    lines.append("\nper mutator (a case counts for each of its mutators):")
    lines.append(f"  {'mutator':20s} {'cases':>6s} " + " ".join(f"{k:>7s}" for k in CLASSES))
    for name, cnt in per.items():
        lines.append(f"  {name:20s} {cnt['cases']:6d} " + " ".join(f"{cnt[k]:7d}" for k in CLASSES))
    sigs = signatures(result.cases)
    if sigs:
        lines.append("\nfailure signatures (count, example case, its mutations):")
        for s in sigs:
            lines.append(f"  {s['count']:4d}  {s['signature'][:150]}")
            lines.append(f"        e.g. {s['example']} ({s['seed']}): {s['mutations'][:160]}")
            lines.append(f"        {s['detail'][:200]}")
    bad = [r for r in result.cases if r["status"] in FAILURES]
    if bad:
        lines.append("\ncrashes, hangs and wrong designs:")
        for r in bad:
            lines.append(f"  {r['status']:6s} {r['id']:16s} {r['seed'][:3]}  {_mutation_text(r['mutations'])[:120]}")
            lines.append(f"         {r['detail'][:200]}")
    if result.out is not None:
        lines.append(f"\nwrote {result.out / 'results.json'}; failing models in {result.out / 'cases'} "
                     "(python benchmarks/fuzz.py --replay <id>)")
    return "\n".join(lines)


def replay(case_id: str, out: Path | None = None, seeds: list[Seed] | None = None, timeout: float = 60.0) -> dict:
    """Run one case again, from its saved model when <out>/cases/<id>.onnx exists (else
    rebuilt from the id), in a worker with the timeout. The result holds the traceback."""
    out = Path(out) if out is not None else REPO / "build" / "fuzz"
    seeds = seeds if seeds is not None else dev_seeds(include_slow=True) + corpus_seeds()
    case = case_from_id(case_id, seeds)
    saved = out / "cases" / f"{case_id}.onnx"
    if saved.is_file():
        case.model = saved.read_bytes()
    with Pool(1, out / "replay") as pool:  # its own worker log: the run's stay
        (_, res), = pool.run(iter([case]), timeout)
    return _record(case, res)
