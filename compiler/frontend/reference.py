"""Reference executors for the original model: onnxruntime for standard ONNX (QDQ included),
qonnx's executor for models with QONNX custom ops, in a custom domain or (as some exporters
write them) in the default one. Used by `qcompile verify` and tests. Both are optional
imports: onnxruntime is a core dependency, qonnx is a test/peers extra."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import CompileError, ModelError, at_node

CUSTOM_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "finn",
                  "qonnx.custom_op.channels_last", "qonnx")
QONNX_GENERAL = "qonnx.custom_op.general"
# qonnx.custom_op.general's ops (qonnx 0.4-1.0): what a default-domain node may be when qonnx
# is not installed to ask (its executor then raises the install hint)
QONNX_GENERAL_OPS = ("BipolarQuant", "DebugMarker", "FloatQuant", "GenericPartition", "Im2Col", "IntQuant",
                     "MaxPoolNHWC", "MultiThreshold", "Quant", "QuantAvgPool2d", "Trunc", "XnorPopcountMatMul")
ORT_DOMAINS = ("ai.onnx.ml", "com.microsoft")   # onnxruntime's own non-default domains


def _qonnx_knows(domain: str, op_type: str) -> bool:
    """qonnx's executor runs (domain, op_type): its registry's answer, or without qonnx the
    general domain's ops and the custom domains it is known to serve."""
    try:
        from qonnx.custom_op.registry import is_custom_op
    except ImportError:
        return op_type in QONNX_GENERAL_OPS if domain == QONNX_GENERAL else domain in CUSTOM_DOMAINS
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # qonnx reads the old-style domains as the general one (ModelWrapper, and above for "qonnx")
            return is_custom_op(QONNX_GENERAL if domain in ("finn", "finn.custom_op.general", "qonnx") else domain,
                                op_type)
        except Exception:  # noqa: BLE001 - a domain that is no importable module name
            return False


def executor_plan(model) -> tuple[str, dict[int, str]]:
    """Which executor runs this ModelProto ("qonnx" or "onnxruntime") and the nodes to move to
    another domain first: {node index: domain} for default-domain nodes that are not standard
    ONNX ops at the model's opset but QONNX ops, which qonnx registers under its general
    domain. A node in a custom domain means qonnx too; one that neither executor knows is a
    ModelError naming it."""
    import onnx

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), onnx.defs.onnx_opset_version())
    functions = {(f.domain, f.name) for f in model.functions}   # model-local functions: onnxruntime inlines them
    standard: dict[str, bool] = {}
    executor, moves = "onnxruntime", {}
    for i, node in enumerate(model.graph.node):
        domain = node.domain or ""
        if (domain, node.op_type) in functions or domain in ORT_DOMAINS:
            continue
        name = node.name or f"{node.op_type}_{i}"
        if domain in ("", "ai.onnx"):
            if node.op_type not in standard:
                try:
                    onnx.defs.get_schema(node.op_type, max_inclusive_version=opset, domain="")
                    standard[node.op_type] = True
                except onnx.defs.SchemaError:
                    standard[node.op_type] = False
            if standard[node.op_type]:
                continue
            if not _qonnx_knows(QONNX_GENERAL, node.op_type):
                what = f"does not exist in opset {opset} of the standard domain" if onnx.defs.has(node.op_type) \
                    else "is not a standard ONNX op"
                raise at_node(name, node.op_type, f"op {node.op_type} {what} and is not a QONNX op; "
                              "no reference executor can run the model", ModelError)
            moves[i] = QONNX_GENERAL
        elif not _qonnx_knows(domain, node.op_type):
            raise at_node(name, node.op_type, f"op {domain}:{node.op_type} is not a QONNX op (nor a standard "
                          "one); no reference executor can run the model", ModelError)
        elif domain == "qonnx":   # qonnx's QKeras converter writes "qonnx"; its executor knows the general domain
            moves[i] = QONNX_GENERAL
        executor = "qonnx"
    return executor, moves


def _for_executor(model) -> str:
    """Prepare a loaded model (a copy: it is changed in place) for its executor: move the
    nodes executor_plan says to the domain qonnx runs them under. A Trunc moved with six
    inputs is Trunc v2, which qonnx's general domain reads from its opset import (v1 without)."""
    import onnx

    executor, moves = executor_plan(model)
    for i, domain in moves.items():
        model.graph.node[i].domain = domain
    if any(model.graph.node[i].op_type == "Trunc" and len(model.graph.node[i].input) == 6 for i in moves) \
            and not any(o.domain == QONNX_GENERAL for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(QONNX_GENERAL, 2))
    return executor


def run_reference(model_path: str | os.PathLike, x, outputs: list[str] | None = None,
                  whole_tensor: bool = False) -> list[np.ndarray]:
    """The model's outputs for inputs x (ONNX layout, batch first; a list with one array per
    graph input for models with several), in float64. `outputs` names intermediate ONNX
    tensors to return instead of the graph outputs. whole_tensor: the model has no batch
    axis (frontend/whole_tensor.py); x stacks whole samples, run one at a time."""
    import onnx

    if whole_tensor:
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        per = [run_reference(model_path, [v[i] for v in xs], outputs) for i in range(len(xs[0]))]
        return [np.stack([p[k] for p in per]) for k in range(len(per[0]))]
    model = onnx.load(str(model_path))
    qonnx = _for_executor(model) == "qonnx"
    if outputs:  # promote intermediate tensors to outputs; shapes are inferred again
        del model.graph.value_info[:]
        del model.graph.output[:]
        # qonnx computes in float throughout; onnxruntime infers each output's own type (QDQ: ints)
        model.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) if qonnx
                                  else onnx.helper.make_empty_tensor_value_info(n) for n in outputs)
    return _run_qonnx(model, x) if qonnx else _run_ort(model, x)


def reference_executor(model_path) -> str:
    """Which executor serves as the reference for this model (run_reference's choice)."""
    import onnx

    return executor_plan(onnx.load(str(model_path), load_external_data=False))[0]


def _free_batch(model):
    """Make the first dimension of every graph input/output symbolic so a batch can run."""
    for v in list(model.graph.input) + list(model.graph.output):
        if v.type.HasField("tensor_type") and len(v.type.tensor_type.shape.dim) > 0:
            v.type.tensor_type.shape.dim[0].dim_param = "N"
    del model.graph.value_info[:]
    return model


def _session(model):
    """Basic graph optimization only: onnxruntime's extended level replaces QDQ groups with
    integer kernels that round differently from the QDQ operators' definition (seen: up to
    18 steps on D12's logits), and the definition is what we compare against."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4   # fatal only: a failed batched run is retried sample by sample, quietly
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _run_ort(model, x):
    import onnx
    from onnx import version_converter

    names = _feed_names(model)
    x32 = [np.asarray(v).astype(t) for v, t in zip(_as_list(x, len(names)), _feed_dtypes(model))]
    candidates = [model]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset < 13:  # old opsets lack kernels in current onnxruntime (e.g. Gemm-6)
        try:
            candidates.append(version_converter.convert_version(model, 13))
        except Exception:
            pass
    last = None
    for m in candidates:
        for batched in (True, False):
            try:
                mm = onnx.ModelProto()
                mm.CopyFrom(m)
                if batched:
                    sess = _session(_free_batch(mm))
                    outs = sess.run(None, dict(zip(names, x32)))
                else:  # a hard-coded batch size: one sample at a time
                    sess = _session(mm)
                    per = [sess.run(None, {k: v[i:i + 1] for k, v in zip(names, x32)}) for i in range(len(x32[0]))]
                    outs = [np.concatenate([p[k] for p in per]) for k in range(len(per[0]))]
                return [np.asarray(o, dtype=np.float64) for o in outs]
            except Exception as e:  # try the next way of running it
                last = e
    raise ModelError(f"onnxruntime cannot run the reference model: {last}")


def _run_qonnx(model, x):
    try:
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx
    except ImportError:
        raise CompileError("the model uses QONNX ops; its reference executor needs the qonnx package "
                           "(pip install 'qcompile[test]')") from None
    import warnings

    from qonnx.transformation.infer_shapes import InferShapes

    for node in model.graph.node:  # callers passing a model of their own: as _for_executor does
        if node.domain == "qonnx":
            node.domain = QONNX_GENERAL
    names = _feed_names(model)
    x32 = [np.asarray(v, dtype=np.float32) for v in _as_list(x, len(names))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapper = ModelWrapper(_with_batch(model, len(x32[0])))
        wrapper = wrapper.transform(InferShapes())
        res = execute_onnx(wrapper, dict(zip(names, x32)))
    return [np.asarray(res[o.name], dtype=np.float64) for o in wrapper.graph.output]


def _feed_names(model) -> list[str]:
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def _feed_dtypes(model) -> list:
    """The numpy type of each graph input (float32 for floats: onnxruntime's usual kernels)."""
    from onnx import TensorProto, helper

    inits = {i.name for i in model.graph.initializer}
    out = []
    for i in model.graph.input:
        if i.name not in inits:
            dt = i.type.tensor_type.elem_type
            float_type = dt in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16, 0)
            out.append(np.dtype(helper.tensor_dtype_to_np_dtype(dt)) if dt and not float_type or
                       dt in (TensorProto.DOUBLE, TensorProto.FLOAT16) else np.float32)
    return out


def _as_list(x, n: int) -> list:
    """One array per graph input: x is a list of them, or (one input) the array itself."""
    if isinstance(x, (list, tuple)) and (n > 1 or (len(x) == 1 and isinstance(x[0], np.ndarray))):
        return list(x)
    return [x]


def _with_batch(model, n: int):
    """The model with batch size n: the first dimension of every shape record downstream
    of the graph input (some custom ops read their input's record to infer their own), and
    of constant Reshape targets, as qonnx's ChangeBatchSize does for the graph's ends."""
    inits = {i.name for i in model.graph.initializer}
    data = {i.name for i in model.graph.input if i.name not in inits}
    for node in model.graph.node:  # nodes are topologically sorted
        if any(t in data for t in node.input):
            data.update(node.output)
    for v in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        dims = v.type.tensor_type.shape.dim if v.type.HasField("tensor_type") else []
        if v.name in data and len(dims) > 0:
            dims[0].ClearField("dim_param")
            dims[0].dim_value = n
    for init in model.graph.initializer:
        if any(node.op_type == "Reshape" and node.input[1] == init.name for node in model.graph.node):
            from onnx import numpy_helper

            shape = numpy_helper.to_array(init).copy()
            if shape.ndim == 1 and len(shape) and shape[0] not in (-1, 0):
                shape[0] = n
                init.CopyFrom(numpy_helper.from_array(shape, init.name))
    return model


def model_input_shape(model_path: str | Path) -> tuple[int, ...]:
    """The per-sample ONNX shape of the first graph input."""
    import onnx

    m = onnx.load(str(model_path), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    inp = next(i for i in m.graph.input if i.name not in inits)
    return tuple(d.dim_value for d in inp.type.tensor_type.shape.dim[1:])
