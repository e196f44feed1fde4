"""Absorb model quantizers into tensor types: a Quant that is the only reader of its input
becomes the output type of that input's producer (or of the graph input)."""
from __future__ import annotations

from ..ir import Graph
from ..ops.quant import Quant
from ..options import CompileOptions


def absorb_quant(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: untyped graph. Post: every remaining Quant reads a tensor that something else
    reads too (it stays as an explicit cast stage); absorbed tensors carry the quantizer's
    type with model_typed=True. Behaviour is unchanged: the producer's output cast is the
    quantizer."""
    for node in graph.nodes():
        if not isinstance(node.op, Quant):
            continue
        src = node.inputs[0]
        if len(graph.consumers(src)) != 1 or src in graph.outputs:
            continue
        t = graph.tensors[src]
        if t.type is not None:
            continue  # already fixed by an earlier quantizer: keep this one as a cast
        t.type, t.model_typed = node.op.out_type, True
        graph.bypass(node.name)
    return graph
