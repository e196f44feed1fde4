"""The MAC array of Dense and Conv (registers no op): FINN's matrix-vector unit (MVAU) with
PE x SIMD lanes, its cost formula and its template context (templates/kernels/qc_dense.h).

Per item (a vector, or one window of a convolution) the n_in x n_out products take
SF * NF cycles, SF = n_in / SIMD and NF = n_out / PE: cycle (nf, sf) multiplies SIMD inputs
sf*SIMD .. by the weights of the PE outputs nf*PE .., so each PE lane keeps one running
sum and emits its output after SF cycles; the outputs leave as NF beats of PE values.
- Input: beats of `in_fold` values (SIMD divides it, it divides n_in). They are read once,
  while the first output group is computed, and kept in an input buffer of n_in / in_fold
  words for the other NF - 1 groups; a beat wider than SIMD is sliced by a mux per lane.
- Weights: one memory of SF * NF words, each the PE * SIMD weights of one cycle (BRAM or
  LUTRAM by size, or as the layer's `memory` setting says); fully parallel (SF = NF = 1)
  they are constants, and zero weights then cost nothing. Folded, all-zero blocks are
  skipped (block_schedule): fewer cycles and words.
- Each PE sums its SIMD products in a tree whose levels grow one bit at a time from the
  product width (qc::Tree), then adds the sum into its accumulator; products are exact and
  the accumulator cannot overflow (Dense/Conv typing), so folding never changes a result.
- Multiplier-free lanes: weights in {-1,0,1} select x, -x or 0 ("signed"); with bipolar
  inputs too, a lane is one XNOR and the tree a popcount ("xnor").
Reuse factor R (hls4ml's knob) = SF * NF cycles per item; `mac_fold` maps it to a shape.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..cost.hardware import (adder_tree_depth, clog2, io_parallel, k, memory, multiplier, stream_cycles,
                             tree_adder_bits)
from ..cost.model import LayerCost, distinct_keys
from ..numerics import FixedType, exact_type

KERNELS = ("mac", "signed", "xnor")


@functools.lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


def mac_fold(n_in: int, n_out: int, reuse: int) -> tuple[int, int]:
    """The (SF, NF) split of a reuse factor (every divisor of n_in * n_out splits this way:
    SF = gcd(reuse, n_in) divides n_in and the rest then divides n_out): inputs are folded
    first, so the outputs stay as parallel as the reuse factor allows."""
    if reuse < 1 or (n_in * n_out) % reuse:
        raise ValueError(f"reuse factor {reuse} does not divide the {n_in}x{n_out} products")
    sf = math.gcd(reuse, n_in)
    return sf, reuse // sf


def leaf_type(kernel: str, x_type: FixedType, w_type: FixedType) -> FixedType:
    """Type of one SIMD lane's result (the tree's leaves): the exact product; x or -x for
    "signed" lanes; one bit (signs agree) for "xnor" lanes."""
    if kernel == "xnor":
        return FixedType(1, 1, False)
    if kernel == "signed":
        return FixedType(x_type.width + 1, x_type.int_bits + 1, True)
    return FixedType(x_type.width + w_type.width, x_type.int_bits + w_type.int_bits, True)


def accepted_fold(arriving: int | None, simd: int, n_in: int) -> int:
    """The input beat width a MAC array reads natively: the arriving one when it is a
    multiple of SIMD dividing n_in (sliced inside), else SIMD (a converter in front)."""
    if arriving and arriving % simd == 0 and n_in % arriving == 0:
        return arriving
    return simd


class MacArray:
    """The MAC array's cost, prepared once per layer geometry and target, then called with
    the knobs a search varies:
        MacArray(target, n_in=, n_out=, items=, ...)(pe, simd, nonzero, x_bits, w_bits,
                                                    acc_bits, y_bits, in_fold, memory)
    Terms (HLS-estimate units, coefficients from the fabric table):
    - lanes: PE * SIMD multipliers (DSP or LUT by operand widths; constants when fully
      parallel, where a share 1 - dsp_const_share of DSP-sized products becomes shift-and-add
      logic and only nonzero weights count); "signed"/"xnor" lanes a select or one XNOR;
    - per PE an adder tree over its SIMD lanes (nonzero ones when fully parallel) with one
      bit of growth per level, its pipeline registers; with SF > 1 an accumulator;
    - the input buffer (NF > 1) and the slicing mux (in_fold > SIMD); the weight memory;
    - the output cast (x2 with a fused ReLU), the output register and stream."""

    def __init__(self, target, *, n_in: int, n_out: int, items: int, activation: str | None, kernel: str = "mac",
                 bias_bits: int = 0, depthwise: bool = False):
        c = target.coeff
        self.target, self.n_in, self.n_out, self.items, self.kernel = target, n_in, n_out, items, kernel
        self.bias_bits = bias_bits
        self.depthwise = depthwise  # each input feeds one output lane (a VVAU): nothing to keep
        self.lut_adder = c["lut_per_adder_bit"]
        self.const_share = min(max(k(target, "dsp_const_share", 1.0), 0.0), 1.0)
        self.ff_mac = k(target, "ff_per_mac_bit", 0.0)
        self.lut_acc, self.ff_acc = k(target, "lut_per_fold_acc_bit", 1.0), k(target, "ff_per_fold_acc_bit", 1.0)
        self.lut_wide = k(target, "lut_per_wide_in_bit", 0.3)
        self.lut_lane_sel = k(target, "lut_per_signed_lane_bit", 1.0)
        self.lut_xnor = k(target, "lut_per_xnor_lane", 1.0)
        self.ff_reg = k(target, "ff_per_reg_bit", 1.0)
        self.ff_lane = k(target, "ff_per_lane_bit", 0.0)
        self.ff_in_reg = k(target, "ff_per_in_reg_bit", 1.0)
        self.lut_out = k(target, "lut_per_out_bit", 0.5) * (2 if activation else 1)
        self.lut_fixed, self.ff_fixed = c["lut_fixed"], c["ff_fixed"]
        self.lut_mac_fixed = k(target, "lut_mac_fixed", 0.0)
        self.ff_mac_fixed = k(target, "ff_mac_fixed", 0.0)
        self.stream = not io_parallel(target)
        self.stream_lut_bit = k(target, "lut_per_stream_bit", 0.0) if self.stream else 0.0
        self.stream_ff_bit = k(target, "ff_per_stream_bit", 0.0) if self.stream else 0.0
        self.stream_lut = k(target, "lut_per_stream_stage", 0.0) if self.stream else 0.0
        self.stream_ff = k(target, "ff_per_stream_stage", 0.0) if self.stream else 0.0
        self.cycles = int(c["mult_latency"]) + stream_cycles(target)
        # per output bit and per layer, what every array pays (cast, stream, control)
        self.lut_out_stream = self.lut_out + self.stream_lut_bit
        self.lut_const = self.stream_lut + self.lut_fixed
        self.ff_const = self.stream_ff + self.ff_fixed
        self.style_suffix = "" if kernel == "mac" else f"_{kernel}"
        self._mults: dict = {}
        self._mems: dict = {}
        self._depths: dict = {}

    def _memory(self, width: int, depth: int, style: str = "auto", ports: int = 2) -> tuple:
        key = (width, depth, style, ports)
        m = self._mems.get(key)
        if m is None:
            m = self._mems[key] = memory(self.target, width, depth, style=style, ports=ports)
        return m

    def _mult(self, x_bits: int, w_bits: int) -> tuple:
        m = self._mults.get((x_bits, w_bits))
        if m is None:
            m = self._mults[x_bits, w_bits] = multiplier(self.target, x_bits, w_bits)
        return m

    def per_output_bit(self, pe: int, unrolled: bool) -> tuple[float, float]:
        """(LUT, FF) per bit of the output width: the cast, the stream and (folded) the result
        register, PE lanes of each; the only terms that depend on it (MacWhatIf keeps the rest)."""
        return pe * self.lut_out_stream, pe * (self.stream_ff_bit + (0.0 if unrolled else self.ff_reg))

    def __call__(self, pe: int, simd: int, nonzero: int, x_bits: int, w_bits: int, acc_bits: int, y_bits: int,
                 in_fold: int | None = None, mem: str = "auto", cycles: int | None = None) -> LayerCost:
        n_in, n_out, kernel = self.n_in, self.n_out, self.kernel
        sf, nf = n_in // simd, n_out // pe
        reuse = sf * nf
        if cycles is None:
            cycles = reuse
        if not in_fold:
            in_fold = simd
        lanes = pe * simd
        lb = 1 if kernel == "xnor" else (x_bits + 1 if kernel == "signed" else x_bits + w_bits)
        unrolled = reuse == 1
        dsp = lut = ff = bram = uram = 0.0
        if unrolled:  # constant weights: zero products vanish
            products = nonzero
            if kernel == "mac":
                m_dsp, m_lut, m_ff = self._mults.get((x_bits, w_bits)) or self._mult(x_bits, w_bits)
                dsp = products * m_dsp * self.const_share
                lut = products * (m_lut + (m_dsp * (1.0 - self.const_share)) * (x_bits + w_bits) * self.lut_adder)
                ff = products * m_ff
            nz = nonzero if nonzero > 1 else 1
            fan_in = -(-nz // n_out)
            tree_bits = n_out * tree_adder_bits(fan_in, lb, acc_bits) if nonzero >= n_out else \
                tree_adder_bits(nz, lb, acc_bits)
        else:
            products = n_in * n_out
            fan_in = simd
            if kernel == "mac":
                m_dsp, m_lut, m_ff = self._mults.get((x_bits, w_bits)) or self._mult(x_bits, w_bits)
                dsp, lut, ff = lanes * m_dsp, lanes * m_lut, lanes * m_ff
            elif kernel == "signed":
                lut = lanes * lb * self.lut_lane_sel
            else:
                lut = lanes * self.lut_xnor
            tree_bits = pe * tree_adder_bits(simd, lb, acc_bits)
            ff += lanes * (x_bits + w_bits) * self.ff_lane   # operands registered after the memory reads
        lut += tree_bits * self.lut_adder
        ff += tree_bits * self.ff_mac
        if sf > 1:  # running sums: an adder and a register per PE
            lut += pe * acc_bits * self.lut_acc
            ff += pe * acc_bits * self.ff_acc
        elif self.bias_bits:
            lut += pe * acc_bits * self.lut_adder
        if not self.depthwise:
            if nf > 1:  # the input, kept for the other output groups
                words = n_in // in_fold
                if words > 1:
                    b_bram, b_lut, b_uram = self._memory(in_fold * x_bits, words, "auto", 1)
                    bram, lut, uram = bram + b_bram, lut + b_lut, uram + b_uram
                else:  # the whole vector in registers (HLS keeps copies along the pipeline)
                    ff += n_in * x_bits * self.ff_in_reg
            if in_fold > simd:  # a SIMD-wide slice of each wide beat
                lut += simd * x_bits * (in_fold // simd - 1) * self.lut_wide
                if nf == 1:
                    ff += in_fold * x_bits * self.ff_in_reg
        lut_y, ff_y = self.per_output_bit(pe, unrolled)
        lut += y_bits * lut_y + self.lut_const
        ff += y_bits * ff_y + self.ff_const
        if not unrolled:  # the weight memory, counters and ROM addressing
            w_bram, w_lut, w_uram = self._memory(lanes * w_bits, cycles, mem, 1)  # one reader
            bram, lut, uram = bram + w_bram, lut + w_lut + self.lut_mac_fixed, uram + w_uram
            if nf > 1 and self.bias_bits:
                b_bram, b_lut, _ = self._memory(pe * self.bias_bits, nf, "auto", 2)
                bram, lut = bram + b_bram, lut + b_lut
            ff += self.ff_mac_fixed + 2 * clog2(cycles if cycles > 2 else 2)
            if cycles < reuse:  # all-zero blocks skipped: a schedule entry per cycle (block, first, last)
                s_bram, s_lut, s_uram = self._memory(clog2(sf if sf > 2 else 2) + 2, cycles, "auto", 1)
                bram, lut, uram = bram + s_bram, lut + s_lut, uram + s_uram
        # pipeline: multiplier, the adder levels, the output cast; the last item leaves
        # `depth` cycles after its last cycle
        depth = self._depths.get(fan_in)
        if depth is None:
            depth = self._depths[fan_in] = self.cycles + adder_tree_depth(self.target, fan_in + 1)
        ii = self.items * cycles
        # streamed, the first output beat leaves after SF cycles; as a plain array (hls4ml's
        # io_parallel) the whole vector leaves at the end of the item
        first = (sf if self.stream else cycles) - 1 + depth
        if first < 1:
            first = 1
        latency = ii - 1 + depth
        return LayerCost(("dense_unrolled" if unrolled else "dense_folded") + self.style_suffix, ii,
                         latency if latency > first else first, first, dsp, lut, ff, bram, uram,
                         {"pe": pe, "simd": simd, "cycles_per_item": cycles, "multipliers": lanes if not unrolled
                          else products, "products": n_in * n_out, "nonzero_weights": nonzero,
                          "sparsity": 1 - nonzero / (n_in * n_out or 1),
                          "multipliers_saved": n_in * n_out - products if unrolled else 0,
                          "cycles_saved": reuse - cycles, "weight_words_saved": reuse - cycles if not unrolled else 0,
                          "reuse_factor": reuse, "kernel": kernel,
                          "in_fold": in_fold, "weight_memory": "constants" if unrolled else
                          ("bram" if bram else ("uram" if uram else "lutram"))})

    def batch(self, pe, simd, nonzero, x_bits, w_bits, acc_bits, y_bits, in_fold, mems, cycles=None) -> dict[str, np.ndarray]:
        """__call__'s formula over int arrays of knobs (one entry per configuration, for
        compiler.estimate_batch; `mems` memory styles as indices into MEMORY_CODES; `cycles`
        per item, SF * NF unless all-zero blocks are skipped): {ii, latency, first_out,
        dsp, lut, ff, bram_18k, uram}. tests/test_cost.py holds the two to the same numbers."""
        n_in, n_out, kernel = self.n_in, self.n_out, self.kernel
        n = len(pe)
        sf, nf = n_in // simd, n_out // pe
        reuse = sf * nf
        cycles = reuse if cycles is None else np.asarray(cycles, dtype=np.int64)
        lanes = pe * simd
        lb = np.ones(n, dtype=np.int64) if kernel == "xnor" else (x_bits + 1 if kernel == "signed" else x_bits + w_bits)
        unrolled = reuse == 1
        f64 = np.float64
        m_dsp = m_lut = m_ff = np.zeros(n)
        if kernel == "mac":
            m_dsp, m_lut, m_ff = _rows(lambda xb, wb: self._mult(xb, wb), x_bits, w_bits).T
        # fully parallel: constant products, one tree per output over its nonzero products
        fan_u = np.maximum(-(-np.maximum(nonzero, 1) // n_out), 1)
        tree = lambda f, b, a: (tree_adder_bits(f, b, a),)  # noqa: E731
        per_out = _rows_where(unrolled & (nonzero >= n_out), tree, fan_u, lb, acc_bits)
        whole = _rows_where(unrolled & (nonzero < n_out), tree, np.maximum(nonzero, 1), lb, acc_bits)
        tree_u = np.where(nonzero >= n_out, n_out * per_out, whole)
        if kernel == "mac":
            dsp_u = nonzero * m_dsp * self.const_share
            lut_u = nonzero * (m_lut + (m_dsp * (1.0 - self.const_share)) * (x_bits + w_bits) * self.lut_adder)
            ff_u = nonzero * m_ff
        else:
            dsp_u = lut_u = ff_u = np.zeros(n)
        # folded: lanes of multipliers (or selects / XNORs), one tree per PE over its SIMD lanes
        tree_f = pe * _rows(lambda sd, b, a: (tree_adder_bits(sd, b, a),), simd, lb, acc_bits)[:, 0]
        if kernel == "mac":
            dsp_f, lut_f, ff_f = lanes * m_dsp, lanes * m_lut, lanes * m_ff
        elif kernel == "signed":
            dsp_f, lut_f, ff_f = np.zeros(n), (lanes * lb * self.lut_lane_sel).astype(f64), np.zeros(n)
        else:
            dsp_f, lut_f, ff_f = np.zeros(n), (lanes * self.lut_xnor).astype(f64), np.zeros(n)
        ff_f = ff_f + lanes * (x_bits + w_bits) * self.ff_lane
        dsp = np.where(unrolled, dsp_u, dsp_f)
        lut = np.where(unrolled, lut_u, lut_f)
        ff = np.where(unrolled, ff_u, ff_f)
        tree_bits = np.where(unrolled, tree_u, tree_f)
        lut = lut + tree_bits * self.lut_adder
        ff = ff + tree_bits * self.ff_mac
        acc = sf > 1
        lut = lut + np.where(acc, pe * acc_bits * self.lut_acc, pe * acc_bits * self.lut_adder if self.bias_bits else 0.0)
        ff = ff + np.where(acc, pe * acc_bits * self.ff_acc, 0.0)
        bram = np.zeros(n)
        uram = np.zeros(n)
        if not self.depthwise:
            words = n_in // in_fold
            keep = nf > 1
            buf = _rows(lambda wd, d: self._memory(wd, d, ports=1), in_fold * x_bits, np.maximum(words, 1))
            in_mem = keep & (words > 1)
            bram, lut, uram = bram + np.where(in_mem, buf[:, 0], 0.0), lut + np.where(in_mem, buf[:, 1], 0.0), \
                uram + np.where(in_mem, buf[:, 2], 0.0)
            ff = ff + np.where(keep & (words <= 1), n_in * x_bits * self.ff_in_reg, 0.0)
            wide = in_fold > simd
            lut = lut + np.where(wide, simd * x_bits * (in_fold // simd - 1) * self.lut_wide, 0.0)
            ff = ff + np.where(wide & (nf == 1), in_fold * x_bits * self.ff_in_reg, 0.0)
        folded = ~unrolled
        wmem = np.zeros((n, 3))
        if folded.any():
            wmem[folded] = _rows(lambda wd, d, st: self._memory(wd, d, MEMORY_CODES[st], 1), (lanes * w_bits)[folded],
                                 cycles[folded], mems[folded])
        bram = bram + np.where(folded, wmem[:, 0], 0.0)
        lut = lut + np.where(folded, wmem[:, 1], 0.0)
        uram = uram + np.where(folded, wmem[:, 2], 0.0)
        if self.bias_bits:
            bmem = _rows(lambda wd, d: self._memory(wd, d), pe * self.bias_bits, nf)
            sel = folded & (nf > 1)
            bram, lut = bram + np.where(sel, bmem[:, 0], 0.0), lut + np.where(sel, bmem[:, 1], 0.0)
        out_bits = pe * y_bits
        lut = lut + out_bits * (self.lut_out + self.stream_lut_bit) + self.stream_lut + self.lut_fixed
        ff = ff + out_bits * self.stream_ff_bit + self.stream_ff + self.ff_fixed
        counter = 2 * _rows(lambda c: (clog2(max(c, 2)),), cycles)[:, 0] if n else np.zeros(0)
        skips = folded & (cycles < reuse)
        if skips.any():  # the block schedule
            smem = np.zeros((n, 3))
            smem[skips] = _rows(lambda b, d: self._memory(b, d, "auto", 1),
                                _rows(lambda f: (clog2(max(f, 2)) + 2,), sf)[:, 0].astype(np.int64)[skips],
                                cycles[skips])
            bram, lut, uram = bram + smem[:, 0], lut + smem[:, 1], uram + smem[:, 2]
        lut = lut + np.where(folded, self.lut_mac_fixed, 0.0)
        ff = ff + np.where(folded, out_bits * self.ff_reg + self.ff_mac_fixed + counter, 0.0)
        fan = np.where(unrolled, fan_u, simd)
        depth = self.cycles + _rows(lambda f: (adder_tree_depth(self.target, f + 1),), fan)[:, 0]
        ii = self.items * cycles
        first = np.maximum((sf if self.stream else cycles) - 1 + depth, 1)
        return {"ii": ii, "latency": np.maximum(ii - 1 + depth, first), "first_out": first, "dsp": dsp, "lut": lut,
                "ff": ff, "bram_18k": bram, "uram": uram}


MEMORY_CODES = ("auto", "bram", "lutram", "uram")


def _rows_where(mask, fn, *arrays) -> np.ndarray:
    """_rows's first column where mask holds (0 elsewhere)."""
    out = np.zeros(len(mask))
    if mask.any():
        out[mask] = _rows(fn, *(a[mask] for a in arrays))[:, 0]
    return out


def _rows(fn, *arrays) -> np.ndarray:
    """fn(*key) per distinct key of the int arrays (elementwise), as an array of rows (one
    per entry)."""
    keys, inverse = distinct_keys(*arrays)
    rows = np.array([fn(*k) for k in keys], dtype=np.float64).reshape(len(keys), -1)
    return rows[inverse.reshape(-1)]


def mac_array_context(op, ctx, pe: int, simd: int, in_fold: int, weights: np.ndarray, memory_impl: str | None) -> dict:
    """Template variables of the MAC array (qc_dense.h qc::mvau): its shape and the weights
    stored one cycle's PE x SIMD block per memory word, cycle-major (word nf * SF + sf holds
    w[sf*SIMD + s][nf*PE + p] at p * SIMD + s). Skipping all-zero blocks (op.block_schedule),
    the words are the visited blocks in their order, and a schedule gives per cycle the
    block's input word and slice and whether it starts or ends its output group."""
    n_in, n_out = weights.shape
    sf, nf = n_in // simd, n_out // pe
    codes = op.weight_type.quantize(weights).reshape(sf, simd, nf, pe).transpose(2, 0, 3, 1)  # [nf, sf, pe, simd]
    blocks = op.block_schedule(pe, simd)
    ctx_extra = {"skip": False, "mac_cycles": sf * nf, "slice_bits": 0, "sched": "qc::no_schedule", "sched_type": None}
    if blocks is not None:
        m = in_fold // simd  # SIMD slices per input beat
        slice_bits = (m - 1).bit_length()
        groups = [g for g, _ in blocks]
        entries = np.array([((b // m) << (slice_bits + 2)) | ((b % m) << 2)
                            | (int(k == 0 or groups[k - 1] != g) << 1) | int(k + 1 == len(blocks) or groups[k + 1] != g)
                            for k, (g, b) in enumerate(blocks)], dtype=np.int64)
        bits = max(int(entries.max()).bit_length(), 1)
        sched_type = FixedType(bits, bits, False)
        codes = np.stack([codes[g, b] for g, b in blocks])
        ctx_extra = {"skip": True, "mac_cycles": len(blocks), "slice_bits": slice_bits, "sched_type": sched_type,
                     "sched": ctx.constant("sched", sched_type, entries, word=1)}
    w = ctx.constant("w", op.weight_type, codes, word=pe * simd, impl=None if sf * nf == 1 else memory_impl)
    if op.bias is None:  # a zero bias keeps one kernel signature; HLS removes the adds
        bias_type = exact_type(0, 0, op.accum_type.frac_bits)
        bias_codes = np.zeros(n_out, dtype=np.int64)
    else:
        bias_type = op.bias_type
        bias_codes = bias_type.quantize(op.bias)
    b = ctx.constant("b", bias_type, bias_codes, word=pe)
    x_type = ctx.inputs[0].type
    return {"n_in": n_in, "n_out": n_out, "sf": sf, "nf": nf, "pe": pe, "simd": simd, "in_fold": in_fold,
            "relu": op.activation == "relu", "weight_type": op.weight_type, "bias_type": bias_type,
            "accum_type": op.accum_type, "leaf_type": leaf_type(op.kernel, x_type, op.weight_type),
            "kernel": op.kernel, "kernel_id": KERNELS.index(op.kernel), "w": w, "b": b, **ctx_extra}


def float32_exact(wq: np.ndarray, x_type: FixedType, bq: np.ndarray, offset: float) -> bool:
    """True when every partial sum of the MAC array's accumulation (weights wq at the
    accumulator's precision, inputs of x_type, the bias and the cast's offset) is an integer
    of magnitude below 2**24, so float32 BLAS computes it exactly, in any order: each partial
    sum is bounded by the L1 bound sum|w| * max|x| + |b| + |offset| of its output."""
    if not float(offset).is_integer():
        return False
    x_max = max(abs(x_type.min_code), abs(x_type.max_code))
    bound = np.abs(wq).astype(np.float64).sum(axis=0) * x_max + np.abs(bq).astype(np.float64) + abs(offset)
    return float(np.max(bound, initial=0.0)) < 2.0 ** 24


class MacOp:
    """What Dense and Conv share as MAC-array layers (a mixin of their dataclasses, which
    declare `weight`, `weight_type`, `accum_type`, `bias`, `activation`, `kernel`, `pe`,
    `simd`, `memory`, `weights_from_model`): the array's shape (PE x SIMD; 0 = fully
    parallel), the reuse-factor shorthand, nonzero-weight counts, and the what-if formula."""

    # ---- structured pruning (passes/prune_channels.py) --------------------------------
    def channel_norms(self) -> np.ndarray:
        """Each output channel's L1 norm of real weights: the magnitude pruning ranks by."""
        return np.abs(self.weight * np.asarray(self.weight_scale, dtype=np.float64)).sum(axis=0)

    def keep_outputs(self, keep: np.ndarray):
        """This layer with only output channels `keep` (their weights, bias, scales)."""
        import dataclasses

        scale = np.asarray(self.weight_scale)
        return dataclasses.replace(
            self, weight=self.weight[:, keep], bias=None if self.bias is None else self.bias[keep],
            weight_scale=scale[..., keep] if scale.ndim and scale.shape[-1] == self.n_out else self.weight_scale)

    def keep_inputs(self, keep: np.ndarray, scale: np.ndarray | None = None):
        """This layer reading only input channels `keep` (Dense: rows of the weight), each
        kept row times `scale` (outlier splitting's halves; duplicates in keep allowed)."""
        import dataclasses

        w = self.weight[keep]
        return dataclasses.replace(self, weight=w if scale is None else w * np.asarray(scale)[:, None])

    def input_channel_max(self) -> np.ndarray:
        """Each input channel's largest |weight| (outlier splitting ranks by it)."""
        return np.abs(np.asarray(self.weight, dtype=np.float64)).max(axis=1)

    @property
    def n_in(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    @property
    def array_dims(self) -> tuple[int, int]:
        """(rows, columns) of the weight array the hardware stores (Conv: its window's rows)."""
        return self.weight.shape[0], self.weight.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        """(PE, SIMD) of the array."""
        rows, cols = self.array_dims
        return (self.pe or cols, self.simd or rows)

    def cycles(self, pe: int, simd: int) -> int:
        """Cycles per item (SF * NF) of a shape."""
        rows, cols = self.array_dims
        return (rows // simd) * (cols // pe)

    @property
    def reuse_factor(self) -> int:
        """Cycles per item, SF * NF (1 = fully parallel)."""
        return self.cycles(*self.shape)

    @reuse_factor.setter
    def reuse_factor(self, reuse: int) -> None:
        self.pe, self.simd = self.shape_for_reuse(int(reuse))

    def valid_shape(self, pe: int, simd: int) -> bool:
        rows, cols = self.array_dims
        return rows % simd == 0 and cols % pe == 0

    def shape_for_reuse(self, reuse: int) -> tuple[int, int]:
        """The (PE, SIMD) a reuse factor stands for: mac_fold's split (inputs folded first)
        where the layer can take it, else the valid shape with that many cycles and the most
        output lanes (remembered per weight array: search loops ask often)."""
        memo = self._weight_memo("_shapes")
        hit = memo.get(reuse)
        if hit is None:
            hit = memo[reuse] = self._shape_for_reuse(reuse)
        return hit

    def _shape_for_reuse(self, reuse: int) -> tuple[int, int]:
        rows, cols = self.array_dims
        if reuse >= 1 and (rows * cols) % reuse == 0:
            sf, nf = mac_fold(rows, cols, reuse)
            if self.valid_shape(cols // nf, rows // sf):
                return cols // nf, rows // sf
        shapes = [(pe, simd) for pe in divisors(cols) for simd in divisors(rows)
                  if self.valid_shape(pe, simd) and self.cycles(pe, simd) == reuse]
        if not shapes:
            raise ValueError(f"reuse factor {reuse} is not a cycle count of this layer")
        return max(shapes)

    def cycle_counts(self) -> list[int]:
        """Every cycle count per item (SF * NF) a valid shape of this layer has, ascending
        (no unroll limit: what a reuse-factor request may name)."""
        rows, cols = self.array_dims
        return sorted({self.cycles(pe, simd) for pe in divisors(cols) for simd in divisors(rows)
                       if self.valid_shape(pe, simd)})

    def simd_rule(self) -> str:
        """The SIMD values this layer takes, in words (for messages)."""
        return f"divides {self.array_dims[0]}"

    def mac_shapes(self, target) -> list[tuple[int, int]]:
        """Every (PE, SIMD) this layer can be built with within the HLS unroll limit (fully
        parallel counts only its nonzero products: the zero ones vanish)."""
        limit = int(target.coeff["max_unroll"])
        rows, cols = self.array_dims
        return [(pe, simd) for pe in divisors(cols) for simd in divisors(rows)
                if (pe * simd <= limit or (pe == cols and simd == rows and self.nonzero <= limit))
                and self.valid_shape(pe, simd)]

    def fold_choices(self, target) -> list[int]:
        """Reuse factors (cycles per item) this layer can take, ascending."""
        shapes = set(self.mac_shapes(target))
        return sorted({r for r in {self.cycles(pe, simd) for pe, simd in shapes} if self.shape_for_reuse(r) in shapes})

    @property
    def nonzero(self) -> int:
        """Nonzero weights (counted once per weight array: estimates ask often)."""
        memo = self._weight_memo("_nonzero")
        if "all" not in memo:
            memo["all"] = int(np.count_nonzero(self.weight))
        return memo["all"]

    def nonzero_at(self, bits: int) -> int:
        """Nonzero weights once quantized to `bits` bits (same integer bits): narrower weights
        round more of the small ones to zero, which fully parallel arrays skip. The model's
        own quantized weights keep theirs."""
        if self.weights_from_model or self.weight_type is None or bits == self.weight_type.width:
            return self.nonzero
        memo = self._weight_memo("_nonzero")
        n = memo.get(bits)
        if n is None:
            n = memo[bits] = int(np.count_nonzero(self.weight_type_at(bits).quantize(self.weight)))
        return n

    def weight_type_at(self, bits: int | None) -> FixedType:
        """The weight type at `bits` bits (same integer bits; what-if narrower weights round
        to nearest even), the layer's own for None, its width, or the model's quantized weights."""
        t = self.weight_type
        if bits is None or bits == t.width or self.weights_from_model:
            return t
        return FixedType(bits, t.int_bits, True, "AP_RND_CONV", t.overflow)

    def _weight_memo(self, name: str) -> dict:
        """A memo kept per weight array (a new array starts it afresh): searches ask often."""
        memo = self.__dict__.get(name)
        if memo is None or memo[0] is not self.weight:
            memo = self.__dict__[name] = (self.weight, {})
        return memo[1]

    def codes_at(self, bits: int | None = None) -> np.ndarray:
        """The stored weight array (array_weights) as integer codes at `bits` bits (same
        integer bits; None or the model's own quantized weights: the layer's weight type)."""
        return self.weight_type_at(bits).quantize(self.array_weights())

    def block_schedule(self, pe: int, simd: int, bits: int | None = None) -> list[tuple[int, int]] | None:
        """The PE x SIMD weight blocks a folded array visits per item when it skips the
        all-zero ones, as (output group, input block) pairs: every block of the first group
        (it reads the input into the buffer), then each other group's nonzero blocks (one
        zero block if it has none: its outputs still leave). None when nothing is skipped,
        or nothing can be (_may_skip; fully parallel arrays drop zero products instead)."""
        rows, cols = self.array_dims
        sf, nf = rows // simd, cols // pe
        if not self._may_skip(nf):
            return None
        live = (self.codes_at(bits) != 0).reshape(sf, simd, nf, pe).any(axis=(1, 3))  # [input block, group]
        if live[:, 1:].all():
            return None
        blocks = [(0, b) for b in range(sf)]
        for g in range(1, nf):
            nz = np.flatnonzero(live[:, g])
            blocks.extend((g, int(b)) for b in (nz if len(nz) else [0]))
        return blocks if len(blocks) < sf * nf else None

    def block_cycles(self, pe: int, simd: int, bits: int | None = None) -> int:
        """Cycles per item of the (PE, SIMD) array: SF * NF less the skipped all-zero blocks
        (block_schedule; remembered per weight array, width and shape: searches ask often)."""
        memo = self._weight_memo("_block_cycles")
        key = (pe, simd, None if bits == self.weight_type.width else bits)
        hit = memo.get(key)
        if hit is None:
            blocks = self.block_schedule(pe, simd, bits)
            hit = memo[key] = self.cycles(pe, simd) if blocks is None else len(blocks)
        return hit

    def pruned_block_cycles(self, pe: int, simd: int, pruning: float) -> int:
        """block_cycles's expectation when a share `pruning` of the weights is zero at random
        (what-if pruning: no pattern to read): a block is all zero with probability
        pruning ** (PE * SIMD)."""
        rows, cols = self.array_dims
        sf, nf = rows // simd, cols // pe
        if not self._may_skip(nf):
            return sf * nf
        live = max(1, round(sf * (1.0 - pruning ** (pe * simd))))
        return sf + (nf - 1) * live

    def _may_skip(self, nf: int) -> bool:
        """Whether an array with nf output groups can skip weight blocks (more than one group;
        bipolar weights are never zero; the depthwise unit has no schedule)."""
        return nf > 1 and self.kernel != "xnor" and not getattr(self, "depthwise", False)

    def array_weights(self) -> np.ndarray:
        """The weight array the hardware stores, (rows, columns) = array_dims."""
        return self.weight

    def shape_of(self, ov: dict) -> tuple[int, int]:
        """(PE, SIMD) under what-if overrides."""
        if "reuse_factor" in ov:
            pe, simd = self.shape_for_reuse(ov["reuse_factor"])
        else:
            pe, simd = self.shape
        return ov.get("pe", pe), ov.get("simd", simd)

    def bias_bits(self) -> int:
        return 0 if self.bias is None or self.bias_type is None else self.bias_type.width

    def memory_impl(self, target, pe: int, simd: int) -> str:
        """The weight memory's binding in the emitted C++: the kind its estimate assumed."""
        from ..cost.hardware import memory_kind

        return memory_kind(target, pe * simd * self.weight_type.width, self.block_cycles(pe, simd), self.memory)
