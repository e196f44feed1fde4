"""Clip-range calibration methods, checked against their definitions: brute-force searches,
a loop-by-loop TensorRT entropy calibration, and the empirical quantization MSE."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from compiler.calibrate import METHODS, Observation, clip_magnitude, per_channel_clips
from compiler.calibrate import aciq, kl, mse
from compiler.calibrate.observation import levels


def quantize(x: np.ndarray, clip: float, steps: int) -> np.ndarray:
    """The quantizer every method targets: step clip/steps, round to nearest, saturate at clip."""
    s = clip / steps
    return np.sign(x) * np.minimum(np.floor(np.abs(x) / s + 0.5), steps) * s


def real_mse(x: np.ndarray, clip: float, steps: int) -> float:
    return float(np.mean((x - quantize(x, clip, steps)) ** 2))


@pytest.fixture(scope="module")
def laplace() -> np.ndarray:
    return np.random.default_rng(7).laplace(0.0, 1.0, 1_000_000)


@pytest.fixture(scope="module")
def gaussian() -> np.ndarray:
    return np.random.default_rng(8).normal(0.0, 0.5, 1_000_000)


def test_levels():
    assert [levels(b, True) for b in (1, 2, 4, 8)] == [1, 2, 8, 128]
    assert [levels(b, False) for b in (1, 2, 4, 8)] == [2, 4, 16, 256]


def test_observation_rejects_negative_unsigned():
    with pytest.raises(ValueError, match="negative"):
        Observation.of(np.array([1.0, -0.5]), signed=False)


def test_unknown_method_names_the_supported_ones():
    obs = Observation.of(np.arange(5.0), signed=False)
    with pytest.raises(ValueError, match="minmax, percentile, mse, kl, aciq"):
        clip_magnitude(obs, "entropy", 8)
    with pytest.raises(ValueError, match="supported"):
        per_channel_clips(np.ones((2, 3)), 0, "nope", 8)


# ---------------------------------------------------------------- minmax, percentile

def test_minmax_is_max_abs(rng):
    x = rng.normal(size=1000) * 3
    assert clip_magnitude(Observation.of(x, True), "minmax", 8) == np.abs(x).max()
    r = np.maximum(x, 0)
    assert clip_magnitude(Observation.of(r, False), "minmax", 4) == r.max()


@pytest.mark.parametrize("p", [50.0, 90.0, 99.0, 99.9, 99.99])
def test_percentile_within_a_bin_of_numpy(rng, p):
    x = rng.laplace(size=100_000)
    obs = Observation.of(x, True)
    got = clip_magnitude(obs, "percentile", 8, percentile=p)
    assert abs(got - np.percentile(np.abs(x), p)) <= obs.bin_width
    assert clip_magnitude(obs, "percentile", 8, percentile=100.0) == pytest.approx(obs.max_abs, rel=1e-12)


# ---------------------------------------------------------------- MSE

def brute_mse_scalar(obs: Observation, steps: int) -> list[float]:
    """Every candidate clip k * width, every bin center, one at a time."""
    out = []
    for k in range(1, obs.bins + 1):
        c = k * obs.bin_width
        s = c / steps
        total = 0.0
        for j, h in enumerate(obs.counts):
            if h:
                x = (j + 0.5) * obs.bin_width
                q = min(math.floor(x / s + 0.5), steps) * s
                total += h * (x - q) ** 2
        out.append(total / obs.counts.sum())
    return out


def brute_mse_per_candidate(obs: Observation, steps: int) -> list[float]:
    centers = (np.arange(obs.bins) + 0.5) * obs.bin_width
    out = []
    for k in range(1, obs.bins + 1):
        err = centers - quantize(centers, k * obs.bin_width, steps)
        out.append(float(obs.counts @ err**2 / obs.counts.sum()))
    return out


@pytest.mark.parametrize("signed,bits", [(True, 4), (False, 3), (True, 8)])
def test_mse_matches_scalar_brute_force(rng, signed, bits):
    x = rng.laplace(size=20_000)
    obs = Observation.of(x if signed else np.maximum(x, 0), signed, bins=512)
    brute = brute_mse_scalar(obs, levels(bits, signed))
    np.testing.assert_allclose(mse.errors(obs, bits), brute, rtol=1e-10, atol=0)
    assert clip_magnitude(obs, "mse", bits) == (int(np.argmin(brute)) + 1) * obs.bin_width


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_mse_matches_brute_force_at_2048_bins(rng, bits):
    obs = Observation.of(rng.normal(size=200_000), True)
    brute = brute_mse_per_candidate(obs, levels(bits, True))
    np.testing.assert_allclose(mse.errors(obs, bits), brute, rtol=1e-10, atol=0)
    assert clip_magnitude(obs, "mse", bits) == (int(np.argmin(brute)) + 1) * obs.bin_width


def test_mse_clip_lowers_the_real_error_at_4_bits(laplace):
    x = laplace[:200_000]
    obs = Observation.of(x, True)
    c = clip_magnitude(obs, "mse", 4)
    assert c < obs.max_abs
    assert real_mse(x, c, 8) < 0.5 * real_mse(x, obs.max_abs, 8)


def test_mse_is_fast(laplace):
    obs = Observation.of(laplace, True)
    best = min(_timed(lambda: mse.clip(obs, 8)) for _ in range(3))
    assert best < 0.05


# ---------------------------------------------------------------- KL (TensorRT entropy calibration)

def brute_kl(hist: np.ndarray, steps: int) -> list[float]:
    """The GTC 2017 slides' loop, threshold by threshold and level by level."""
    hist = np.asarray(hist, dtype=np.float64)
    divergences = []
    for i in range(steps, len(hist) + 1):
        reference_p = hist[:i].copy()
        reference_p[i - 1] += hist[i:].sum()                      # outliers into the last kept bin
        # quantize [bin[0], ..., bin[i-1]] into `steps` levels, then expand back to i bins
        level_of_bin = np.digitize(np.arange(i), np.linspace(0, i, steps + 1)) - 1
        candidate_q = np.zeros(i)
        for level in range(steps):
            members = np.flatnonzero(level_of_bin == level)
            kept = members[reference_p[members] != 0]
            if kept.size:
                candidate_q[kept] = hist[members].sum() / kept.size
        p = reference_p / reference_p.sum()
        q = candidate_q / candidate_q.sum() if candidate_q.sum() else candidate_q
        total = 0.0
        for j in np.flatnonzero(p):
            total += p[j] * math.log(p[j] / (q[j] if q[j] > 0 else kl.EPS))
        divergences.append(total)
    return divergences


def _check_kl(obs: Observation, bits: int) -> None:
    steps = levels(bits, obs.signed)
    brute = brute_kl(obs.counts, steps)
    np.testing.assert_allclose(kl.divergences(obs, bits), brute, rtol=1e-9, atol=1e-12)
    assert clip_magnitude(obs, "kl", bits) == (steps + int(np.argmin(brute))) * obs.bin_width


def test_kl_matches_loop_at_2048_bins(rng):
    _check_kl(Observation.of(rng.laplace(size=100_000), True), 6)


def test_kl_matches_loop_at_8_bits(rng):
    _check_kl(Observation.of(rng.normal(size=50_000), True, bins=512), 8)
    _check_kl(Observation.of(np.maximum(rng.normal(size=50_000), 0), False, bins=512), 7)


def test_kl_matches_loop_on_sparse_histogram_with_gaps(rng):
    # few samples and a far outlier cluster: empty bins, empty groups, Q empty where P is not
    x = np.concatenate([rng.normal(size=150), [7.5, 7.6, 8.0]])
    obs, steps = Observation.of(x, True, bins=256), levels(4, True)
    h = obs.counts
    assert any(h[math.ceil((steps - 1) * i / steps):i].sum() == 0 and h[i:].sum() > 0
               for i in range(steps, obs.bins + 1))  # some threshold's last group is empty, P's last bin not
    _check_kl(obs, 4)


def test_kl_is_fast(laplace):
    obs = Observation.of(laplace, True)
    best = min(_timed(lambda: kl.clip(obs, 8)) for _ in range(3))
    assert best < 0.5


# ---------------------------------------------------------------- ACIQ

def empirical_mse(samples: np.ndarray, clips: np.ndarray, steps: int) -> np.ndarray:
    """Mean squared error of quantize(samples, c, steps) for every c, from sorted |samples| and
    prefix sums: cell k of step s holds |x| in [(k - 1/2) s, (k + 1/2) s) and maps it to k s;
    the top cell (k = steps) is open above, which is the saturation."""
    a = np.sort(np.abs(samples))
    s0 = np.arange(a.size + 1, dtype=np.float64)
    s1 = np.concatenate([[0.0], np.cumsum(a)])
    s2 = np.concatenate([[0.0], np.cumsum(a * a)])
    s = clips[:, None] / steps
    k = np.arange(steps + 1)
    edges = np.hstack([np.zeros_like(s), (k[:-1] + 0.5) * s, np.full_like(s, np.inf)])
    idx = np.searchsorted(a, edges)
    d0, d1, d2 = (np.diff(p[idx], axis=1) for p in (s0, s1, s2))
    v = k * s
    return (d2 - 2 * v * d1 + v * v * d0).sum(axis=1) / a.size


def empirical_best_clip(samples: np.ndarray, steps: int, scale: float) -> float:
    clips = np.arange(0.5, 14.0, 0.002) * scale
    curve = empirical_mse(samples, clips, steps)
    for c in clips[:: len(clips) // 3]:  # the prefix-sum curve is the real quantizer's error
        assert curve[np.searchsorted(clips, c)] == pytest.approx(real_mse(samples, c, steps), rel=1e-8)
    return float(clips[np.argmin(curve)])


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("dist", ["laplace", "gaussian"])
def test_aciq_clip_minimizes_empirical_mse(request, dist, bits):
    x = request.getfixturevalue(dist)
    obs = Observation.of(x, True)
    assert aciq.fit(obs).family == dist
    best = empirical_best_clip(x, levels(bits, True), scale=1.0 if dist == "laplace" else 0.5)
    assert clip_magnitude(obs, "aciq", bits) == pytest.approx(best, rel=0.02)


@pytest.mark.parametrize("bits", [2, 4])
@pytest.mark.parametrize("dist", ["laplace", "gaussian"])
def test_aciq_unsigned_half_fit_minimizes_empirical_mse(request, dist, bits):
    r = np.maximum(request.getfixturevalue(dist), 0.0)  # post-ReLU: half zeros, half a half-distribution
    obs = Observation.of(r, False)
    assert aciq.fit(obs).family == dist
    best = empirical_best_clip(r, levels(bits, False), scale=1.0 if dist == "laplace" else 0.5)
    assert clip_magnitude(obs, "aciq", bits) == pytest.approx(best, rel=0.02)


def _laplace_moments(b: float) -> Observation:
    """An exact Laplace(0, b), as moments; max|x| far out so the cap does not bind."""
    return Observation(counts=np.ones(16), bin_width=100 * b / 16, max_abs=100 * b, n=10**6, mean=0.0,
                       std=math.sqrt(2) * b, mad=b, mean_abs=b, n_zero=0, signed=True)


PAPER_LAPLACE = {2: 2.83, 3: 3.89, 4: 5.03}  # alpha / b, Banner et al. 2019, section 4.1


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_aciq_paper_values(monkeypatch, bits):
    # Mapping: the paper quantizes [-alpha, alpha] with 2^M levels, step 2 alpha / 2^M. Our signed
    # b-bit quantizer has step alpha / 2^(b-1), the same for M = b (2^b + 1 points, same spacing),
    # so its noise alpha^2 / (3 * 4^M) is our step^2 / 12. Our exact cell-by-cell MSE gives a
    # slightly larger optimum at low widths (the paper assumes a flat density inside a step).
    obs = _laplace_moments(2.0)
    assert aciq.fit(obs).family == "laplace"
    exact = clip_magnitude(obs, "aciq", bits) / 2.0
    assert exact == pytest.approx(PAPER_LAPLACE[bits], rel=0.03)
    assert exact >= PAPER_LAPLACE[bits] - 0.005
    monkeypatch.setattr(aciq, "_EXACT_LEVELS", 0)  # the paper's uniform-noise model
    assert clip_magnitude(obs, "aciq", bits) / 2.0 == pytest.approx(PAPER_LAPLACE[bits], abs=0.01)


def test_aciq_noise_models_agree_at_high_width(monkeypatch):
    obs = _laplace_moments(1.0)
    exact = clip_magnitude(obs, "aciq", 9)
    monkeypatch.setattr(aciq, "_EXACT_LEVELS", 0)
    assert clip_magnitude(obs, "aciq", 9) == pytest.approx(exact, rel=1e-3)


def test_aciq_accounts_for_a_mean_offset(rng):
    x = rng.normal(3.0, 1.0, 400_000)
    obs = Observation.of(x, True)
    best = empirical_best_clip(x, levels(4, True), scale=1.0)
    assert clip_magnitude(obs, "aciq", 4) == pytest.approx(best, rel=0.02)


# ---------------------------------------------------------------- all methods

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("signed", [True, False])
def test_all_zero_gives_zero(method, signed):
    for shape in [(1,), (100,), (4, 5)]:
        c = clip_magnitude(Observation.of(np.zeros(shape), signed), method, 8)
        assert c == 0.0 and type(c) is float


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bits", [2, 8])
def test_constant_tensor_keeps_its_value(method, bits):
    for x in (np.full(50, -2.5), np.array([0.75])):
        obs = Observation.of(x, True)
        c = clip_magnitude(obs, method, bits)
        assert abs(c - obs.max_abs) <= obs.bin_width and type(c) is float


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("signed", [True, False])
def test_scale_equivariance(rng, method, signed):
    x = rng.laplace(size=20_000)
    x = x if signed else np.maximum(x, 0)
    for k in (3.7, 1 / 64):
        base, scaled = Observation.of(x, signed), Observation.of(k * x, signed)
        assert type(clip_magnitude(base, method, 4)) is float
        assert abs(clip_magnitude(scaled, method, 4) - k * clip_magnitude(base, method, 4)) <= scaled.bin_width


@pytest.mark.parametrize("method", METHODS)
def test_per_channel_matches_per_channel_calls(rng, method):
    w = rng.normal(size=(6, 3, 3, 2)) * rng.uniform(0.1, 2.0, size=(6, 1, 1, 1))
    w[2] = 0.0
    for axis in (0, 3):
        got = per_channel_clips(w, axis, method, 4, percentile=99.0)
        want = [clip_magnitude(Observation.of(np.take(w, i, axis=axis), True), method, 4, percentile=99.0)
                for i in range(w.shape[axis])]
        assert got.shape == (w.shape[axis],)
        np.testing.assert_array_equal(got, want)
    assert per_channel_clips(w, 0, method, 4)[2] == 0.0


def _timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t
