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

from ..cost.model import FIELDS, RESOURCES, LayerCost


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

    def pad(self, x: np.ndarray, value=0.0, dtype=None) -> np.ndarray:
        """x (N, *spatial, C) as (N, Hp, Wp, C) in `dtype` (default: x's), padded with
        `value`; one pass: the cast rides on the copy into the padded array."""
        x = self.as_2d(x)
        dtype = x.dtype if dtype is None else dtype
        if not self.padded:
            return x.astype(dtype, copy=False)
        xp = np.full((x.shape[0], self.hp, self.wp, x.shape[-1]), value, dtype=dtype)
        xp[:, self.pt:self.pt + self.in_h, self.pl:self.pl + self.in_w] = x
        return xp

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


# ---- the sliding-window generators (templates/kernels/qc_window.h) ---------------------------
#
# "sliced" (qc::swg, FINN's ConvolutionInputGenerator): the image arrives in beats of k
# channels (G = C / k beats per pixel) and is kept in a ring of NB = min(EKH + sh, H) rows
# of real pixels (padding is generated, never stored). Once the rows of output row oh are
# complete, its windows leave as k-wide slices, taps x G beats per window, in tap-major
# order (tap, group: a convolution's weight rows) or channel-major order (group, tap:
# depthwise convolutions and pooling); meanwhile the next rows are read into the ring slots
# no window of row oh uses, so reading and emitting overlap and the buffer is written and
# read at different rows. One beat in and one beat out per cycle at most.
# "window" (qc::sliding_window): whole pixels, one position per cycle; a register window of
# EKH x EKW pixels and EKH - 1 line buffers; each window leaves as one beat (all taps).

def ring_rows(win: Window) -> int:
    return max(min(win.ekh + win.sh, win.in_h), 1)


def band_rows(win: Window, oh: int) -> int:
    """Real rows that must be complete before the windows of output row oh leave."""
    return int(min(max(oh * win.sh + win.ekh - win.pt, 0), win.in_h))


def swg_cycles(win: Window, groups: int) -> int:
    """Cycles the sliced generator takes per image (qc::swg runs exactly this many): the
    first rows, then per output row max(its emission, reading the next rows)."""
    row_words = win.in_w * groups
    emit = win.out_w * win.taps * groups
    read = band_rows(win, 0) * row_words
    total = read
    for oh in range(win.out_h):
        nxt = (band_rows(win, oh + 1) if oh + 1 < win.out_h else win.in_h) * row_words
        total += max(emit, nxt - read)
        read = nxt
    return total


def swg_needed(win: Window) -> np.ndarray:
    """For each window (raster order): input pixels the sliced generator has read when it
    emits it (whole rows: it waits for its output row's rows)."""
    rows = np.array([band_rows(win, oh) for oh in range(win.out_h)])
    return np.maximum(np.repeat(rows * win.in_w, win.out_w), 1)


def swg_cost(target, win: Window, fold: int, x_bits: int, channel_major: bool, style: str = "auto"):
    """The sliced generator: its ring of rows (k * x_bits wide words), the output register,
    counters and address logic; cycles from swg_cycles."""
    from ..cost.hardware import clog2, k as coeff, memory, stream_cycles, stream_io
    c = target.coeff
    groups = win.channels // fold
    words = ring_rows(win) * win.in_w * groups
    bram, lut, uram = memory(target, fold * x_bits, words, style=style, ports=1)
    counters = clog2(win.out_w) + clog2(win.in_w) + 2 * clog2(win.in_h) + 2 * clog2(win.taps * groups + 1)
    lut += coeff(target, "lut_per_swg_counter_bit", 3.0) * counters + fold * x_bits * coeff(target, "lut_per_mux_bit", 0.3)
    ff = fold * x_bits + 2 * counters
    s_lut, s_ff = stream_io(target, fold * x_bits)
    ii = swg_cycles(win, groups)
    depth = 2 + stream_cycles(target)
    first = band_rows(win, 0) * win.in_w * groups + depth
    return LayerCost(style="swg_sliced", ii=ii, latency=ii + depth, first_out=first, lut=lut + s_lut + c["lut_fixed"],
                     ff=ff + s_ff + c["ff_fixed"], bram_18k=bram, uram=uram,
                     detail={"ring_rows": ring_rows(win), "buffer_words": words, "fold": fold,
                             "order": "channel-major" if channel_major else "tap-major"})


def window_registers_cost(target, win: Window, x_bits: int):
    """The whole-window generator: (EKH - 1) line buffers of WP pixels, EKH x EKW pixels of
    window registers; one padded position per cycle."""
    from ..cost.hardware import clog2, memory, stream_cycles, stream_io
    c = target.coeff
    rows = win.ekh - 1
    bram, lut, uram = memory(target, x_bits * win.channels, win.wp, banks=rows, ports=1) if rows > 0 else (0.0, 0.0, 0.0)
    ff = win.ekh * win.ekw * win.channels * x_bits + 2 * clog2(win.hp * win.wp)
    s_lut, s_ff = stream_io(target, win.taps * win.channels * x_bits)
    ii = win.hp * win.wp
    depth = 1 + stream_cycles(target)
    first = max(1, (win.ekh - 1) * win.wp + win.ekw - (win.pt * win.wp + win.pl)) + depth
    return LayerCost(style="swg_window", ii=ii, latency=ii + depth, first_out=first,
                     lut=lut + 30 + s_lut + c["lut_fixed"], ff=ff + s_ff + c["ff_fixed"], bram_18k=bram, uram=uram,
                     detail={"line_buffer_rows": rows, "window_registers": win.ekh * win.ekw * win.channels})


def window_context(win: Window) -> dict:
    """Template variables of both window generators (qc_window.h)."""
    return {"in_h": win.in_h, "in_w": win.in_w, "channels": win.channels, "kh": win.kh, "kw": win.kw,
            "sh": win.sh, "sw": win.sw, "dh": win.dh, "dw": win.dw, "pt": win.pt, "pl": win.pl,
            "hp": win.hp, "wp": win.wp, "ekh": win.ekh, "ekw": win.ekw, "out_h": win.out_h, "out_w": win.out_w,
            "lb_rows": max(win.ekh - 1, 1), "ring": ring_rows(win), "taps": win.taps}


def chain(first, second):
    """Two dataflow stages in sequence (a window generator and its consumer) as one layer's
    cost: resources add, the interval is the slower one's, the consumer starts on the
    generator's first beat."""
    ii = max(first.ii, second.ii)
    return LayerCost(style=second.style, ii=ii,
                     latency=max(first.first_out + second.latency, first.latency + second.latency - second.ii + 1),
                     first_out=first.first_out + second.first_out, dsp=first.dsp + second.dsp,
                     lut=first.lut + second.lut, ff=first.ff + second.ff, bram_18k=first.bram_18k + second.bram_18k,
                     uram=first.uram + second.uram, detail=dict(second.detail, window=first.detail,
                                                                 window_cycles=first.ii))


def chain_arrays(gens: list, fields: dict) -> dict:
    """chain over arrays (MacWhatIf.batch): a generator's cost (or None) in front of each
    entry of fields {cost field: array}."""
    none = LayerCost("none", 1, 1, 0)
    g = {f: np.array([getattr(x or none, f) for x in gens], dtype=np.float64)
         for f in FIELDS}
    has = np.array([x is not None for x in gens])
    ii, lat, first = fields["ii"], fields["latency"], fields["first_out"]
    out = dict(fields)
    out["ii"] = np.where(has, np.maximum(g["ii"], ii), ii)
    out["latency"] = np.where(has, np.maximum(g["first_out"] + lat, g["latency"] + lat - ii + 1), lat)
    out["first_out"] = np.where(has, g["first_out"] + first, first)
    for r in RESOURCES:
        out[r] = fields[r] + np.where(has, g[r], 0.0)
    return out


def swg_context(win: Window, fold: int, channel_major: bool) -> dict:
    """Template variables of the sliced generator (qc::swg) at `fold` channels per beat."""
    groups = win.channels // fold
    return {"fold": fold, "groups": groups, "ring": ring_rows(win), "cycles": swg_cycles(win, groups),
            "need0": band_rows(win, 0), "need1": band_rows(win, 1) if win.out_h > 1 else win.in_h,
            "channel_major": channel_major}
