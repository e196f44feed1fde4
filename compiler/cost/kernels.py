"""Per-kernel cost formulas, shared by the ops' cost() methods.

Each formula describes the microarchitecture the backend emits for that kernel style
(templates/kernels/*.h); its coefficients come from the target's fabric table in
hw_models/coefficients.toml.
"""
from __future__ import annotations

import math

from ..numerics import FixedType
from .model import LayerCost
from .target import Target


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def multiplier(target: Target, wa: int, wb: int) -> tuple[float, float, float]:
    """(DSP, LUT, FF) of one wa x wb multiplier: narrow products go to LUTs, wider ones to
    as many DSP slices as the port widths need."""
    c = target.coeff
    if wa * wb <= c["lut_mult_max_product"]:
        return 0.0, c["lut_per_mult_bit2"] * wa * wb, float(wa + wb)
    big, small = max(wa, wb), min(wa, wb)
    dsp = _ceil_div(big, int(c["dsp_a_width"])) * _ceil_div(small, int(c["dsp_b_width"]))
    return float(dsp), 0.0, 0.0


def memory(target: Target, width_bits: int, depth: int, banks: int = 1) -> tuple[float, float]:
    """(BRAM_18K, LUT) of `banks` read-only memories of width x depth: small or shallow
    ones are built from LUTs (a BRAM for a few words would waste the whole block)."""
    c = target.coeff
    bits = width_bits * depth
    if bits <= c["lutram_max_bits"] or depth < c["bram_min_depth"]:
        return 0.0, banks * bits * c["lut_per_rom_bit"]
    per_bank = _ceil_div(width_bits, int(c["bram_width"])) * _ceil_div(depth, int(c["bram_depth"]))
    return float(banks * per_bank), 0.0


def adder_tree_depth(target: Target, terms: int) -> int:
    return _ceil_div(max(math.ceil(math.log2(max(terms, 2))), 1), int(target.coeff["adds_per_stage"]))


def mac_array_cost(target: Target, *, n_in: int, n_out: int, nonzero: int, reuse: int, items: int,
                   x_type: FixedType, w_type: FixedType, acc_type: FixedType, y_type: FixedType,
                   activation: str | None, kernel: str = "mac") -> LayerCost:
    """Dense MAC array folded by `reuse`: ceil(products / reuse) multipliers, each used
    `reuse` times per input vector. Fully unrolled (reuse 1), weights are constants and
    zero weights need no multiplier; folded, weights sit in ROM banks, zeros included.
    Multiplier-free kernels: "signed" (weights in {-1,0,1}) selects x or -x into the adder,
    "xnor" (bipolar inputs too) adds +-1 from one XNOR gate; neither uses a DSP."""
    c = target.coeff
    products = nonzero if reuse == 1 else n_in * n_out
    mults = _ceil_div(products, reuse)
    adder_bits = acc_type.width
    if kernel == "signed":
        m_dsp, m_lut, m_ff = 0.0, float(x_type.width) * c["lut_per_adder_bit"], 0.0
    elif kernel == "xnor":  # one XNOR and a share of a popcount compressor tree per product
        m_dsp, m_lut, m_ff, adder_bits = 0.0, 1.0, 0.0, c["lut_per_popcount_bit"] / c["lut_per_adder_bit"]
    else:
        m_dsp, m_lut, m_ff = multiplier(target, x_type.width, w_type.width)
    lut = mults * (m_lut + adder_bits * c["lut_per_adder_bit"]) + c["lut_fixed"]
    ff = mults * m_ff + n_out * acc_type.width * c["ff_per_adder_bit"] + c["ff_fixed"]
    bram = 0.0
    if reuse > 1:
        w_bram, w_lut = memory(target, w_type.width * mults, reuse)
        bram, lut = bram + w_bram, lut + w_lut
    lut += n_out * y_type.width * (1 if activation else 0.5)
    depth = int(c["mult_latency"]) + adder_tree_depth(target, _ceil_div(max(nonzero, 1), n_out)) + 1
    per_item = reuse
    ii = items * per_item
    style = ("dense_unrolled" if reuse == 1 else "dense_folded") + ("" if kernel == "mac" else f"_{kernel}")
    return LayerCost(style=style, ii=ii,
                     latency=ii + depth, first_out=per_item + depth,
                     dsp=mults * m_dsp, lut=lut, ff=ff, bram_18k=bram,
                     detail={"multipliers": mults, "products": n_in * n_out, "nonzero_weights": nonzero,
                             "sparsity": 1 - nonzero / max(n_in * n_out, 1),
                             "multipliers_saved": n_in * n_out - products, "reuse_factor": reuse,
                             "kernel": kernel})


def elementwise_mac_cost(target: Target, *, channels: int, items: int, x_type: FixedType, w_type: FixedType,
                         acc_type: FixedType, y_type: FixedType) -> LayerCost:
    c = target.coeff
    m_dsp, m_lut, m_ff = multiplier(target, x_type.width, w_type.width)
    lut = channels * (m_lut + acc_type.width * c["lut_per_adder_bit"]) + c["lut_fixed"]
    ff = channels * (m_ff + y_type.width) + c["ff_fixed"]
    depth = int(c["mult_latency"]) + 2
    return LayerCost(style="elementwise_mac", ii=items, latency=items + depth, first_out=1 + depth,
                     dsp=channels * m_dsp, lut=lut, ff=ff)


def elementwise_cost(target: Target, kind: str, x, y) -> LayerCost:
    """Comparators/casts per element (ReLU, requantization): LUTs only, one cycle."""
    c = target.coeff
    channels = x.shape[-1]
    items = x.size // channels
    lut = channels * y.type.width * c["lut_per_adder_bit"] * 0.5 + c["lut_fixed"]
    ff = channels * y.type.width + c["ff_fixed"]
    return LayerCost(style=f"elementwise_{kind}", ii=items, latency=items + 1, first_out=2, lut=lut, ff=ff)


def softmax_cost(target: Target, *, n: int, items: int, x_type: FixedType, y_type: FixedType,
                 exp_entries: tuple[int, int], recip_entries: int) -> LayerCost:
    """Max tree, n two-table exp lookups and hi*lo products, sum tree, one normalized
    reciprocal lookup, n output products. Each exp table is replicated for the n lanes,
    two lanes per (dual-ported) copy."""
    c = target.coeff
    k = max(math.ceil(math.log2(max(n, 2))), 1)
    m_dsp, m_lut, m_ff = multiplier(target, 18, 18)
    rom_bram, rom_lut = memory(target, 18, recip_entries)
    for entries in exp_entries:
        b, l = memory(target, 18, entries, banks=_ceil_div(n, 2))
        rom_bram, rom_lut = rom_bram + b, rom_lut + l
    table_entries = sum(exp_entries) + recip_entries
    lut = (2 * n * x_type.width + n * (18 + k)) * c["lut_per_adder_bit"] + 2 * n * m_lut + rom_lut \
        + 64 + c["lut_fixed"]
    ff = 2 * n * (18 + 18) + n * y_type.width + c["ff_fixed"]
    depth = 2 * adder_tree_depth(target, n) + 2 * int(c["mult_latency"]) + 4
    return LayerCost(style="softmax_lut", ii=items, latency=items + depth, first_out=1 + depth,
                     dsp=2 * n * m_dsp, lut=lut, ff=ff, bram_18k=rom_bram,
                     detail={"table_entries": table_entries})


def requant_cost(target: Target, *, channels: int, items: int, x_type: FixedType, mult_bits: int,
                 y_type: FixedType, bipolar: bool) -> LayerCost:
    """Per channel lane: x * m (a multiplier unless m is a power of two), a rounding adder
    and two clamp comparators; bipolar: one comparator against a threshold."""
    c = target.coeff
    if bipolar:
        lut = channels * x_type.width * c["lut_per_adder_bit"] + c["lut_fixed"]
        return LayerCost(style="threshold", ii=items, latency=items + 1, first_out=2, lut=lut,
                         ff=channels * 2 + c["ff_fixed"])
    dsp, m_lut, m_ff = multiplier(target, x_type.width, mult_bits) if mult_bits else (0.0, 0.0, 0.0)
    prod = x_type.width + mult_bits
    lut = channels * (m_lut + prod * c["lut_per_adder_bit"] + 2 * y_type.width * c["lut_per_adder_bit"]) \
        + c["lut_fixed"]
    ff = channels * (m_ff + prod + y_type.width) + c["ff_fixed"]
    depth = (int(c["mult_latency"]) if mult_bits else 0) + 2
    return LayerCost(style="requant" if mult_bits else "requant_shift", ii=items, latency=items + depth,
                     first_out=1 + depth, dsp=channels * dsp, lut=lut, ff=ff,
                     detail={"multiplier_bits": mult_bits})
