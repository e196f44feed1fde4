"""What a model must be before the importer reads it: external data resolved in one place and
kept inside the model's folder, then onnx.checker's verdict (after tolerating the exporter
quirks real models carry) and the checks the checker does not make. Every refusal is one
ModelError line."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ModelError, ModelWarning, first_line

# element types a tensor may have: the floats (float8 variants included), bool and the
# integers (2- and 4-bit included); not strings, complex numbers or undefined
REAL_TYPES = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 16} | set(range(17, 29))


def all_tensors(graph):
    """Every TensorProto a graph holds: initializers (dense and sparse) and node attributes,
    subgraphs (Loop/If/Scan bodies) included."""
    for t in graph.initializer:
        yield t, f"initializer {t.name!r}"
    for s in graph.sparse_initializer:
        yield s.values, f"sparse initializer {s.values.name!r}"
        yield s.indices, f"sparse initializer {s.values.name!r}"
    for n in graph.node:
        for a in n.attribute:
            what = f"node {n.name or n.op_type!r} ({n.op_type}) attribute {a.name!r}"
            if a.HasField("t"):
                yield a.t, what
            if a.HasField("sparse_tensor"):
                yield a.sparse_tensor.values, what
                yield a.sparse_tensor.indices, what
            yield from ((t, what) for t in a.tensors)
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from all_tensors(g)


def load_external_data(model, base: Path | None) -> None:
    """Resolve every external tensor against the model's folder `base` (None: the model came
    as a ModelProto, so there is no folder to resolve against), refusing paths that leave it,
    files that are missing, and ranges beyond the file's end; then read them in."""
    from onnx import TensorProto
    from onnx.external_data_helper import load_external_data_for_model

    external = False
    for t, what in all_tensors(model.graph):
        if t.data_location != TensorProto.EXTERNAL:
            continue
        external = True
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if base is None:
            raise ModelError(f"{what}: external data {loc!r} needs the model's file path to resolve against "
                             "(pass the .onnx path, or onnx.load the model first)")
        if not loc or "\0" in loc or os.path.isabs(loc) or Path(loc).drive:
            raise ModelError(f"{what}: external data path {loc!r} leaves the model's folder")
        target = (base / loc).resolve()
        if base not in target.parents:
            raise ModelError(f"{what}: external data path {loc!r} leaves the model's folder")
        if not target.is_file():
            raise ModelError(f"{what}: external data file {loc!r} not found")
        try:
            offset, length = int(info.get("offset", 0)), int(info.get("length", -1))
        except ValueError:
            raise ModelError(f"{what}: external data offset/length are not integers") from None
        size = target.stat().st_size
        if offset < 0 or offset > size or (length >= 0 and offset + length > size):
            raise ModelError(f"{what}: external data range (offset {offset}, length {length}) is beyond the end "
                             f"of {loc!r} ({size} bytes)")
    if external:
        try:
            load_external_data_for_model(model, str(base))
        except Exception as e:  # onnx's own loader, on what the checks above let through
            raise ModelError(f"external data unreadable ({type(e).__name__}: {first_line(e)})") from None


def check_structure(model) -> None:
    """What the importer relies on before it reads a node: names without control
    characters, real-valued tensors, opset versions that exist."""
    import onnx

    _check_names(model.graph)
    for t, what in all_tensors(model.graph):
        if t.data_type not in REAL_TYPES:
            kind = onnx.TensorProto.DataType.Name(t.data_type) if t.data_type in onnx.TensorProto.DataType.values() \
                else str(t.data_type)
            raise ModelError(f"{what}: element type {kind} (supported: real numbers: float, integer, bool)")
    if len(model.graph.output) == 0:
        raise ModelError("the model has no graph outputs; nothing to compute")
    for o in model.opset_import:
        if o.version < 1:
            raise ModelError(f"opset import {o.domain or 'ai.onnx'!r} has version {o.version} (versions start at 1)")


# shape inference errors that mean an op's inputs break its type constraints (an int8 weight
# into a float Conv): the model has no defined meaning, unlike a declared shape that is off
TYPE_ERRORS = ("has unsupported type", "bound to different types", "expected to have type", "has inconsistent type")


def check_model(model, output_shapes: dict | None = None, strict: bool = False) -> None:
    """onnx.checker on a copy where the harmless quirks of real exporters are repaired. It
    runs after the importer accepted the model, so that the importer's own messages (which
    name the node and say what is supported) come first, and the checker refuses what the
    importer would otherwise have taken silently. Its structural verdict refuses the model,
    and so does a broken type constraint (TYPE_ERRORS); a disagreement of onnx's shape
    inference with the declared shapes only warns (the importer computed every shape itself). output_shapes: the full ONNX shapes the importer
    found for graph outputs, for outputs the model declares without one. strict: a
    shape-inference error refuses the model too (after the importer tripped over it)."""
    import warnings

    import onnx

    repaired = with_quirks_repaired(model, output_shapes or {})
    try:
        onnx.checker.check_model(repaired)
    except Exception as e:  # ValidationError, or onnx's C++ errors
        raise ModelError(f"onnx.checker rejects the model: {first_line(e)}") from None
    try:
        onnx.checker.check_model(repaired, full_check=True)
    except Exception as e:
        if strict or any(k in str(e) for k in TYPE_ERRORS):
            raise ModelError(f"onnx.checker rejects the model: {first_line(e)}") from None
        warnings.warn(ModelWarning(f"onnx shape inference disagrees with the model: {first_line(e)}"), stacklevel=2)


DEFAULT_DOMAIN_QONNX = ("Quant", "BipolarQuant", "Trunc", "MultiThreshold", "IntQuant", "FloatQuant")


def with_quirks_repaired(model, output_shapes: dict):
    """Exporters leave out the opset import of their custom domain (QONNX's Quant in
    finn.custom_op.general), give graph outputs a type without a shape, list nodes out of
    dependency order, and (IR < 4) list initializers that are not graph inputs: onnxruntime
    and qonnx run all of them, so none is a reason to refuse a model."""
    import onnx
    from onnx import helper

    m = type(model)()
    m.CopyFrom(model)
    # QONNX quantizers written in the default domain (the importer converts them there too):
    # checked as the custom ops they are
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), onnx.defs.onnx_opset_version())
    for n in m.graph.node:
        if n.domain in ("", "ai.onnx") and n.op_type in DEFAULT_DOMAIN_QONNX:
            try:
                onnx.defs.get_schema(n.op_type, max_inclusive_version=opset, domain="")
            except onnx.defs.SchemaError:
                n.domain = "qonnx.custom_op.general"
    have = {o.domain for o in m.opset_import}
    used = {n.domain for n in m.graph.node}
    for d in sorted(used - have - {"", "ai.onnx"}):   # the standard domain's version is no quirk
        m.opset_import.append(helper.make_opsetid(d, 1))
    for o in m.graph.output:   # an output typed without a shape (its rank left open) runs everywhere
        if o.type.HasField("tensor_type") and not o.type.tensor_type.HasField("shape") and o.name in output_shapes:
            o.type.tensor_type.shape.SetInParent()
            for d in output_shapes[o.name]:
                dim = o.type.tensor_type.shape.dim.add()
                if isinstance(d, str):
                    dim.dim_param = d
                else:
                    dim.dim_value = int(d)
    if _unsorted(m.graph):   # the importer sorts the nodes itself, and so does onnxruntime
        order = _topological(m.graph)
        if order is not None:
            nodes = [m.graph.node[i] for i in order]
            copies = [type(n)() for n in nodes]
            for c, n in zip(copies, nodes):
                c.CopyFrom(n)
            del m.graph.node[:]
            m.graph.node.extend(copies)
    if m.ir_version < 4:
        inputs = {i.name for i in m.graph.input}
        for t in m.graph.initializer:
            if t.name not in inputs:
                m.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return m


def _unsorted(graph) -> bool:
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    for n in graph.node:
        if any(t not in known for t in n.input):
            return True
        known.update(n.output)
    return False


def _topological(graph) -> list[int] | None:
    """Node indices in dependency order (None for a cycle or a missing input: the checker
    then reports it on the model as it is)."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    left, order = list(range(len(graph.node))), []
    while left:
        ready = [i for i in left if all(t in known for t in graph.node[i].input)]
        if not ready:
            return None
        for i in ready:
            known.update(graph.node[i].output)
        order += ready
        left = [i for i in left if i not in set(ready)]
    return order


def _check_names(graph) -> None:
    """Names reach messages, report tables, the saved design and C++ comments: control
    characters in them (a NUL, a newline) are refused rather than escaped everywhere."""
    def bad(s: str) -> bool:
        return any(ord(c) < 32 or ord(c) == 127 for c in s)

    for n in graph.node:
        if bad(n.name):
            raise ModelError(f"node name {n.name!r} ({n.op_type}) contains control characters")
        for t in list(n.input) + list(n.output):
            if bad(t):
                raise ModelError(f"node {n.name!r} ({n.op_type}): tensor name {t!r} contains control characters")
    for v in list(graph.input) + list(graph.output) + list(graph.initializer):
        if bad(v.name):
            raise ModelError(f"graph tensor name {v.name!r} contains control characters")


def fold_size(node, feeds: dict[str, np.ndarray], opset: int, ir_version: int) -> int | None:
    """The element count of the largest output of one standard node with constant inputs, as
    onnx's shape inference finds it (None when it cannot tell), so that a constant folding
    that would allocate too much is refused before it runs."""
    import onnx
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in feeds.items()]
    g = helper.make_graph([node], "size", [], [helper.make_empty_tensor_value_info(o) for o in node.output if o], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir_version
    try:
        inferred = onnx.shape_inference.infer_shapes(m, data_prop=True)
    except Exception:
        return None
    largest = None
    for o in inferred.graph.output:
        tt = o.type.tensor_type
        if not tt.HasField("shape") or not all(d.HasField("dim_value") for d in tt.shape.dim):
            continue
        n = int(np.prod([d.dim_value for d in tt.shape.dim], dtype=np.float64))
        largest = n if largest is None else max(largest, n)
    return largest
