"""Per-layer settings: the one typed record of the knobs a user, a search or the folding pass
sets on a layer, and their limits.

    LayerSettings(reuse_factor=8)                 # a MAC layer's cycles per item
    LayerSettings(pe=4, simd=16, memory="bram")   # its array shape and weight memory
    LayerSettings(weight_bits=6, act_bits=8)      # widths the model leaves to the compiler

compile_model(layers=...), `qcompile --config`, compiler.estimate's overrides and the format
pass all read knobs through here: `LayerSettings.parse` (compile time) and `check_overrides`
(the estimator's fast per-call check, the same limits) give one message per mistake, naming
the layer and what is supported. `pruning` is a what-if of the estimate only.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .errors import CompileError

WIDTH_RANGE = (2, 32)            # weight_bits and act_bits
MEMORY_STYLES = ("auto", "bram", "lutram")
SHAPE_KNOBS = frozenset({"reuse_factor", "pe", "simd"})
MAC_KNOBS = frozenset({"reuse_factor", "pe", "simd", "memory", "weight_bits", "pruning"})
COMPILE_KNOBS = ("reuse_factor", "pe", "simd", "memory", "weight_bits", "act_bits")
KNOBS = COMPILE_KNOBS + ("pruning",)
KNOWN_SET = frozenset(KNOBS)


@dataclass(frozen=True)
class LayerSettings:
    reuse_factor: int | None = None   # MAC layers: cycles per item (SF * NF); 1 = fully parallel
    pe: int | None = None             # MAC layers: output lanes
    simd: int | None = None           # MAC layers: input lanes
    memory: str | None = None         # MAC layers: weight memory ("auto", "bram", "lutram")
    weight_bits: int | None = None    # weights the model leaves in float
    act_bits: int | None = None       # the layer's output, when the model leaves it in float

    @classmethod
    def parse(cls, name: str, knobs) -> "LayerSettings":
        """Compile-time settings of one layer from {knob: value} (the estimate's override format)."""
        if isinstance(knobs, LayerSettings):
            return knobs
        if not isinstance(knobs, dict):
            raise CompileError(f"layer {name!r}: settings must be a dict of {', '.join(COMPILE_KNOBS)}")
        for key, value in knobs.items():
            if key == "pruning":
                raise CompileError(f"layer {name!r}: pruning is a what-if of the estimate only; prune the model's "
                                   "weights instead (zero weights are skipped automatically)")
            if key not in COMPILE_KNOBS:
                raise CompileError(f"layer {name!r}: unknown setting {key!r} (supported: {', '.join(COMPILE_KNOBS)})")
            _check_value(name, key, value)
        if "reuse_factor" in knobs and knobs.keys() & {"pe", "simd"}:
            raise CompileError(f"layer {name!r}: give reuse_factor or pe/simd, not both")
        return cls(**knobs)

    def items(self) -> dict:
        """The knobs that are set, {knob: value} (the estimate's override format)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @property
    def shape_given(self) -> bool:
        return self.reuse_factor is not None or self.pe is not None or self.simd is not None


def _check_value(name: str, key: str, value) -> None:
    if isinstance(value, np.generic):
        raise CompileError(f"layer {name!r}: {key}={value!r} is a numpy {type(value).__name__}; pass a Python "
                           f"value ({key}={value.item()!r})")
    if key == "memory":
        if value not in MEMORY_STYLES:
            raise CompileError(f"layer {name!r}: memory={value!r} (supported: {', '.join(MEMORY_STYLES)})")
        return
    if key in ("weight_bits", "act_bits"):
        lo, hi = WIDTH_RANGE
        if type(value) is not int or not lo <= value <= hi:
            raise CompileError(f"layer {name!r}: {key}={value!r} (supported: integers {lo}..{hi})")
        return
    if type(value) is not int or value < 1:
        raise CompileError(f"layer {name!r}: {key}={value!r} (supported: a positive integer)")


def parse_layers(layers) -> dict[str, LayerSettings]:
    """{layer: {knob: value}} -> {layer: LayerSettings}, checked."""
    if layers is None:
        return {}
    if not isinstance(layers, dict):
        raise CompileError(f"layer settings must be a dict {{layer: {{knob: value}}}}, got {type(layers).__name__}")
    return {name: LayerSettings.parse(name, knobs) for name, knobs in layers.items()}


# ---- the estimator's checks (per call in search loops: the valid case first) ----------------

def check_overrides(name: str, op, ov: dict, choices, shapes) -> None:
    """Refuse what-if values that mean nothing for this layer, with the layer and the valid
    range (choices: the layer's reuse factors, shapes: its (PE, SIMD) pairs; None for a
    layer without weights)."""
    if type(ov) is not dict:
        raise CompileError(f"layer {name!r}: overrides must be a dict of {', '.join(KNOBS)}, got {ov!r}")
    lo, hi = WIDTH_RANGE
    for key, value in ov.items():
        kind = type(value)
        if key == "act_bits":
            if kind is int and lo <= value <= hi:
                continue
        elif choices is not None:
            if key == "reuse_factor":
                if kind is int and value in choices:
                    continue
            elif key == "weight_bits":
                if kind is int and lo <= value <= hi:
                    continue
            elif key == "pruning":
                if (kind is float or kind is int) and 0 <= value < 1:
                    continue
            elif key in ("pe", "simd"):
                if kind is int and value >= 1:
                    continue
            elif key == "memory":
                if value in MEMORY_STYLES:
                    continue
        _refuse(name, op, key, value, choices, shapes)
    if choices is not None and ("pe" in ov or "simd" in ov):
        if "reuse_factor" in ov:
            raise CompileError(f"layer {name!r}: give reuse_factor or pe/simd, not both")
        pe, simd = op.shape_of(ov)
        if (pe, simd) not in shapes:
            raise CompileError(f"layer {name!r}: pe={pe}, simd={simd} is not a shape of this layer "
                               f"({_shapes_text(op, shapes)})")


def _shapes_text(op, shapes) -> str:
    rows, cols = op.array_dims
    pes = sorted({p for p, _ in shapes})
    simds = sorted({s for _, s in shapes})
    return (f"PE divides {cols}: {', '.join(map(str, pes))}; SIMD: {', '.join(map(str, simds))}; "
            f"PE x SIMD within the unroll limit")


def _refuse(name: str, op, key: str, value, choices, shapes) -> None:
    if isinstance(value, np.generic) and key in KNOWN_SET:
        raise CompileError(f"layer {name!r}: {key}={value!r} is a numpy {type(value).__name__}; pass a Python "
                           f"number ({key}={value.item()!r})")
    if key not in KNOWN_SET:
        raise CompileError(f"layer {name!r}: unknown override {key!r} (supported: {', '.join(KNOBS)})")
    lo, hi = WIDTH_RANGE
    if key == "act_bits":
        raise CompileError(f"layer {name!r}: act_bits={value!r} (supported: integers {lo}..{hi})")
    if choices is None:
        raise CompileError(f"layer {name!r} ({op.kind}) has no {key} (only layers with weights do)")
    if key == "reuse_factor":
        raise CompileError(f"layer {name!r}: reuse_factor={value!r} (supported: {', '.join(map(str, sorted(choices)))})")
    if key == "weight_bits":
        raise CompileError(f"layer {name!r}: weight_bits={value!r} (supported: integers {lo}..{hi})")
    if key in ("pe", "simd"):
        raise CompileError(f"layer {name!r}: {key}={value!r} ({_shapes_text(op, shapes)})")
    if key == "memory":
        raise CompileError(f"layer {name!r}: memory={value!r} (supported: {', '.join(MEMORY_STYLES)})")
    raise CompileError(f"layer {name!r}: pruning={value!r} (supported: a fraction in [0, 1))")


def column_ok(knob: str, values: list, choices, shapes) -> bool:
    """check_overrides's rules for one knob's values across many configurations at once."""
    types = set(map(type, values))
    lo, hi = WIDTH_RANGE
    if knob == "pruning":
        return choices is not None and types <= {int, float} and 0 <= min(values) and max(values) < 1
    if knob == "memory":
        return choices is not None and set(values) <= set(MEMORY_STYLES)
    if types != {int}:
        return False
    if knob == "act_bits":
        return lo <= min(values) and max(values) <= hi
    if choices is None:
        return False
    if knob == "reuse_factor":
        return set(values) <= choices
    if knob in ("pe", "simd"):
        return min(values) >= 1
    return knob == "weight_bits" and lo <= min(values) and max(values) <= hi
