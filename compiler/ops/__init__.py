"""IR ops: one file per op, looked up by kind through REGISTRY."""
from __future__ import annotations

from .base import Bounds, CostContext, FormatPolicy, HlsContext, Op, TypingContext

REGISTRY: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    if not cls.kind or cls.kind in REGISTRY:
        raise ValueError(f"op kind {cls.kind!r} missing or registered twice")
    REGISTRY[cls.kind] = cls
    return cls


# Importing the modules registers the ops.
from . import affine, dense, quant, relu, softmax  # noqa: E402,F401

__all__ = ["REGISTRY", "register", "Op", "Bounds", "FormatPolicy", "TypingContext", "CostContext",
           "HlsContext"]
