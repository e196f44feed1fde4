"""Give every tensor its real scale (real value = fixed value * scale) and re-express the
ops' constants in fixed units; put a requantizer in front of ops that need real values."""
from __future__ import annotations

from ..ir import Graph, Node, Tensor
from ..ops.base import NeedsUnitScale
from ..ops.quant import Quant
from ..options import CompileOptions


def propagate_scales(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: untyped graph; graph inputs are real (scale 1). Post: every tensor has its scale
    (a positive float, or one per channel); every op's constants are in fixed units of its
    own inputs/outputs (Op.rescale ran once per op, in topological order); an op that
    cannot take a scaled input reads it through an inserted dynamic-fixed-point Quant
    (scale=None), so its input is real-valued. Real outputs are unchanged."""
    for name in graph.inputs:
        graph.tensors[name].scale = 1.0
    for node in graph.nodes():
        scales = [graph.tensors[t].scale for t in node.inputs]
        try:
            out = node.op.rescale(scales)
        except NeedsUnitScale as need:
            for k in need.inputs:
                _requantize_input(graph, node, k)
            out = node.op.rescale([graph.tensors[t].scale for t in node.inputs])
        for t, s in zip(node.outputs, out):
            graph.tensors[t].scale = s
    return graph


def _requantize_input(graph: Graph, node: Node, k: int) -> None:
    src = node.inputs[k]
    t = graph.tensors[src]
    new = f"{src}__real"
    graph.add_tensor(Tensor(new, t.shape, scale=1.0))
    q = Quant(scale=None)
    q.rescale([t.scale])
    name = f"{node.name}_requant{k}"
    while name in {n.name for n in graph.nodes()}:
        name += "_"
    graph.add_node(Node(name, q, [src], [new], source=f"inserted: {node.kind} needs real values"))
    graph.set_inputs(node, [new if i == k else x for i, x in enumerate(node.inputs)])
