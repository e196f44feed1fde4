"""Absorb model quantizers into tensor types: a Quant that is the only reader of its input
becomes the output type of that input's producer (or of the graph input)."""
from __future__ import annotations

from ..ir import Graph
from ..ops.base import is_unit
from ..ops.quant import Quant
from ..options import CompileOptions


def absorb_quant(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: scales propagated, untyped graph. Post: a Quant that equals an ap_fixed
    assignment (unit input scale, power-of-two scale, no zero point, full or symmetric
    range, an ap_fixed rounding mode) and is the only reader of its input is gone; its
    type is the producer's output type (model_typed=True). Behaviour is unchanged: the
    producer's output cast is the quantizer. Other quantizers stay as stages."""
    for node in graph.nodes():
        if not isinstance(node.op, Quant):
            continue
        src = node.inputs[0]
        if len(graph.consumers(src)) != 1 or src in graph.outputs:
            continue
        t = graph.tensors[src]
        as_type = node.op.as_fixed_type()
        if t.type is not None or as_type is None or not is_unit(t.scale):
            continue  # not a plain ap_fixed assignment: it stays a quantizer stage
        t.type, t.model_typed = as_type, True
        graph.bypass(node.name)
    return graph
