"""Dense (fully connected) layer: y = act(x @ W + b) on the last axis.

Hardware: the PE x SIMD MAC array of _mac.py (FINN's MVAU): SIMD-wide input beats, PE-wide
output beats, SF * NF cycles per vector (1: every product unrolled). Products and their sum
are exact: the accumulator type is sized from the input type's range and the actual
weights, so it cannot overflow, and the only rounding is the final cast to the output type.
That is why the simulator can compute the accumulator with one exact matrix product,
whatever the folding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type, grid_codes
from . import register
from ._mac import KERNELS, MacArray, MacOp, accepted_fold, mac_array_context
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, Op, TypingContext, collapse_scale, is_unit

ACTIVATIONS = (None, "relu")


@register
@dataclass
class Dense(MacOp, Op):
    kind = "Dense"
    template = "dense"

    weight: np.ndarray                 # (n_in, n_out) real values
    bias: np.ndarray | None = None     # (n_out,) real values
    activation: str | None = None      # fused activation applied to the accumulator
    weight_type: FixedType | None = None
    bias_type: FixedType | None = None
    accum_type: FixedType | None = None
    weights_from_model: bool = False   # weights quantized by the model itself
    weight_scale: float | np.ndarray = 1.0  # real weight = weight * weight_scale (per output channel)
    kernel: str = "mac"                # "mac", "signed" (weights in {-1,0,1}: no multiplier), "xnor"
    pe: int = 0                        # output lanes of the MAC array (0: every output, n_out)
    simd: int = 0                      # input lanes (0: every input, n_in)
    memory: str = "auto"               # weight memory: "auto" (by size), "bram", "lutram"

    KERNELS = KERNELS

    def describe(self) -> str:
        act = f"+{self.activation}" if self.activation else ""
        style = "" if self.kernel == "mac" else f" [{self.kernel}]"
        return f"Dense {self.n_in}->{self.n_out}{act}{style}"

    def choose_kernel(self, input_bipolar: bool) -> str:
        """Weights in {-1, 0, +1} need no multiplier; with bipolar (+-1) inputs as well,
        {-1, +1} weights make each product an XNOR."""
        codes = set(np.unique(self.weight_type.quantize(self.weight)).tolist())
        if codes <= {-1, 1} and input_bipolar:
            return "xnor"
        if codes <= {-1, 0, 1}:
            return "signed"
        return "mac"

    def infer_shapes(self, shapes):
        (shape,) = shapes
        return [tuple(shape[:-1]) + (self.n_out,)]

    # ---- float semantics -----------------------------------------------------
    def reference(self, xs):
        y = xs[0] @ self.weight
        if self.bias is not None:
            y = y + self.bias
        return [np.maximum(y, 0.0) if self.activation == "relu" else y]

    def bounds(self, ins):
        b = ins[0]
        w_pos, w_neg = np.maximum(self.weight, 0), np.minimum(self.weight, 0)
        lo = b.lo @ w_pos + b.hi @ w_neg
        hi = b.hi @ w_pos + b.lo @ w_neg
        if self.bias is not None:
            lo, hi = lo + self.bias, hi + self.bias
        if self.activation == "relu":
            lo, hi = np.maximum(lo, 0), np.maximum(hi, 0)
        return [Bounds(lo, hi)]

    # ---- real scales ------------------------------------------------------------------
    def rescale(self, in_scales):
        """Float weights absorb the input scale (row-wise); model-quantized weights keep
        their grid, so the scales multiply into the output scale instead. The bias is
        re-expressed in fixed units of the output."""
        s_x = np.asarray(in_scales[0], dtype=np.float64)
        if not self.weights_from_model:
            if not is_unit(s_x):
                self.weight = self.weight * (s_x.reshape(-1, 1) if s_x.ndim else s_x)
            out = self.weight_scale
        else:
            if s_x.ndim and not np.all(s_x == s_x.reshape(-1)[0]):
                raise NeedsUnitScale([0])  # per-input-channel scales would move weights off their grid
            out = float(s_x.reshape(-1)[0]) * np.asarray(self.weight_scale, dtype=np.float64)
        out = collapse_scale(out)
        if self.bias is not None and not is_unit(out):
            self.bias = self.bias / out
        return [out]

    # ---- formats ------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        x_type = ctx.inputs[0].type
        if self.weight_type is None:
            self.weight_type = ctx.policy.weight_type(self.weight)
        self.weight = self.weight_type.to_float(self.weight_type.quantize(self.weight))
        wq = self.weight_type.quantize(self.weight)
        frac = x_type.frac_bits + self.weight_type.frac_bits  # products are exact at this precision
        out = ctx.outputs[0]
        keep_all = out.type is None and ((ctx.inputs[0].model_typed and self.weights_from_model)
                                         or ctx.output_is_requantized)
        if self.bias is not None and np.any(self.bias) and keep_all:
            # The whole accumulator goes on (to the model's arithmetic, or to a quantizer that
            # may amplify it, e.g. a folded BatchNormalization): give a float bias 24
            # significant bits, at most 16 more fraction bits than the products have.
            want = 24 - math.frexp(float(np.abs(self.bias).max()))[1]
            frac = max(frac, min(want, frac + 16))
        if self.bias is not None:
            bq = grid_codes(self.bias, frac)
            self.bias = np.ldexp(bq.astype(np.float64), -frac)
            self.bias_type = exact_type(min(bq.min(), 0), max(bq.max(), 0), frac)
        lo, hi = self._accum_code_bounds(x_type, wq, frac)
        self.accum_type = exact_type(lo, hi, frac)
        if out.type is None:
            if keep_all:  # the model's own fixed-point arithmetic, or a quantizer rounds next: keep every bit
                out.type = exact_type(0 if self.activation == "relu" else lo, hi, frac)
                out.model_typed = True
            else:
                out.type = ctx.narrowed(signed=self.activation != "relu")

    def _accum_code_bounds(self, x_type: FixedType, wq: np.ndarray, frac: int) -> tuple[int, int]:
        """Exact integer bounds of the accumulator (at `frac` fraction bits) over every input
        the type can hold."""
        up = 1 << (frac - x_type.frac_bits - self.weight_type.frac_bits)
        w_pos, w_neg = np.maximum(wq, 0) * up, np.minimum(wq, 0) * up
        xl, xh = x_type.min_code, x_type.max_code
        hi = xh * w_pos.sum(axis=0) + xl * w_neg.sum(axis=0)
        lo = xl * w_pos.sum(axis=0) + xh * w_neg.sum(axis=0)
        if self.bias is not None:
            bq = grid_codes(self.bias, frac)
            hi, lo = hi + bq, lo + bq
        return int(min(lo.min(), 0)), int(max(hi.max(), 0))

    # ---- bit-accurate simulation -------------------------------------------------------
    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        acc_type = self.accum_type
        wq = self.weight_type.quantize(self.weight)
        up = 1 << (acc_type.frac_bits - x_type.frac_bits - self.weight_type.frac_bits)
        wq = wq * up  # products at the accumulator's precision (exact)
        bq = np.zeros(self.n_out, dtype=np.int64) if self.bias is None else grid_codes(self.bias, acc_type.frac_bits)
        lo, hi = self._accum_code_bounds(x_type, wq // up, acc_type.frac_bits)
        if lo >= -(2 ** 52) and hi < 2 ** 52:
            # Exact in float64 BLAS. The cast's rounding offset rides on the bias add, and
            # the ReLU clamps at that offset (relu(a) + h == max(a + h, h)).
            # The cast's power-of-two scale is folded into the weights and bias (exact).
            plan = y_type.cast_plan(acc_type, 0 if self.activation == "relu" else lo, hi)
            w = wq.astype(np.float64) * plan.scale
            b = (bq.astype(np.float64) + plan.offset) * plan.scale
            relu_floor = plan.offset * plan.scale if self.activation == "relu" else None

            def run(ins):
                acc = ins[0] @ w
                acc += b
                if relu_floor is not None:
                    np.maximum(acc, relu_floor, out=acc)
                return [plan.finish(acc, prescaled=True)]
        else:  # wide accumulators: int64 arithmetic
            relu = self.activation == "relu"

            def run(ins):
                acc = ins[0].astype(np.int64) @ wq + bq
                if relu:
                    np.maximum(acc, 0, out=acc)
                return [y_type.cast(acc, acc_type).astype(np.float64)]

        return run

    # ---- hardware ---------------------------------------------------------------------------
    def stream_folds(self, in_shapes, out_shapes, arriving):
        pe, simd = self.shape
        return [self.native_fold(arriving[0], simd, pe)], [pe]

    def native_fold(self, arriving: int | None, simd: int, pe: int) -> int:
        """The input beat width the array reads (a wider arriving beat is sliced inside)."""
        return accepted_fold(arriving, simd, self.n_in)

    def mac_fold_in(self, in_fold: int, simd: int) -> int:
        """The beat width the MAC array itself sees (Conv's window generator changes it)."""
        return in_fold

    def what_if(self, ctx: CostContext) -> "MacWhatIf":
        mac = MacArray(ctx.target, n_in=self.n_in, n_out=self.n_out, items=ctx.inputs[0].size // self.n_in,
                       activation=self.activation, kernel=self.kernel, bias_bits=self.bias_bits())
        return MacWhatIf(self, mac, ctx.inputs[0].type.width)

    def cost(self, ctx: CostContext):
        return self.what_if(ctx)({}, ctx.inputs[0].type.width, ctx.outputs[0].type.width, ctx.in_folds[0])

    def hls(self, ctx: HlsContext) -> dict:
        pe, simd = self.shape
        return dict(mac_array_context(self, ctx, pe, simd, ctx.in_folds[0], self.weight,
                                      self.memory_impl(ctx.target, pe, simd)),
                    items=ctx.inputs[0].size // self.n_in)


class MacWhatIf:
    """A MAC layer's cost as a function of the what-if knobs (compiler.estimate's overrides),
    its input and output widths and the width its input arrives at, prepared once for
    search loops; batch() takes arrays. `folds` gives the stream widths under the knobs."""

    def __init__(self, op, mac: MacArray, x_bits: int, extra=None):
        self.op, self.mac, self.x0 = op, mac, x_bits
        self.extra = extra  # Conv: the sliding window's cost, added to the array's

    def folds(self, ov: dict, arriving: int | None) -> tuple[int, int]:
        pe, simd = self.op.shape_of(ov)
        return self.op.native_fold(arriving, simd, pe), pe

    def __call__(self, ov: dict, x_bits: int, y_bits: int, in_fold: int | None = None):
        pe, simd, nonzero, w_bits, acc_bits, mem = self.op.knobs(ov, x_bits - self.x0)
        in_fold = self.op.native_fold(in_fold, simd, pe)
        cost = self.mac(pe, simd, nonzero, x_bits, w_bits, acc_bits, y_bits, self.op.mac_fold_in(in_fold, simd), mem)
        return cost if self.extra is None else self.extra(cost, pe, simd, x_bits, in_fold)

    def batch(self, knobs: dict[str, np.ndarray], x_bits: np.ndarray, y_bits: np.ndarray,
              in_folds: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The formula over arrays of knobs {override: values} (missing ones: the layer's own)
        and of widths, one entry per configuration: distinct settings are costed once."""
        op, n = self.op, len(x_bits)
        cols = [knobs.get(name) for name in ("reuse_factor", "pe", "simd", "weight_bits", "pruning", "memory")]
        rows = list(zip(*[c.tolist() if c is not None else [None] * n for c in cols],
                        np.asarray(x_bits).tolist(), np.asarray(y_bits).tolist(),
                        (in_folds.tolist() if in_folds is not None else [None] * n)))
        distinct: dict = {}
        index = np.array([distinct.setdefault(r, len(distinct)) for r in rows], dtype=np.int64)
        fields = ("ii", "latency", "first_out", "dsp", "lut", "ff", "bram_18k", "uram")
        table = np.zeros((len(distinct), len(fields)))
        for r, i in distinct.items():
            ov = {name: v for name, v in zip(("reuse_factor", "pe", "simd", "weight_bits", "pruning", "memory"), r[:6])
                  if v is not None}
            c = self(ov, int(r[6]), int(r[7]), r[8])
            table[i] = [getattr(c, f) for f in fields]
        return {f: table[index, j] for j, f in enumerate(fields)}
