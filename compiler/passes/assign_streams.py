"""Choose every stream's beat width (the tensor's fold) from the ops' stream rules.

Pre: the parallelism is chosen (MAC arrays have their PE x SIMD shape). Post: every tensor's
`fold` is the width its producer writes (Op.stream_folds given the widths its own inputs
arrive at); a graph input arrives at the width its first reader reads. Readers that read at
another width get a width converter in front (emitted and costed with the reader).
"""
from __future__ import annotations

from ..ir import Graph
from ..options import CompileOptions


def stream_widths(graph: Graph) -> dict[str, int]:
    """{tensor: beat width} as the ops' stream rules give them (no graph change)."""
    folds: dict[str, int] = {}
    for node in graph.nodes():
        ins, outs = graph.in_tensors(node), graph.out_tensors(node)
        native, out = node.op.stream_folds([t.shape for t in ins], [t.shape for t in outs],
                                           [folds.get(t.name) for t in ins])
        for t, n in zip(ins, native):
            folds.setdefault(t.name, n)  # a graph input: its first reader's width
        for t, f in zip(outs, out):
            folds[t.name] = f
    return folds


def assign_streams(graph: Graph, options: CompileOptions | None = None) -> Graph:
    folds = stream_widths(graph)
    for name, t in graph.tensors.items():
        f = folds.get(name, t.channels)
        t.fold = None if f == t.channels else int(f)
    return graph
