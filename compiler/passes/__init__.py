"""Graph passes, each a plain function `(graph, options) -> graph`, run in PIPELINE order."""
from __future__ import annotations

from ..ir import Graph
from ..options import CompileOptions
from .absorb_quant import absorb_quant
from .assign_formats import assign_formats
from .choose_parallelism import choose_parallelism
from .cleanup import cleanup
from .fold_affine import fold_affine
from .fuse_activation import fuse_activation

PIPELINE = [cleanup, fold_affine, fuse_activation, absorb_quant, assign_formats, choose_parallelism]


def run_pipeline(graph: Graph, options: CompileOptions) -> Graph:
    for p in PIPELINE:
        graph = p(graph, options)
    return graph
