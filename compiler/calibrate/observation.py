"""What the clip-range methods see of a tensor: a magnitude histogram plus the moments ACIQ fits.

Every method picks a magnitude clip c for the dynamic-fixed-point quantizer with
`levels(bits, signed)` positive steps: step c / levels, round to nearest, saturate at c
(symmetric around 0 for signed tensors)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def levels(bits: int, signed: bool) -> int:
    """Positive quantization steps of a `bits`-wide type: the sign bit halves them."""
    if bits < 1:
        raise ValueError(f"bits must be >= 1, got {bits}")
    return 2 ** (bits - 1) if signed else 2 ** bits


@dataclass(frozen=True)
class Observation:
    """Histogram of |x| over [0, max_abs] in equal bins, and moments of the signed values."""

    counts: np.ndarray  # float64, one per bin; bin k covers [k, k+1) * bin_width (last one closed)
    bin_width: float
    max_abs: float
    n: int
    mean: float
    std: float
    mad: float          # mean absolute deviation from the mean (the Laplace scale ACIQ fits)
    mean_abs: float
    n_zero: int         # exact zeros: an unsigned (post-ReLU) fit leaves them out, they quantize exactly
    signed: bool

    @classmethod
    def of(cls, values: np.ndarray, signed: bool, bins: int = 2048) -> Observation:
        """Summarize `values`; an unsigned tensor must have no negative values."""
        x = np.asarray(values, dtype=np.float64).ravel()
        if x.size == 0:
            raise ValueError("cannot calibrate an empty tensor")
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        if not np.all(np.isfinite(x)):
            raise ValueError("calibration values must be finite")
        if not signed and x.min() < 0:
            raise ValueError("an unsigned tensor has negative values")
        a = np.abs(x)
        max_abs = float(a.max())
        if max_abs == 0.0:
            counts = np.zeros(bins)
            counts[0] = x.size
        else:
            counts = np.histogram(a, bins=bins, range=(0.0, max_abs))[0].astype(np.float64)
        mean = float(x.mean())
        return cls(counts=counts, bin_width=max_abs / bins, max_abs=max_abs, n=int(x.size), mean=mean,
                   std=float(x.std()), mad=float(np.abs(x - mean).mean()), mean_abs=float(a.mean()),
                   n_zero=int(np.count_nonzero(x == 0.0)), signed=signed)

    @property
    def bins(self) -> int:
        return len(self.counts)
