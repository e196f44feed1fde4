"""LogSoftmax over the last axis, with lookup tables, bit-exact between simulator and C++.

    m = max(x);  d_i = m - x_i >= 0 (exact)
    e_i, S = sum e_i, p = leading-one position of S     exactly as Softmax (ops/softmax.py)
    L   = LOG[10 bits of S below its leading one] + LNK[p - F_E + 1]  ~ ln S
          (LOG: ln of the normalized mantissa in [1, 2), sampled mid-interval; LNK: k ln 2)
    y_i = -(d_i + L), rounded once to the output type (saturating)

ln S is the only approximation (S's own exp-table error and the 10-bit mantissa index,
<= 2**-11 in ln); d_i is exact, so the error does not grow with the logits' range. The
stated accuracy (`max_error`, printed in the report) is the larger of the error measured
when the op is typed (against float64 log-softmax over random inputs spanning the input
type) and the sum of the per-step bounds random samples may miss (mantissa index, table
entry, d's truncation, output rounding).

Hardware (templates/kernels/qc_softmax.h, qc::log_softmax): whole vectors, one item per
cycle: a max tree, n two-table exp lookups and hi*lo products, a sum tree, a leading-one
detector, one 1024-entry LOG lookup and a k ln 2 lookup, n subtractions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from .base import Bounds, CostContext, HlsContext, Op, TypingContext
from .softmax import D_TYPE, E_TYPE, LO_BITS, RECIP_BITS, TABLE_TYPE, Softmax, _ceil_log2, exp_sum, probe_codes

LOG_TYPE = FixedType(18, 0, False, "AP_RND_CONV")   # ln(mantissa) in [0, ln 2)
LOG_FRAC = LOG_TYPE.frac_bits


def l_type(n: int) -> FixedType:
    """ln S in [-ln 2, (k_max + 1) ln 2): signed, LOG_FRAC fraction bits."""
    ib = max(int(_ceil_log2(n) + 1).bit_length(), 1) + 1
    return FixedType(LOG_FRAC + ib, ib, True)


def d_src_type(x_type: FixedType) -> FixedType:
    return FixedType(x_type.width + 1, x_type.int_bits + 1, False)


def w_type(x_type: FixedType, n: int) -> FixedType:
    """-(d + L), exact: the finer of the two grids, room for both ranges and the sign."""
    d, lt = d_src_type(x_type), l_type(n)
    frac = max(d.frac_bits, lt.frac_bits)
    ib = max(d.int_bits, lt.int_bits) + 2
    return FixedType(frac + ib, ib, True)


@register
@dataclass
class LogSoftmax(Op):
    kind = "LogSoftmax"
    template = "log_softmax"

    max_error: float | None = None     # measured when typed

    def describe(self) -> str:
        return "LogSoftmax (LUT)"

    # ---- float semantics -----------------------------------------------------
    def reference(self, xs):
        z = xs[0] - xs[0].max(axis=-1, keepdims=True)
        return [z - np.log(np.exp(z).sum(axis=-1, keepdims=True))]

    def bounds(self, ins):
        lo, hi = ins[0].lo, ins[0].hi
        n = lo.shape[-1] if lo.ndim else 1
        # x_i - max(x) >= lo_i - max(hi); ln S <= ln n; a margin for the table's error
        low = lo - hi.max(axis=-1, keepdims=True) - math.log(n) - 2.0 ** -6
        return [Bounds(np.minimum(low, 0.0), np.zeros_like(hi))]

    # ---- tables ------------------------------------------------------------------------
    @staticmethod
    def tables(x_type: FixedType, n: int) -> dict[str, np.ndarray]:
        t = Softmax.tables(x_type)
        mant = 1.0 + (np.arange(1 << RECIP_BITS) + 0.5) / (1 << RECIP_BITS)
        k = np.arange(-1, _ceil_log2(n) + 1)
        return {"exp_hi": t["exp_hi"], "exp_lo": t["exp_lo"], "log": LOG_TYPE.quantize(np.log(mant)),
                "lnk": l_type(n).quantize(k * math.log(2.0))}

    # ---- formats --------------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        out = ctx.outputs[0]
        x_type = ctx.inputs[0].type
        n = ctx.inputs[0].shape[-1]
        if out.type is None:
            b = ctx.out_bounds[0]
            out.type = FixedType.for_range(b.min, 0.0, ctx.policy.width, signed=True, rounding="AP_RND",
                                           overflow="AP_SAT")
        codes = probe_codes(x_type, n)
        got = out.type.to_float(self.simulator([x_type], [out.type])([codes])[0])
        want = self.reference([x_type.to_float(codes)])[0]
        held = want >= out.type.min_value   # saturated outputs are the type's, not the table's, error
        measured = float(np.abs(got - want)[held].max(initial=0.0))
        # what random samples may miss: the mantissa index (<= 2**-11 in ln), the LOG entry,
        # the truncation of d (mid-sampled: <= 2**-13), the output rounding
        worst = 2.0 ** -(RECIP_BITS + 1) + 2.0 ** -(LOG_FRAC + 1) + out.type.lsb / 2 \
            + (2.0 ** -(D_TYPE.frac_bits + 1) if x_type.frac_bits > D_TYPE.frac_bits else 0.0)
        self.max_error = max(measured, worst)

    # ---- bit-accurate simulation ---------------------------------------------------------
    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        cache: dict[int, tuple] = {}

        def run(ins):
            x = ins[0].astype(np.int64)
            n = x.shape[-1]
            if n not in cache:
                cache[n] = (self.tables(x_type, n), w_type(x_type, n))
            t, wt = cache[n]
            d, _, _, p, idx = exp_sum(x, x_type, t["exp_hi"], t["exp_lo"])
            k = p - E_TYPE.frac_bits
            big_l = t["log"][idx] + t["lnk"][k + 1]                     # LOG_FRAC fraction bits
            fd = d_src_type(x_type).frac_bits
            w = -((d << (wt.frac_bits - fd)) + (big_l << (wt.frac_bits - LOG_FRAC)))
            return [y_type.cast(w, wt).astype(np.float64)]

        return run

    # ---- hardware -------------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        """Softmax's front (max tree, n exp lookups and hi*lo products, sum tree, leading-one
        detector), then one LOG and one LNK lookup and n subtractions: no output multipliers."""
        from ..cost.hardware import adder_tree_depth, ceil_div, memory, multiplier, stream_cycles, stream_io
        from ..cost.model import LayerCost

        target, c = ctx.target, ctx.target.coeff
        x_type, y_type = ctx.inputs[0].type, ctx.outputs[0].type
        n = ctx.inputs[0].channels
        items = ctx.inputs[0].items
        k = max(_ceil_log2(n), 1)
        wt = w_type(x_type, n)
        m_dsp, m_lut, m_ff = multiplier(target, 18, 18)
        rom_bram, rom_lut, _ = memory(target, LOG_TYPE.width, 1 << RECIP_BITS)
        for entries in (1 << (D_TYPE.width - LO_BITS), 1 << LO_BITS):
            b, l, _ = memory(target, 18, entries, banks=ceil_div(n, 2))
            rom_bram, rom_lut = rom_bram + b, rom_lut + l
        lut = (2 * n * x_type.width + n * (18 + k) + n * wt.width) * c["lut_per_adder_bit"] + n * m_lut + rom_lut \
            + 64 + c["lut_fixed"]
        ff = (2 * n * 18 + n * y_type.width) * c.get("ff_per_reg_bit", 1.0) + c["ff_fixed"]
        s_lut, s_ff = stream_io(target, n * y_type.width)
        depth = 2 * adder_tree_depth(target, n) + int(c["mult_latency"]) + 5 + stream_cycles(target)
        return LayerCost(style="log_softmax_lut", ii=items, latency=items + depth, first_out=1 + depth,
                         dsp=n * m_dsp, lut=lut + s_lut, ff=ff + s_ff, bram_18k=rom_bram,
                         detail={"table_entries": (1 << (D_TYPE.width - LO_BITS)) + (1 << LO_BITS)
                                 + (1 << RECIP_BITS)})

    def hls(self, ctx: HlsContext) -> dict:
        x_type = ctx.inputs[0].type
        n = ctx.inputs[0].shape[-1]
        t = self.tables(x_type, n)
        k_max = _ceil_log2(n)
        return {"n": n, "items": ctx.inputs[0].size // n, "k_max": k_max,
                "d_src_type": d_src_type(x_type), "d_type": D_TYPE, "table_type": TABLE_TYPE, "e_type": E_TYPE,
                "sum_type": FixedType(E_TYPE.width + k_max, E_TYPE.int_bits + k_max, False),
                "log_type": LOG_TYPE, "l_type": l_type(n), "w_type": w_type(x_type, n),
                "lo_bits": LO_BITS, "recip_bits": RECIP_BITS,
                "exp_hi": ctx.constant("exp_hi", TABLE_TYPE, t["exp_hi"]),
                "exp_lo": ctx.constant("exp_lo", TABLE_TYPE, t["exp_lo"]),
                "log": ctx.constant("log", LOG_TYPE, t["log"]),
                "lnk": ctx.constant("lnk", l_type(n), t["lnk"])}
