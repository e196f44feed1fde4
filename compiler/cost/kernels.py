"""Per-kernel cost formulas, shared by the ops' cost() methods.

Each formula describes the microarchitecture the backend emits for that kernel style
(templates/kernels/*.h); its coefficients come from the target's fabric table in
hw_models/coefficients.toml, fitted by benchmarks/fit_cost_model.py on the real synthesis
reports in ../shared/groundtruth (benchmarks/groundtruth.py prints how far off they are).

What the numbers mean. Resources are the HLS C-synthesis estimate (the csynth report of the
top function, what build.tcl produces); Vivado logic synthesis typically lands lower
(`post_synthesis()` converts with the fabric's fitted stage factors). Latencies are cycles
from a stage's first input to its last output.

Interfaces. qcompile's stages exchange hls::stream FIFOs; every stage that writes a stream
pays a handshake share per bit it writes (`stream_io`). The ground-truth tooling also
estimates designs whose layers pass plain arrays inside one pipelined function (hls4ml's
io_parallel): it sets coeff['io_parallel'] = 1, which removes those interface costs and
lets the operator chain run without stage registers. Nothing else changes between the two.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..numerics import FixedType
from .model import LayerCost
from .target import Target

# BRAM_18K shapes in true-dual-port mode (ROMs read by two lanes, FIFOs): width x depth.
# The 36-bit simple-dual-port mode is not used for ROMs (hls4ml and qcompile tables are
# read on both ports).
_BRAM_SHAPES = ((18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _k(target: Target, key: str, default: float) -> float:
    """A coefficient with a default (for keys added after a fabric table was written)."""
    return target.coeff.get(key, default)


def io_parallel(target: Target) -> bool:
    return bool(target.coeff.get("io_parallel", 0.0))


def stream_io(target: Target, bits: int) -> tuple[float, float]:
    """(LUT, FF) of writing `bits` bits per item into the output stream(s) of a stage, plus
    the stage's own handshake/start logic (0 when layers exchange plain arrays)."""
    if io_parallel(target):
        return 0.0, 0.0
    return (bits * _k(target, "lut_per_stream_bit", 0.0) + _k(target, "lut_per_stream_stage", 0.0),
            bits * _k(target, "ff_per_stream_bit", 0.0) + _k(target, "ff_per_stream_stage", 0.0))


def stream_cycles(target: Target) -> int:
    """Extra cycles a stage spends on its stream handshakes (read, then write)."""
    return 0 if io_parallel(target) else int(round(_k(target, "stream_overhead_cycles", 1.0)))


def post_synthesis(target: Target, resources: dict[str, float]) -> dict[str, float]:
    """An HLS-estimate resource dict converted to what Vivado synthesis typically reports
    (fitted stage factors; HLS over-estimates LUTs about 2x)."""
    keys = {"lut": "synth_lut_factor", "ff": "synth_ff_factor", "dsp": "synth_dsp_factor",
            "bram_18k": "synth_bram_factor"}
    return {k: v * _k(target, keys[k], 1.0) if k in keys else v for k, v in resources.items()}


def multiplier(target: Target, wa: int, wb: int) -> tuple[float, float, float]:
    """(DSP, LUT, FF) of one wa x wb multiplier: narrow products go to LUTs, wider ones to
    as many DSP slices as the port widths need. A slice covers a dsp_a_width x dsp_b_width
    partial product; a leftover of at most dsp_lut_leftover_bits bits on an operand needs no
    slice of its own (HLS synthesized 32x32-bit products on two DSP48E2 slices, not four;
    the few LUTs of that leftover are within the model's noise and not counted)."""
    c = target.coeff
    if wa * wb <= c["lut_mult_max_product"]:
        return 0.0, c["lut_per_mult_bit2"] * wa * wb, float(wa + wb) * _k(target, "ff_per_lut_mult_bit", 0.0)
    big, small = max(wa, wb), min(wa, wb)
    a, b = int(c["dsp_a_width"]), int(c["dsp_b_width"])
    left = int(_k(target, "dsp_lut_leftover_bits", 0))
    n_a = max(1, _ceil_div(big - left, a)) if big > a else 1
    n_b = max(1, _ceil_div(small - left, b)) if small > b else 1
    return float(n_a * n_b), 0.0, 0.0


def memory(target: Target, width_bits: int, depth: int, banks: int = 1) -> tuple[float, float]:
    """(BRAM_18K, LUT) of `banks` read-only memories (or FIFOs) of width x depth: small or
    shallow ones are built from LUTs (a BRAM for a few words would waste the whole block);
    the others take the cheapest BRAM_18K aspect ratio (1024x18 ... 16384x1)."""
    c = target.coeff
    width_bits, depth = max(int(width_bits), 1), max(int(depth), 1)
    bits = width_bits * depth
    if bits <= c["lutram_max_bits"] or depth < c["bram_min_depth"]:
        return 0.0, banks * bits * c["lut_per_rom_bit"]
    return float(banks * _brams_per_bank(int(c["bram_width"]), int(c["bram_depth"]), width_bits, depth)), 0.0


@functools.lru_cache(maxsize=4096)
def _brams_per_bank(bram_width: int, bram_depth: int, width_bits: int, depth: int) -> int:
    """BRAM_18K blocks of one width x depth memory in its cheapest aspect ratio."""
    shapes = _BRAM_SHAPES if (bram_width, bram_depth) == (18, 1024) else ((bram_width, bram_depth),)
    return min(_ceil_div(width_bits, w) * _ceil_div(depth, d) for w, d in shapes)


def adder_tree_depth(target: Target, terms: int) -> int:
    """Pipeline stages of a tree adding `terms` values (at least one stage: the final add)."""
    return _ceil_div(max(math.ceil(math.log2(max(terms, 2))), 1), int(target.coeff["adds_per_stage"]))


def mac_fold(n_in: int, n_out: int, reuse: int) -> tuple[int, int]:
    """How a MAC array folded by `reuse` walks its n_in x n_out products
    (templates/kernels/qc_dense.h): (in_steps, out_steps), in_steps * out_steps = reuse.
    Each cycle multiplies SIMD = n_in / in_steps inputs by the weights of PE = n_out /
    out_steps outputs. Every divisor of n_in * n_out splits this way (in_steps =
    gcd(reuse, n_in) divides n_in, and the rest then divides n_out)."""
    if reuse < 1 or (n_in * n_out) % reuse:
        raise ValueError(f"reuse factor {reuse} does not divide the {n_in}x{n_out} products")
    in_steps = math.gcd(reuse, n_in)
    return in_steps, reuse // in_steps


class MacArray:
    """Dense MAC array folded by `reuse` (templates/kernels/qc_dense.h, like hls4ml's dense
    latency/resource kernels): ceil(products / reuse) multipliers, each used `reuse` times
    per input vector. Prepared once per layer shape and target (coefficients, fold shapes,
    multiplier and memory mappings are looked up once), then called with the knobs a search
    varies: `MacArray(target, ...)(reuse, nonzero, x_bits, w_bits, acc_bits, y_bits)`.

    Fully unrolled (reuse 1): weights are constants, zero weights need no multiplier, and
    a share (1 - dsp_const_share) of the DSP-sized constant products is built by HLS as
    shift-and-add logic; each output sums its products in an adder tree (n - 1 acc-wide
    adders for n products; the bias add rides in the DSP post-adder when there is one)
    whose pipeline registers cost ff_per_mac_bit per product bit.
    Folded (PE x SIMD, see mac_fold): weights sit in ROMs (zeros included), one of `reuse`
    words per multiplier; each SIMD lane selects its input from the registered n_in-vector
    (lut/ff_per_fold_in_bit per input bit), each PE lane sums its SIMD products into a
    running accumulator (lut/ff_per_fold_acc_bit per accumulator bit, with its bias
    selection); when the outputs take several steps (out_steps > 1) a register holds the
    finished ones until the item is complete.
    Multiplier-free kernels: "signed" (weights in {-1,0,1}) selects x or -x into the adder,
    "xnor" (bipolar inputs too) adds +-1 from one XNOR gate; neither uses a DSP."""

    def __init__(self, target: Target, *, n_in: int, n_out: int, items: int, activation: str | None,
                 kernel: str = "mac"):
        c = target.coeff
        k = c.get  # coefficients with defaults (keys added after a fabric table was written)
        self.target, self.n_in, self.n_out, self.items, self.kernel = target, n_in, n_out, items, kernel
        self.lut_adder = c["lut_per_adder_bit"]
        self.const_share = min(max(k("dsp_const_share", 1.0), 0.0), 1.0)
        self.ff_mac = k("ff_per_mac_bit", 0.0)
        self.lut_acc, self.ff_acc = k("lut_per_fold_acc_bit", 1.0), k("ff_per_fold_acc_bit", 1.0)
        self.lut_in, self.ff_in = k("lut_per_fold_in_bit", 0.0), k("ff_per_fold_in_bit", 0.0)
        self.ff_reg = k("ff_per_reg_bit", 1.0)
        self.lut_out = k("lut_per_out_bit", 0.5) * (2 if activation else 1)
        self.lut_fixed, self.ff_fixed = c["lut_fixed"], c["ff_fixed"]
        self.popcount_bits = c["lut_per_popcount_bit"] / c["lut_per_adder_bit"]
        self.stream_lut, self.stream_ff = stream_io(target, 0)
        self.stream_lut_bit, self.stream_ff_bit = (0.0, 0.0) if io_parallel(target) else \
            (k("lut_per_stream_bit", 0.0), k("ff_per_stream_bit", 0.0))
        self.cycles = int(c["mult_latency"]) + stream_cycles(target)
        self.style_suffix = "" if kernel == "mac" else f"_{kernel}"
        # what the knobs fix, looked up once each: {reuse: fold}, {(x_bits, w_bits): multiplier},
        # {(w_bits, reuse): weight ROMs}, {products per output: unrolled adder-tree depth}
        self._folds: dict = {}
        self._mults: dict = {}
        self._roms: dict = {}
        self._trees: dict = {}

    def _fold(self, reuse: int) -> tuple:
        """(in_steps, out_steps, PE, SIMD, multipliers, pipeline depth) of the folded array."""
        in_steps, out_steps = mac_fold(self.n_in, self.n_out, reuse)
        depth = self.cycles + adder_tree_depth(self.target, self.n_in // in_steps + 1)
        f = self._folds[reuse] = (in_steps, out_steps, self.n_out // out_steps, self.n_in // in_steps,
                                  -(-self.n_in * self.n_out // reuse), depth)
        return f

    def _mult(self, x_bits: int, w_bits: int) -> tuple:
        m = self._mults[x_bits, w_bits] = multiplier(self.target, x_bits, w_bits)
        return m

    def _rom(self, w_bits: int, reuse: int, mults: int) -> tuple:
        r = self._roms[w_bits, reuse] = memory(self.target, w_bits, reuse, banks=mults)
        return r

    def _tree(self, fan_in: int) -> int:
        t = self._trees[fan_in] = self.cycles + adder_tree_depth(self.target, fan_in)
        return t

    def __call__(self, reuse: int, nonzero: int, x_bits: int, w_bits: int, acc_bits: int, y_bits: int) -> LayerCost:
        n_in, n_out, kernel = self.n_in, self.n_out, self.kernel
        in_steps, out_steps, pe, simd, mults, depth = self._folds.get(reuse) or self._fold(reuse)
        adder_bits = acc_bits
        if kernel == "mac":
            m_dsp, m_lut, m_ff = self._mults.get((x_bits, w_bits)) or self._mult(x_bits, w_bits)
        elif kernel == "signed":
            m_dsp, m_lut, m_ff = 0.0, x_bits * self.lut_adder, 0.0
        else:  # "xnor": one XNOR and a share of a popcount compressor tree per product
            m_dsp, m_lut, m_ff, adder_bits = 0.0, 1.0, 0.0, self.popcount_bits
        if reuse == 1:  # constant weights: zeros need no multiplier
            products = mults = nonzero
            dsp = mults * m_dsp
            lut = mults * m_lut
            if m_dsp:  # constants with few nonzero digits become shift-and-add logic
                moved = mults * (1.0 - self.const_share)
                dsp -= moved * m_dsp
                lut += moved * (x_bits + w_bits) * self.lut_adder
            # an n-term sum per output is n - 1 two-input adders, plus the bias add, which a DSP's
            # post-adder absorbs when the products sit on DSPs
            adds = max(mults - n_out, 0) + (0 if m_dsp else min(n_out, mults))
            lut += adds * adder_bits * self.lut_adder
            ff = mults * (m_ff + adder_bits * self.ff_mac)
            bram = 0.0
            fan_in = -(-max(nonzero, 1) // n_out)
            depth = self._trees.get(fan_in) or self._tree(fan_in)
        else:
            products = n_in * n_out
            dsp = mults * m_dsp
            acc_reg_bits = pe * acc_bits
            in_bits = n_in * x_bits
            lut = mults * (m_lut + adder_bits * self.lut_adder) + acc_reg_bits * self.lut_acc + in_bits * self.lut_in
            ff = mults * m_ff + acc_reg_bits * self.ff_acc + in_bits * self.ff_in
            if out_steps > 1:
                ff += n_out * y_bits * self.ff_reg
            # qc_dense.h partitions the weights cyclically: one ROM of `reuse` words per multiplier
            bram, w_lut = self._roms.get((w_bits, reuse)) or self._rom(w_bits, reuse, mults)
            lut += w_lut
        out_bits = n_out * y_bits
        lut += self.lut_fixed + out_bits * (self.lut_out + self.stream_lut_bit) + self.stream_lut
        ff += self.ff_fixed + out_bits * self.stream_ff_bit + self.stream_ff
        # pipeline depth (above): multiplier, then the adder levels (the per-output tree when
        # unrolled, the few products a cycle adds into one accumulator when folded), then the
        # output cast; the last item enters at cycle ii - 1 and leaves `depth` cycles later
        ii = self.items * reuse
        first = reuse - 1 + depth if reuse - 1 + depth > 1 else 1
        return LayerCost(("dense_unrolled" if reuse == 1 else "dense_folded") + self.style_suffix, ii,
                         ii - 1 + depth if ii - 1 + depth > first else first, first, dsp, lut, ff, bram, 0.0,
                         {"multipliers": mults, "products": n_in * n_out, "nonzero_weights": nonzero,
                          "sparsity": 1 - nonzero / (n_in * n_out or 1), "multipliers_saved": n_in * n_out - products,
                          "reuse_factor": reuse, "pe": pe, "simd": simd, "kernel": kernel})


    def batch(self, reuse, nonzero, x_bits, w_bits, acc_bits, y_bits) -> dict[str, np.ndarray]:
        """__call__'s formula over int arrays of knobs (one entry per configuration, for
        compiler.estimate_batch): {ii, latency, first_out, dsp, lut, ff, bram_18k, uram}.
        tests/test_cost.py holds the two to the same numbers."""
        n_in, n_out, kernel, n = self.n_in, self.n_out, self.kernel, len(reuse)
        _, out_steps, pe, _, mults_f, depth_f = _lookup(self._folds, self._fold, np.int64, reuse).T
        adder_bits = acc_bits
        if kernel == "mac":
            m_dsp, m_lut, m_ff = _lookup(self._mults, lambda xw: self._mult(*xw),
                                         np.float64, x_bits, w_bits).T
        elif kernel == "signed":
            m_dsp, m_lut, m_ff = np.zeros(n), x_bits * self.lut_adder, np.zeros(n)
        else:  # "xnor"
            m_dsp, m_lut, m_ff, adder_bits = np.zeros(n), np.ones(n), np.zeros(n), np.full(n, self.popcount_bits)
        unrolled = reuse == 1
        mults = np.where(unrolled, nonzero, mults_f)
        on_dsp = m_dsp > 0
        dsp = mults * m_dsp
        # unrolled (reuse 1): shift-and-add constants, the per-output adder trees
        moved = np.where(on_dsp, mults * (1.0 - self.const_share), 0.0)
        adds = np.maximum(mults - n_out, 0) + np.where(on_dsp, 0, np.minimum(n_out, mults))
        lut_u = mults * m_lut + moved * (x_bits + w_bits) * self.lut_adder + adds * adder_bits * self.lut_adder
        ff_u = mults * (m_ff + adder_bits * self.ff_mac)
        fan_in = -(-np.maximum(nonzero, 1) // n_out)
        depth = np.where(unrolled, _lookup(self._trees, self._tree, np.int64, fan_in), depth_f)
        # folded: accumulators, input selection, weight ROMs, held outputs
        rom_bram, rom_lut = _lookup(self._roms, lambda wr: self._rom(wr[0], wr[1], self._fold(wr[1])[4]),
                                    np.float64, w_bits, reuse).T
        acc_reg_bits = pe * acc_bits
        in_bits = n_in * x_bits
        lut_f = mults * (m_lut + adder_bits * self.lut_adder) + acc_reg_bits * self.lut_acc \
            + in_bits * self.lut_in + rom_lut
        ff_f = mults * m_ff + acc_reg_bits * self.ff_acc + in_bits * self.ff_in \
            + np.where(out_steps > 1, n_out * y_bits * self.ff_reg, 0.0)
        out_bits = n_out * y_bits
        ii = self.items * reuse
        first = np.maximum(reuse - 1 + depth, 1)
        return {"ii": ii, "latency": np.maximum(ii - 1 + depth, first), "first_out": first,
                "dsp": np.where(unrolled, dsp - moved * m_dsp, dsp),
                "lut": np.where(unrolled, lut_u, lut_f)
                + (self.lut_fixed + out_bits * (self.lut_out + self.stream_lut_bit) + self.stream_lut),
                "ff": np.where(unrolled, ff_u, ff_f) + (self.ff_fixed + out_bits * self.stream_ff_bit + self.stream_ff),
                "bram_18k": np.where(unrolled, 0.0, rom_bram), "uram": np.zeros(n)}


def _lookup(table: dict, make, dtype, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """table[key] for each key, a or (a, b) elementwise (make(key) fills a missing one), as an
    array of rows: one lookup per distinct key."""
    packed = a if b is None else (a.astype(np.int64) << 32) | b  # one sortable int per key
    distinct, inverse = np.unique(packed, return_inverse=True)
    keys = distinct.tolist() if b is None else [(int(k >> 32), int(k & 0xFFFFFFFF)) for k in distinct]
    get = table.get
    return np.array([get(key) or make(key) for key in keys], dtype=dtype)[inverse.reshape(-1)]


def elementwise_mac_cost(target: Target, *, channels: int, items: int, x_type: FixedType, w_type: FixedType,
                         acc_type: FixedType, y_type: FixedType) -> LayerCost:
    c = target.coeff
    m_dsp, m_lut, m_ff = multiplier(target, x_type.width, w_type.width)
    lut = channels * (m_lut + acc_type.width * c["lut_per_adder_bit"]) + c["lut_fixed"]
    ff = channels * (m_ff + acc_type.width * _k(target, "ff_per_mac_bit", 0.0)) + c["ff_fixed"]
    s_lut, s_ff = stream_io(target, channels * y_type.width)
    depth = int(c["mult_latency"]) + 1 + stream_cycles(target)
    return LayerCost(style="elementwise_mac", ii=items, latency=items + depth, first_out=1 + depth,
                     dsp=channels * m_dsp, lut=lut + s_lut, ff=ff + s_ff)


def elementwise_cost(target: Target, kind: str, x, y) -> LayerCost:
    """Comparators/casts per element (ReLU, requantization): LUTs only (a sign test and a
    select or cast per output bit), no pipeline registers of its own; one item per cycle."""
    c = target.coeff
    channels = x.shape[-1] if x.shape else 1
    items = x.size // channels
    lut = channels * y.type.width * _k(target, "lut_per_select_bit", 0.5) + c["lut_fixed"]
    s_lut, s_ff = stream_io(target, channels * y.type.width)
    depth = stream_cycles(target)
    return LayerCost(style=f"elementwise_{kind}", ii=items, latency=max(items - 1 + depth, 1), first_out=max(depth, 1),
                     lut=lut + s_lut, ff=c["ff_fixed"] + s_ff)


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
    ff = (2 * n * (18 + 18) + n * y_type.width) * _k(target, "ff_per_reg_bit", 1.0) + c["ff_fixed"]
    s_lut, s_ff = stream_io(target, n * y_type.width)
    depth = 2 * adder_tree_depth(target, n) + 2 * int(c["mult_latency"]) + 4 + stream_cycles(target)
    return LayerCost(style="softmax_lut", ii=items, latency=items + depth, first_out=1 + depth,
                     dsp=2 * n * m_dsp, lut=lut + s_lut, ff=ff + s_ff, bram_18k=rom_bram,
                     detail={"table_entries": table_entries})


def requant_cost(target: Target, *, channels: int, items: int, x_type: FixedType, mult_bits: int,
                 y_type: FixedType, bipolar: bool) -> LayerCost:
    """Per channel lane: x * m (a multiplier unless m is a power of two), a rounding adder
    and two clamp comparators; bipolar: one comparator against a threshold."""
    c = target.coeff
    if bipolar:
        lut = channels * x_type.width * c["lut_per_adder_bit"] + c["lut_fixed"]
        s_lut, s_ff = stream_io(target, channels)
        return LayerCost(style="threshold", ii=items, latency=items + 1, first_out=2, lut=lut + s_lut,
                         ff=channels * 2 + c["ff_fixed"] + s_ff)
    dsp, m_lut, m_ff = multiplier(target, x_type.width, mult_bits) if mult_bits else (0.0, 0.0, 0.0)
    prod = x_type.width + mult_bits
    lut = channels * (m_lut + prod * c["lut_per_adder_bit"] + 2 * y_type.width * c["lut_per_adder_bit"]) \
        + c["lut_fixed"]
    ff = channels * (m_ff + (prod + y_type.width) * _k(target, "ff_per_reg_bit", 1.0)) + c["ff_fixed"]
    s_lut, s_ff = stream_io(target, channels * y_type.width)
    depth = (int(c["mult_latency"]) if mult_bits else 0) + 2
    return LayerCost(style="requant" if mult_bits else "requant_shift", ii=items, latency=items + depth,
                     first_out=1 + depth, dsp=channels * dsp, lut=lut + s_lut, ff=ff + s_ff,
                     detail={"multiplier_bits": mult_bits})
