"""Graph passes, each a plain function `(graph, options) -> graph`, run in PIPELINE order."""
from __future__ import annotations

from ..ir import Graph
from ..options import CompileOptions
from .absorb_bias import absorb_bias
from .absorb_quant import absorb_quant
from .assign_formats import assign_formats
from .assign_streams import assign_streams
from .choose_parallelism import choose_parallelism
from .cleanup import cleanup
from .fold_affine import fold_affine
from .fold_into_quant import fold_into_quant
from .fold_thresholds import fold_thresholds
from .fuse_activation import fuse_activation
from .lower_binary import lower_binary
from .propagate_scales import propagate_scales
from .per_channel_weights import per_channel_weights
from .prune_channels import prune_channels
from .size_fifos import size_fifos
from .split_outliers import split_outliers

# fold_affine and fuse_activation run again after the scales are known: a BatchNormalization
# after a quantized layer only becomes a foldable shift once its scale moved into the tensor.
PIPELINE = [prune_channels, cleanup, lower_binary, fold_affine, fuse_activation, split_outliers, per_channel_weights,
            propagate_scales, fold_affine, fuse_activation, fold_thresholds,
            fold_into_quant, absorb_quant, absorb_bias, assign_formats, choose_parallelism, assign_streams, size_fifos]


def run_pipeline(graph: Graph, options: CompileOptions) -> Graph:
    for p in PIPELINE:
        graph = p(graph, options)
    return graph
