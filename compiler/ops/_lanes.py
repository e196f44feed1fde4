"""Per-channel stages and the stream conventions they share (registers no op).

A per-channel op (Quant, ReLU, Affine, the activations, Add) reads its input at the width
the stream arrives at and writes the same width: `fold` lanes per beat. Beat b of an item
holds channels g*fold .. g*fold + fold - 1 with g = b mod groups (groups = channels /
fold), so one pass over a beat is one pipelined cycle and an item takes `groups` cycles.
Per-channel parameters (multipliers, thresholds, slopes) are stored one beat's worth per
memory word: `groups` words, read with the beat (HlsContext.lane_constant); with a single
group they are constants in the logic, as in a fully parallel design.

The cost helper here is the shape every per-channel kernel's formula shares: per-lane
logic times the lanes, the parameter memories, the output stream, one beat per cycle.
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from ..cost.hardware import memory, stream_cycles, stream_io
from ..cost.model import LayerCost
from .base import Op, channels_of


class LaneOp(Op):
    """An op applied channel by channel: it runs at the width its first input arrives at
    (reduced to a divisor of every channel count it touches)."""

    # per-channel parameters: arrays of `channels` rows ((C,) or (C, N)), or one row/a scalar for all
    channel_params: ClassVar[tuple[str, ...]] = ()

    def select_channels(self, keep, channels):
        """Rows `keep` of each per-channel parameter (channel_params) stay. Any other array
        (per position, a table), a second input (Add) or a parameter of another length stops
        pruning rather than risk a wrong slice."""
        if self.n_inputs != 1:
            return None
        changes = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, np.ndarray) or value.ndim == 0 or (value.ndim == 1 and value.shape[0] == 1):
                continue
            if f.name not in self.channel_params or value.ndim > 2 or value.shape[0] != channels:
                return None
            changes[f.name] = value[keep]
        return dataclasses.replace(self, **changes)

    def stream_folds(self, in_shapes, out_shapes, arriving):
        chans = [channels_of(s) for s in list(in_shapes) + list(out_shapes)]
        k = math.gcd(arriving[0] or chans[0], *chans)
        return [k] * len(in_shapes), [k] * len(out_shapes)


def lane_context(ctx) -> dict:
    """Template variables every per-channel kernel takes: items, channels, fold, groups."""
    x = ctx.inputs[0]
    fold = ctx.fold
    return {"items": x.items, "channels": x.channels, "fold": fold, "groups": x.channels // fold}


def param_memory(ctx, bits_per_channel: int) -> tuple[float, float]:
    """(BRAM_18K, LUT) of a per-channel parameter stored one beat per word (none when one
    beat holds every channel: the parameters are constants in the logic)."""
    x = ctx.inputs[0]
    groups = x.channels // ctx.fold
    if groups == 1 or bits_per_channel <= 0:
        return 0.0, 0.0
    bram, lut, _ = memory(ctx.target, ctx.fold * bits_per_channel, groups)
    return bram, lut


def lane_cost(ctx, *, style: str, lut_per_lane: float, ff_per_lane: float = 0.0, dsp_per_lane: float = 0.0,
              depth: int = 0, param_bits: int = 0, bram_18k: float = 0.0, extra_lut: float = 0.0,
              detail: dict | None = None) -> LayerCost:
    """Cost of a per-channel stage: `fold` lanes of the given logic, its parameter memory
    (param_bits per channel), the output stream; one beat per cycle, `depth` pipeline
    stages plus the stream handshakes."""
    target, c = ctx.target, ctx.target.coeff
    x, y = ctx.inputs[0], ctx.outputs[0]
    lanes = ctx.fold
    beats = x.size // lanes
    p_bram, p_lut = param_memory(ctx, param_bits)
    s_lut, s_ff = stream_io(target, lanes * y.type.width)
    d = depth + stream_cycles(target)
    return LayerCost(style=style, ii=beats, latency=max(beats - 1 + d, 1), first_out=max(d, 1),
                     dsp=lanes * dsp_per_lane,
                     lut=lanes * lut_per_lane + p_lut + extra_lut + c["lut_fixed"] + s_lut,
                     ff=lanes * ff_per_lane + c["ff_fixed"] + s_ff, bram_18k=bram_18k + p_bram,
                     detail={"lanes": lanes, **(detail or {})})
