"""The clip-range methods by name, for tensors and for weights channel by channel."""
from __future__ import annotations

import numpy as np

from . import aciq, kl, minmax, mse
from .observation import Observation
from .percentile import clip as percentile_clip

METHODS = ("minmax", "percentile", "mse", "kl", "aciq")

_CLIPS = {"minmax": minmax.clip, "mse": mse.clip, "kl": kl.clip, "aciq": aciq.clip}


def _check(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; supported: {', '.join(METHODS)}")


def clip_magnitude(obs: Observation, method: str, bits: int, percentile: float = 99.99) -> float:
    """The magnitude clip `method` picks for a `bits`-wide type (`percentile` is that method's)."""
    _check(method)
    if method == "percentile":
        return percentile_clip(obs, bits, percentile)
    return _CLIPS[method](obs, bits)


def per_channel_clips(values: np.ndarray, axis: int, method: str, bits: int, percentile: float = 99.99,
                      bins: int = 2048) -> np.ndarray:
    """One signed clip per index along `axis` (weights: one per output channel)."""
    _check(method)
    v = np.asarray(values, dtype=np.float64)
    channels = np.moveaxis(v, axis, 0).reshape(v.shape[axis], -1)
    return np.array([clip_magnitude(Observation.of(c, signed=True, bins=bins), method, bits, percentile)
                     for c in channels], dtype=np.float64)
