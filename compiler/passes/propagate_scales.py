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
    q = insert_requantizer(graph, node.inputs[k], f"{node.name}_requant{k}", "__real",
                           f"inserted: {node.kind} needs real values")
    q.op.rescale([graph.tensors[node.inputs[k]].scale])
    graph.set_inputs(node, [q.outputs[0] if i == k else x for i, x in enumerate(node.inputs)])


def insert_requantizer(graph: Graph, src: str, name: str, suffix: str, source: str) -> Node:
    """A dynamic-fixed-point Quant (scale=None: a real-valued output, its type chosen when
    typed) reading tensor `src`, named `name` (made unique), writing src + suffix; the caller
    rewires the readers and rescales it. Returns the new node."""
    new = f"{src}{suffix}"
    graph.add_tensor(Tensor(new, graph.tensors[src].shape, scale=1.0))
    while name in {n.name for n in graph.nodes()}:
        name += "_"
    node = Node(name, Quant(scale=None), [src], [new], source=source)
    graph.add_node(node)
    return node
