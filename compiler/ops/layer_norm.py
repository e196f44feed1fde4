"""LayerNormalization over the last IR axis (n values per item), and the integer
normalization arithmetic InstanceNormalization (ops/instance_norm.py) shares.

Over P values x (integer codes, F fraction bits) with S1 = sum x, S2 = sum x^2 (exact):
    c = P x - S1                                  (exact: P times x - mean)
    V = P S2 - S1^2                               (exact: P^2 var, in code units)
    U = V + E,  E = eps P^2 2^(2F)                (U on FU fraction bits, E rounded once)
    z = c / sqrt(U) = (x - mean) / sqrt(var + eps)
1/sqrt(U) comes from one 2048-entry table: with U = 2^e * m (m in [1, 2), e = 2q + par),
1/sqrt(U) = RSQ[par, 10 bits of m below the leading one] * 2^-q, RSQ sampled mid-interval
(relative error <= 2^-12 in the table, 2^-18 in its entries). z is truncated to ZF fraction
bits (t), then y = t * gamma + beta is exact and rounded once to the output type. The
stated accuracy (`max_error`, printed in the report) is the larger of a sound bound
(norm_error_bound: the table's relative error at the largest possible |z| = sqrt(P - 1),
plus the truncations and the output rounding) and the error measured when the op is typed
(against float64 with the model's float scale and bias); typical errors are the table's
2.5e-4 relative at |z| of a few.

Hardware (templates/kernels/qc_norm.h, qc::layer_norm): whole items (n values per beat),
one item per cycle: n squarers and two adder trees (S1, S2), the variance, a leading-one
detector and one table lookup per item, then per lane a c * RSQ product, a barrel shift and
the gamma * t + beta multiply-add.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from . import register
from .base import Bounds, CostContext, HlsContext, Op, TypingContext

RSQ_BITS = 10
RSQ_TYPE = FixedType(18, 0, False, "AP_RND_CONV")   # 1/sqrt(m), m in [1, 4): (0.5, 1)
RSQ_FRAC = RSQ_TYPE.frac_bits
MAX_U_FRAC = 8                                       # fraction bits of U (E's precision)


def rsqrt_table() -> np.ndarray:
    mant = 1.0 + (np.arange(1 << RSQ_BITS) + 0.5) / (1 << RSQ_BITS)
    return RSQ_TYPE.quantize(np.concatenate([1.0 / np.sqrt(mant), 1.0 / np.sqrt(2.0 * mant)]))


def _bits(v: int) -> int:
    return max(int(v).bit_length(), 1)


@dataclass(frozen=True)
class NormPlan:
    """The internal types of a normalization over P values of type x_type."""

    p: int
    x_type: FixedType
    s1_type: FixedType      # sum x (frac F)
    s2_type: FixedType      # sum x^2 (frac 2F)
    c_type: FixedType       # P x - S1 (frac F)
    v_type: FixedType       # P S2 - S1^2 (frac 2F)
    u_type: FixedType       # V + E (frac 2F + FU)
    u_frac: int             # FU
    e_code: int             # E on u_type's grid
    prod_type: FixedType    # c * RSQ (frac F + 18), exact
    z_type: FixedType       # t: z truncated to ZF fraction bits
    gamma_type: FixedType
    beta_type: FixedType    # frac ZF + gamma frac
    acc_type: FixedType     # t * gamma + beta, exact

    @property
    def z_frac(self) -> int:
        return self.z_type.frac_bits


def norm_plan(p: int, x_type: FixedType, eps: float, gamma: np.ndarray, beta: np.ndarray, y_type: FixedType,
              gamma_type: FixedType) -> NormPlan:
    f = x_type.frac_bits
    lo, hi = x_type.min_code, x_type.max_code
    big = max(abs(lo), abs(hi))
    s1 = exact_type(p * lo, p * hi, f)
    s2 = exact_type(0, p * big * big, 2 * f)
    c = exact_type(p * lo - p * hi, p * hi - p * lo, f)
    v_max = p * p * big * big   # P S2 - S1^2 <= P S2
    v = exact_type(0, v_max, 2 * f)
    e_real = eps * p * p * 2.0 ** (2 * f)
    fu = MAX_U_FRAC
    while fu > 0 and _bits(v_max * (1 << fu) + int(math.ceil(e_real * 2.0 ** fu))) > 62:
        fu -= 1
    e_code = int(round(e_real * 2.0 ** fu))
    u_max = v_max * (1 << fu) + e_code
    if _bits(u_max) > 62:
        raise ValueError(f"a normalization over {p} values of {x_type} needs a {_bits(u_max)}-bit variance "
                         "(supported: up to 62 bits; narrow the input type)")
    u = FixedType(_bits(u_max), _bits(u_max) - 2 * f - fu, False)
    r_max = (1 << RSQ_FRAC) - 1
    prod = exact_type(c.min_code * r_max, c.max_code * r_max, f + RSQ_FRAC)
    zf = max(16, y_type.frac_bits - gamma_type.frac_bits + 4, y_type.frac_bits + 2)
    z_ib = _bits(int(math.ceil(math.sqrt(p) * 1.01)) + 1) + 1
    z = FixedType(zf + z_ib, z_ib, True)
    g = np.asarray(gamma_type.quantize(gamma), dtype=np.int64)
    bf = zf + gamma_type.frac_bits
    b_codes = np.asarray(FixedType(62, 62 - bf, True, "AP_RND_CONV", "AP_SAT").quantize(beta), dtype=np.int64)
    beta_type = exact_type(int(b_codes.min(initial=0)), int(b_codes.max(initial=0)), bf)
    big_acc = abs(z.min_code) * int(np.abs(g).max(initial=0)) + int(np.abs(b_codes).max(initial=0))
    acc = exact_type(-big_acc, big_acc, bf)
    if acc.width > 62 or prod.width > 62:
        raise ValueError(f"a normalization over {p} values of {x_type} needs {max(acc.width, prod.width)}-bit "
                         "products (supported: up to 62 bits; narrow the input type)")
    return NormPlan(p, x_type, s1, s2, c, v, u, fu, e_code, prod, z, gamma_type, beta_type, acc)


def norm_beta_codes(plan: NormPlan, beta: np.ndarray) -> np.ndarray:
    return np.asarray(plan.beta_type.with_modes("AP_RND_CONV", "AP_SAT").quantize(beta), dtype=np.int64)


def _leading_one(u: np.ndarray) -> np.ndarray:
    """Bit position of the leading one of positive int64 codes (exact beyond 2**53)."""
    p = np.frexp(u.astype(np.float64))[1] - 1
    p = np.where((u >> np.maximum(p, 0)) == 0, p - 1, p)
    return np.where((u >> np.maximum(p, 0)) >= 2, p + 1, p)


def norm_simulate(x: np.ndarray, axis: int, plan: NormPlan, rsq: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                  y_type: FixedType) -> np.ndarray:
    """The kernel's integer arithmetic on int64 codes, normalizing over `axis`; gamma and
    beta codes broadcast against x."""
    p = plan.p
    s1 = x.sum(axis=axis, keepdims=True)
    s2 = (x * x).sum(axis=axis, keepdims=True)
    c = p * x - s1
    u = np.maximum(((p * s2 - s1 * s1) << plan.u_frac) + plan.e_code, 1)
    lead = _leading_one(u)
    e = lead - plan.u_frac
    par = e & 1
    q = (e - par) >> 1
    mant = ((u >> np.maximum(lead - RSQ_BITS, 0)) << np.maximum(RSQ_BITS - lead, 0)) & ((1 << RSQ_BITS) - 1)
    r = rsq[(par << RSQ_BITS) | mant]
    raw = c * r
    s = RSQ_FRAC + q - plan.z_frac
    t = (raw >> np.maximum(s, 0)) << np.maximum(-s, 0)
    acc = t * gamma + beta
    return y_type.cast(acc, plan.acc_type)


def norm_hls(plan: NormPlan) -> dict:
    return {"p": plan.p, "s1_type": plan.s1_type, "s2_type": plan.s2_type, "c_type": plan.c_type,
            "v_type": plan.v_type, "u_type": plan.u_type, "u_frac": plan.u_frac, "e_code": plan.e_code,
            "e_type": FixedType(plan.u_type.width, plan.u_type.int_bits, False), "rsq_type": RSQ_TYPE,
            "rsq_bits": RSQ_BITS, "prod_type": plan.prod_type, "z_type": plan.z_type,
            "gamma_type": plan.gamma_type, "beta_type": plan.beta_type, "acc_type": plan.acc_type}


def measure_error(op, x_type: FixedType, y_type: FixedType, shape: tuple[int, ...], samples: int = 48) -> float:
    """Largest |simulated - float64| over random inputs spanning the input type (outputs the
    output type holds; saturation is the type's error, not the kernel's)."""
    rng = np.random.default_rng(0)
    span = min(x_type.max_value - x_type.min_value, 64.0)
    center = 0.0 if x_type.signed else span / 2
    parts = [rng.uniform(center - span / 2, center + span / 2, (samples,) + shape),
             rng.normal(center, span / 16, (samples,) + shape),
             center + rng.normal(0, 1, (samples // 4,) + (1,) * len(shape))
             + rng.normal(0, 1e-2, (samples // 4,) + shape)]
    x = np.concatenate(parts)
    codes = x_type.quantize(np.clip(x, x_type.min_value, x_type.max_value))
    got = y_type.to_float(op.simulator([x_type], [y_type])([codes.astype(np.float64)])[0])
    want = op.reference([x_type.to_float(codes)])[0]
    held = (want >= y_type.min_value) & (want <= y_type.max_value)
    return float(np.abs(got - want)[held].max(initial=0.0))


def norm_error_bound(plan: NormPlan, gamma: np.ndarray, y_type: FixedType) -> float:
    """A sound bound of |y - float|: the table's relative error (mantissa index mid-sampled,
    <= 2**-12, and its entries, <= 2**-18) at the largest |z| (sqrt(P - 1)), the truncation
    of z, gamma's and beta's quantization and the output rounding."""
    zmax = math.sqrt(max(plan.p - 1, 0))
    g = float(np.abs(gamma).max(initial=0.0))
    rel = 2.0 ** -(RSQ_BITS + 2) + 2.0 ** -(RSQ_FRAC - 1)
    rounding = y_type.lsb if y_type.rounding in ("AP_TRN", "AP_TRN_ZERO") else y_type.lsb / 2
    return (rel * zmax * g + plan.z_type.lsb * g + plan.gamma_type.lsb / 2 * zmax + plan.beta_type.lsb / 2
            + rounding)


def norm_bounds(lo: np.ndarray, p: int, gamma: np.ndarray, beta: np.ndarray) -> Bounds:
    """|z| <= sqrt(P - 1) for any input; a margin for the table's error."""
    zmax = math.sqrt(max(p - 1, 0)) * 1.001 + 2.0 ** -12
    g = np.abs(gamma) * zmax
    return Bounds(np.broadcast_to(beta - g, lo.shape).copy(), np.broadcast_to(beta + g, lo.shape).copy())


@register
@dataclass
class LayerNorm(Op):
    kind = "LayerNorm"
    template = "layer_norm"

    scale: np.ndarray | None = None     # gamma, one per value of an item (float)
    bias: np.ndarray | None = None      # beta
    epsilon: float = 1e-5
    gamma_type: FixedType | None = None
    max_error: float | None = None

    def __post_init__(self):
        self.scale = np.asarray(self.scale, dtype=np.float64).reshape(-1)
        self.bias = np.asarray(self.bias if self.bias is not None else np.zeros_like(self.scale),
                               dtype=np.float64).reshape(-1)

    def describe(self) -> str:
        return f"LayerNorm over {self.scale.size} (rsqrt LUT)"

    def reference(self, xs):
        x = xs[0]
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return [(x - mean) / np.sqrt(var + self.epsilon) * self.scale + self.bias]

    def bounds(self, ins):
        return [norm_bounds(ins[0].lo, ins[0].lo.shape[-1], self.scale, self.bias)]

    def plan(self, x_type: FixedType, y_type: FixedType) -> NormPlan:
        return norm_plan(self.scale.size, x_type, self.epsilon, self.scale, self.bias, y_type, self.gamma_type)

    def assign_types(self, ctx: TypingContext) -> None:
        out = ctx.outputs[0]
        if out.type is None:
            out.type = ctx.narrowed(signed=True)
        self.gamma_type = ctx.policy.weight_type(self.scale)
        plan = self.plan(ctx.inputs[0].type, out.type)   # refuses widths beyond int64
        self.max_error = max(measure_error(self, ctx.inputs[0].type, out.type, tuple(ctx.inputs[0].shape), 400),
                             norm_error_bound(plan, self.scale, out.type))

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        plan = self.plan(x_type, y_type)
        rsq = rsqrt_table()
        g = self.gamma_type.quantize(self.scale).astype(np.int64)
        b = norm_beta_codes(plan, self.bias)

        def run(ins):
            x = ins[0].astype(np.int64)
            return [norm_simulate(x, -1, plan, rsq, g, b, y_type).astype(np.float64)]
        return run

    def cost(self, ctx: CostContext):
        """Whole items, one per cycle: n squarers, two adder trees, one variance product, a
        leading-one detector and the RSQ table per item, n (c * RSQ) products with barrel
        shifters and n gamma multiply-adds."""
        from ..cost.hardware import adder_tree_depth, memory, multiplier, stream_cycles, stream_io
        from ..cost.model import LayerCost

        target, c = ctx.target, ctx.target.coeff
        x, y = ctx.inputs[0], ctx.outputs[0]
        n = x.channels
        plan = self.plan(x.type, y.type)
        sq = multiplier(target, x.type.width, x.type.width)
        cr = multiplier(target, plan.c_type.width, RSQ_TYPE.width)
        tg = multiplier(target, plan.z_type.width, plan.gamma_type.width)
        var = multiplier(target, plan.s1_type.width, plan.s1_type.width)
        rom_bram, rom_lut, _ = memory(target, RSQ_TYPE.width, 2 << RSQ_BITS)
        dsp = n * (sq[0] + cr[0] + tg[0]) + 2 * var[0]
        lut = n * (sq[1] + cr[1] + tg[1]) + 2 * var[1] + rom_lut \
            + (n * (plan.s1_type.width + plan.s2_type.width + plan.c_type.width + plan.prod_type.width)
               + 2 * plan.u_type.width) * c["lut_per_adder_bit"] + 64 + c["lut_fixed"]
        ff = n * (sq[2] + cr[2] + tg[2] + y.type.width) + c["ff_fixed"]
        s_lut, s_ff = stream_io(target, n * y.type.width)
        depth = 2 * adder_tree_depth(target, n) + 4 * int(c["mult_latency"]) + 6 + stream_cycles(target)
        items = x.items
        return LayerCost(style="layer_norm", ii=items, latency=items + depth, first_out=1 + depth, dsp=dsp,
                         lut=lut + s_lut, ff=ff + s_ff, bram_18k=rom_bram, detail={"table_entries": 2 << RSQ_BITS})

    def hls(self, ctx: HlsContext) -> dict:
        x, y = ctx.inputs[0], ctx.outputs[0]
        plan = self.plan(x.type, y.type)
        return dict(norm_hls(plan), n=x.channels, items=x.items,
                    rsq=ctx.constant("rsq", RSQ_TYPE, rsqrt_table()),
                    gamma=ctx.constant("gamma", plan.gamma_type, plan.gamma_type.quantize(self.scale)),
                    beta=ctx.constant("beta", plan.beta_type, norm_beta_codes(plan, self.bias)))
