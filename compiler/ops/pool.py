"""Pool: max or average over sliding windows (MaxPool, AveragePool) or over the whole
image (GlobalMaxPool, GlobalAveragePool), per channel, on channels-last images.

Max selects an input value, so its output keeps the input type (exact). Average sums the
window exactly, then multiplies by a reciprocal 1/n from a small table (n = the window's
size, or its cells inside the image when padding is not counted) and rounds once:
    y = cast(sum * RECIP[n]),  RECIP[n] = 1/n on `recip_frac` fraction bits,
where recip_frac is chosen so the reciprocal's own error stays below a quarter of an
output LSB; powers of two are exact.

Hardware (templates/kernels/qc_pool.h), at the width the stream arrives at (k channels
per beat, G = C / k beats per pixel):
- "streaming" (global pooling, and windows that do not overlap: stride >= extent, the usual
  2x2/s2 and 3x3/s3, and whole-image windows): no window generator; each pixel is folded
  into its window's running max/sum as it arrives (out_w * G accumulator words, registers
  or a small memory), and a window leaves with its last pixel; one beat per cycle;
- "sliced" (overlapping windows, k < C): the sliced window generator in channel-major
  order and a reduction over the taps of each beat group;
- "window" (overlapping windows, whole pixels): the whole-window generator, one window
  per beat, all taps reduced at once.
Max pads with the type's minimum (padding never wins); average divides by the cells
inside the image unless count_include_pad.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from ..cost.hardware import clog2, memory, multiplier, stream_cycles, stream_io
from ..cost.model import LayerCost
from . import register
from .base import Bounds, CostContext, HlsContext, Op, TypingContext, channels_of
from ._movement import items, pass_scale
from ._window import (Window, ceil_log2, chain, swg_context, swg_cost, swg_needed, window_context,
                      window_registers_cost)

MODES = ("max", "avg")


@register
@dataclass
class Pool(Op):
    kind = "Pool"
    template = "pool"

    mode: str = "max"
    kernel_shape: tuple[int, ...] = (1, 1)     # ignored when is_global
    strides: tuple[int, ...] = (1, 1)
    dilations: tuple[int, ...] = (1, 1)
    pads: tuple[int, ...] = (0, 0, 0, 0)
    count_include_pad: bool = False
    is_global: bool = False
    sum_type: FixedType | None = None
    recip_type: FixedType | None = None
    prod_type: FixedType | None = None

    def __post_init__(self):
        self.kernel_shape, self.strides, self.dilations, self.pads = (
            tuple(int(v) for v in a) for a in (self.kernel_shape, self.strides, self.dilations, self.pads))

    def window(self, in_shape) -> Window:
        if self.is_global:
            rank = len(in_shape) - 1
            return Window.of(in_shape, in_shape[:-1], (1,) * rank, (1,) * rank, (0,) * (2 * rank))
        return Window.of(in_shape, self.kernel_shape, self.strides, self.dilations, self.pads)

    def describe(self) -> str:
        name = {"max": "MaxPool", "avg": "AvgPool"}[self.mode]
        if self.is_global:
            return f"Global{name}"
        s = "" if self.strides == self.kernel_shape else f"/s{'x'.join(map(str, self.strides))}"
        return f"{name} {'x'.join(map(str, self.kernel_shape))}{s}"

    def select_channels(self, keep, channels):
        return self   # each channel pooled on its own; no per-channel parameters

    def infer_shapes(self, shapes):
        (shape,) = shapes
        if not self.is_global and len(shape) != len(self.kernel_shape) + 1:
            raise ValueError(f"input {shape} does not fit a {len(self.kernel_shape)}-D pooling window")
        win = self.window(shape)
        return [win.out_shape(len(shape) - 1, shape[-1])]

    def _counts(self, win: Window) -> np.ndarray:
        """(Ho, Wo) divisors of the average."""
        if self.count_include_pad:
            return np.full((win.out_h, win.out_w), win.taps)
        return win.valid_counts()

    # ---- float semantics ------------------------------------------------------------------
    def _reduce(self, x: np.ndarray, pad_value, dtype=np.float64) -> np.ndarray:
        """Max or sum over each window, vectorized over the batch."""
        win = self.window(x.shape[1:])
        out_shape = (len(x),) + win.out_shape(len(x.shape) - 2, x.shape[-1])
        if self.is_global:  # one window: a plain reduction
            flat = x.astype(dtype, copy=False).reshape(len(x), -1, x.shape[-1])
            return (flat.max(axis=1) if self.mode == "max" else flat.sum(axis=1)).reshape(out_shape)
        xp = win.pad(x, pad_value, dtype=dtype)
        acc = None
        for _, view in win.tap_views(xp):
            if acc is None:
                acc = view.copy()
            elif self.mode == "max":
                np.maximum(acc, view, out=acc)
            else:
                acc += view
        return acc.reshape(out_shape)

    def reference(self, xs):
        x = xs[0]
        if self.mode == "max":
            return [self._reduce(x, -np.inf)]
        win = self.window(x.shape[1:])
        s = self._reduce(x, 0.0)
        return [s / self._counts(win).reshape((1,) + s.shape[1:-1] + (1,))]

    def bounds(self, ins):
        b = ins[0]
        return [Bounds(self.reference([b.lo[None]])[0][0], self.reference([b.hi[None]])[0][0])]

    def rescale(self, in_scales):
        return pass_scale(in_scales, per_channel_ok=True)  # max and mean commute with positive scales

    # ---- formats ----------------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        x, out = ctx.inputs[0], ctx.outputs[0]
        if self.mode == "max":
            if out.type is None:
                out.type, out.model_typed = x.type, x.model_typed
            return
        win = self.window(x.shape)
        xt = x.type
        taps = win.taps
        self.sum_type = exact_type(taps * xt.min_code, taps * xt.max_code, xt.frac_bits)
        if out.type is None:
            out.type = ctx.narrowed()
        # reciprocal error <= 2**-(f+1) per unit of |sum| <= taps * 2**int_bits: keep it
        # below a quarter of an output lsb, within what int64 products hold
        f = ceil_log2(taps) + max(xt.int_bits, 0) + out.type.frac_bits + 1
        f = max(min(f, 61 - self.sum_type.width), ceil_log2(taps))
        self.recip_type = FixedType(f + 1, 1, False, "AP_RND_CONV")
        r_max = self.recip_type.quantize(1.0)
        self.prod_type = exact_type(self.sum_type.min_code * r_max, self.sum_type.max_code * r_max,
                                    xt.frac_bits + f)

    def recip_codes(self, taps: int) -> np.ndarray:
        """RECIP[n] for n = 0..taps (entry 0 unused)."""
        n = np.arange(taps + 1, dtype=np.float64)
        n[0] = 1.0
        return self.recip_type.quantize(1.0 / n)

    # ---- bit-accurate simulation ----------------------------------------------------------
    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        if self.mode == "max":
            lowest = float(x_type.min_code)

            def run_max(ins):
                y = self._reduce(ins[0], lowest)      # float64 (float32 codes are converted exactly)
                return [y if x_type == y_type else y_type.cast(y, x_type)]
            run_max.narrow_inputs = True
            return run_max
        sum_type, prod_type = self.sum_type, self.prod_type
        # window sums of integer codes within sum_type: exact in float64 up to 53 bits, in
        # any order (a global one: one reduction, no int64 copy of the input)
        sum_f = sum_type is not None and sum_type.width <= 53

        def run_avg(ins):
            x = ins[0]
            win = self.window(x.shape[1:])
            r = self.recip_codes(win.taps)[self._counts(win)]            # (Ho, Wo)
            # one window over the whole (unpadded) image is a global pool too
            whole = self.is_global or (win.out_h == win.out_w == 1 and not win.padded and win.dh == win.dw == 1
                                       and (win.kh, win.kw) == (win.in_h, win.in_w))
            if sum_f and x.dtype.kind == "f":
                if whole:   # float32 codes whose sums stay below 2**24: exact in float32 too
                    acc = np.float32 if x.dtype == np.float32 and sum_type.width <= 24 else np.float64
                    x3 = x.reshape(len(x), -1, x.shape[-1])
                    if x3.dtype == acc:   # a product with ones: BLAS's sums, exact in any order
                        s = np.matmul(np.ones((1, x3.shape[1]), dtype=acc), x3)[:, 0]
                    else:
                        s = x3.sum(axis=1, dtype=acc)
                    s = s.reshape((len(x),) + win.out_shape(len(x.shape) - 2, x.shape[-1]))
                else:
                    s = self._reduce(x, 0.0, dtype=np.float64)
                s = s.astype(np.int64)
            else:
                s = self._reduce(x.astype(np.int64), 0, dtype=np.int64)
            p = s * r.reshape((1,) + s.shape[1:-1] + (1,))
            return [y_type.cast(p, prod_type).astype(np.float64)]

        run_avg.narrow_inputs = True
        assert sum_type is not None
        return run_avg

    # ---- hardware ---------------------------------------------------------------------------
    def streaming(self, in_shape) -> bool:
        """Every pixel belongs to at most one window and every window has a real pixel: a
        running reduction, no generator."""
        win = self.window(in_shape)
        if self.is_global:
            return True
        return (win.sh >= win.ekh and win.sw >= win.ekw and win.dh == 1 and win.dw == 1
                and win.pt < win.ekh and win.pl < win.ekw
                and (win.out_h - 1) * win.sh - win.pt < win.in_h and (win.out_w - 1) * win.sw - win.pl < win.in_w)

    def window_maps(self, win: Window) -> tuple[np.ndarray, np.ndarray]:
        """Per real row and column: window index << 2 | first << 1 | last (index out_h or
        out_w: in no window), for the streaming kernel."""
        def axis(n_in, n_out, s, e, p):
            codes = np.full(n_in, n_out << 2, dtype=np.int64)
            for o in range(n_out):
                lo, hi = o * s - p, o * s - p + e - 1
                first, last = max(lo, 0), min(hi, n_in - 1)
                for i in range(first, last + 1):
                    codes[i] = (o << 2) | (2 if i == first else 0) | (1 if i == last else 0)
            return codes
        if self.is_global:
            return axis(win.in_h, 1, 1, win.in_h, 0), axis(win.in_w, 1, 1, win.in_w, 0)
        return axis(win.in_h, win.out_h, win.sh, win.ekh, win.pt), axis(win.in_w, win.out_w, win.sw, win.ekw, win.pl)

    def hw_mode(self, in_shape, fold: int) -> str:
        if self.streaming(in_shape):
            return "streaming"
        return "window" if fold == channels_of(in_shape) else "sliced"

    def stream_folds(self, in_shapes, out_shapes, arriving):
        c = channels_of(in_shapes[0])
        k = math.gcd(arriving[0] or c, c)
        return [k], [k]

    def acc_type(self, x_type: FixedType) -> FixedType:
        return self.sum_type if self.mode == "avg" else x_type

    def accumulators_in_memory(self, win: Window, fold: int) -> bool:
        """Running sums in a memory (read-modify-write G >= 3 cycles apart) rather than in
        registers: for wide images with several beats per pixel."""
        return win.channels // fold >= 3 and win.out_w * win.channels > 256

    def cost(self, ctx: CostContext):
        target, c = ctx.target, ctx.target.coeff
        x, y = ctx.inputs[0], ctx.outputs[0]
        win = self.window(x.shape)
        fold = ctx.in_folds[0]
        groups = win.channels // fold
        mode = self.hw_mode(x.shape, fold)
        acc_w = self.acc_type(x.type).width
        op_lut = acc_w * c["lut_per_adder_bit"] * (1.5 if self.mode == "max" else 1.0)
        dsp = lut = ff = bram = 0.0
        if self.mode == "avg":
            m_dsp, m_lut, m_ff = multiplier(target, self.sum_type.width, self.recip_type.width)
            dsp, lut, ff = fold * m_dsp, fold * m_lut, fold * m_ff
            r_bram, r_lut, _ = memory(target, self.recip_type.width, win.taps + 1)
            bram, lut = bram + r_bram, lut + r_lut
        s_lut, s_ff = stream_io(target, fold * y.type.width)
        n_win = win.out_h * win.out_w
        detail = {"mode": self.mode, "kernel": mode, "windows": n_win, "taps": win.taps, "lanes": fold}
        if mode == "streaming":
            words = win.out_w * groups
            if self.accumulators_in_memory(win, fold):
                a_bram, a_lut, _ = memory(target, fold * acc_w, words, ports=1)
                bram, lut = bram + a_bram, lut + a_lut
            else:
                ff += words * fold * acc_w
                lut += max(words - 1, 0) * fold * acc_w * c.get("lut_per_mux_bit", 0.3)
            lut += fold * op_lut + c["lut_fixed"] + s_lut + 4 * (clog2(win.in_w) + clog2(win.in_h)) * 3
            ff += fold * y.type.width + c["ff_fixed"] + s_ff
            ii = x.size // fold
            depth = 2 + stream_cycles(target) + (int(c["mult_latency"]) if self.mode == "avg" else 0)
            last_row = min(win.ekh - win.pt, win.in_h)
            first = max((last_row - 1) * win.in_w + min(win.ekw - win.pl, win.in_w), 1) * groups + depth
            return LayerCost(style="pool_streaming", ii=ii, latency=ii + depth, first_out=first, dsp=dsp, lut=lut,
                             ff=ff, bram_18k=bram, detail=dict(detail, accumulators=words))
        if mode == "window":
            gen = window_registers_cost(target, win, x.type.width)
            lanes, steps = win.channels, 1
            lut += lanes * (win.taps - 1) * op_lut
        else:
            gen = swg_cost(target, win, fold, x.type.width, channel_major=True)
            lanes, steps = fold, win.taps
            lut += lanes * op_lut
            ff += lanes * acc_w
        lut += c["lut_fixed"] + s_lut
        ff += lanes * y.type.width + c["ff_fixed"] + s_ff
        ii = n_win * groups * steps
        depth = 2 + stream_cycles(target) + (int(c["mult_latency"]) if self.mode == "avg" else 0)
        red = LayerCost(style="pool_reduce", ii=ii, latency=ii + depth, first_out=steps + depth, dsp=dsp, lut=lut,
                        ff=ff, bram_18k=bram, detail=detail)
        out = chain(gen, red)
        out.style = f"pool_{mode}"
        return out

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        win = self.window(x.shape)
        fold = ctx.in_folds[0]
        mode = self.hw_mode(x.shape, fold)
        L = dict(window_context(win), mode=self.mode, kernel=mode, is_global=self.is_global,
                 items=win.out_h * win.out_w, in_items=items(x), win_size=win.taps * win.channels,
                 x_min=repr(float(x.type.min_value)), include_pad=self.count_include_pad, fold=fold,
                 groups=win.channels // fold, acc_memory=mode == "streaming" and self.accumulators_in_memory(win, fold))
        L["swg"] = swg_context(win, fold, True) if mode == "sliced" else None
        if mode == "streaming":
            rows, cols = self.window_maps(win)
            map_type = FixedType(max(int(max(rows.max(), cols.max())).bit_length(), 1),
                                 max(int(max(rows.max(), cols.max())).bit_length(), 1), False)
            L.update(map_type=map_type, row_map=ctx.constant("rows", map_type, rows),
                     col_map=ctx.constant("cols", map_type, cols))
        if self.mode == "avg":
            L.update(sum_type=self.sum_type, recip_type=self.recip_type, prod_type=self.prod_type,
                     recip=ctx.constant("recip", self.recip_type, self.recip_codes(win.taps)))
        return L

    def items_needed(self, in_shapes, out_shape, folds=None):
        win = self.window(in_shapes[0])
        if self.is_global:
            return [np.full(win.out_h * win.out_w, win.in_h * win.in_w)]
        if self.streaming(in_shapes[0]):  # a window leaves with its last real pixel
            rows = np.minimum(np.arange(win.out_h) * win.sh - win.pt + win.ekh, win.in_h)
            cols = np.minimum(np.arange(win.out_w) * win.sw - win.pl + win.ekw, win.in_w)
            need = (rows[:, None] - 1) * win.in_w + cols[None, :]
            return [np.maximum(need, 1).ravel()]
        if folds is not None and self.hw_mode(in_shapes[0], folds[0]) == "window":
            return [win.items_needed()]
        return [swg_needed(win)]
