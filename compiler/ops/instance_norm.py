"""InstanceNormalization: per sample and channel, normalize over every pixel (the items of
a channels-last image), then per-channel scale and bias.

The arithmetic is LayerNorm's (ops/layer_norm.py: exact sums S1 and S2, exact P^2 var,
1/sqrt from a 2048-entry table, z truncated to ZF fraction bits, y = t gamma + beta rounded
once), with P = the number of pixels and one (S1, S2, 1/sqrt) per channel.

Hardware (templates/kernels/qc_norm.h, qc::instance_norm), at the width the stream arrives
at (k channels per beat, G = C / k beats per pixel), three pipelined phases per image:
  1. P G beats in: each is stored in a frame buffer (P G words of k values, BRAM) and
     added into k lanes of S1 and S2 accumulators (G words each);
  2. G steps: per lane the variance, a leading-one detector and the table lookup;
  3. P G beats out of the frame buffer: per lane c = P x - S1, c * RSQ, a barrel shift and
     the gamma multiply-add.
The interval is 2 P G + G cycles (the phases of one image do not overlap).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from .base import CostContext, HlsContext, Op, TypingContext, channels_of
from .layer_norm import (RSQ_BITS, RSQ_TYPE, NormPlan, measure_error, norm_beta_codes, norm_bounds,
                         norm_error_bound, norm_hls, norm_plan, norm_simulate, rsqrt_table)


@register
@dataclass
class InstanceNorm(Op):
    kind = "InstanceNorm"
    template = "instance_norm"

    scale: np.ndarray | None = None     # gamma, one per channel (float)
    bias: np.ndarray | None = None      # beta, one per channel
    epsilon: float = 1e-5
    gamma_type: FixedType | None = None
    max_error: float | None = None

    def __post_init__(self):
        self.scale = np.asarray(self.scale, dtype=np.float64).reshape(-1)
        self.bias = np.asarray(self.bias, dtype=np.float64).reshape(-1)

    def describe(self) -> str:
        return "InstanceNorm (rsqrt LUT)"

    def _pixels_first(self, x: np.ndarray) -> np.ndarray:
        return x.reshape((len(x), -1, x.shape[-1]))

    def reference(self, xs):
        x = self._pixels_first(xs[0])
        mean = x.mean(axis=1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
        y = (x - mean) / np.sqrt(var + self.epsilon) * self.scale + self.bias
        return [y.reshape(xs[0].shape)]

    def bounds(self, ins):
        lo = ins[0].lo
        return [norm_bounds(lo, lo.size // channels_of(lo.shape), self.scale, self.bias)]

    def plan(self, x_type: FixedType, y_type: FixedType, shape) -> NormPlan:
        p = int(np.prod(shape)) // channels_of(shape)
        return norm_plan(p, x_type, self.epsilon, self.scale, self.bias, y_type, self.gamma_type)

    def assign_types(self, ctx: TypingContext) -> None:
        out = ctx.outputs[0]
        if out.type is None:
            out.type = ctx.narrowed(signed=True)
        self.gamma_type = ctx.policy.weight_type(self.scale)
        shape = tuple(ctx.inputs[0].shape)
        plan = self.plan(ctx.inputs[0].type, out.type, shape)   # refuses widths beyond int64
        self.max_error = max(measure_error(self, ctx.inputs[0].type, out.type, shape,
                                           samples=max(8, min(48, 200_000 // max(int(np.prod(shape)), 1)))),
                             norm_error_bound(plan, self.scale, out.type))

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        rsq = rsqrt_table()
        g = self.gamma_type.quantize(self.scale).astype(np.int64)
        plans: dict = {}

        def run(ins):
            x = ins[0].astype(np.int64)
            shape = x.shape[1:]
            if shape not in plans:
                plan = self.plan(x_type, y_type, shape)
                plans[shape] = (plan, norm_beta_codes(plan, self.bias))
            plan, b = plans[shape]
            y = norm_simulate(self._pixels_first(x), 1, plan, rsq, g, b, y_type)
            return [y.reshape(x.shape).astype(np.float64)]
        return run

    def stream_folds(self, in_shapes, out_shapes, arriving):
        import math

        c = channels_of(in_shapes[0])
        k = math.gcd(arriving[0] or c, c)
        return [k], [k]

    def cost(self, ctx: CostContext):
        """k lanes: a squarer and two accumulators (phase 1), a variance product and the RSQ
        lookup (phase 2, shared by the lanes' channels), the c * RSQ product, barrel shift
        and gamma multiply-add (phase 3); the frame buffer of the whole image."""
        from ..cost.hardware import memory, multiplier, stream_cycles, stream_io
        from ..cost.model import LayerCost

        target, c = ctx.target, ctx.target.coeff
        x, y = ctx.inputs[0], ctx.outputs[0]
        k = ctx.in_folds[0]
        groups = x.channels // k
        plan = self.plan(x.type, y.type, x.shape)
        p = plan.p
        sq = multiplier(target, x.type.width, x.type.width)
        cr = multiplier(target, plan.c_type.width, RSQ_TYPE.width)
        tg = multiplier(target, plan.z_type.width, plan.gamma_type.width)
        var = multiplier(target, plan.s1_type.width, plan.s1_type.width)
        per_lane = [sum(m[i] for m in (sq, cr, tg, var, var)) for i in range(3)]
        buf_bram, buf_lut, buf_uram = memory(target, k * x.type.width, p * groups, ports=1)
        acc_bits = k * (plan.s1_type.width + plan.s2_type.width + RSQ_TYPE.width + 6)
        a_bram, a_lut, _ = memory(target, acc_bits, groups) if groups > 1 else (0.0, 0.0, 0.0)
        rom_bram, rom_lut, _ = memory(target, RSQ_TYPE.width, 2 << RSQ_BITS, banks=max(k // 2, 1))
        lut = k * per_lane[1] + buf_lut + a_lut + rom_lut + c["lut_fixed"] \
            + k * (plan.s1_type.width + plan.s2_type.width + plan.c_type.width + plan.prod_type.width
                   + plan.u_type.width) * c["lut_per_adder_bit"]
        ff = k * (per_lane[2] + y.type.width) + (acc_bits if groups == 1 else 0) + c["ff_fixed"]
        s_lut, s_ff = stream_io(target, k * y.type.width)
        depth = 4 * int(c["mult_latency"]) + 6 + stream_cycles(target)
        beats = p * groups
        ii = 2 * beats + groups + depth
        return LayerCost(style="instance_norm", ii=ii, latency=ii, first_out=beats + groups + depth,
                         dsp=k * per_lane[0], lut=lut + s_lut, ff=ff + s_ff, bram_18k=buf_bram + a_bram + rom_bram,
                         uram=buf_uram, detail={"lanes": k, "frame_words": beats, "table_entries": 2 << RSQ_BITS})

    def hls(self, ctx: HlsContext) -> dict:
        x, y = ctx.inputs[0], ctx.outputs[0]
        k = ctx.in_folds[0]
        plan = self.plan(x.type, y.type, x.shape)
        return dict(norm_hls(plan), fold=k, groups=x.channels // k, channels=x.channels,
                    rsq=ctx.constant("rsq", RSQ_TYPE, rsqrt_table()),
                    gamma=ctx.constant("gamma", plan.gamma_type, plan.gamma_type.quantize(self.scale)),
                    beta=ctx.constant("beta", plan.beta_type, norm_beta_codes(plan, self.bias)))
