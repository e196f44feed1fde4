"""MatMul of two computed tensors (attention's Q·Kᵀ and softmax·V): y[s] = a[s] @ b[s] for
every slice s of the leading axes, a (..., M, K) and b (..., K, N) in the IR (rows last).
The products are summed exactly in an accumulator sized from the input types, and cast
once to the output type.

Hardware (qc::matmul, templates/kernels/qc_matmul.h): per slice, the K rows of b are stored
as they arrive (one beat of N values per cycle) in K banks of N words, so a column of b can
be read in one cycle; then every row of a (one beat of K values) meets the N columns one per
cycle: K multipliers and an adder tree (SIMD = K, PE = 1), one output per cycle, packed into
one beat of N per row. A slice takes K + M * N cycles; b is held once (not double-buffered:
the next slice's b waits for this one's rows).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cost.hardware import memory, multiplier, stream_cycles, stream_io
from ..cost.model import LayerCost
from ..numerics import FixedType, exact_type
from ..numerics.fixed import FLOAT_EXACT, MAX_WIDTH
from . import register
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, Op, TypingContext

MAX_BOUND_ELEMENTS = 1 << 22   # per-element interval products above this: one bound for all


@register
@dataclass
class MatMul(Op):
    kind = "MatMul"
    template = "matmul"
    n_inputs = 2

    acc_type: FixedType | None = None

    def describe(self) -> str:
        return "MatMul (two streams)"

    def infer_shapes(self, shapes):
        a, b = (tuple(s) for s in shapes)
        if len(a) < 2 or len(b) < 2 or a[:-2] != b[:-2] or a[-1] != b[-2]:
            raise ValueError(f"cannot multiply {a} by {b} (supported: (..., M, K) @ (..., K, N), same leading axes)")
        return [a[:-1] + (b[-1],)]

    def reference(self, xs):
        return [np.matmul(xs[0], xs[1])]

    def bounds(self, ins):
        a, b = ins
        m, k = a.lo.shape[-2:]
        n = b.lo.shape[-1]
        if a.lo.size * n > MAX_BOUND_ELEMENTS:
            amax = max(abs(a.min), abs(a.max))
            bmax = max(abs(b.min), abs(b.max))
            shape = a.lo.shape[:-1] + (n,)
            return [Bounds(np.full(shape, -k * amax * bmax), np.full(shape, k * amax * bmax))]
        corners = [al[..., :, :, None] * bl[..., None, :, :] for al in (a.lo, a.hi) for bl in (b.lo, b.hi)]
        return [Bounds(np.min(corners, axis=0).sum(axis=-2), np.max(corners, axis=0).sum(axis=-2))]

    def rescale(self, in_scales):
        scalar = [np.ndim(s) == 0 or np.size(s) == 1 for s in in_scales]
        if not all(scalar):
            raise NeedsUnitScale([i for i, ok in enumerate(scalar) if not ok])
        return [float(np.asarray(in_scales[0]).reshape(-1)[0]) * float(np.asarray(in_scales[1]).reshape(-1)[0])]

    def assign_types(self, ctx: TypingContext) -> None:
        ta, tb = (t.type for t in ctx.inputs)
        k = ctx.inputs[0].shape[-1]
        corners = [x * y for x in (ta.min_code, ta.max_code) for y in (tb.min_code, tb.max_code)]
        self.acc_type = exact_type(k * min(min(corners), 0), k * max(max(corners), 0), ta.frac_bits + tb.frac_bits)
        if self.acc_type.width > MAX_WIDTH:
            raise ValueError(f"the accumulator of {k} products of {ta} and {tb} needs {self.acc_type.width} bits "
                             f"(supported: up to {MAX_WIDTH}; narrow the inputs with quantizers)")
        out = ctx.outputs[0]
        if out.type is None:
            out.type = ctx.narrowed()

    def simulator(self, in_types, out_types):
        (y_type,), acc = out_types, self.acc_type
        if acc.width <= FLOAT_EXACT:   # every partial sum is an integer below 2**53: exact in float64
            def run(ins):
                return [y_type.cast(np.matmul(ins[0], ins[1]), acc)]
        else:
            def run(ins):
                s = np.matmul(ins[0].astype(np.int64), ins[1].astype(np.int64))
                return [y_type.cast(s, acc).astype(np.float64)]
        return run

    def cost(self, ctx: CostContext) -> LayerCost:
        """K multipliers and a K-input adder tree; b in K banks of N words; K + M*N cycles a slice."""
        a, b, y = ctx.inputs[0], ctx.inputs[1], ctx.outputs[0]
        m, k = a.shape[-2:]
        n = b.shape[-1]
        slices = math.prod(a.shape[:-2])
        c = ctx.target.coeff
        dsp, m_lut, m_ff = multiplier(ctx.target, a.type.width, b.type.width)
        bram, b_lut, _ = memory(ctx.target, b.type.width, n, banks=k)
        tree_lut = (k - 1) * self.acc_type.width * c["lut_per_adder_bit"]
        s_lut, s_ff = stream_io(ctx.target, n * y.type.width)
        cycles = slices * (k + m * n)
        depth = int(c["mult_latency"]) + max(k - 1, 0).bit_length() + stream_cycles(ctx.target)
        return LayerCost(style="matmul", ii=cycles, latency=cycles + depth, first_out=k + n + depth,
                         dsp=k * dsp, lut=k * m_lut + tree_lut + b_lut + n * y.type.width * 0.5 + c["lut_fixed"] + s_lut,
                         ff=k * (m_ff + a.type.width) + self.acc_type.width + n * y.type.width + c["ff_fixed"] + s_ff,
                         bram_18k=bram,
                         detail={"simd": k, "pe": 1, "b_buffer": f"{k} x {n} x {b.type.width} bit",
                                 "slices": slices})

    def hls(self, ctx: HlsContext) -> dict:
        a, b = ctx.inputs[0], ctx.inputs[1]
        m, k = a.shape[-2:]
        return {"m": m, "k": k, "n": b.shape[-1], "slices": math.prod(a.shape[:-2]), "acc_type": self.acc_type,
                "b_t": b.type.cpp()}
