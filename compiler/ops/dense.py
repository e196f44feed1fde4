"""Dense (fully connected) layer: y = act(x @ W + b) on the last axis.

Hardware: a MAC array with a reuse factor RF. Each of the ceil(nnz/RF) multipliers is used
RF times per input vector (RF = 1: every product unrolled, II = 1; larger RF folds the
multipliers over cycles). Products and their sum are exact: the accumulator type is sized
from the input type's range and the actual weights, so it cannot overflow, and the only
rounding is the final cast to the output type. That is why the simulator can compute the
accumulator with one exact matrix product, whatever the reuse factor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cost.kernels import MacArray, mac_fold
from ..numerics import FixedType, exact_type, grid_codes
from . import register
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, Op, TypingContext, collapse_scale, is_unit

ACTIVATIONS = (None, "relu")


@register
@dataclass
class Dense(Op):
    kind = "Dense"
    template = "dense"

    weight: np.ndarray                 # (n_in, n_out) real values
    bias: np.ndarray | None = None     # (n_out,) real values
    activation: str | None = None      # fused activation applied to the accumulator
    reuse_factor: int = 1
    weight_type: FixedType | None = None
    bias_type: FixedType | None = None
    accum_type: FixedType | None = None
    weights_from_model: bool = False   # weights quantized by the model itself
    weight_scale: float | np.ndarray = 1.0  # real weight = weight * weight_scale (per output channel)
    kernel: str = "mac"                # "mac", "signed" (weights in {-1,0,1}: no multiplier), "xnor"

    @property
    def n_in(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    @property
    def nonzero(self) -> int:
        """Nonzero weights (counted once per weight array: estimates ask often)."""
        seen = self.__dict__.get("_nonzero")
        if seen is None or seen[0] is not self.weight:
            seen = self.__dict__["_nonzero"] = (self.weight, int(np.count_nonzero(self.weight)))
        return seen[1]

    def nonzero_at(self, bits: int) -> int:
        """Nonzero weights once quantized to `bits` bits (same integer bits): narrower weights
        round more of the small ones to zero, which unrolled kernels skip. The model's own
        quantized weights keep theirs."""
        if self.weights_from_model or self.weight_type is None or bits == self.weight_type.width:
            return self.nonzero
        memo = self.__dict__.get("_nonzero_at")
        if memo is None or memo[0] is not self.weight:
            memo = self.__dict__["_nonzero_at"] = (self.weight, {})
        n = memo[1].get(bits)
        if n is None:
            t = self.weight_type
            narrow = FixedType(bits, t.int_bits, True, "AP_RND_CONV", t.overflow)
            n = memo[1][bits] = int(np.count_nonzero(narrow.quantize(self.weight)))
        return n

    KERNELS = ("mac", "signed", "xnor")

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
    def fold_choices(self, target) -> list[int]:
        """Divisors of the product count (every multiplier busy every cycle) that keep the
        unrolled multipliers within the HLS unroll limit."""
        from ..cost.folding import divisors_within

        return divisors_within(self.n_in * self.n_out, int(target.coeff["max_unroll"]))

    def what_if(self, ctx: CostContext) -> "MacWhatIf":
        mac = MacArray(ctx.target, n_in=self.n_in, n_out=self.n_out, items=ctx.inputs[0].size // self.n_in,
                       activation=self.activation, kernel=self.kernel)
        return MacWhatIf(self, mac, ctx.inputs[0].type.width)

    def cost(self, ctx: CostContext):
        return self.what_if(ctx)({}, ctx.inputs[0].type.width, ctx.outputs[0].type.width)

    def hls(self, ctx: HlsContext) -> dict:
        return dict(mac_array_context(self, ctx), items=ctx.inputs[0].size // self.n_in, channels=self.n_in,
                    groups=1, cin_g=self.n_in, cout_g=self.n_out, kernel=self.kernel,
                    kernel_id=self.KERNELS.index(self.kernel))


def mac_array_context(op, ctx: HlsContext) -> dict:
    """Template variables of a MAC array (templates/kernels/qc_dense.h), Dense's or Conv's:
    its PE x SIMD fold and its weights stored cycle-major, so that the cyclic partition
    hands each multiplier the words of its cycles."""
    n_in, n_out, reuse = op.n_in, op.n_out, op.reuse_factor
    in_steps, out_steps = mac_fold(n_in, n_out, reuse)
    simd, pe = n_in // in_steps, n_out // out_steps
    codes = op.weight_type.quantize(op.weight).reshape(in_steps, simd, out_steps, pe)
    w = ctx.constant("w", op.weight_type, codes.transpose(2, 0, 3, 1))  # [ro][ri][p][s]
    if op.bias is None:  # a zero bias keeps one kernel signature; HLS removes the adds
        bias_type = exact_type(0, 0, op.accum_type.frac_bits)
        b = ctx.constant("b", bias_type, np.zeros(n_out, dtype=np.int64))
    else:
        bias_type = op.bias_type
        b = ctx.constant("b", bias_type, bias_type.quantize(op.bias))
    return {"n_in": n_in, "n_out": n_out, "reuse": reuse, "ri": in_steps, "ro": out_steps, "simd": simd,
            "pe": pe, "block": simd * pe, "relu": op.activation == "relu", "weight_type": op.weight_type,
            "bias_type": bias_type, "accum_type": op.accum_type, "w": w, "b": b}


def mac_knobs(op, ov: dict, input_bits_delta: int = 0) -> tuple[int, int, int, int]:
    """A MAC layer's (reuse, nonzero weights, weight bits, accumulator bits) under what-if
    overrides (Dense, Conv): the accumulator grows or shrinks with the weight and input
    widths, pruning leaves a share of nonzero weights."""
    w_bits, acc_bits = op.weight_type.width, op.accum_type.width
    new_w = ov.get("weight_bits", w_bits)
    grow = new_w - w_bits + input_bits_delta
    if grow:
        acc_bits = min(max(acc_bits + grow, 2), 62)
    pruning = ov.get("pruning")
    nonzero = op.nonzero_at(new_w) if pruning is None else max(1, round((1.0 - pruning) * op.n_in * op.n_out))
    return ov.get("reuse_factor", op.reuse_factor), nonzero, new_w, acc_bits


class MacWhatIf:
    """A Dense layer's cost as a function of the what-if knobs (compiler.estimate's overrides)
    and its input and output widths, prepared once for search loops; batch() takes arrays."""

    def __init__(self, op: Dense, mac: MacArray, x_bits: int):
        self.op, self.mac, self.x0 = op, mac, x_bits

    def __call__(self, ov: dict, x_bits: int, y_bits: int):
        reuse, nonzero, w_bits, acc_bits = mac_knobs(self.op, ov, x_bits - self.x0)
        return self.mac(reuse, nonzero, x_bits, w_bits, acc_bits, y_bits)

    def batch(self, knobs: dict[str, np.ndarray], x_bits: np.ndarray, y_bits: np.ndarray) -> dict[str, np.ndarray]:
        """Arrays of knobs {override: values} (missing ones: the layer's own) and of widths, one
        entry per configuration -> MacArray.batch's arrays, by mac_knobs's rules."""
        op, n = self.op, len(x_bits)
        w0 = op.weight_type.width
        reuse = knobs.get("reuse_factor", np.full(n, op.reuse_factor)).astype(np.int64)
        w_bits = knobs.get("weight_bits", np.full(n, w0)).astype(np.int64)
        grow = w_bits - w0 + (x_bits - self.x0)
        acc = op.accum_type.width
        acc_bits = np.where(grow != 0, np.clip(acc + grow, 2, 62), acc)
        distinct, inverse = np.unique(w_bits, return_inverse=True)
        nonzero = np.array([op.nonzero_at(int(b)) for b in distinct], dtype=np.int64)[inverse.reshape(-1)]
        if "pruning" in knobs:
            nonzero = np.maximum(1, np.round((1.0 - knobs["pruning"]) * op.n_in * op.n_out)).astype(np.int64)
        return self.mac.batch(reuse, nonzero, x_bits, w_bits, acc_bits, y_bits)
