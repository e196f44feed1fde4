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
import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedError, at_node
from ..numerics import MAX_WIDTH, FixedType, exact_type, grid_codes, jit
from ..numerics.fixed import FLOAT_EXACT
from ..numerics.matmul import Product
from . import register
from ..cost.model import LayerCost, cost_fields, with_output_bits
from ._mac import KERNELS, MEMORY_CODES, MacArray, MacOp, accepted_fold, float32_exact, mac_array_context
from ._window import chain, chain_arrays
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
        self.weight_scale = 1.0   # carried by the output's scale from here on: weight and bias are in its units
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
        base_frac = frac
        if self.bias is not None and np.any(self.bias) and keep_all:
            # The whole accumulator goes on (to the model's arithmetic, or to a quantizer that
            # may amplify it, e.g. a folded BatchNormalization): give a float bias 24
            # significant bits, at most 16 more fraction bits than the products have.
            want = 24 - math.frexp(float(np.abs(self.bias).max()))[1]
            frac = max(frac, min(want, frac + 16))
        # The extra bias precision is a choice: give up what would not fit the 62-bit codes.
        frac = max(base_frac, min(frac, base_frac + MAX_WIDTH - self._accum_bits(x_type, wq, base_frac)))
        while frac > base_frac and self._accum_bits(x_type, wq, frac) > MAX_WIDTH:
            frac -= 1
        if self._accum_bits(x_type, wq, frac) > MAX_WIDTH:
            raise at_node(ctx.node.name, ctx.node.label, self._too_wide(x_type, frac), UnsupportedError)
        if self.bias is not None:
            bq = grid_codes(self.bias, frac)
            self.bias = np.ldexp(bq.astype(np.float64), -frac)
            self.bias_type = exact_type(min(bq.min(), 0), max(bq.max(), 0), frac)
        lo, hi = self._accum_code_bounds(x_type, wq, frac)
        self.accum_type = exact_type(lo, hi, frac)
        if out.type is None:
            if keep_all:  # the model's own fixed-point arithmetic, or a quantizer rounds next: keep every bit
                out.type = exact_type(0 if self.activation == "relu" else lo, hi, frac)
                if out.type.width > FLOAT_EXACT:
                    # every bit would not fit a float64 code: keep the integer bits (one more, so the
                    # rounding cannot overflow) and the 53-bit type's fraction bits (2**-52 of the range)
                    out.type = FixedType(FLOAT_EXACT, out.type.int_bits + 1, out.type.signed, "AP_RND_CONV")
                out.model_typed = True
            else:
                out.type = ctx.narrowed(signed=self.activation != "relu")

    def _accum_bits(self, x_type: FixedType, wq: np.ndarray, frac: int) -> int:
        """Bits of the exact accumulator at `frac` fraction bits, in Python integers (the
        int64 of _accum_code_bounds would wrap beyond 63 bits, hiding what does not fit)."""
        up = frac - x_type.frac_bits - self.weight_type.frac_bits
        pos = np.maximum(wq, 0).sum(axis=0).astype(object)
        neg = np.minimum(wq, 0).sum(axis=0).astype(object)
        xl, xh = int(x_type.min_code), int(x_type.max_code)
        hi, lo = (xh * pos + xl * neg) * (1 << up), (xl * pos + xh * neg) * (1 << up)
        if self.bias is not None:
            if not np.all(np.isfinite(self.bias)):
                raise ValueError("the bias holds NaN or infinity, which fixed point cannot hold")
            b = np.array([int(v) for v in np.rint(np.ldexp(np.asarray(self.bias, dtype=np.float64), frac))], dtype=object)
            hi, lo = hi + b, lo + b
        lo, hi = min(min(lo.tolist(), default=0), 0), max(max(hi.tolist(), default=0), 0)
        return max((-lo - 1).bit_length(), hi.bit_length()) + 1 if lo < 0 else max(hi.bit_length(), 1)

    def _too_wide(self, x_type: FixedType, frac: int) -> str:
        return (f"the exact accumulator needs {self._accum_bits(x_type, self.weight_type.quantize(self.weight), frac)} "
                f"bits ({x_type} inputs times {self.weight_type.width}-bit weights, {self.n_in} products per output); "
                f"supported: accumulators up to {MAX_WIDTH} bits (quantize this layer's input or weights to fewer bits, "
                "e.g. with a Quant/QuantizeLinear in front)")

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
            # float32 products where they are exact (the bias is added in float64 after them)
            product = Product(w.astype(np.float32) if float32_exact(wq, x_type, bq, plan.offset) else w)
            # bias, ReLU and finish in one compiled pass where they are one affine step
            step = plan.one_step(relu_floor) if jit.available() else None
            if step is not None:
                affine = jit.Affine(self.n_out, offset=b, rounding=step[0], lo=step[1], hi=step[2])

            def run(ins):
                x = ins[0]
                acc = product(x.reshape(-1, x.shape[-1])).reshape(x.shape[:-1] + (self.n_out,))
                if step is not None and jit.worth(acc.size):
                    return [affine(acc, acc if acc.dtype == np.float64 else np.empty(acc.shape))]
                acc = acc.astype(np.float64, copy=False)
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
    search loops; batch() takes arrays. `folds` gives the stream widths under the knobs.
    Conv adds its window generator (`generator`: its cost in front of the array, chained)."""

    def __init__(self, op, mac: MacArray, x_bits: int, generator=None, style=None, detail=None):
        self.op, self.mac, self.x0 = op, mac, x_bits
        self.generator, self.style, self.detail = generator, style, detail or {}
        self.w0, self.acc0 = op.weight_type.width, op.accum_type.width
        self._shapes: dict = {}
        self._folds: dict = {}

    def shape(self, ov: dict) -> tuple[int, int]:
        key = (ov.get("reuse_factor"), ov.get("pe"), ov.get("simd"))
        hit = self._shapes.get(key)
        if hit is None:
            hit = self._shapes[key] = self.op.shape_of(ov)
        return hit

    def folds(self, ov: dict, arriving: int | None) -> tuple[int, int]:
        key = (ov.get("reuse_factor"), ov.get("pe"), ov.get("simd"), arriving)
        hit = self._folds.get(key)
        if hit is None:
            pe, simd = self.shape(ov)
            hit = self._folds[key] = (self.op.native_fold(arriving, simd, pe), pe)
        return hit

    @staticmethod
    def key(ov: dict, x_bits: int, in_fold: int | None) -> tuple:
        """What a setting's cost depends on, but the output width (a memo key: searches vary
        the output width of every layer, the rest repeats)."""
        if not ov:
            return (None, None, None, None, None, None, x_bits, in_fold)
        get = ov.get
        return (get("reuse_factor"), get("pe"), get("simd"), get("weight_bits"), get("pruning"), get("memory"),
                x_bits, in_fold)

    def __call__(self, ov: dict, x_bits: int, y_bits: int, in_fold: int | None = None) -> LayerCost:
        """The layer's cost; in_fold: the width its input arrives at (a wider one a multiple
        of SIMD is sliced inside; converters in front of another are the caller's)."""
        fields, detail, _, _ = self.core(ov, x_bits, in_fold)
        return with_output_bits(fields, detail, y_bits)

    def core(self, ov: dict, x_bits: int, in_fold: int | None) -> tuple:
        """(the cost but its output width's terms, as cost.model.cost_fields gives them
        (with_output_bits adds them); the native input width; the output width)."""
        op = self.op
        pe, simd = self.shape(ov)
        w0, acc_bits = self.w0, self.acc0
        w_bits = ov.get("weight_bits", w0) if ov else w0
        grow = w_bits - w0 + x_bits - self.x0
        if grow:  # the accumulator follows the weight and input widths, bit for bit
            acc_bits = min(max(acc_bits + grow, 2), 62)
        pruning = ov.get("pruning") if ov else None
        nonzero = op.nonzero_at(w_bits) if pruning is None else max(1, round((1.0 - pruning) * op.n_in * op.n_out))
        mem = ov.get("memory", op.memory) if ov else op.memory
        in_fold = self.folds(ov, in_fold)[0]
        cycles = op.block_cycles(pe, simd, w_bits) if pruning is None else op.pruned_block_cycles(pe, simd, pruning)
        cost = self.mac(pe, simd, nonzero, x_bits, w_bits, acc_bits, 0, op.mac_fold_in(in_fold, simd), mem, cycles)
        lut_y, ff_y = self.mac.per_output_bit(pe, cost.detail["reuse_factor"] == 1)
        if self.style is not None:
            gen = self.generator(pe, simd, x_bits, in_fold)
            cost = dataclasses.replace(cost, detail=dict(cost.detail)) if gen is None else chain(gen, cost)
            cost.style = self.style(simd)
            cost.detail.update(self.detail)
        return (*cost_fields(cost, lut_y, ff_y), in_fold, pe)

    def batch(self, knobs: dict[str, np.ndarray], x_bits: np.ndarray, y_bits: np.ndarray,
              arriving: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """The formula over arrays, one entry per configuration: knobs {override: values}
        (missing ones: the layer's own), input and output widths, the beat width the input
        arrives at (0: free, a graph input). Returns (cost fields, native input widths,
        output widths), the same numbers as __call__ and folds for each entry."""
        from ._mac import _rows

        op, n = self.op, len(x_bits)
        x_bits, y_bits = np.asarray(x_bits, dtype=np.int64), np.asarray(y_bits, dtype=np.int64)
        pe0, simd0 = op.shape
        if "reuse_factor" in knobs:
            pe, simd = _rows(lambda r: op.shape_for_reuse(r), knobs["reuse_factor"]).astype(np.int64).T
        else:
            pe = np.asarray(knobs.get("pe", np.full(n, pe0)), dtype=np.int64)
            simd = np.asarray(knobs.get("simd", np.full(n, simd0)), dtype=np.int64)
        w0, acc0 = op.weight_type.width, op.accum_type.width
        w_bits = np.asarray(knobs.get("weight_bits", np.full(n, w0)), dtype=np.int64)
        grow = w_bits - w0 + (x_bits - self.x0)
        acc = np.where(grow != 0, np.clip(acc0 + grow, 2, 62), acc0)
        if "pruning" in knobs:
            p = np.asarray(knobs["pruning"], dtype=np.float64).tolist()
            nonzero = np.array([max(1, round((1.0 - v) * op.n_in * op.n_out)) for v in p], dtype=np.int64)
            cycles = np.array([op.pruned_block_cycles(q, sd, v) for q, sd, v in zip(pe.tolist(), simd.tolist(), p)],
                              dtype=np.int64)
        else:
            nonzero = _rows(lambda b: (op.nonzero_at(b),), w_bits)[:, 0].astype(np.int64)
            cycles = _rows(lambda q, sd, b: (op.block_cycles(q, sd, b),), pe, simd, w_bits)[:, 0].astype(np.int64)
        mems = np.array([MEMORY_CODES.index(m) for m in knobs["memory"]], dtype=np.int64) if "memory" in knobs \
            else np.full(n, MEMORY_CODES.index(op.memory), dtype=np.int64)
        native = _rows(lambda a, s, q: (op.native_fold(a or None, s, q),), arriving, simd, pe)[:, 0].astype(np.int64)
        in_mac = _rows(lambda f, s: (op.mac_fold_in(f, s),), native, simd)[:, 0].astype(np.int64)
        fields = self.mac.batch(pe, simd, nonzero, x_bits, w_bits, acc, y_bits, in_mac, mems, cycles)
        if self.generator is not None:
            gens = [self.generator(int(q), int(s), int(b), int(f))
                    for q, s, b, f in zip(pe.tolist(), simd.tolist(), x_bits.tolist(), native.tolist())]
            if any(g is not None for g in gens):
                fields = chain_arrays(gens, fields)
        return fields, native, pe
