"""Values flowing through the ONNX importer, the converter registry and layout rules.

Converters (frontend/convert_*.py, one module per family of ops) turn one ONNX node into IR
ops. They never import onnx: the importer hands them attribute dicts and numpy arrays.

Layout. An activation's IR tensor holds the same numbers as the ONNX tensor, possibly in
another element order: `Act.perm` says ir = onnx.transpose(perm) (per sample, None for the
same order), or, when no transpose describes it (a flattened channels-last image),
`Act.flat_order` says ir_flat = onnx_flat[flat_order]. Shape-only ONNX ops (Transpose,
Reshape, Flatten, Squeeze, Unsqueeze) only change this record; layout-sensitive converters
ask the importer for the order they need and get a data-movement op only when the tensor
is not already in it (see _Importer.to_layout).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ModelError
from ..numerics import FixedType

MAX_ELEMENTS = 1 << 28          # refuse absurd tensor sizes


@dataclass
class Const:
    """A constant. When a model quantizer produced it, `fixed` holds its values on the grid
    of `qtype` and value = fixed * scale (scale: a float or an array broadcastable to it)."""

    value: np.ndarray
    qtype: FixedType | None = None
    scale: float | np.ndarray = 1.0
    fixed: np.ndarray | None = None

    @classmethod
    def quantized(cls, fixed: np.ndarray, qtype: FixedType, scale=1.0) -> "Const":
        fixed = np.asarray(fixed, dtype=np.float64)
        return cls(value=fixed * np.asarray(scale, dtype=np.float64), qtype=qtype, scale=scale, fixed=fixed)


@dataclass
class Act:
    tensor: str                      # IR tensor name
    shape: tuple[int, ...]           # ONNX shape without the batch dimension
    perm: tuple[int, ...] | None = None      # IR data = ONNX data transposed by perm (None: same order)
    flat_order: np.ndarray | None = None     # else ir_flat = onnx_flat[flat_order]

    def order(self) -> np.ndarray:
        """ir_flat = onnx_flat[order()] (the explicit gather index of this layout)."""
        if self.flat_order is not None:
            return self.flat_order
        return perm_order(self.shape, self.perm)

    @property
    def identity(self) -> bool:
        return self.flat_order is None and (self.perm is None or is_identity_perm(self.perm, self.shape))


def is_identity_perm(perm, shape) -> bool:
    """True when transposing by perm does not move data (only size-1 axes move)."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


def perm_order(shape, perm) -> np.ndarray:
    n = math.prod(shape)
    idx = np.arange(n, dtype=np.int64)
    if perm is None or is_identity_perm(perm, shape):
        return idx
    return idx.reshape(shape).transpose(perm).ravel()


def canonical_perm(rank: int) -> tuple[int, ...]:
    """The IR's channels-last order for an ONNX (C, *spatial) tensor; vectors keep theirs."""
    return tuple(range(rank)) if rank <= 1 else tuple(range(1, rank)) + (0,)


def make_act(tensor: str, shape: tuple[int, ...], order: np.ndarray | None) -> Act:
    """An Act with the simplest description of the gather index `order` over `shape`:
    no record for the same order, a perm where a transpose describes it, else the index."""
    shape = tuple(int(d) for d in shape)
    if order is None:
        return Act(tensor, shape)
    order = np.asarray(order, dtype=np.int64)
    if np.array_equal(order, np.arange(order.size)):
        return Act(tensor, shape)
    perm = find_perm(shape, order)
    if perm is not None:
        return Act(tensor, shape, perm=perm)
    return Act(tensor, shape, flat_order=order)


def find_perm(shape, order: np.ndarray) -> tuple[int, ...] | None:
    """A transpose of `shape` whose element order is `order`, if one exists (rank <= 5)."""
    rank = len(shape)
    if rank < 2 or rank > 5:
        return None
    base = np.arange(order.size, dtype=np.int64).reshape(shape)
    head = order[:64]
    for perm in [canonical_perm(rank)] + list(itertools.permutations(range(rank))):
        view = base.transpose(perm)
        if np.array_equal(np.fromiter(itertools.islice(view.flat, head.size), np.int64), head) \
                and np.array_equal(view.ravel(), order):
            return tuple(perm)
    return None


def inverse(order: np.ndarray) -> np.ndarray:
    inv = np.empty_like(order)
    inv[order] = np.arange(order.size, dtype=order.dtype)
    return inv


CONVERTERS: dict[str, Callable] = {}
STANDARD_DOMAINS = ("", "ai.onnx")


CONSTANT_AWARE: set[str] = set()  # converters that handle all-constant inputs themselves
# attribute types of custom-domain ops, which onnx.checker has no schema for: op key ->
# {attribute: "int" | "float" | "string" | "ints" | "floats"}
ATTRIBUTE_TYPES: dict[str, dict[str, str]] = {}


def converter(*names: str, domains: tuple[str, ...] = STANDARD_DOMAINS, constants: bool = False,
              attributes: dict[str, str] | None = None):
    """Register fn(importer, ctx, inputs) -> value(s) for ONNX op types in the given domains.
    Standard ops whose inputs are all constants are evaluated by the importer instead,
    unless the converter declares `constants=True` (quantizers keep codes and scales).
    `attributes`: the types of a custom-domain op's attributes (the importer refuses an
    attribute of another type, as onnx.checker does for standard ops)."""
    def deco(fn):
        for n in names:
            for d in domains:
                if CONVERTERS.get(op_key(d, n), fn) is not fn:   # one owner per op: no silent override
                    raise ValueError(f"two converters for {op_key(d, n)}")
                CONVERTERS[op_key(d, n)] = fn
                if constants:
                    CONSTANT_AWARE.add(op_key(d, n))
                if attributes and d not in STANDARD_DOMAINS:
                    ATTRIBUTE_TYPES[op_key(d, n)] = dict(attributes)
        return fn
    return deco


def op_key(domain: str, op_type: str) -> str:
    return op_type if domain in STANDARD_DOMAINS else f"{domain}:{op_type}"


def supported_ops() -> list[str]:
    """Op types, without the domains they are accepted in."""
    return sorted({k.split(":")[-1] for k in CONVERTERS})


# the default IR layout: channels-last; ONNX (C, *spatial) -> (*spatial, C)
def ir_shape(onnx_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The IR's channels-last shape of a per-sample ONNX shape (one value per sample: (1,))."""
    if not onnx_shape:
        return (1,)
    if len(onnx_shape) == 1:
        return tuple(onnx_shape)
    return tuple(onnx_shape[1:]) + (onnx_shape[0],)


def check_size(dims, what):
    if any(d <= 0 for d in dims):
        raise ModelError(f"{what}: shape {tuple(dims)} has a non-positive dimension")
    if math.prod(dims) > MAX_ELEMENTS:
        raise ModelError(f"{what}: shape {tuple(dims)} is larger than this compiler accepts")
