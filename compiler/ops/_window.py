"""Sliding-window geometry shared by Conv and Pool (no op of its own).

Both work on channels-last images (H, W, C); a 1-D tensor (W, C) is the 2-D case with
H = 1. The window walks the zero-padded image in raster order; `pads` follow ONNX:
(begin..., end...) per spatial axis. The numpy helpers here are vectorized over the batch
and give each kernel tap as a strided view, so no window matrix is ever materialized.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    in_h: int
    in_w: int
    channels: int
    kh: int
    kw: int
    sh: int = 1
    sw: int = 1
    dh: int = 1
    dw: int = 1
    pt: int = 0
    pb: int = 0
    pl: int = 0
    pr: int = 0

    @classmethod
    def of(cls, shape, kernel, strides, dilations, pads) -> "Window":
        """From an IR input shape (*spatial, C) and ONNX-style attributes (1 or 2 spatial axes)."""
        rank = len(kernel)
        if rank == 1:
            (w, c), (k,), (s,), (d,) = shape, kernel, strides, dilations
            return cls(1, w, c, 1, k, 1, s, 1, d, 0, 0, pads[0], pads[1])
        (h, w, c) = shape
        return cls(h, w, c, kernel[0], kernel[1], strides[0], strides[1], dilations[0], dilations[1],
                   pads[0], pads[2], pads[1], pads[3])

    @property
    def hp(self) -> int:
        return self.in_h + self.pt + self.pb

    @property
    def wp(self) -> int:
        return self.in_w + self.pl + self.pr

    @property
    def ekh(self) -> int:      # extent of the dilated kernel
        return (self.kh - 1) * self.dh + 1

    @property
    def ekw(self) -> int:
        return (self.kw - 1) * self.dw + 1

    @property
    def out_h(self) -> int:
        return (self.hp - self.ekh) // self.sh + 1

    @property
    def out_w(self) -> int:
        return (self.wp - self.ekw) // self.sw + 1

    @property
    def taps(self) -> int:
        return self.kh * self.kw

    @property
    def padded(self) -> bool:
        return bool(self.pt or self.pb or self.pl or self.pr)

    def out_shape(self, rank: int, channels: int) -> tuple[int, ...]:
        return (self.out_w, channels) if rank == 1 else (self.out_h, self.out_w, channels)

    def check(self) -> str | None:
        """Why this window cannot run, or None."""
        if min(self.kh, self.kw, self.sh, self.sw, self.dh, self.dw) < 1:
            return "kernel sizes, strides and dilations must be positive"
        if min(self.pt, self.pb, self.pl, self.pr) < 0:
            return "negative pads are not supported"
        if self.hp < self.ekh or self.wp < self.ekw:
            return f"the (dilated) kernel {self.ekh}x{self.ekw} is larger than the padded input {self.hp}x{self.wp}"
        return None

    # ---- numpy ------------------------------------------------------------------------
    def as_2d(self, x: np.ndarray) -> np.ndarray:
        """(N, *spatial, C) -> (N, H, W, C)."""
        return x.reshape(x.shape[0], self.in_h, self.in_w, x.shape[-1])

    def pad(self, x: np.ndarray, value=0.0) -> np.ndarray:
        x = self.as_2d(x)
        if not self.padded:
            return x
        return np.pad(x, ((0, 0), (self.pt, self.pb), (self.pl, self.pr), (0, 0)), constant_values=value)

    def patches(self, xp: np.ndarray) -> np.ndarray:
        """The im2col array (N, Ho, Wo, taps, C) of a padded batch, taps row-major (one
        gather; much faster than stacking the tap views when C is small)."""
        from numpy.lib.stride_tricks import sliding_window_view

        v = sliding_window_view(xp, (self.ekh, self.ekw), axis=(1, 2))    # (N, H', W', C, ekh, ekw)
        v = v[:, ::self.sh, ::self.sw, :, ::self.dh, ::self.dw][:, :self.out_h, :self.out_w]
        return np.ascontiguousarray(v.transpose(0, 1, 2, 4, 5, 3))    # (N, Ho, Wo, kh, kw, C)

    def tap_views(self, xp: np.ndarray):
        """For a padded batch (N, Hp, Wp, C): (tap index, (N, Ho, Wo, C) view) per kernel tap,
        taps in row-major kernel order."""
        ho, wo = self.out_h, self.out_w
        for i in range(self.kh):
            r0 = i * self.dh
            for j in range(self.kw):
                c0 = j * self.dw
                yield i * self.kw + j, xp[:, r0:r0 + (ho - 1) * self.sh + 1:self.sh,
                                          c0:c0 + (wo - 1) * self.sw + 1:self.sw, :]

    def valid_counts(self) -> np.ndarray:
        """(Ho, Wo): how many taps of each window fall inside the unpadded image."""
        def axis(n_out, s, d, k, p, n_in):
            pos = np.arange(n_out)[:, None] * s + np.arange(k)[None, :] * d - p
            return ((pos >= 0) & (pos < n_in)).sum(axis=1)
        rows = axis(self.out_h, self.sh, self.dh, self.kh, self.pt, self.in_h)
        cols = axis(self.out_w, self.sw, self.dw, self.kw, self.pl, self.in_w)
        return rows[:, None] * cols[None, :]

    def items_needed(self) -> np.ndarray:
        """For each output item (raster order): how many input items the streaming window has
        read when it emits it (it emits when the window's last cell is reached)."""
        rb = np.arange(self.out_h) * self.sh + self.ekh - 1        # padded row of the last cell
        cb = np.arange(self.out_w) * self.sw + self.ekw - 1
        full_rows = np.clip(rb - self.pt, 0, self.in_h)             # real rows before row rb
        in_row = (rb >= self.pt) & (rb < self.pt + self.in_h)
        cols = np.clip(cb - self.pl + 1, 0, self.in_w)              # real pixels of row rb so far
        need = full_rows[:, None] * self.in_w + in_row[:, None] * cols[None, :]
        return np.maximum(need, 1).ravel()


def batch_chunks(n: int, per_sample: int, budget: int = 1 << 23):
    """Slices of the batch whose working set stays near `budget` elements."""
    step = max(1, budget // max(per_sample, 1))
    for i in range(0, n, step):
        yield slice(i, min(n, i + step))


def ceil_log2(n: int) -> int:
    return max(int(math.ceil(math.log2(max(n, 1)))), 0)
