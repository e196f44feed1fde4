"""Entropy calibration as in TensorRT (Migacz, "8-bit Inference with TensorRT", GTC 2017):
the clip whose quantized histogram loses the least information, KL(P || Q)."""
from __future__ import annotations

import numpy as np

from .observation import Observation, levels

EPS = 1e-4  # probability given to a Q bin that is empty where P is not (MXNet/TVM's TensorRT port smooth by 1e-4)


def _xlogx(x: np.ndarray) -> np.ndarray:
    return x * np.log(np.where(x > 0, x, 1.0))


def divergences(obs: Observation, bits: int) -> np.ndarray:
    """KL(P || Q) for each threshold bin i = levels..bins, as in the GTC slides' loop:

    P is hist[:i] with the mass of bins >= i added to bin i-1; Q is hist[:i] (the slides'
    "quantize [bin[0], ..., bin[i-1]]", so without that outlier mass) merged into `levels`
    groups split as np.linspace(0, i, levels + 1) does (group g = bins ceil(g*i/levels) up to
    ceil((g+1)*i/levels)), each group's mass spread uniformly over its bins where P is
    nonzero. Both are normalized; bins with P == 0 add nothing, and a Q bin left empty where P
    is not (hist[i-1] == 0 with outliers above, and its whole group empty) gets probability
    EPS instead of an infinite divergence.

    Since Q is constant over a group, sum_j p_j log q_j is a sum over groups, so every
    threshold is evaluated from prefix sums in one (thresholds x levels) array."""
    L = levels(bits, obs.signed)
    h = obs.counts
    i = np.arange(L, obs.bins + 1)
    csum = np.concatenate(([0.0], np.cumsum(h)))
    nz = np.concatenate(([0], np.cumsum(h > 0)))
    plogp = np.concatenate(([0.0], np.cumsum(_xlogx(h))))
    n = csum[-1]
    outliers = n - csum[i]
    p_last = h[i - 1] + outliers
    g = np.arange(L + 1)
    edges = -((-np.outer(i, g)) // L)
    mass = np.diff(csum[edges], axis=1)
    support = np.diff(nz[edges], axis=1)
    support[:, -1] += (h[i - 1] == 0) & (outliers > 0)
    p_mass = mass.copy()
    p_mass[:, -1] += outliers
    with np.errstate(divide="ignore", invalid="ignore"):
        q = mass / (support * csum[i][:, None])
    log_q = np.log(np.where(mass > 0, q, EPS))
    cross = np.where(p_mass > 0, p_mass * log_q, 0.0).sum(axis=1)
    entropy_term = (plogp[i - 1] + _xlogx(p_last)) / n - np.log(n)
    return entropy_term - cross / n


def clip(obs: Observation, bits: int) -> float:
    """i_best * bin_width: the threshold at the upper edge of bin i-1, the last bin P keeps
    (pytorch-quantization's amax = bin_edges[i]; the slides' (i + 0.5) * width names the
    center of bin i instead). Fewer bins than levels: no threshold loses information, max|x|.
    The smallest threshold on a tie."""
    if obs.max_abs == 0.0:
        return 0.0
    L = levels(bits, obs.signed)
    if L >= obs.bins:
        return obs.max_abs
    return float((L + int(np.argmin(divergences(obs, bits)))) * obs.bin_width)
