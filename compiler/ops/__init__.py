"""IR ops: one file per op, looked up by kind through REGISTRY (every module of this
package except base.py is imported, and registers its ops with @register)."""
from __future__ import annotations

import importlib
import pkgutil

from .base import Bounds, CostContext, FormatPolicy, HlsContext, Op, TypingContext

REGISTRY: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    if not cls.kind or cls.kind in REGISTRY:
        raise ValueError(f"op kind {cls.kind!r} missing or registered twice")
    REGISTRY[cls.kind] = cls
    return cls


for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base":
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["REGISTRY", "register", "Op", "Bounds", "FormatPolicy", "TypingContext", "CostContext",
           "HlsContext"]
