"""Softmax over the last axis, with lookup tables, bit-exact between simulator and C++.

    m = max(x);  d_i = m - x_i >= 0
    dq_i  = d_i on a 2**-12 grid, truncated and clamped below 16      (ap_ufixed<16,4,AP_TRN,AP_SAT>)
    e_i   = EXP_HI[dq_i >> 8] * EXP_LO[dq_i & 255]  ~ exp(-d_i)       (two 256-entry tables)
    S     = sum e_i  (exact);  p = leading-one position of S
    r     = RECIP[10 bits of S below its leading one] ~ 2**(p-FS) / S (1024-entry table)
    y_i   = (e_i * r) * 2**(FS-p), rounded once to the output type

Splitting exp(-d) = exp(-hi) * exp(-lo) keeps both tables small while the index keeps 12
fraction bits; normalizing S before the reciprocal table gives the same relative accuracy
for every vector length. The achieved accuracy is measured when the op is typed
(`max_error`, against float64 softmax over random inputs spanning the input type) and
printed in the report.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, jit
from . import register
from .base import Bounds, CostContext, HlsContext, Op, TypingContext

D_TYPE = FixedType(16, 4, False, "AP_TRN", "AP_SAT")   # d quantized for the exp lookup
TABLE_TYPE = FixedType(18, 1, False, "AP_RND_CONV")     # exp table entries and e_i, in (0, 1]
E_TYPE = FixedType(18, 1, False, "AP_RND")              # e_i after the hi*lo product
RECIP_TYPE = FixedType(18, 0, False, "AP_RND_CONV")     # reciprocal mantissas, in (0.5, 1)
LO_BITS, RECIP_BITS = 8, 10


def _ceil_log2(n: int) -> int:
    return max(int(n - 1).bit_length(), 0)


def reduce_last(ufunc, x: np.ndarray) -> np.ndarray:
    """ufunc.reduce over the last axis (keepdims) of integer codes; a short axis column by
    column (numpy's reduce loops per row there: ~10x slower on D01's 5 classes)."""
    n = x.shape[-1]
    if n > 16:
        return ufunc.reduce(x, axis=-1, keepdims=True)
    out = x[..., 0].copy()
    for j in range(1, n):
        ufunc(out, x[..., j], out=out)
    return out[..., None]


def exp_sum(x: np.ndarray, x_type: FixedType, exp_hi: np.ndarray, exp_lo: np.ndarray):
    """The shared front of Softmax and LogSoftmax on int64 codes (last axis): d = max - x
    (exact, d_src codes), e ~ exp(-d) (E_TYPE codes), S = sum e, p = the leading-one
    position of S, idx = the RECIP_BITS bits of S below it."""
    d_src = FixedType(x_type.width + 1, x_type.int_bits + 1, False)
    d = reduce_last(np.maximum, x) - x
    dq = D_TYPE.cast(d, d_src)
    e_full = exp_hi[dq >> LO_BITS] * exp_lo[dq & ((1 << LO_BITS) - 1)]
    e = E_TYPE.cast(e_full, FixedType(36, 2, False))
    s = reduce_last(np.add, e)
    p = np.frexp(s.astype(np.float64))[1] - 1          # leading-one position (exact: s < 2**53)
    idx = (s >> (p - RECIP_BITS)) & ((1 << RECIP_BITS) - 1)
    return d, e, s, p, idx


def probe_codes(x_type: FixedType, n: int) -> np.ndarray:
    """Input codes on which a softmax-like op measures its stated accuracy: random logits over
    the input type's range (at most 32 wide), plus near-ties."""
    rng = np.random.default_rng(0)
    spread = min(x_type.max_value - x_type.min_value, 32.0)
    lo = max(x_type.min_value, -spread / 2)
    x = np.concatenate([rng.uniform(lo, lo + spread, (4000, n)), rng.normal(0, 1, (4000, n))])
    return x_type.quantize(np.clip(x, x_type.min_value, x_type.max_value))


@register
@dataclass
class Softmax(Op):
    kind = "Softmax"
    template = "softmax"
    input_frac_bits = D_TYPE.frac_bits   # max - x is truncated to the exp index's grid

    max_error: float | None = None     # measured when typed

    def describe(self) -> str:
        return "Softmax (LUT)"

    # ---- float semantics -----------------------------------------------------
    def reference(self, xs):
        z = xs[0] - xs[0].max(axis=-1, keepdims=True)
        e = np.exp(z)
        return [e / e.sum(axis=-1, keepdims=True)]

    def bounds(self, ins):
        return [Bounds(np.zeros_like(ins[0].lo), np.ones_like(ins[0].hi))]

    # ---- tables ------------------------------------------------------------------------
    @staticmethod
    def tables(x_type: FixedType) -> dict[str, np.ndarray]:
        """Table contents (codes). When the input has more than 12 fraction bits, d is
        truncated, so the low table is sampled mid-interval to cancel the bias."""
        mid = 0.5 if x_type.frac_bits > D_TYPE.frac_bits else 0.0
        step_lo = 2.0 ** -D_TYPE.frac_bits
        hi = np.exp(-np.arange(1 << (D_TYPE.width - LO_BITS)) * step_lo * (1 << LO_BITS))
        lo = np.exp(-(np.arange(1 << LO_BITS) + mid) * step_lo)
        recip = 1.0 / (1.0 + (np.arange(1 << RECIP_BITS) + 0.5) / (1 << RECIP_BITS))
        return {"exp_hi": TABLE_TYPE.quantize(hi), "exp_lo": TABLE_TYPE.quantize(lo),
                "recip": RECIP_TYPE.quantize(recip)}

    # ---- formats --------------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        out = ctx.outputs[0]
        if out.type is None:
            out.type = FixedType(ctx.policy.width, 1, False, "AP_RND", "AP_SAT")
        x_type = ctx.inputs[0].type
        codes = probe_codes(x_type, ctx.inputs[0].shape[-1])
        got = out.type.to_float(self.simulator([x_type], [out.type])([codes])[0])
        want = self.reference([x_type.to_float(codes)])[0]
        self.max_error = float(np.abs(got - want).max())

    # ---- bit-accurate simulation ---------------------------------------------------------
    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        t = self.tables(x_type)
        exp_hi, exp_lo, recip = t["exp_hi"], t["exp_lo"], t["recip"]
        prod_type_frac = E_TYPE.frac_bits + RECIP_TYPE.frac_bits
        fs = E_TYPE.frac_bits

        def run(ins):
            x = ins[0].astype(np.int64)
            n = x.shape[-1]
            k_max = _ceil_log2(n)
            _, e, s, p, idx = exp_sum(x, x_type, exp_hi, exp_lo)
            prod = e * recip[idx]                               # frac = prod_type_frac
            k = p - fs                                          # 1/S = r * 2**-k
            wide = prod << (k_max - k)                          # frac = prod_type_frac + k_max, exact
            wide_type = FixedType(prod_type_frac + k_max + 2, 2, False)
            return [y_type.cast(wide, wide_type).astype(np.float64)]

        # the compiled loop (numerics/jit.py): the same integer steps, one row at a time. Every
        # value is non-negative; the casts' modes hold as the kernel has them (checked here).
        e_full_type = FixedType(36, 2, False)
        e_max = int(exp_hi.max()) * int(exp_lo.max()) >> (e_full_type.frac_bits - E_TYPE.frac_bits)
        compiled = (jit.available() and D_TYPE.rounding == "AP_TRN" and D_TYPE.overflow == "AP_SAT"
                    and E_TYPE.rounding in jit.SHIFT_ROUNDING and e_max < E_TYPE.max_code
                    and y_type.rounding in jit.SHIFT_ROUNDING and y_type.overflow in ("AP_SAT", "AP_SAT_SYM"))

        def run_compiled(ins):
            x = ins[0]
            n = x.shape[-1] if x.ndim else 0
            # n < 2**20 keeps e * r * 2**k_max (35 + k_max bits) inside the kernel's int64
            if not (compiled and n and jit.worth(x.size)) or n >= 1 << 20:
                return run(ins)
            k_max = _ceil_log2(n)
            x2 = np.ascontiguousarray(x).reshape(-1, n)
            out = np.empty(x2.shape)
            e_shift = e_full_type.frac_bits - E_TYPE.frac_bits
            jit.kernels().softmax(x2, out, x_type.frac_bits - D_TYPE.frac_bits, D_TYPE.max_code, exp_hi, exp_lo,
                                  LO_BITS, e_shift, jit.SHIFT_ROUNDING[E_TYPE.rounding], recip, RECIP_BITS, fs,
                                  k_max, prod_type_frac + k_max - y_type.frac_bits,
                                  jit.SHIFT_ROUNDING[y_type.rounding], y_type.max_code)
            return [out.reshape(x.shape)]

        run_compiled.narrow_inputs = True
        return run_compiled

    # ---- hardware -------------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        """Whole vectors (n values per beat): a max tree, n two-table exp lookups and hi*lo
        products, a sum tree, one normalized reciprocal lookup, n output products. Each exp
        table is copied for the n lanes, two lanes per (dual-ported) copy."""
        from ..cost.hardware import adder_tree_depth, ceil_div, memory, multiplier, stream_cycles, stream_io
        from ..cost.model import LayerCost

        target, c = ctx.target, ctx.target.coeff
        x_type, y_type = ctx.inputs[0].type, ctx.outputs[0].type
        n = ctx.inputs[0].channels
        items = ctx.inputs[0].items
        exp_entries, recip_entries = (1 << (D_TYPE.width - LO_BITS), 1 << LO_BITS), 1 << RECIP_BITS
        k = max(_ceil_log2(n), 1)
        m_dsp, m_lut, m_ff = multiplier(target, 18, 18)
        rom_bram, rom_lut, _ = memory(target, 18, recip_entries)
        for entries in exp_entries:
            b, l, _ = memory(target, 18, entries, banks=ceil_div(n, 2))
            rom_bram, rom_lut = rom_bram + b, rom_lut + l
        lut = (2 * n * x_type.width + n * (18 + k)) * c["lut_per_adder_bit"] + 2 * n * m_lut + rom_lut \
            + 64 + c["lut_fixed"]
        ff = (2 * n * (18 + 18) + n * y_type.width) * c.get("ff_per_reg_bit", 1.0) + c["ff_fixed"]
        s_lut, s_ff = stream_io(target, n * y_type.width)
        depth = 2 * adder_tree_depth(target, n) + 2 * int(c["mult_latency"]) + 4 + stream_cycles(target)
        return LayerCost(style="softmax_lut", ii=items, latency=items + depth, first_out=1 + depth,
                         dsp=2 * n * m_dsp, lut=lut + s_lut, ff=ff + s_ff, bram_18k=rom_bram,
                         detail={"table_entries": sum(exp_entries) + recip_entries})

    def hls(self, ctx: HlsContext) -> dict:
        x_type = ctx.inputs[0].type
        t = self.tables(x_type)
        n = ctx.inputs[0].shape[-1]
        k_max = _ceil_log2(n)
        return {"n": n, "items": ctx.inputs[0].size // n, "k_max": k_max,
                "d_src_type": FixedType(x_type.width + 1, x_type.int_bits + 1, False),
                "d_type": D_TYPE, "table_type": TABLE_TYPE, "e_type": E_TYPE, "recip_type": RECIP_TYPE,
                "sum_type": FixedType(E_TYPE.width + k_max, E_TYPE.int_bits + k_max, False),
                "wide_type": FixedType(E_TYPE.frac_bits + RECIP_TYPE.frac_bits + k_max + 2, 2, False),
                "lo_bits": LO_BITS, "recip_bits": RECIP_BITS,
                "exp_hi": ctx.constant("exp_hi", TABLE_TYPE, t["exp_hi"]),
                "exp_lo": ctx.constant("exp_lo", TABLE_TYPE, t["exp_lo"]),
                "recip": ctx.constant("recip", RECIP_TYPE, t["recip"])}
