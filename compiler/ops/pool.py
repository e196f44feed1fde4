"""Pool: max or average over sliding windows (MaxPool, AveragePool) or over the whole
image (GlobalMaxPool, GlobalAveragePool), per channel, on channels-last images.

Max selects an input value, so its output keeps the input type (exact). Average sums the
window exactly, then multiplies by a reciprocal 1/n from a small table (n = the window's
size, or its cells inside the image when padding is not counted) and rounds once:
    y = cast(sum * RECIP[n]),  RECIP[n] = 1/n on `recip_frac` fraction bits,
where recip_frac is chosen so the reciprocal's own error stays below a quarter of an
output LSB; powers of two are exact.

Hardware (templates/kernels/qc_pool.h): the sliding-window generator shared with Conv
(max pads with the type's minimum, so padding never wins) and a per-window reduction; the
global forms keep one accumulator per channel and need no line buffer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from . import register
from .base import Bounds, CostContext, HlsContext, Op, TypingContext
from ._movement import items, pass_scale
from ._window import Window, ceil_log2

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
        xp = win.pad(x.astype(dtype, copy=False), pad_value)
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
                y = self._reduce(ins[0], lowest)
                return [y if x_type == y_type else y_type.cast(y, x_type)]
            return run_max
        sum_type, prod_type = self.sum_type, self.prod_type

        def run_avg(ins):
            x = ins[0]
            win = self.window(x.shape[1:])
            r = self.recip_codes(win.taps)[self._counts(win)]            # (Ho, Wo)
            s = self._reduce(x.astype(np.int64), 0, dtype=np.int64)
            p = s * r.reshape((1,) + s.shape[1:-1] + (1,))
            return [y_type.cast(p, prod_type).astype(np.float64)]

        assert sum_type is not None
        return run_avg

    # ---- hardware ---------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        from ..cost.cnn_kernels import pool_cost

        return pool_cost(ctx.target, self, self.window(ctx.inputs[0].shape), ctx.inputs[0].type, ctx.outputs[0].type)

    def hls(self, ctx: HlsContext) -> dict:
        from .conv import window_context

        x = ctx.inputs[0]
        win = self.window(x.shape)
        L = dict(window_context(win), mode=self.mode, is_global=self.is_global, items=win.out_h * win.out_w,
                 in_items=items(x), taps=win.taps, win_size=win.taps * win.channels,
                 x_min=repr(float(x.type.min_value)), include_pad=self.count_include_pad)
        if self.mode == "avg":
            L.update(sum_type=self.sum_type, recip_type=self.recip_type, prod_type=self.prod_type,
                     recip=ctx.constant("recip", self.recip_type, self.recip_codes(win.taps)))
        return L

    def items_needed(self, in_shapes, out_shape):
        win = self.window(in_shapes[0])
        if self.is_global:
            return [np.full(win.out_h * win.out_w, win.in_h * win.in_w)]
        return [win.items_needed()]
