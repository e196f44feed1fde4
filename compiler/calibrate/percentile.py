"""Percentile calibration: give up the rarest magnitudes for a finer step."""
from __future__ import annotations

import numpy as np

from .observation import Observation


def clip(obs: Observation, bits: int, percentile: float = 99.99) -> float:
    """The |x| below which `percentile`% of the observations lie, read off the histogram:
    the bin where the cumulative count reaches percentile/100 * n, interpolated linearly
    inside that bin (its counts taken as spread uniformly over it). Exact to one bin width;
    100 gives max|x|. `bits` is unused (the registry's common signature)."""
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    if obs.max_abs == 0.0:
        return 0.0
    cum = np.cumsum(obs.counts)
    target = percentile / 100.0 * cum[-1]
    k = int(np.searchsorted(cum, target, side="left"))
    below = cum[k - 1] if k else 0.0
    frac = (target - below) / obs.counts[k]
    return float((k + frac) * obs.bin_width)
