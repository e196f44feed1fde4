"""Fuse a ReLU into the Dense layer before it: the MAC array clamps its accumulator before
the single output cast, saving a stage and a rounding step."""
from __future__ import annotations

from ..ir import Graph
from ..ops.conv import Conv
from ..ops.dense import Dense
from ..ops.relu import Relu
from ..options import CompileOptions


def fuse_activation(graph: Graph, options: CompileOptions) -> Graph:
    """Pre: untyped graph. Post: no Relu reads the output of a Dense that only it reads."""
    for node in graph.nodes():
        if not isinstance(node.op, Relu):
            continue
        prod = graph.producer(node.inputs[0])
        if prod is None or not isinstance(prod.op, (Dense, Conv)) or prod.op.activation is not None:
            continue
        if not graph.private(node.inputs[0]):
            continue
        prod.op.activation = "relu"
        prod.source += f" + {node.source}"
        graph.bypass(node.name)
    return graph
