"""Compiled loops for the simulator's hottest steps, where numpy needs several passes over
memory for what is one loop (compiler/numerics/_jit_kernels.py): the per-channel affine
step that finishes a MAC layer or makes a requantizer or a PReLU (Affine below), the
depthwise convolution, the im2col gather, and the lookup-table Softmax. They run with numba
(the `[fast]` extra), inside the simulator's batch runs (batch_run), on arrays of at least
MIN_ELEMENTS; without numba, or with QCOMPILE_JIT=0 in the environment, the numpy paths run.

Each kernel computes the values of the numpy path it stands in for from the same exact
integer codes: the same float operations on integers that every float type holds exactly
(the callers prove the bounds before they ask), or the same int64 steps (Softmax). The
numpy paths stay the reference, and tests/test_sim_speed_paths.py checks both against int64
arithmetic.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from contextlib import contextmanager

import numpy as np

# rounding of the affine step: none (the values are integers already), floor, or IEEE
# round-half-to-even (AP_RND_CONV)
ROUND_NONE, ROUND_FLOOR, ROUND_RINT = 0, 1, 2
ROUNDING = {"AP_TRN": ROUND_FLOOR, "AP_RND_CONV": ROUND_RINT}
# ap_fixed rounding of a right shift of non-negative integers (the kernels' _shift_round):
# toward zero is down there, ties up or away are the same, as are ties down and to zero
SHIFT_ROUNDING = {"AP_TRN": 0, "AP_TRN_ZERO": 0, "AP_RND": 1, "AP_RND_INF": 1, "AP_RND_CONV": 2,
                  "AP_RND_ZERO": 3, "AP_RND_MIN_INF": 3}

# Below this many elements numpy's passes cost about as little as numba's call overhead.
MIN_ELEMENTS = 1 << 15

_installed = None   # numba found (looked up once)
_kernels = False    # not imported yet


def available() -> bool:
    """numba is installed and QCOMPILE_JIT is not 0 (numba itself is not imported)."""
    global _installed
    if os.environ.get("QCOMPILE_JIT", "1") == "0":
        return False
    if _installed is None:
        _installed = importlib.util.find_spec("numba") is not None
    return _installed


def kernels():
    """The compiled kernels (compiler/numerics/_jit_kernels.py), or None; imported on first use."""
    global _kernels
    if not available():
        return None
    if _kernels is False:
        try:
            from . import _jit_kernels
        except Exception:   # noqa: BLE001 - a numba that cannot work here (numpy, cache dir)
            _kernels = None
        else:
            _kernels = _jit_kernels
    return _kernels


_local = threading.local()   # .on: this thread runs a simulator batch (sim/interpreter.py)


@contextmanager
def batch_run():
    """The compiled loops for this thread's large arrays while in the block. The simulator's
    batch runs take them; the compiler's own uses of op simulators (a Softmax's measured
    error, the cost model's threshold tables) keep numpy, and numba unloaded."""
    prev = getattr(_local, "on", False)
    _local.on = True
    try:
        yield
    finally:
        _local.on = prev


def enable() -> None:
    """batch_run for the rest of this thread's life (the simulator's worker threads)."""
    _local.on = True


def worth(size: int) -> bool:
    """Whether an array of `size` elements goes through the compiled loops."""
    return size >= MIN_ELEMENTS and getattr(_local, "on", False) and kernels() is not None


class Affine:
    """out = clip(R((x + pre) * mult + offset) + add, lo, hi) - sub on the last axis's
    channels, one pass (R: none, floor or rint; the per-channel vectors or scalars
    broadcast as numpy would); mult_neg, if given, multiplies the negative x instead (a
    PReLU). `pre` lets a MAC layer's bias ride in front of a requantizer's multiply (x + pre
    is exact; (x + pre) * mult is not x * mult + pre * mult in general). Few channels are
    tiled to long rows, as the numpy requantizer does."""

    ROW = 512   # elements per tiled row

    def __init__(self, channels: int, mult=1.0, offset=0.0, add=0.0, sub=0.0,
                 rounding: int = ROUND_NONE, lo: float = -np.inf, hi: float = np.inf, mult_neg=None, pre=0.0):
        self.channels = c = max(int(channels), 1)
        self.k = max(1, self.ROW // c)
        self.rounding, self.lo, self.hi = int(rounding), float(lo), float(hi)
        vecs = [None if v is None else np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.float64), (c,)))
                for v in (pre, mult, mult_neg, offset, add, sub)]
        self.params = vecs
        self.tiled = [None if v is None else np.tile(v, self.k) for v in vecs]

    def per_channel(self):
        """(pre, mult, offset, add, sub, rounding, lo, hi) for the depthwise kernel's finish."""
        pre, mult, _, offset, add, sub = self.params
        return pre, mult, offset, add, sub, self.rounding, self.lo, self.hi

    def __call__(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """x and out: C-contiguous, the same shape, last axis the channels (out may be x)."""
        k, c = self.k, self.channels
        kern = kernels()
        x2, o2 = x.reshape(-1, c), out.reshape(-1, c)
        rows = len(x2)
        whole = rows // k * k
        steps = []
        if whole:
            steps.append((x2[:whole].reshape(-1, k * c), o2[:whole].reshape(-1, k * c), self.tiled))
        if whole < rows:
            steps.append((x2[whole:], o2[whole:], self.params))
        for xs, os_, params in steps:
            if xs.ctypes.data == os_.ctypes.data:   # in place (callers pass the same array or distinct ones)
                kern.affine_inplace(os_, *params, self.rounding, self.lo, self.hi)
            else:
                kern.affine(xs, os_, *params, self.rounding, self.lo, self.hi)
        return out
