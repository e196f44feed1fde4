"""Reduce: sum, mean, max or min over a contiguous block of the IR's flat order.

The input's flat order is viewed as (outer, reduce, inner) and the middle axis reduced
(the importer puts the ONNX axes being reduced in such a block, frontend/convert_reduce.py).
Sums are exact, in an accumulator wide enough for `reduce` terms of the input type's full
range; max and min select an input value (exact, the input's type). The mean multiplies
the exact sum by RECIP = 1/reduce on `recip_frac` fraction bits and rounds once to the
output type (exact when reduce is a power of two):
    y = cast(sum * RECIP),   |RECIP - 1/reduce| <= 2**-(recip_frac+1),
recip_frac chosen, as for average pooling, so that error stays below a quarter of an
output lsb; `max_error` states the whole error (that plus the output rounding).

Hardware (templates/kernels/qc_reduce.h), at the width the stream arrives at (k values
per beat, one beat per cycle, II = size / k):
- "items" (inner > 1: whole items are accumulated, e.g. the mean over an image's rows and
  columns per channel, like global pooling): k lanes of add/compare into inner/k accumulator
  words (registers, or a memory when there are many), a beat of k results leaves with the
  last of each `reduce` group;
- "lanes" (inner = 1: each group of `reduce` consecutive values, e.g. an item's channels,
  becomes one value): a k-input adder/compare tree per beat and one running accumulator,
  one 1-value beat out per group.
The mean adds one multiplier per output lane.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cost.hardware import adder_tree_depth, memory, multiplier, stream_cycles, stream_io
from ..cost.model import LayerCost
from ..numerics import FixedType, exact_type
from . import register
from ._movement import pass_scale
from .base import Bounds, CostContext, HlsContext, Op, TypingContext, channels_of

MODES = ("sum", "mean", "max", "min")


def _ceil_log2(n: int) -> int:
    return max(int(n - 1).bit_length(), 0)


@register
@dataclass
class Reduce(Op):
    kind = "Reduce"
    template = "reduce"

    mode: str = "sum"
    outer: int = 1            # the input's flat order as (outer, reduce, inner)
    reduce: int = 1
    inner: int = 1
    out_shape: tuple[int, ...] = (1,)
    acc_type: FixedType | None = None     # exact sum (sum, mean); None for max/min
    recip_type: FixedType | None = None   # mean: 1/reduce
    prod_type: FixedType | None = None    # mean: sum * RECIP, exact
    max_error: float | None = None        # stated when typed

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown reduction {self.mode!r}")
        self.out_shape = tuple(int(d) for d in self.out_shape)

    @property
    def form(self) -> str:
        return "lanes" if self.inner == 1 else "items"

    def describe(self) -> str:
        return f"Reduce{self.mode.capitalize()} over {self.reduce} ({self.form})"

    def infer_shapes(self, shapes):
        if math.prod(shapes[0]) != self.outer * self.reduce * self.inner:
            raise ValueError(f"cannot view {shapes[0]} as ({self.outer}, {self.reduce}, {self.inner})")
        if math.prod(self.out_shape) != self.outer * self.inner:
            raise ValueError(f"output shape {self.out_shape} does not hold {self.outer * self.inner} values")
        return [self.out_shape]

    # ---- float semantics -----------------------------------------------------------------------
    def _apply(self, x: np.ndarray, fn) -> np.ndarray:
        v = fn(x.reshape((len(x), self.outer, self.reduce, self.inner)), axis=2)
        return v.reshape((len(x),) + self.out_shape)

    def reference(self, xs):
        return [self._apply(xs[0], {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[self.mode])]

    def bounds(self, ins):  # every reduction is monotone in each input
        return [Bounds(self.reference([ins[0].lo[None]])[0][0], self.reference([ins[0].hi[None]])[0][0])]

    def rescale(self, in_scales):
        # positive scales commute with all four; a per-channel scale survives only where
        # channels stay channels (whole items are accumulated)
        return pass_scale(in_scales, per_channel_ok=self.form == "items")

    # ---- formats ----------------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        x, out = ctx.inputs[0], ctx.outputs[0]
        xt = x.type
        if self.mode in ("max", "min"):
            if out.type is None:
                out.type, out.model_typed = xt, x.model_typed
            self.max_error = 0.0 if out.type == xt else out.type.lsb
            return
        n = self.reduce
        self.acc_type = exact_type(n * xt.min_code, n * xt.max_code, xt.frac_bits)
        if out.type is None:
            out.type = ctx.narrowed()
        yt = out.type
        rounding = yt.lsb if yt.rounding in ("AP_TRN", "AP_TRN_ZERO") else yt.lsb / 2
        if self.mode == "sum":
            self.max_error = 0.0 if yt.frac_bits >= xt.frac_bits else rounding
            return
        f = _ceil_log2(n) + max(xt.int_bits, 0) + yt.frac_bits + 1
        f = max(min(f, 61 - self.acc_type.width), _ceil_log2(n))
        self.recip_type = FixedType(f + 1, 1, False, "AP_RND_CONV")
        r = int(self.recip_type.quantize(1.0 / n))
        self.prod_type = exact_type(self.acc_type.min_code * r, self.acc_type.max_code * r, xt.frac_bits + f)
        recip_err = abs(r * self.recip_type.lsb - 1.0 / n)
        exact = recip_err == 0.0 and yt.frac_bits >= self.prod_type.frac_bits
        self.max_error = 0.0 if exact else recip_err * n * max(abs(xt.min_value), abs(xt.max_value)) + rounding

    # ---- bit-accurate simulation ------------------------------------------------------------
    def recip_code(self) -> int:
        return int(self.recip_type.quantize(1.0 / self.reduce))

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        if self.mode in ("max", "min"):
            fn = np.max if self.mode == "max" else np.min

            def run_select(ins):
                y = self._apply(ins[0], fn)
                return [y if x_type == y_type else y_type.cast(y, x_type).astype(np.float64)]
            return run_select
        acc_type, prod_type = self.acc_type, self.prod_type
        r = self.recip_code() if self.mode == "mean" else None

        def run_sum(ins):
            s = self._apply(ins[0].astype(np.int64), np.sum)
            if r is None:
                return [y_type.cast(s, acc_type).astype(np.float64)]
            return [y_type.cast(s * r, prod_type).astype(np.float64)]
        return run_sum

    # ---- streams and hardware ---------------------------------------------------------------
    def stream_folds(self, in_shapes, out_shapes, arriving):
        c = channels_of(in_shapes[0])
        k = math.gcd(arriving[0] or c, c)
        if self.form == "lanes":
            return [k], [1]
        return [k], [math.gcd(k, channels_of(out_shapes[0]))]

    def acc_width(self, x_type: FixedType) -> int:
        return (self.acc_type or x_type).width

    def acc_in_memory(self, fold: int) -> bool:
        """Items form: running values in a memory (the same word is read-modified-written
        only `words` >= 3 beats apart) rather than registers, when there are many."""
        words = self.inner // fold
        return words >= 3 and self.inner > 256

    def cost(self, ctx: CostContext):
        """One beat per cycle. Items: fold lanes of an acc-wide add (or compare-select) into
        inner/fold accumulator words; lanes: a fold-input tree and one accumulator. The
        mean: one multiplier by the constant 1/reduce per output lane."""
        target, c = ctx.target, ctx.target.coeff
        x, y = ctx.inputs[0], ctx.outputs[0]
        fold = ctx.in_folds[0]
        out_lanes = ctx.out_folds[0]
        acc_w = self.acc_width(x.type)
        op_lut = acc_w * c["lut_per_adder_bit"] * (1.5 if self.mode in ("max", "min") else 1.0)
        dsp = lut = ff = bram = 0.0
        if self.mode == "mean":
            m_dsp, m_lut, m_ff = multiplier(target, self.acc_type.width, self.recip_type.width)
            dsp, lut, ff = out_lanes * m_dsp, out_lanes * m_lut, out_lanes * m_ff
        if self.form == "items":
            words = self.inner // fold
            if self.acc_in_memory(fold):
                a_bram, a_lut, _ = memory(target, fold * acc_w, words, ports=1)
                bram, lut = bram + a_bram, lut + a_lut
            else:
                ff += words * fold * acc_w
                lut += max(words - 1, 0) * fold * acc_w * c.get("lut_per_mux_bit", 0.3)
            lut += fold * op_lut
            depth = 2
            detail = {"accumulators": words * fold}
        else:
            lut += fold * op_lut   # fold - 1 tree nodes and the accumulator
            ff += acc_w
            depth = 2 + adder_tree_depth(target, fold)
            detail = {"accumulators": 1}
        s_lut, s_ff = stream_io(target, out_lanes * y.type.width)
        lut += c["lut_fixed"] + s_lut + 4 * (math.ceil(math.log2(max(self.reduce, 2))) + 1) * 3
        ff += out_lanes * y.type.width + c["ff_fixed"] + s_ff
        depth += stream_cycles(target) + (int(c["mult_latency"]) if self.mode == "mean" else 0)
        ii = x.size // fold
        first = max((self.reduce - 1) * (self.inner // fold if self.form == "items" else 1)
                    + (1 if self.form == "items" else self.reduce // fold), 1) + depth
        return LayerCost(style=f"reduce_{self.form}", ii=ii, latency=ii + depth, first_out=first, dsp=dsp, lut=lut,
                         ff=ff, bram_18k=bram, detail={"mode": self.mode, "reduce": self.reduce, "lanes": fold,
                                                       **detail})

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        fold = ctx.in_folds[0]
        L = {"form": self.form, "mode": self.mode, "fold": fold, "beats": x.size // fold,
             "reduce": self.reduce, "words": max(self.inner // fold, 1), "groups": max(self.reduce // fold, 1),
             "acc_memory": self.form == "items" and self.acc_in_memory(fold),
             "acc_type": self.acc_type or x.type}
        if self.mode == "mean":
            L.update(recip_type=self.recip_type, prod_type=self.prod_type,
                     recip=ctx.constant("recip", self.recip_type, np.array([self.recip_code()])))
        return L
