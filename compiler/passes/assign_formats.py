"""Assign dynamic-fixed-point formats to every tensor and every op's internal values.

Inputs take the model's quantizer type if it has one; else, with calibration data, the
narrowest `width`-bit type holding its observed range; else ap_fixed<16,6> (the usual
default of the field, range [-32, 32)). Then each op, in topological order, quantizes its
constants, sizes its accumulator exactly from its input *types* (so it cannot overflow)
and chooses its output type from the output's value range:
- without calibration data: sound per-element intervals propagated from the input types
  through the already-quantized ops (so narrowed outputs cannot overflow; they wrap);
- with calibration data: the ranges observed running the float model on that data, clipped
  by the calibration method (options.calibration; calibrate/methods.py) for the tensor's
  width (outputs saturate, since unseen inputs may exceed them).
Float weights take their range from weight_calibration the same way (saturating where it
clips).
Tensors typed by the model's quantizers keep their types.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..calibrate import ObservedRanges
from ..errors import DataError, at_node, CompileError
from ..ir import Graph
from ..numerics import FixedType
from ..numerics.fixed import FLOAT_EXACT
from ..ops.base import Bounds, FormatPolicy, TypingContext
from ..options import DEFAULT_INPUT_TYPE, CompileOptions


def assign_formats(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: untyped graph (except model-typed tensors). Post: every tensor and every op's
    internal values have a FixedType; weights sit exactly on their type's grid."""
    policy = FormatPolicy(width=options.width, weight_width=options.weight_width, rounding=options.rounding,
                          weight_calibration=options.weight_calibration)
    observed = None
    if options.calib is not None:
        calib = check_data(graph, options.calib, "calibration data")
        observed = ObservedRanges(graph, {name: _fixed_values(graph, name, x) for name, x in zip(graph.inputs, calib)},
                                  options.calibration)
    for name in graph.inputs:
        t = graph.tensors[name]
        if t.type is not None:
            continue
        if options.input_type is not None:
            t.type = options.input_type
        elif observed is not None:
            b = observed.bounds(name, options.width)
            t.type = FixedType.for_range(b.min, b.max, options.width, rounding="AP_RND_CONV", overflow="AP_SAT")
        else:
            t.type = DEFAULT_INPUT_TYPE
    bounds = {name: Bounds.of_type(graph.tensors[name].type, graph.tensors[name].shape) for name in graph.inputs}
    layer_policy = _layer_policies(graph, options, policy)
    for node in graph.nodes():
        ins, outs = graph.in_tensors(node), graph.out_tensors(node)
        own = layer_policy.get(node.name, policy)
        lazy = _LazyBounds(node, [bounds[t] for t in node.inputs], observed, own.width)
        readers = [r.op for t in node.outputs for r in graph.consumers(t)]
        ctx = TypingContext(node=node, inputs=ins, outputs=outs, out_bounds=lazy, proven=observed is None,
                            policy=own, readers=readers)
        try:
            node.op.assign_types(ctx)
        except (ValueError, OverflowError) as e:  # a width beyond int64 codes, a constant that is not finite
            bad = _non_finite_fields(node.op)
            why = f"its {', '.join(bad)} hold NaN or infinity (supported: finite constants)" if bad else str(e)
            raise at_node(node.name, node.label, f"cannot assign fixed-point formats: {why}", CompileError) from None
        for t in outs:
            if t.type.width > FLOAT_EXACT:
                raise at_node(node.name, node.label, f"output type {t.type} is wider than {FLOAT_EXACT} bits; "
                              "not supported (narrow it with a quantizer or a smaller width)", CompileError)
        # propagate sound intervals with the now-quantized constants, clipped to the types
        for t, b in zip(outs, node.op.bounds([bounds[i] for i in node.inputs])):
            bounds[t.name] = Bounds(np.clip(b.lo, t.type.min_value, t.type.max_value),
                                    np.clip(b.hi, t.type.min_value, t.type.max_value))
    return graph


def _fixed_values(graph: Graph, name: str, x: np.ndarray) -> np.ndarray:
    """Real calibration inputs as the fixed-point values the graph input holds (the ops'
    float semantics are in those units): the codes of the model's input quantizer, applied
    on the host, or the real values over the input's scale."""
    q = graph.input_quantizers.get(name)
    t = graph.tensors[name]
    if q is not None and t.type is not None:
        return t.type.to_float(q.host_codes(x))
    return x / np.asarray(t.scale, dtype=np.float64)


def _layer_policies(graph: Graph, options: CompileOptions, policy: FormatPolicy) -> dict[str, FormatPolicy]:
    """Per-layer widths (compile_model's `layers`): the layer's own policy, after checking the
    layer exists and the width is one the pass chooses (not fixed by the model's quantizers)."""
    nodes = {n.name: n for n in graph.nodes()}
    out = {}
    for name, settings in options.layers.items():
        knobs = {k: v for k, v in settings.items().items() if k in ("weight_bits", "act_bits")}
        if not knobs:
            continue
        node = nodes.get(name)
        if node is None:
            raise CompileError(f"widths given for unknown layer {name!r} (layers: {', '.join(nodes)})")
        if "weight_bits" in knobs and (getattr(node.op, "weights_from_model", True) or node.kind not in ("Dense", "Conv")):
            why = "its weights are quantized by the model" if node.kind in ("Dense", "Conv") else "it has no weights"
            raise at_node(name, node.kind, f"weight_bits cannot be set: {why}", CompileError)
        if "act_bits" in knobs and all(graph.tensors[t].type is not None for t in node.outputs):
            raise at_node(name, node.kind, "act_bits cannot be set: the model's quantizer fixes its output type",
                          CompileError)
        out[name] = dataclasses.replace(policy, width=knobs.get("act_bits", policy.width),
                                        weight_width=knobs.get("weight_bits", policy.weight_width),
                                        widen_for_readers="act_bits" not in knobs)
    return out


class _LazyBounds(list):
    """Output bounds, computed only when an op asks (after it has quantized its constants)."""

    def __init__(self, node, in_bounds, observed: ObservedRanges | None, bits: int):
        super().__init__()
        self._node, self._in, self._observed, self._bits = node, in_bounds, observed, bits

    def _fill(self):
        if not super().__len__():
            if self._observed is not None:
                self.extend(self._observed.bounds(t, self._bits) for t in self._node.outputs)
            else:
                self.extend(self._node.op.bounds(self._in))

    def __getitem__(self, k):
        self._fill()
        return super().__getitem__(k)

    def __len__(self):
        self._fill()
        return super().__len__()


def check_data(graph: Graph, data: list[np.ndarray], what: str) -> list[np.ndarray]:
    """Data for every graph input (Graph.inputs_to_ir's result), each as float64 (batch,
    *shape) in the IR layout, with one batch size for all."""
    out = []
    for name, x in zip(graph.inputs, data):
        label = what if len(graph.inputs) == 1 else f"{what} for input {name!r}"
        x = np.asarray(x, dtype=np.float64)
        shape = graph.tensors[name].shape
        if x.shape[1:] != tuple(shape):
            if x.ndim >= 1 and len(x) and x[0].size == int(np.prod(shape)):
                x = x.reshape((x.shape[0],) + tuple(shape))
            else:
                raise DataError(f"{label}: shape {x.shape} does not match the model input (batch, "
                                f"{', '.join(map(str, shape))})")
        if x.shape[0] == 0:
            raise DataError(f"{label}: no samples")
        if not np.isfinite(np.sum(x)) and not np.all(np.isfinite(x)):   # one pass when all is well
            raise DataError(f"{label}: contains NaN or infinity")
        out.append(x)
    if len({len(x) for x in out}) > 1:
        raise DataError(f"{what}: the inputs have different batch sizes ({', '.join(str(len(x)) for x in out)})")
    return out


def _non_finite_fields(op) -> list[str]:
    """The op's constant fields (weights, biases, scales, shifts) holding NaN or infinity.
    Thresholds may be infinite by design (a level no input reaches)."""
    out = []
    for f in dataclasses.fields(op):
        v = getattr(op, f.name)
        if f.name == "threshold" or not isinstance(v, (np.ndarray, float)) or isinstance(v, bool):
            continue
        if not np.all(np.isfinite(np.asarray(v, dtype=np.float64))):
            out.append(f.name)
    return out
