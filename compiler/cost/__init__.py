"""The cost model: per-op kernel formulas composed into a dataflow network estimate."""
from __future__ import annotations

from ..ir import Graph
from ..ops.base import CostContext
from .model import RESOURCES, LayerCost, NetworkCost, compose
from .target import Target, available_targets, load_target


def estimate_graph(graph: Graph, target: Target) -> NetworkCost:
    layers, preds = [], {}
    for node in graph.nodes():
        ctx = CostContext(node=node, inputs=graph.in_tensors(node), outputs=graph.out_tensors(node), target=target)
        layers.append((node.name, node.op.describe(), node.op.cost(ctx)))
        preds[node.name] = [p.name for t in node.inputs if (p := graph.producer(t)) is not None]
    return compose(layers, preds, target.clock_mhz, target.resources)


__all__ = ["estimate_graph", "LayerCost", "NetworkCost", "Target", "load_target", "available_targets", "RESOURCES"]
