"""Absorb model quantizers into tensor types: a Quant that is the only reader of its input
becomes the output type of that input's producer (or of the graph input)."""
from __future__ import annotations

from ..ir import Graph
from ..numerics import exact_type
from ..ops.base import is_unit
from ..ops.quant import Quant
from ..options import CompileOptions


def absorb_quant(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: scales propagated, untyped graph. Post: a Quant that equals an ap_fixed
    assignment (unit input scale, power-of-two scale, no zero point, full or symmetric
    range, an ap_fixed rounding mode) and is the only reader of its input is gone; its
    type is the producer's output type (model_typed=True). Behaviour is unchanged: the
    producer's output cast is the quantizer. A quantizer on a graph input becomes the input
    interface (Graph.input_quantizers, applied on the host). Other quantizers stay stages."""
    for node in graph.nodes():
        if not isinstance(node.op, Quant):
            continue
        src = node.inputs[0]
        if not graph.private(src):
            continue
        if graph.producer(src) is None and node.outputs[0] in graph.outputs:
            continue  # input straight to output: keep a stage, so there is something to build
        t, q = graph.tensors[src], node.op
        if t.type is not None or not is_unit(t.scale):
            continue
        prod = graph.producer(src)
        if prod is not None and isinstance(prod.op, Quant):
            continue  # a quantizer types its own output: the second one stays a stage
        as_type = q.as_fixed_type()
        if as_type is not None:  # the producer's ap_fixed assignment is the quantizer
            t.type, t.model_typed = as_type, True
        elif graph.producer(src) is None and q.scale is not None and q.pre_scale is None:
            # the model quantizes its input: that is the input interface, applied on the host
            graph.input_quantizers[src] = q
            t.type, t.scale, t.model_typed = exact_type(*q.code_bounds(), q.out_frac), q.out_scale(), True
        else:
            continue  # a quantizer stage in hardware
        graph.bypass(node.name)
    return graph
