"""ONNX -> IR. The only module that imports onnx; ONNX names, opsets and quirks stop here.

The importer walks the ONNX nodes in dependency order, keeping for every ONNX tensor either
a constant (with the fixed-point type of the quantizer that produced it, if any) or an IR
activation. Constant subgraphs (weight quantizers, transposes, shape arithmetic) are
evaluated here; ONNX-level no-ops (Identity, Dropout, reshapes that do not move data in
the IR's channels-last order) become aliases; everything else maps to one IR op.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CompileError, ModelError, UnsupportedError, at_node, first_line
from ..ir import Graph, Node, Tensor
from ..ir.graph import Layout
from ..numerics import FixedType
from . import validate, whole_tensor
from .values import (ATTRIBUTE_TYPES, CONSTANT_AWARE, CONVERTERS, MAX_ELEMENTS, STANDARD_DOMAINS, Act, Const, canonical_perm,
                     check_size, inverse, ir_shape, make_act, op_key, perm_order, supported_ops)


LAYOUT_OPS = ("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity")


def _load_converters() -> None:
    """Import every frontend/convert_*.py module; each registers its converters."""
    for m in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if m.name.startswith("convert_"):
            importlib.import_module(f"{__package__}.{m.name}")


_load_converters()


def load_onnx(source, name: str | None = None) -> Graph:
    """Read an ONNX file (or ModelProto) and convert it to an IR graph."""
    model = _read(source)
    name = name or _model_name(source)
    try:
        try:
            graph = _import(model, name, whole=False)
        except UnsupportedError as batched:
            if not _fixed_size(model):
                raise
            try:  # a fixed-size model whose first axis may not be a batch (frontend/whole_tensor.py)
                graph = _import(model, name, whole=True)
            except CompileError:
                raise batched from None
    except CompileError:
        raise
    except Exception:
        # A converter tripped over something: if the model is invalid, that is the user's
        # answer (onnx.checker says what, in one line); for a valid model it is our bug.
        validate.check_model(model, strict=True)
        raise
    batch = [] if graph.whole_tensor else ["N"]
    validate.check_model(model, {o.name: batch + list(lay.onnx_shape)
                                 for o, lay in zip(model.graph.output, graph.output_layouts)})
    return graph


def _import(model, name: str, whole: bool) -> Graph:
    presets: dict = {}
    while True:  # at most once more per graph input (see _Importer.to_layout)
        try:
            return _Importer(model, name, presets, whole).run()
        except _InputLayout as want:
            presets[want.input] = (want.order, want.shape)


def _fixed_size(model) -> bool:
    """Every graph input has a known size in every dimension."""
    inits = {i.name for i in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        dims = inp.type.tensor_type.shape.dim if inp.type.HasField("tensor_type") else []
        if not dims or not all(d.HasField("dim_value") and d.dim_value > 0 for d in dims):
            return False
    return True


ATTRIBUTE_KINDS = {1: "float", 2: "int", 3: "string", 6: "floats", 7: "ints", 8: "strings"}   # AttributeProto types
FOLD_SECONDS = 10.0   # a constant expression (a Loop with a huge trip count) may not run longer


class _FoldTimeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise _FoldTimeout in the block after `seconds` (a SIGALRM timer: the main thread of
    a POSIX process only; elsewhere the size check before folding is the only bound)."""
    import signal
    import threading

    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise _FoldTimeout()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _InputLayout(Exception):
    """Raised by the importer: a graph input should have had this layout from the start."""

    def __init__(self, input: str, order: np.ndarray, shape: tuple[int, ...]):
        super().__init__(input)
        self.input, self.order, self.shape = input, order, shape


def _model_name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        return p.parent.name if p.stem == "model" else p.stem
    return "model"


def _read(source):
    import onnx
    from google.protobuf.message import DecodeError

    if not isinstance(source, (str, os.PathLike)):
        return _checked(source, None, "")
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
    return _checked(model, path.parent.resolve(), f"{path}: ")


def _checked(model, folder: Path | None, where: str):
    """The model with its external data read in (from `folder`, the model file's), after the
    checks the importer relies on."""
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise ModelError(f"{where}not a valid ONNX model (no graph or no nodes)")
    validate.load_external_data(model, folder)
    validate.check_structure(model)
    return model


# ---------------------------------------------------------------------------------------
FLOAT_INPUTS = (1, 10, 11, 16)  # float, float16, double, bfloat16
# integer graph inputs: (bits, signed) of the hardware input. 64-bit integers (indices, the
# usual PyTorch export) are taken at 32 bits, saturating: the host's input conversion clips
# values beyond, as it clips float inputs to the input type's range
INT_INPUTS = {3: (8, True), 2: (8, False), 5: (16, True), 4: (16, False), 6: (32, True), 12: (32, False),
              7: (32, True), 13: (32, False)}
CODE_OPS = {"QuantizeLinear", "QLinearMatMul", "QLinearConv", "QGemm"}  # outputs: codes of a scaled grid
INTEGER_OPS = {"MatMulInteger", "ConvInteger", "QuantizeLinear", "QLinearMatMul", "QLinearConv", "QGemm"}


class _Importer:
    def __init__(self, model, name: str, input_layouts: dict | None = None, whole: bool = False):
        import onnx
        from onnx import numpy_helper

        self.onnx, self.numpy_helper = onnx, numpy_helper
        self.model = model
        self.opset = {o.domain or "": o.version for o in model.opset_import}
        self.graph = Graph(name=name, whole_tensor=whole)
        self.whole = whole   # no batch axis: every tensor is read with a virtual one in front
        self.env: dict[str, Const | Act] = {}
        self.used_names: set[str] = set()
        self._relayouts: dict = {}   # (tensor, order bytes, shape) -> Act: one data-movement op each
        # graph input -> (gather order, IR shape) chosen by an earlier attempt of this import
        self.input_presets = dict(input_layouts or {})
        # IR tensors that are a graph input seen through element-wise stages only (same
        # layout, same positions): tensor -> graph input
        self.origin: dict[str, str] = {}
        self._exists: dict[str, bool] = {}   # standard op type -> defined at the model's opset

    # ---- top level ----------------------------------------------------------------------
    def run(self) -> Graph:
        g = self.model.graph
        newest = self.onnx.defs.onnx_opset_version()
        if self.opset.get("", 1) > newest:
            raise UnsupportedError(f"opset {self.opset['']} is newer than the installed onnx knows (up to {newest})")
        for init in g.initializer:
            self.env[init.name] = Const(self._array(init, f"initializer {init.name!r}"))
        for inp in g.input:
            if inp.name in self.env:
                continue  # IR < 4 lists initializers as inputs too
            shape = self._input_shape(inp)
            # channels-last until a first use asks for another order (see to_layout)
            act = Act(inp.name, shape, perm=Layout.channels_last(shape).perm)
            ir = ir_shape(shape)
            if inp.name in self.input_presets:
                order, ir = self.input_presets[inp.name]
                act = make_act(inp.name, shape, order)
            self.graph.add_tensor(Tensor(inp.name, tuple(ir), type=self._input_type(inp),
                                         model_typed=self._input_type(inp) is not None))
            self.graph.inputs.append(inp.name)
            self.graph.input_layouts.append(Layout(shape, act.perm, act.flat_order))
            self.env[inp.name] = act
            self.origin[inp.name] = inp.name
        if not self.graph.inputs:
            raise ModelError("the model has no (non-constant) input")
        firsts = {self._first_dim(inp) for inp in g.input if inp.name in self.graph.inputs}
        if not self.whole and len(firsts) > 1 and None not in firsts:
            raise UnsupportedError(f"the graph inputs' first dimensions differ ({', '.join(map(str, sorted(firsts)))}), "
                                   "so it is not a batch (supported: one batch dimension shared by every input)")
        for node in self._sorted_nodes():
            self._convert(node)
        for out in g.output:
            v = self.env.get(out.name)
            if v is None:
                raise ModelError(f"graph output {out.name!r} is not produced by any node")
            if isinstance(v, Const):
                raise UnsupportedError(f"graph output {out.name!r} is a constant; nothing to compute")
            codes = next((n.op_type for n in g.node if out.name in n.output and n.op_type in CODE_OPS), None)
            if codes is not None:
                raise UnsupportedError(f"graph output {out.name!r} holds the integer codes of a {codes} "
                                       "(supported: real-valued outputs; end the model with DequantizeLinear)")
            if v.tensor in self.graph.inputs or v.tensor in self.graph.outputs:
                v = self._copy(out.name, v)  # an input passed through, or one tensor named twice: a stream of its own
            self.graph.outputs.append(v.tensor)
            self.graph.output_layouts.append(Layout(v.shape, v.perm, v.flat_order))
        if len(self.graph) == 0:
            raise UnsupportedError("the model computes nothing after removing no-op nodes")
        return self.graph

    def _copy(self, name: str, v: Act) -> Act:
        """A copy of `v` as its own IR tensor (a Reshape to the same shape: a stream copy), for
        a graph output that is a graph input or repeats another output."""
        from ..ops.reshape import Reshape

        shape = self.graph.tensors[v.tensor].shape
        out = self._tensor_name(f"{name}__out")
        self.graph.add_tensor(Tensor(out, shape))
        self.graph.add_node(Node(self.unique(f"{name}_copy"), Reshape(out_shape=shape), [v.tensor], [out],
                                 source=f"graph output {name}"))
        return Act(out, v.shape, v.perm, v.flat_order)

    def integer_valued(self, name: str) -> bool:
        """Whether an ONNX tensor holds integers by construction: an integer graph input, or the
        output of an integer op (a cast to an integer type of one too)."""
        for inp in self.model.graph.input:
            if inp.name == name:
                return inp.type.tensor_type.elem_type in INT_INPUTS
        for n in self.model.graph.node:
            if name in n.output:
                return self.integer_valued(n.input[0]) if n.op_type == "Cast" else n.op_type in INTEGER_OPS
        return False

    def _input_type(self, inp) -> FixedType | None:
        """An integer graph input's exact type (its values are the codes); None for floats."""
        dt = inp.type.tensor_type.elem_type
        if dt in FLOAT_INPUTS:
            return None
        if dt not in INT_INPUTS:
            raise UnsupportedError(f"graph input {inp.name!r} has ONNX element type {dt} "
                                   "(supported: float types, int8/uint8/int16/uint16/int32/uint32, int64/uint64 taken at 32 bits)")
        bits, signed = INT_INPUTS[dt]
        return FixedType(bits, bits, signed, "AP_RND_CONV", "AP_SAT")

    @staticmethod
    def _first_dim(inp) -> int | None:
        dims = inp.type.tensor_type.shape.dim
        return int(dims[0].dim_value) if len(dims) and dims[0].HasField("dim_value") else None

    def _input_shape(self, inp) -> tuple[int, ...]:
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type") or not tt.HasField("shape"):
            raise ModelError(f"graph input {inp.name!r} has no tensor shape")
        dims = []
        for i, d in enumerate(tt.shape.dim):
            if i == 0 and not self.whole:
                continue  # the batch dimension is always free
            if d.HasField("dim_value") and d.dim_value <= 0:
                raise ModelError(f"graph input {inp.name!r}: dimension {i} is {d.dim_value}; dimensions must be "
                                 "positive")
            if not d.HasField("dim_value"):
                raise ModelError(f"graph input {inp.name!r}: dimension {i} is {d.dim_param or 'unknown'}; "
                                 "only the batch (first) dimension may be symbolic")
            dims.append(int(d.dim_value))
        if not tt.shape.dim:
            raise ModelError(f"graph input {inp.name!r} is a scalar; expected (batch, features...)")
        check_size(dims, f"graph input {inp.name!r}")
        return tuple(dims)

    def _sorted_nodes(self):
        """ONNX nodes in dependency order; cycles and dangling inputs are refused."""
        nodes = list(self.model.graph.node)
        produced = {}
        for i, n in enumerate(nodes):
            for o in n.output:
                if o in produced:
                    j = produced[o]
                    raise ModelError(f"tensor {o!r} is written by two nodes, {self._name(nodes[j], j)!r} "
                                     f"({nodes[j].op_type}) and {self._name(n, i)!r} ({n.op_type})")
                if o:
                    produced[o] = i
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
        key = op_key(domain, node.op_type)
        if domain in STANDARD_DOMAINS:
            self._check_schema(node, name)
        present = [v for t, v in zip(node.input, ins) if t]
        if domain in ("", "ai.onnx") and present and all(isinstance(v, Const) for v in present) \
                and node.op_type not in ("Constant",) and key not in CONSTANT_AWARE:
            outs = self._fold_constant(node, name)
            for t, v in zip(node.output, outs):
                if t:
                    self.env[t] = v
            return
        fn = CONVERTERS.get(key)
        if fn is None:
            raise at_node(name, node.op_type, f"op {key} is not supported (supported: {', '.join(supported_ops())})")
        self._check_attribute_types(node, name, key)
        attrs = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        ctx = _NodeCtx(self, node, name, attrs)
        first = next((v for v in ins if isinstance(v, Act)), None)
        if self.whole and first is not None:
            def fail(message):
                raise ctx.error(message)
            ctx.attrs, ins = whole_tensor.rewrite(node.op_type, self.opset.get("", 13), attrs, ins, len(first.shape), fail)
        outs = fn(self, ctx, ins)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        for t, v in zip(node.output, outs):
            if t:
                self.env[t] = v

    def _check_attribute_types(self, node, name: str, key: str) -> None:
        """A custom-domain op's attributes must have the types its converter declares (qonnx
        reads a FLOAT `signed` as 0, so taking it as 1.0 would build another design); ops
        of custom domains that mirror a standard op (channels-last Conv) take its schema's."""
        declared = ATTRIBUTE_TYPES.get(key)
        if declared is None and node.domain not in STANDARD_DOMAINS and self.onnx.defs.has(node.op_type, ""):
            schema = self.onnx.defs.get_schema(node.op_type)
            declared = {a: ATTRIBUTE_KINDS.get(int(v.type), "") for a, v in schema.attributes.items()}
        for a in node.attribute if declared else ():
            want = declared.get(a.name)
            have = self.onnx.AttributeProto.AttributeType.Name(a.type).lower()
            if want and have != want:
                raise at_node(name, node.op_type, f"attribute {a.name!r} is of type {have.upper()}; {node.op_type} "
                              f"takes {want.upper()}", ModelError)

    def _check_schema(self, node, name: str) -> None:
        """A standard op must exist at the model's opset: converters and constant folding
        read it by that version's definition (onnx.checker would refuse the model anyway,
        but only after a fold of an op it does not know had run)."""
        opset = self.opset.get("", 1)
        if not self.onnx.defs.has(node.op_type, ""):
            return   # no standard op at all: the converter lookup says what is supported
        if node.op_type not in self._exists:
            try:
                self.onnx.defs.get_schema(node.op_type, opset, "")
                self._exists[node.op_type] = True
            except self.onnx.defs.SchemaError:
                self._exists[node.op_type] = False
        if not self._exists[node.op_type]:
            raise at_node(name, node.op_type, f"op {node.op_type} does not exist in opset {opset} of the "
                          "standard domain", ModelError)

    def _fold_constant(self, node, name: str) -> list[Const]:
        """Evaluate a standard op whose inputs are all constants (weight transposes, shape
        arithmetic, ...) with onnx's reference evaluator."""
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        feeds = {t: self.env[t].value for t in node.input if t}
        size = validate.fold_size(node, feeds, self.opset.get("", 13), self.model.ir_version)
        if size is not None and size > MAX_ELEMENTS:
            raise at_node(name, node.op_type, f"this constant expression makes {size:.4g} elements, more than this "
                          f"compiler accepts ({MAX_ELEMENTS})", ModelError)
        inputs = [helper.make_tensor_value_info(t, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                  for t, v in feeds.items()]
        outputs = [helper.make_empty_tensor_value_info(t) for t in node.output if t]
        g = helper.make_graph([node], "fold", inputs, outputs)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset.get("", 13))])
        m.ir_version = self.model.ir_version
        try:
            evaluator = ReferenceEvaluator(m)
            with _time_limit(FOLD_SECONDS):
                values = evaluator.run(None, feeds)
            first = self.env[node.input[0]] if node.input and node.input[0] else None
            if node.op_type in LAYOUT_OPS and isinstance(first, Const) and first.qtype is not None:
                # moving quantized weights around keeps their codes and (per-element) scales
                def moved(a):
                    return evaluator.run(None, {**feeds, node.input[0]: np.asarray(a, dtype=first.value.dtype)})[0]
                fixed = moved(first.fixed)
                scale = first.scale if np.ndim(first.scale) == 0 else moved(np.broadcast_to(first.scale, first.value.shape))
                return [Const.quantized(fixed, first.qtype, scale)]
        except _FoldTimeout:
            raise at_node(name, node.op_type, f"this constant expression did not finish within {FOLD_SECONDS:g} s",
                          ModelError) from None
        except Exception as e:
            raise at_node(name, node.op_type, f"cannot evaluate this constant expression ({first_line(e)})",
                          ModelError) from None
        for v in values:
            check_size(np.shape(v) or (1,), f"node {name!r} ({node.op_type}) constant output")
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

    def emit(self, ctx: "_NodeCtx", op, act: Act | list[Act], onnx_shape: tuple[int, ...], suffix: str = "",
             perm: tuple[int, ...] | None | str = "auto") -> Act:
        """Add one IR node reading `act` (or a list of acts); returns the new activation. Its
        layout is `perm` over `onnx_shape`; by default an op that keeps the shape keeps the
        layout of its (first) input, and any other op's output is in the ONNX order."""
        acts = act if isinstance(act, list) else [act]
        out_name = ctx.node.output[0] if not suffix else f"{ctx.node.output[0]}__{suffix}"
        out_name = self._tensor_name(out_name)
        in_shapes = [self.graph.tensors[a.tensor].shape for a in acts]
        (out_shape,) = op.infer_shapes(in_shapes)
        check_size(tuple(out_shape), f"node {ctx.name!r} ({ctx.node.op_type}) output")
        self.graph.add_tensor(Tensor(out_name, tuple(out_shape)))
        self.graph.add_node(Node(self.unique(ctx.name + (f"_{suffix}" if suffix else "")), op,
                                 [a.tensor for a in acts], [out_name], source=f"{ctx.node.op_type} {ctx.name}"))
        if perm == "auto":
            a = acts[0]
            if tuple(onnx_shape) == a.shape and tuple(out_shape) == in_shapes[0]:
                if len(acts) == 1 and a.tensor in self.origin:
                    self.origin[out_name] = self.origin[a.tensor]
                return Act(out_name, a.shape, a.perm, a.flat_order)
            perm = None
        return Act(out_name, tuple(onnx_shape), perm=perm)

    def _tensor_name(self, base: str) -> str:
        name, k = base, 1
        while name in self.graph.tensors:
            k += 1
            name = f"{base}_{k}"
        return name

    # ---- layout ------------------------------------------------------------------------------
    def to_layout(self, ctx: "_NodeCtx", act: Act, perm: tuple[int, ...]) -> Act:
        """`act` with its IR tensor holding onnx.transpose(perm) in the shape of that transpose.
        Free when it already does or when it is a graph input nothing reads yet (the input's
        layout is then chosen to suit this first use); else a Reshape (regrouping the stream)
        or Transpose (moving data) op is added, once per tensor and layout."""
        from ..ops.reshape import Reshape
        from ..ops.transpose import Transpose

        perm = tuple(perm)
        want_shape = tuple(act.shape[p] for p in perm) or (1,)   # one value per sample: one channel
        want = perm_order(act.shape, perm)
        have = act.order()
        t = self.graph.tensors[act.tensor]
        same = np.array_equal(want, have)
        if same and t.shape == want_shape:
            return Act(act.tensor, act.shape, perm=perm)
        if self._free_input(act.tensor):
            self._relayout_input(act, want, want_shape)
            return Act(act.tensor, act.shape, perm=perm)
        self._prefer_input_layout(act, want, want_shape)
        gather = None if same else inverse(have)[want]   # ir_new = ir_old[gather]
        key = (act.tensor, want_shape, b"" if same else gather.tobytes())
        if key not in self._relayouts:
            op = Reshape(out_shape=want_shape) if same else Transpose(out_shape=want_shape, order=gather)
            out = self._tensor_name(f"{act.tensor}__{'chlast' if perm == canonical_perm(len(perm)) else 'relayout'}")
            self.graph.add_tensor(Tensor(out, want_shape))
            self.graph.add_node(Node(self.unique(f"{ctx.name}_{op.kind.lower()}"), op, [act.tensor], [out],
                                     source=f"{ctx.node.op_type} {ctx.name} (layout)"))
            self._relayouts[key] = out
        return Act(self._relayouts[key], act.shape, perm=perm)

    def channels_last(self, ctx: "_NodeCtx", act: Act) -> Act:
        """`act` in the IR's canonical order: ONNX (C, *spatial) as (*spatial, C)."""
        return self.to_layout(ctx, act, canonical_perm(len(act.shape)))

    def as_vector(self, ctx: "_NodeCtx", act: Act) -> tuple[Act, np.ndarray | None]:
        """A rank-1 `act` as one stream item (IR shape (n,)), without moving data: returns the
        act and the gather index ir = onnx[index] (None for the same order), which a consumer
        folds into its constants (a Dense permutes its weight rows)."""
        from ..ops.reshape import Reshape

        n = int(np.prod(act.shape, dtype=np.int64))
        t = self.graph.tensors[act.tensor]
        if self._free_input(act.tensor) and (t.shape != (n,) or not act.identity):
            self._relayout_input(act, np.arange(n), (n,))
            return Act(act.tensor, act.shape), None
        if t.shape != (n,):
            self._prefer_input_layout(act, act.order(), (n,))
            key = (act.tensor, (n,), b"")
            if key not in self._relayouts:
                out = self._tensor_name(f"{act.tensor}__flat")
                self.graph.add_tensor(Tensor(out, (n,)))
                self.graph.add_node(Node(self.unique(f"{ctx.name}_reshape"), Reshape(out_shape=(n,)),
                                         [act.tensor], [out], source=f"{ctx.node.op_type} {ctx.name} (layout)"))
                self._relayouts[key] = out
            act = Act(self._relayouts[key], act.shape, act.perm, act.flat_order)
        return act, (None if act.identity else act.order())

    def per_channel(self, ctx: "_NodeCtx", act: Act, values) -> tuple[Act, np.ndarray]:
        """Values per ONNX channel (axis 1 of the batch, as ctx.channels gives them; or one
        scalar) as one value per IR channel (the IR's last axis), with `act` in a layout
        where that axis is the ONNX channel axis."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size == 1:  # a scalar suits any layout
            t = self.graph.tensors[act.tensor]
            return act, np.full(t.shape[-1] if t.shape else 1, v[0])
        if len(act.shape) <= 1:
            act, index = self.as_vector(ctx, act)
            return act, (v if index is None else v[index])
        return self.channels_last(ctx, act), v

    def _prefer_input_layout(self, act: Act, want: np.ndarray, want_shape) -> None:
        """`act` only reaches a graph input through element-wise stages that keep positions
        (a quantizer, an activation): the first layout-sensitive use would be free had the
        input been in the wanted layout from the start, so the import starts over with that
        (once per input; correctness never depends on it)."""
        src = self.origin.get(act.tensor)
        if src is None or src in self.input_presets:
            return
        k = self.graph.inputs.index(src)
        old = self.graph.input_layouts[k].index()
        old = np.arange(want.size) if old is None else old
        raise _InputLayout(src, old[inverse(act.order())[want]], tuple(want_shape))

    def _free_input(self, tensor: str) -> bool:
        """A graph input that no IR node reads yet: its layout can still be chosen freely."""
        return tensor in self.graph.inputs and not self.graph.consumers(tensor) and tensor not in self.graph.outputs

    def _relayout_input(self, act: Act, want: np.ndarray, want_shape: tuple[int, ...]) -> None:
        """Make graph input `act.tensor` hold act's ONNX data in order `want` (shape want_shape);
        the user's data is converted in software (Graph.input_to_ir), so this costs nothing.
        Every activation aliasing the input is re-described in the new order."""
        k = self.graph.inputs.index(act.tensor)
        lay = self.graph.input_layouts[k]
        old = lay.index()
        n = want.size
        old = np.arange(n) if old is None else old
        # input data x: ir_old = x[old], ir_old = onnx_act[have]  =>  x[new] = onnx_act[want]
        new = old[inverse(act.order())[want]]
        new_act = make_act(act.tensor, lay.onnx_shape, new)
        self.graph.input_layouts[k] = Layout(lay.onnx_shape, new_act.perm, new_act.flat_order)
        self.graph.tensors[act.tensor].shape = tuple(want_shape)
        back = inverse(old)[new]      # ir_new = ir_old[back]
        for name, v in list(self.env.items()):
            if isinstance(v, Act) and v.tensor == act.tensor:
                self.env[name] = make_act(v.tensor, v.shape, v.order()[back])


@dataclass
class _NodeCtx:
    imp: _Importer
    node: object
    name: str
    attrs: dict

    def error(self, message: str, kind=UnsupportedError):
        return at_node(self.name, self.node.op_type, message, kind)

    def axis(self, axis, rank: int, what: str = "axis") -> int:
        """An ONNX axis (negative counts from the end) of a rank-`rank` tensor, in 0..rank-1."""
        try:
            a = int(axis)
        except (TypeError, ValueError, OverflowError):
            raise self.error(f"{what} {axis!r} is not an integer", ModelError) from None
        if not -rank <= a < rank:
            raise self.error(f"{what} {a} is outside the input's {rank} dimensions", ModelError)
        return a + rank if a < 0 else a

    def axes(self, axes, rank: int, what: str = "axes") -> list[int]:
        """Distinct ONNX axes of a rank-`rank` tensor, each in 0..rank-1."""
        out = [self.axis(a, rank, f"{what} value") for a in np.asarray(axes).reshape(-1).tolist()]
        if len(set(out)) != len(out):
            raise self.error(f"{what} {list(np.asarray(axes).reshape(-1))} repeat an axis", ModelError)
        return out

    def act(self, v, what: str = "input") -> Act:
        if not isinstance(v, Act):
            raise self.error(f"{what} must be a computed tensor, not a constant")
        return v

    def const(self, v, what: str) -> Const:
        if not isinstance(v, Const):
            raise self.error(f"{what} must be a constant (initializer); computed {what}s are not supported")
        return v

    def channels(self, act: Act, value: np.ndarray, what: str, check_layout: bool = True) -> np.ndarray:
        """A constant broadcast against `act` (ONNX layout), as one value per channel (ONNX
        axis 1). Only valid for the IR's last axis when act is channels-last (see
        _Importer.per_channel, which arranges that)."""
        full = (1,) + act.shape
        if check_layout and np.size(value) > 1:
            ok = act.identity if len(act.shape) <= 1 else (act.flat_order is None and act.perm is not None
                                                           and act.perm[-1] == 0)
            if not ok or self.imp.graph.tensors[act.tensor].shape[-1] != (act.shape[0] if act.shape else 1):
                raise self.error(f"a per-channel {what} on a tensor that is not in channels-last order is not "
                                 "supported here (converters should use the importer's per_channel)")
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


