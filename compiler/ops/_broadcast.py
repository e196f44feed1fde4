"""Broadcasting in a stream (registers no op): how a stage reads an operand, or a constant,
whose IR shape has size-1 axes against the tensor it streams.

The streamed tensor X has IR shape (*S, C) and arrives item by item (an item: one position
of S, its C channels as `groups` beats of `fold` lanes). The other operand B has the same
rank with some axes of size 1 (ONNX broadcasting, brought to X's layout by the converter):
    - along the channels: B has C channels (its beats match X's), or 1 (one value per item,
      used by every lane and beat of X's item);
    - along S: B's item for X's item at coordinates s is at coordinates s with every axis
      where B has size 1 set to 0.
B is read once, in its own order: an item is read when X first needs it ("fresh": every
broadcast coordinate is 0, so first uses come in B's raster order) and kept in a reuse
buffer for the later uses. The buffer holds one item when B's broadcast axes are all
trailing (e.g. (H, 1, C) against (H, W, C), or (1, 1, C): one item per sample), else the
part of B spanned from the first broadcast axis that is revisited (e.g. (1, W, C) against
(H, W, C): W items).

In C++ (templates/kernels/qc_binary.h, qc::Positions) a counter per spatial axis (at most
MAX_AXES) and the beat counter g give the fresh flag and the buffer word
sum(i_a * stride_a) * b_groups + g without division. A constant that varies along the
positions (a per-position scale/shift/slope) is the same walk over a ROM holding all of
B (strides: B's own raster strides).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_AXES = 4   # spatial IR axes the position counters cover


@dataclass(frozen=True)
class Geometry:
    spatial: tuple[int, ...]       # X's spatial IR dims (without the channels)
    channels: int
    b_shape: tuple[int, ...]       # B's IR shape (same rank)
    bcast: tuple[bool, ...]        # per spatial axis: B has size 1 there while X does not
    b_strides: tuple[int, ...]     # B's item stride per spatial axis (0 where broadcast)

    @property
    def items(self) -> int:
        return math.prod(self.spatial)

    @property
    def b_items(self) -> int:
        return math.prod(self.b_shape[:-1]) if len(self.b_shape) > 1 else 1

    @property
    def b_lanes(self) -> bool:
        """B has X's channels (else one value per item)."""
        return self.b_shape[-1] == self.channels

    @property
    def broadcasts(self) -> bool:
        return any(self.bcast) or not self.b_lanes

    @property
    def revisit_axis(self) -> int:
        """The first broadcast axis with a non-broadcast axis of B after it (B's items are
        needed again after that axis wraps), or len(spatial) when B is only read ahead."""
        for a, bc in enumerate(self.bcast):
            if bc and any(self.b_shape[j] > 1 for j in range(a + 1, len(self.spatial))):
                return a
        return len(self.spatial)

    @property
    def buf_strides(self) -> tuple[int, ...]:
        """Strides into the reuse buffer: B's strides from the revisit axis on, 0 before."""
        r = self.revisit_axis
        return tuple(s if a >= r else 0 for a, s in enumerate(self.b_strides))

    @property
    def buf_items(self) -> int:
        r = self.revisit_axis
        return math.prod(self.b_shape[r:len(self.spatial)]) if r < len(self.spatial) else 1

    def b_index(self) -> np.ndarray:
        """B's item index for each of X's items (raster order)."""
        if not self.spatial:
            return np.zeros(1, dtype=np.int64)
        coords = np.indices(self.spatial, dtype=np.int64).reshape(len(self.spatial), -1)
        return np.asarray(self.b_strides, dtype=np.int64) @ coords

    def b_items_needed(self) -> np.ndarray:
        """For each of X's items (1-based count), how many items of B have been read."""
        return np.maximum.accumulate(self.b_index()) + 1


def geometry(x_shape, b_shape) -> Geometry:
    """The walk of B's IR shape against X's; ValueError when B does not broadcast to X."""
    x_shape, b_shape = tuple(int(d) for d in x_shape), tuple(int(d) for d in b_shape)
    if len(b_shape) != len(x_shape) or any(b not in (1, x) for b, x in zip(b_shape, x_shape)):
        raise ValueError(f"shape {b_shape} does not broadcast to {x_shape}")
    spatial = x_shape[:-1]
    if len(spatial) > MAX_AXES:
        raise ValueError(f"broadcasting over {len(spatial)} spatial axes (supported: up to {MAX_AXES})")
    bsp = b_shape[:-1]
    strides, acc = [0] * len(bsp), 1
    for a in range(len(bsp) - 1, -1, -1):
        strides[a] = acc if bsp[a] > 1 else 0
        acc *= bsp[a]
    bcast = tuple(b == 1 and x > 1 for b, x in zip(bsp, spatial))
    return Geometry(spatial, x_shape[-1], b_shape, bcast, tuple(strides))


def positions_context(geom: Geometry, fold: int, rom: bool = False) -> dict:
    """Template variables of the position walk (templates/layers/_broadcast.j2): the spatial
    dims padded in front to MAX_AXES, the broadcast flags, the strides of the buffer (rom:
    of B's whole ROM), B's lanes and beats per item."""
    pad = MAX_AXES - len(geom.spatial)
    strides = geom.b_strides if rom else geom.buf_strides
    b_fold = fold if geom.b_lanes else 1
    b_groups = geom.channels // fold if geom.b_lanes else 1
    words = (geom.b_items if rom else geom.buf_items) * b_groups
    return {"dims": [1] * pad + list(geom.spatial), "bcast": [False] * pad + list(geom.bcast),
            "strides": [0] * pad + list(strides), "b_fold": b_fold, "b_groups": b_groups, "b_words": words,
            "b_lanes": geom.b_lanes}


def position_table(values: np.ndarray, geom: Geometry, fold: int) -> np.ndarray:
    """A constant of B's shape as ROM words in the walk's order: word = item * b_groups + g,
    each of b_fold values (flattened)."""
    v = np.broadcast_to(np.asarray(values), geom.b_shape)
    return np.ascontiguousarray(v).reshape(-1)   # B's raster order is exactly that order


def varies_by_position(values) -> bool:
    """A constant (IR-shaped, per sample) that differs along a spatial axis."""
    v = np.asarray(values)
    return v.ndim >= 2 and any(d > 1 for d in v.shape[:-1])
