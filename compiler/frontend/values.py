"""Values flowing through the ONNX importer, the converter registry and layout rules.

Converters (frontend/convert_*.py, one module per family of ops) turn one ONNX node into IR
ops. They never import onnx: the importer hands them attribute dicts and numpy arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ModelError
from ..numerics import FixedType

MAX_ELEMENTS = 1 << 28          # refuse absurd tensor sizes


@dataclass
class Const:
    value: np.ndarray
    qtype: FixedType | None = None   # set when a model quantizer produced this constant


@dataclass
class Act:
    tensor: str                      # IR tensor name
    shape: tuple[int, ...]           # ONNX shape without the batch dimension


CONVERTERS: dict[str, Callable] = {}
STANDARD_DOMAINS = ("", "ai.onnx")


def converter(*names: str, domains: tuple[str, ...] = STANDARD_DOMAINS):
    """Register fn(importer, ctx, inputs) -> value(s) for ONNX op types in the given domains."""
    def deco(fn):
        for n in names:
            for d in domains:
                CONVERTERS[op_key(d, n)] = fn
        return fn
    return deco


def op_key(domain: str, op_type: str) -> str:
    return op_type if domain in STANDARD_DOMAINS else f"{domain}:{op_type}"


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)


# layout: IR tensors are channels-last; ONNX (C, *spatial) -> (*spatial, C)
def ir_shape(onnx_shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(onnx_shape) <= 1:
        return tuple(onnx_shape)
    return tuple(onnx_shape[1:]) + (onnx_shape[0],)


def same_order(onnx_shape: tuple[int, ...]) -> bool:
    """True when the ONNX (channels-first) and IR (channels-last) element orders coincide."""
    return len(onnx_shape) <= 1 or onnx_shape[0] == 1 or math.prod(onnx_shape[1:]) == 1


def check_size(dims, what):
    if any(d <= 0 for d in dims):
        raise ModelError(f"{what}: shape {tuple(dims)} has a non-positive dimension")
    if math.prod(dims) > MAX_ELEMENTS:
        raise ModelError(f"{what}: shape {tuple(dims)} is larger than this compiler accepts")
