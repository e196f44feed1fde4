"""ONNX -> IR. The only module that imports onnx; ONNX names, opsets and quirks stop here.

The importer walks the ONNX nodes in dependency order, keeping for every ONNX tensor either
a constant (with the fixed-point type of the quantizer that produced it, if any) or an IR
activation. Constant subgraphs (weight quantizers, transposes, shape arithmetic) are
evaluated here; ONNX-level no-ops (Identity, Dropout, reshapes that do not move data in
the IR's channels-last order) become aliases; everything else maps to one IR op.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ModelError, UnsupportedError, at_node
from ..ir import Graph, Node, Tensor
from ..numerics import FixedType
from ..ops.affine import Affine
from ..ops.dense import Dense
from ..ops.quant import Quant
from ..ops.relu import Relu
from ..ops.softmax import Softmax

MAX_ELEMENTS = 1 << 28          # refuse absurd tensor sizes
QUANT_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
QONNX_ROUNDING = {"ROUND": "AP_RND_CONV", "FLOOR": "AP_TRN", "ROUND_TO_ZERO": "AP_TRN_ZERO"}


# ---------------------------------------------------------------------------------------
# values flowing through the importer
@dataclass
class Const:
    value: np.ndarray
    qtype: FixedType | None = None   # set when a model quantizer produced this constant


@dataclass
class Act:
    tensor: str                      # IR tensor name
    shape: tuple[int, ...]           # ONNX shape without the batch dimension


def load_onnx(source, name: str | None = None) -> Graph:
    """Read an ONNX file (or ModelProto) and convert it to an IR graph."""
    model = _read(source)
    return _Importer(model, name or _model_name(source)).run()


def _model_name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        return p.parent.name if p.stem == "model" else p.stem
    return "model"


def _read(source):
    import onnx
    from google.protobuf.message import DecodeError

    if not isinstance(source, (str, os.PathLike)):
        return source
    path = Path(source)
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if not path.is_file():
        raise ModelError(f"{path}: not a file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeWarning, ValueError, UnicodeDecodeError) as e:
        raise ModelError(f"{path}: not a valid ONNX model (protobuf parse failed: {e})") from None
    except Exception as e:  # onnx raises assorted errors on garbage input
        raise ModelError(f"{path}: not a valid ONNX model ({type(e).__name__}: {e})") from None
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise ModelError(f"{path}: not a valid ONNX model (no graph or no nodes)")
    _load_external_data(model, path.parent.resolve())
    return model


def _load_external_data(model, base: Path) -> None:
    """External tensor files must stay inside the model's folder."""
    from onnx import TensorProto
    from onnx.external_data_helper import load_external_data_for_model

    external = False
    for t in model.graph.initializer:
        if t.data_location != TensorProto.EXTERNAL:
            continue
        external = True
        loc = {e.key: e.value for e in t.external_data}.get("location", "")
        target = (base / loc).resolve()
        if not loc or os.path.isabs(loc) or base not in target.parents:
            raise ModelError(f"initializer {t.name!r}: external data path {loc!r} leaves the model's folder")
        if not target.is_file():
            raise ModelError(f"initializer {t.name!r}: external data file {loc!r} not found")
    if external:
        load_external_data_for_model(model, str(base))


# ---------------------------------------------------------------------------------------
class _Importer:
    def __init__(self, model, name: str):
        import onnx
        from onnx import numpy_helper

        self.onnx, self.numpy_helper = onnx, numpy_helper
        self.model = model
        self.opset = {o.domain or "": o.version for o in model.opset_import}
        self.graph = Graph(name=name)
        self.env: dict[str, Const | Act] = {}
        self.used_names: set[str] = set()

    # ---- top level ----------------------------------------------------------------------
    def run(self) -> Graph:
        g = self.model.graph
        for init in g.initializer:
            self.env[init.name] = Const(self._array(init, f"initializer {init.name!r}"))
        for inp in g.input:
            if inp.name in self.env:
                continue  # IR < 4 lists initializers as inputs too
            shape = self._input_shape(inp)
            self.graph.add_tensor(Tensor(inp.name, _ir_shape(shape)))
            self.graph.inputs.append(inp.name)
            self.graph.onnx_input_shapes.append(shape)
            self.env[inp.name] = Act(inp.name, shape)
        if not self.graph.inputs:
            raise ModelError("the model has no (non-constant) input")
        for node in self._sorted_nodes():
            self._convert(node)
        for out in g.output:
            v = self.env.get(out.name)
            if v is None:
                raise ModelError(f"graph output {out.name!r} is not produced by any node")
            if isinstance(v, Const):
                raise UnsupportedError(f"graph output {out.name!r} is a constant; nothing to compute")
            if _ir_shape(v.shape) != self.graph.tensors[v.tensor].shape and not _same_order(v.shape):
                raise UnsupportedError(f"graph output {out.name!r}: layout of shape {v.shape} cannot be restored")
            self.graph.outputs.append(v.tensor)
            self.graph.onnx_output_shapes.append(v.shape)
        if len(self.graph) == 0:
            raise UnsupportedError("the model computes nothing after removing no-op nodes")
        return self.graph

    def _input_shape(self, inp) -> tuple[int, ...]:
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type") or not tt.HasField("shape"):
            raise ModelError(f"graph input {inp.name!r} has no tensor shape")
        dims = []
        for i, d in enumerate(tt.shape.dim):
            if i == 0:
                continue  # the batch dimension is always free
            if not d.HasField("dim_value") or d.dim_value <= 0:
                raise ModelError(f"graph input {inp.name!r}: dimension {i} is {d.dim_param or 'unknown'}; "
                                 "only the batch (first) dimension may be symbolic")
            dims.append(int(d.dim_value))
        if len(tt.shape.dim) == 0:
            raise ModelError(f"graph input {inp.name!r} is a scalar; expected (batch, features...)")
        _check_size(dims, f"graph input {inp.name!r}")
        return tuple(dims)

    def _sorted_nodes(self):
        """ONNX nodes in dependency order; cycles and dangling inputs are refused."""
        nodes = list(self.model.graph.node)
        produced = {o: i for i, n in enumerate(nodes) for o in n.output if o}
        known = set(self.env)
        deps = []
        for i, n in enumerate(nodes):
            d = set()
            for t in n.input:
                if not t:
                    continue
                if t in produced:
                    d.add(produced[t])
                elif t not in known:
                    raise ModelError(f"node {self._name(n, i)!r} ({n.op_type}): input {t!r} is not produced by "
                                     "any node, initializer or graph input")
            deps.append(d)
        order, done, remaining = [], set(), set(range(len(nodes)))
        while remaining:
            ready = sorted(i for i in remaining if deps[i] <= done)
            if not ready:
                i = min(remaining)
                raise ModelError(f"the graph has a cycle through node {self._name(nodes[i], i)!r} ({nodes[i].op_type})")
            for i in ready:
                order.append((i, nodes[i]))
                done.add(i)
                remaining.discard(i)
        self.node_index = {id(n): i for i, n in order}
        return [n for _, n in order]

    def _name(self, node, index: int | None = None) -> str:
        if node.name:
            return node.name
        if index is None:
            index = self.node_index.get(id(node), 0)
        return f"{node.op_type}_{index}"

    def _convert(self, node) -> None:
        domain = node.domain or ""
        name = self._name(node)
        ins = [self.env.get(t) if t else None for t in node.input]
        key = node.op_type if domain in ("", "ai.onnx") else f"{domain}:{node.op_type}"
        if node.op_type in ("Quant",) and domain in QUANT_DOMAINS:
            key = "Quant"
        present = [v for t, v in zip(node.input, ins) if t]
        if domain in ("", "ai.onnx") and present and all(isinstance(v, Const) for v in present) \
                and node.op_type not in ("Constant",):
            outs = self._fold_constant(node, name)
            for t, v in zip(node.output, outs):
                if t:
                    self.env[t] = v
            return
        fn = CONVERTERS.get(key)
        if fn is None:
            raise at_node(name, node.op_type, f"op {key} is not supported (supported: {', '.join(sorted(CONVERTERS))})")
        attrs = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        outs = fn(self, _NodeCtx(self, node, name, attrs), ins)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        for t, v in zip(node.output, outs):
            if t:
                self.env[t] = v

    def _fold_constant(self, node, name: str) -> list[Const]:
        """Evaluate a standard op whose inputs are all constants (weight transposes, shape
        arithmetic, ...) with onnx's reference evaluator."""
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        feeds = {t: self.env[t].value for t in node.input if t}
        inputs = [helper.make_tensor_value_info(t, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                  for t, v in feeds.items()]
        outputs = [helper.make_empty_tensor_value_info(t) for t in node.output if t]
        g = helper.make_graph([node], "fold", inputs, outputs)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset.get("", 13))])
        m.ir_version = self.model.ir_version
        try:
            values = ReferenceEvaluator(m).run(None, feeds)
        except Exception as e:
            raise at_node(name, node.op_type, f"cannot evaluate this constant expression ({e})", ModelError) from None
        return [Const(np.asarray(v)) for v in values]

    # ---- helpers for converters ------------------------------------------------------------
    def _array(self, tensor_proto, what: str) -> np.ndarray:
        n = int(np.prod(tensor_proto.dims, dtype=np.int64)) if len(tensor_proto.dims) else 1
        if n > MAX_ELEMENTS:
            raise ModelError(f"{what}: {n} elements is more than this compiler accepts ({MAX_ELEMENTS})")
        try:
            return np.array(self.numpy_helper.to_array(tensor_proto))
        except Exception as e:
            raise ModelError(f"{what}: unreadable tensor data ({e})") from None

    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.used_names:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        return name

    def emit(self, ctx: "_NodeCtx", op, act: Act, onnx_shape: tuple[int, ...], suffix: str = "") -> Act:
        """Add one IR node reading `act`; returns the new activation."""
        out_name = ctx.node.output[0] if not suffix else f"{ctx.node.output[0]}__{suffix}"
        in_t = self.graph.tensors[act.tensor]
        (out_shape,) = op.infer_shapes([in_t.shape])
        self.graph.add_tensor(Tensor(out_name, out_shape))
        self.graph.add_node(Node(self.unique(ctx.name + (f"_{suffix}" if suffix else "")), op, [act.tensor],
                                 [out_name], source=f"{ctx.node.op_type} {ctx.name}"))
        return Act(out_name, onnx_shape)


@dataclass
class _NodeCtx:
    imp: _Importer
    node: object
    name: str
    attrs: dict

    def error(self, message: str, kind=UnsupportedError):
        return at_node(self.name, self.node.op_type, message, kind)

    def act(self, v, what: str = "input") -> Act:
        if not isinstance(v, Act):
            raise self.error(f"{what} must be a computed tensor, not a constant")
        return v

    def const(self, v, what: str) -> Const:
        if not isinstance(v, Const):
            raise self.error(f"{what} must be a constant (initializer); computed {what}s are not supported")
        return v

    def channels(self, act: Act, value: np.ndarray, what: str) -> np.ndarray:
        """A constant broadcast against `act` (ONNX layout), as one value per channel."""
        full = (1,) + act.shape
        v = np.asarray(value, dtype=np.float64)
        if v.ndim > len(full):
            raise self.error(f"{what} of shape {v.shape} does not broadcast to the input {full}")
        v = v.reshape((1,) * (len(full) - v.ndim) + v.shape)
        c = full[1] if len(full) > 1 else 1
        for axis, n in enumerate(v.shape):
            if n != 1 and not (axis == 1 and n == c):
                raise self.error(f"{what} of shape {value.shape} varies along axis {axis}; only per-channel "
                                 "or scalar constants are supported")
        return np.broadcast_to(v.reshape(-1) if v.size > 1 else v.reshape(1), (c,)).astype(np.float64).copy()


# ---------------------------------------------------------------------------------------
# layout: IR tensors are channels-last; ONNX (C, *spatial) -> (*spatial, C)
def _ir_shape(onnx_shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(onnx_shape) <= 1:
        return tuple(onnx_shape)
    return tuple(onnx_shape[1:]) + (onnx_shape[0],)


def _same_order(onnx_shape: tuple[int, ...]) -> bool:
    """True when the ONNX (channels-first) and IR (channels-last) element orders coincide."""
    return len(onnx_shape) <= 1 or onnx_shape[0] == 1 or math.prod(onnx_shape[1:]) == 1


def _check_size(dims, what):
    if any(d <= 0 for d in dims):
        raise ModelError(f"{what}: shape {tuple(dims)} has a non-positive dimension")
    if math.prod(dims) > MAX_ELEMENTS:
        raise ModelError(f"{what}: shape {tuple(dims)} is larger than this compiler accepts")


# ---------------------------------------------------------------------------------------
# converters: (importer, ctx, inputs) -> value(s)
CONVERTERS: dict[str, Callable] = {}


def converter(*names):
    def deco(fn):
        for n in names:
            CONVERTERS[n] = fn
        return fn
    return deco


@converter("Identity", "Dropout")
def _identity(imp, ctx, ins):
    if ctx.node.op_type == "Dropout" and len(ctx.node.output) > 1 and ctx.node.output[1]:
        if any(imp.model.graph.output[i].name == ctx.node.output[1] for i in range(len(imp.model.graph.output))):
            raise ctx.error("the dropout mask output is used; only inference-mode Dropout is supported")
    return ins[0]


@converter("Constant")
def _constant(imp, ctx, ins):
    a = ctx.attrs
    if "value" in a:
        return Const(imp._array(a["value"], f"node {ctx.name!r} (Constant)"))
    for key in ("value_float", "value_int"):
        if key in a:
            return Const(np.array(a[key]))
    for key in ("value_floats", "value_ints"):
        if key in a:
            return Const(np.array(a[key]))
    raise ctx.error("only tensor, float and int constants are supported")


@converter("MatMul")
def _matmul(imp, ctx, ins):
    x = ctx.act(ins[0], "the first input")
    w = ctx.const(ins[1], "weight")
    if w.value.ndim != 2:
        raise ctx.error(f"weight of rank {w.value.ndim} is not supported (supported: a 2-D weight matrix)")
    if len(x.shape) != 1:
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported "
                        "(supported: (N, features))")
    if w.value.shape[0] != x.shape[0]:
        raise ctx.error(f"weight shape {w.value.shape} does not match {x.shape[0]} input features", ModelError)
    op = Dense(weight=w.value.astype(np.float64), weight_type=w.qtype, weights_from_model=w.qtype is not None)
    return imp.emit(ctx, op, x, (w.value.shape[1],))


@converter("Gemm")
def _gemm(imp, ctx, ins):
    a = ctx.attrs
    x = ctx.act(ins[0], "input A")
    w = ctx.const(ins[1], "weight B")
    if a.get("transA", 0):
        raise ctx.error("transA=1 is not supported (supported: 0)")
    if len(x.shape) != 1:
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported (supported: (N, features))")
    weight = w.value.astype(np.float64)
    if weight.ndim != 2:
        raise ctx.error(f"weight of rank {weight.ndim} is not supported", ModelError)
    if a.get("transB", 0):
        weight = weight.T
    if weight.shape[0] != x.shape[0]:
        raise ctx.error(f"weight shape {w.value.shape} does not match {x.shape[0]} input features", ModelError)
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    qtype = w.qtype if alpha == 1.0 else None
    op = Dense(weight=weight * alpha, weight_type=qtype, weights_from_model=qtype is not None)
    if len(ins) > 2 and ins[2] is not None:
        c = ctx.const(ins[2], "bias C")
        n_out = weight.shape[1]
        cv = np.asarray(c.value, dtype=np.float64)
        if cv.size not in (1, n_out) or (cv.ndim == 2 and cv.shape[0] != 1):
            raise ctx.error(f"bias C of shape {cv.shape} is not supported (supported: scalar or ({n_out},))")
        op.bias = np.broadcast_to(cv.reshape(-1), (n_out,)).copy() * beta
        if c.qtype is not None and beta == 1.0:
            op.bias_type = c.qtype
    return imp.emit(ctx, op, x, (weight.shape[1],))


def _affine(imp, ctx, x: Act, scale, shift) -> Act:
    c = x.shape[0] if x.shape else 1
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (c,)).copy()
    shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), (c,)).copy()
    return imp.emit(ctx, Affine(scale=scale, shift=shift), x, x.shape)


@converter("Add", "Sub", "Mul", "Div")
def _arith(imp, ctx, ins):
    op = ctx.node.op_type
    a, b = ins
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_fold_binary(op, a.value, b.value))
    if isinstance(a, Act) and isinstance(b, Act):
        raise ctx.error("two computed inputs are not supported yet (supported: one input and one constant)")
    x, k, const_first = (a, b, False) if isinstance(a, Act) else (b, a, True)
    v = ctx.channels(x, k.value, "the constant operand")
    if op == "Add":
        return _affine(imp, ctx, x, 1.0, v)
    if op == "Mul":
        return _affine(imp, ctx, x, v, 0.0)
    if op == "Sub":
        return _affine(imp, ctx, x, -1.0, v) if const_first else _affine(imp, ctx, x, 1.0, -v)
    if const_first:
        raise ctx.error("dividing a constant by a tensor is not supported")
    if np.any(v == 0):
        raise ctx.error("division by zero", ModelError)
    return _affine(imp, ctx, x, 1.0 / v, 0.0)


def _fold_binary(op, a, b):
    return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)


@converter("BatchNormalization")
def _batchnorm(imp, ctx, ins):
    x = ctx.act(ins[0])
    if len(ctx.node.output) > 1 and any(ctx.node.output[1:]):
        if ctx.attrs.get("training_mode", 0):
            raise ctx.error("training_mode=1 is not supported (supported: inference)")
    params = [ctx.const(v, w).value.astype(np.float64) for v, w in zip(ins[1:5], ("scale", "bias", "mean", "var"))]
    gamma, beta, mean, var = (np.asarray(p).reshape(-1) for p in params)
    eps = float(ctx.attrs.get("epsilon", 1e-5))
    c = x.shape[0] if x.shape else 1
    if not all(p.size in (1, c) for p in (gamma, beta, mean, var)):
        raise ctx.error(f"parameters do not match the {c} channels of the input", ModelError)
    if np.any(var + eps <= 0):
        raise ctx.error("variance + epsilon must be positive", ModelError)
    s = gamma / np.sqrt(var + eps)
    return _affine(imp, ctx, x, s, beta - mean * s)


@converter("Relu")
def _relu(imp, ctx, ins):
    x = ctx.act(ins[0])
    return imp.emit(ctx, Relu(), x, x.shape)


@converter("Softmax")
def _softmax(imp, ctx, ins):
    x = ctx.act(ins[0])
    rank = len(x.shape) + 1
    default = -1 if imp.opset.get("", 13) >= 13 else 1
    axis = int(ctx.attrs.get("axis", default))
    axis = axis + rank if axis < 0 else axis
    if axis != rank - 1 or rank != 2:
        raise ctx.error(f"axis={ctx.attrs.get('axis', default)} on a rank-{rank} input is not supported "
                        "(supported: the feature axis of an (N, features) input)")
    return imp.emit(ctx, Softmax(), x, x.shape)


# ---- shape-only ops: aliases in the IR --------------------------------------------------
def _reshape_to(ctx, x: Act, new_shape: tuple[int, ...]) -> Act:
    if math.prod(new_shape) != math.prod(x.shape):
        raise ctx.error(f"cannot reshape {x.shape} to {new_shape} (per sample)", ModelError)
    if not (_same_order(x.shape) and _same_order(new_shape)):
        raise ctx.error(f"reshaping (N, {', '.join(map(str, x.shape))}) to (N, {', '.join(map(str, new_shape))}) "
                        "moves data between channels-first and channels-last order; not supported yet")
    return Act(x.tensor, tuple(new_shape))


@converter("Squeeze")
def _squeeze(imp, ctx, ins):
    x = ctx.act(ins[0])
    axes = ctx.attrs.get("axes")
    if axes is None and len(ins) > 1 and ins[1] is not None:
        axes = ctx.const(ins[1], "axes").value.tolist()
    full = (1,) + x.shape
    axes = [a + len(full) if a < 0 else a for a in (axes if axes is not None else
                                                    [i for i, d in enumerate(full) if d == 1 and i > 0])]
    if 0 in axes:
        raise ctx.error("squeezing the batch dimension is not supported")
    if any(full[a] != 1 for a in axes):
        raise ctx.error(f"cannot squeeze axes {axes} of shape {full}", ModelError)
    return _reshape_to(ctx, x, tuple(d for i, d in enumerate(full) if i not in axes)[1:])


@converter("Unsqueeze")
def _unsqueeze(imp, ctx, ins):
    x = ctx.act(ins[0])
    axes = ctx.attrs.get("axes")
    if axes is None:
        axes = ctx.const(ins[1], "axes").value.tolist()
    rank = len(x.shape) + 1 + len(axes)
    axes = sorted(a + rank if a < 0 else a for a in axes)
    if 0 in axes:
        raise ctx.error("unsqueezing before the batch dimension is not supported")
    full = list((1,) + x.shape)
    for a in axes:
        full.insert(a, 1)
    return _reshape_to(ctx, x, tuple(full[1:]))


@converter("Flatten")
def _flatten(imp, ctx, ins):
    x = ctx.act(ins[0])
    axis = int(ctx.attrs.get("axis", 1))
    if axis not in (0, 1):
        raise ctx.error(f"axis={axis} is not supported (supported: 1, or 0 with batch 1)")
    return _reshape_to(ctx, x, (math.prod(x.shape),))


@converter("Reshape")
def _reshape(imp, ctx, ins):
    x = ctx.act(ins[0])
    if len(ins) < 2 or ins[1] is None:
        raise ctx.error("the target shape input is missing", ModelError)
    target = [int(v) for v in ctx.const(ins[1], "target shape").value.reshape(-1)]
    if not target:
        raise ctx.error("reshaping to a scalar is not supported")
    batch, per_sample = target[0], target[1:]
    if not per_sample:
        raise ctx.error(f"target shape {tuple(target)} merges the batch dimension; not supported")
    if per_sample.count(-1) > 1 or (batch == -1 and -1 in per_sample):
        raise ctx.error(f"target shape {tuple(target)} has more than one -1", ModelError)
    total = math.prod(x.shape)
    dims = [x.shape[i] if d == 0 and i < len(x.shape) else d for i, d in enumerate(per_sample)]
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or total % known:
            raise ctx.error(f"cannot reshape {x.shape} to {tuple(target)}", ModelError)
        dims[dims.index(-1)] = total // known
    return _reshape_to(ctx, x, tuple(dims))


@converter("Transpose")
def _transpose(imp, ctx, ins):
    v = ins[0]
    perm = ctx.attrs.get("perm")
    if isinstance(v, Const):
        return Const(np.transpose(v.value, perm), None)
    raise ctx.error("transposing a computed tensor is not supported yet (only constants)")


# ---- QONNX quantizers ---------------------------------------------------------------------
def _quant_type(ctx, ins) -> FixedType:
    scale, zero, bits = (ctx.const(v, w).value for v, w in zip(ins[1:4], ("scale", "zero point", "bit width")))
    a = ctx.attrs
    if np.size(scale) != 1:
        raise ctx.error("per-channel scales are not supported yet (supported: one scalar scale)")
    if np.any(np.asarray(zero) != 0):
        raise ctx.error("non-zero zero points are not supported yet (supported: 0)")
    s = float(np.asarray(scale).reshape(-1)[0])
    e = math.log2(s) if s > 0 else float("nan")
    if not (s > 0 and e == round(e)):
        raise ctx.error(f"scale {s} is not a power of two; non-power-of-two scales are not supported yet")
    nbits = float(np.asarray(bits).reshape(-1)[0])
    if nbits != round(nbits) or not 1 <= nbits <= 32:
        raise ctx.error(f"bit width {nbits} is not supported (supported: integers 1..32)")
    mode = str(a.get("rounding_mode", "ROUND")).upper()
    if mode not in QONNX_ROUNDING:
        raise ctx.error(f"rounding_mode={mode} is not supported (supported: {', '.join(QONNX_ROUNDING)})")
    signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
    if narrow and not signed:
        raise ctx.error("narrow=1 with signed=0 is not supported yet")
    width, frac = int(nbits), -int(round(e))
    return FixedType(width, width - frac, signed, QONNX_ROUNDING[mode], "AP_SAT_SYM" if narrow else "AP_SAT")


@converter("Quant")
def _quant(imp, ctx, ins):
    t = _quant_type(ctx, ins)
    x = ins[0]
    if isinstance(x, Const):
        return Const(t.to_float(t.quantize(x.value)), t)
    x = ctx.act(x)
    return imp.emit(ctx, Quant(out_type=t), x, x.shape)
