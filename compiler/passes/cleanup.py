"""Remove nodes that do not contribute to any graph output, and check shapes."""
from __future__ import annotations

from ..errors import ModelError, at_node
from ..ir import Graph
from ..options import CompileOptions


def cleanup(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: a graph from the frontend. Post: every node feeds an output (dead nodes and their
    tensors removed),
    the graph is acyclic, and every node's output shapes agree with its op's shape rule."""
    if not graph.is_acyclic():
        raise ModelError("the graph has a cycle")
    live = set(graph.outputs)
    for node in reversed(graph.nodes()):
        if any(t in live for t in node.outputs):
            live.update(node.inputs)
        else:
            graph.remove_node(node.name)
    used = set(graph.inputs) | set(graph.outputs) | {t for n in graph.nodes() for t in (*n.inputs, *n.outputs)}
    for name in [t for t in graph.tensors if t not in used]:  # the dead nodes' tensors
        del graph.tensors[name]
    for node in graph.nodes():
        want = node.op.infer_shapes([graph.tensors[t].shape for t in node.inputs])
        got = [graph.tensors[t].shape for t in node.outputs]
        if list(map(tuple, want)) != list(map(tuple, got)):
            raise at_node(node.name, node.kind, f"output shape {got} disagrees with the op's {want}", ModelError)
    return graph
