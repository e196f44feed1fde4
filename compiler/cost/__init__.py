"""The cost model: shared hardware pieces, the dataflow composition of per-layer costs (each
op's formula lives in its op file), the what-if estimator, folding and targets."""
from __future__ import annotations

from .model import RESOURCES, LayerCost, NetworkCost, compose
from .target import Target, available_targets, load_target

__all__ = ["LayerCost", "NetworkCost", "Target", "load_target", "available_targets", "RESOURCES", "compose"]
