"""ACIQ (Banner, Nahshan, Soudry, "Post training 4-bit quantization of convolutional networks
for rapid-deployment", NeurIPS 2019): fit a Laplace or a Gaussian to the tensor and take the
clip that minimizes the fitted distribution's expected quantization MSE.

Our quantizer (observation.levels): magnitude clip alpha, step alpha / L, round to nearest,
saturate at +-alpha. A signed b-bit type has L = 2^(b-1), so its step 2 alpha / 2^b is the
paper's step for M = b bits over [-alpha, alpha] (our grid has 2^b + 1 points, the paper's
2^M, with the same spacing); the paper's noise alpha^2 / (3 * 4^M) is our step^2 / 12.

The expected MSE is computed exactly for our quantizer, not with the paper's uniform-noise
approximation: the sum over the 2L + 1 rounding cells of the closed-form integral of
(x - cell value)^2 against the fitted density (the outer cells extend to +-infinity, which is
the clipping noise). The approximation assumes a flat density inside each step; at 2 bits
it puts the Laplace optimum at 2.83 b where the true one is 2.90 b. Beyond _EXACT_LEVELS
steps the cells are too many and the approximation is exact to many digits anyway, so there
the MSE is the exact clipping noise plus the paper's step^2 / 12.

Signed tensors: both fits are centered on the mean (Laplace b = mean absolute deviation,
Gaussian sigma = std) and the MSE is that of the quantizer symmetric around 0 applied to the
shifted distribution, so a mean offset is accounted for exactly rather than added to alpha.
Unsigned (post-ReLU) tensors: the positive values are fitted by the half distributions
(exponential b = their mean, half-normal sigma = their root mean square, the MLEs); exact
zeros are left out since they quantize exactly. Quantizing |Y| with L steps over [0, alpha]
errs exactly as the symmetric quantizer errs on Y, so the same expression applies with loc 0.

The clip is found by a grid over (0, a generous bound] refined by golden-section search,
numpy and math.erfc only, and capped at max|x|: a clip beyond every observed value only
coarsens the step for those values."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .observation import Observation, levels

_EXACT_LEVELS = 256  # up to this many steps the MSE sums the rounding cells exactly
_ZMAX = 1e3          # standardized |z| beyond which no density is left (keeps inf out of the products)
_GRID = 128
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_erfc = np.frompyfunc(math.erfc, 1, 1)


class Fit(NamedTuple):
    """A fitted location-scale distribution: family "laplace" (scale b) or "gaussian" (sigma)."""

    family: str
    loc: float
    scale: float
    loglik: float


def fits(obs: Observation) -> tuple[Fit, Fit]:
    """The Laplace and the Gaussian fit, each with its maximized log-likelihood."""
    if obs.signed:
        n, b, sigma, loc = obs.n, obs.mad, obs.std, obs.mean
        lap = -n * (math.log(2.0 * b) + 1.0)
        gau = -n / 2.0 * (math.log(2.0 * math.pi * sigma**2) + 1.0)
    else:
        n, loc = obs.n - obs.n_zero, 0.0
        b = obs.mean * obs.n / n
        sigma = math.sqrt((obs.std**2 + obs.mean**2) * obs.n / n)
        lap = -n * (math.log(b) + 1.0)
        gau = -n / 2.0 * (math.log(math.pi * sigma**2 / 2.0) + 1.0)
    return Fit("laplace", loc, b, lap), Fit("gaussian", loc, sigma, gau)


def fit(obs: Observation) -> Fit:
    """The fit with the higher log-likelihood."""
    return max(fits(obs), key=lambda f: f.loglik)


def _lower_moments(family: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrals of t^0, t^1, t^2 against the standard density (loc 0, scale 1) up to z."""
    z = np.clip(z, -_ZMAX, _ZMAX)
    if family == "laplace":
        e = 0.5 * np.exp(-np.abs(z))
        neg = z <= 0
        m0 = np.where(neg, e, 1.0 - e)
        m1 = np.where(neg, e * (z - 1.0), -e * (z + 1.0))
        m2 = np.where(neg, e * (z * z - 2.0 * z + 2.0), 2.0 - e * (z * z + 2.0 * z + 2.0))
        return m0, m1, m2
    m0 = 0.5 * _erfc(-z / math.sqrt(2.0)).astype(np.float64)
    phi = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return m0, -phi, m0 - z * phi


def expected_mse(f: Fit, clips: np.ndarray, steps: int) -> np.ndarray:
    """Expected squared error of the quantizer with `steps` positive steps at each clip."""
    alpha = np.asarray(clips, dtype=np.float64)[:, None]
    inf = np.full_like(alpha, np.inf)
    if steps <= _EXACT_LEVELS:
        k = np.arange(-steps, steps + 1)
        value = alpha * (k / steps)
        mid = alpha * ((k[:-1] + 0.5) / steps)
        lo, hi = np.hstack([-inf, mid]), np.hstack([mid, inf])
        noise = 0.0
    else:
        value, lo, hi = np.hstack([-alpha, alpha]), np.hstack([-inf, alpha]), np.hstack([-alpha, inf])
        noise = (alpha[:, 0] / steps) ** 2 / 12.0
    w = (value - f.loc) / f.scale
    upper, lower = _lower_moments(f.family, (hi - f.loc) / f.scale), _lower_moments(f.family, (lo - f.loc) / f.scale)
    cells = (upper[2] - lower[2]) - 2.0 * w * (upper[1] - lower[1]) + w * w * (upper[0] - lower[0])
    return f.scale**2 * cells.sum(axis=1) + noise


def _minimize(f: Fit, steps: int) -> float:
    """Grid over (0, bound], then golden-section search between the best point's neighbours.
    The bound exceeds the Laplace optimum, about 2 b ln(2 L), at every width."""
    bound = abs(f.loc) + f.scale * (4.0 + 3.0 * math.log(2.0 * steps))
    grid = np.linspace(bound / _GRID, bound, _GRID)
    k = int(np.argmin(expected_mse(f, grid, steps)))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, _GRID - 1)]
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = expected_mse(f, np.array([c, d]), steps)
    while b - a > 1e-9 * bound:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = expected_mse(f, np.array([c]), steps)[0]
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = expected_mse(f, np.array([d]), steps)[0]
    return (a + b) / 2.0


def clip(obs: Observation, bits: int) -> float:
    """The better fit's MSE-optimal clip, at most max|x|; a constant tensor's is its value."""
    if obs.max_abs == 0.0:
        return 0.0
    if obs.signed and (obs.mad == 0.0 or obs.std == 0.0):
        return obs.max_abs
    return min(float(_minimize(fit(obs), levels(bits, obs.signed))), obs.max_abs)
