"""The shared hardware pieces every kernel formula is built from: multipliers, adder trees,
memories (BRAM, LUTRAM, URAM), stream interfaces, FIFOs and stream width converters.

The kernels' own formulas live in their op's file (compiler/ops/<op>.py, and the shared
_mac.py, _window.py, _lanes.py); they describe the C++ the backend emits and take their
coefficients from the target's fabric table (hw_models/coefficients.toml, fitted by
benchmarks/fit_cost_model.py on the real synthesis reports in ../shared/groundtruth).
Nothing here knows an op.

What the numbers mean. Resources are the HLS C-synthesis estimate (what build.tcl
produces); Vivado synthesis typically lands lower (`post_synthesis()` converts with the
fabric's fitted stage factors). Latencies are cycles from a stage's first input to its
last output.

Interfaces. Stages exchange hls::stream FIFOs of beats (a beat = `fold` elements of a
tensor); every stage that writes a stream pays a handshake share per bit it writes
(`stream_io`). The ground-truth tooling also estimates designs whose layers pass plain
arrays inside one pipelined function (hls4ml's io_parallel): coeff['io_parallel'] = 1
removes those interface costs.
"""
from __future__ import annotations

import functools
import math

from .model import LayerCost
from .target import Target

# BRAM_18K shapes in true-dual-port mode (ROMs read by two lanes, FIFOs): width x depth.
# Simple-dual-port memories (one write and one read port: line buffers) may use 36 x 512.
_BRAM_SHAPES = ((18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))
_BRAM_SDP_SHAPES = ((36, 512),) + _BRAM_SHAPES
URAM_WIDTH, URAM_DEPTH = 72, 4096

MEMORY_STYLES = ("auto", "bram", "lutram", "uram")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def clog2(n: int) -> int:
    return max(int(n - 1).bit_length(), 0)


def k(target: Target, key: str, default: float) -> float:
    """A coefficient with a default (for keys added after a fabric table was written)."""
    return target.coeff.get(key, default)


def io_parallel(target: Target) -> bool:
    return bool(target.coeff.get("io_parallel", 0.0))


def stream_io(target: Target, bits: int) -> tuple[float, float]:
    """(LUT, FF) of writing `bits` bits per beat into the output stream(s) of a stage, plus
    the stage's own handshake/start logic (0 when layers exchange plain arrays)."""
    if io_parallel(target):
        return 0.0, 0.0
    return (bits * k(target, "lut_per_stream_bit", 0.0) + k(target, "lut_per_stream_stage", 0.0),
            bits * k(target, "ff_per_stream_bit", 0.0) + k(target, "ff_per_stream_stage", 0.0))


def stream_cycles(target: Target) -> int:
    """Extra cycles a stage spends on its stream handshakes (read, then write)."""
    return 0 if io_parallel(target) else int(round(k(target, "stream_overhead_cycles", 1.0)))


def post_synthesis(target: Target, resources: dict[str, float]) -> dict[str, float]:
    """An HLS-estimate resource dict converted to what Vivado synthesis typically reports
    (fitted stage factors; HLS over-estimates LUTs about 2x)."""
    keys = {"lut": "synth_lut_factor", "ff": "synth_ff_factor", "dsp": "synth_dsp_factor",
            "bram_18k": "synth_bram_factor"}
    return {r: v * k(target, keys[r], 1.0) if r in keys else v for r, v in resources.items()}


def multiplier(target: Target, wa: int, wb: int) -> tuple[float, float, float]:
    """(DSP, LUT, FF) of one wa x wb multiplier: narrow products go to LUTs, wider ones to
    as many DSP slices as the port widths need. A slice covers a dsp_a_width x dsp_b_width
    partial product; a leftover of at most dsp_lut_leftover_bits bits on an operand needs no
    slice of its own (HLS synthesized 32x32-bit products on two DSP48E2 slices, not four)."""
    c = target.coeff
    if wa * wb <= c["lut_mult_max_product"]:
        return 0.0, c["lut_per_mult_bit2"] * wa * wb, float(wa + wb) * k(target, "ff_per_lut_mult_bit", 0.0)
    big, small = max(wa, wb), min(wa, wb)
    a, b = int(c["dsp_a_width"]), int(c["dsp_b_width"])
    left = int(k(target, "dsp_lut_leftover_bits", 0))
    n_a = max(1, ceil_div(big - left, a)) if big > a else 1
    n_b = max(1, ceil_div(small - left, b)) if small > b else 1
    return float(n_a * n_b), 0.0, 0.0


def memory_kind(target: Target, width_bits: int, depth: int, style: str = "auto") -> str:
    """What a memory of width x depth is built from: "lutram", "bram" or "uram" (the
    emitted C++ binds each memory to the kind its estimate assumed)."""
    c = target.coeff
    if style == "uram" and target.resources.get("uram", 0) > 0:
        return "uram"
    if style in ("lutram", "bram"):
        return style
    small = max(width_bits, 1) * max(depth, 1) <= c["lutram_max_bits"] or depth < c["bram_min_depth"]
    return "lutram" if small else "bram"


def memory(target: Target, width_bits: int, depth: int, banks: int = 1, style: str = "auto",
           ports: int = 2) -> tuple[float, float, float]:
    """(BRAM_18K, LUT, URAM) of `banks` memories of width x depth.
    style "auto": small or shallow memories are built from LUTs (a BRAM for a few words would
    waste the block), the others take the cheapest BRAM_18K aspect ratio; "lutram" and
    "bram" force one kind; "uram" packs 72 x 4096 UltraRAM blocks (falls back to BRAM on
    devices without). ports=1: one write and one read port (line buffers, FIFOs), which may
    use the 36-bit simple-dual-port BRAM shape."""
    c = target.coeff
    width_bits, depth = max(int(width_bits), 1), max(int(depth), 1)
    kind = memory_kind(target, width_bits, depth, style)
    if kind == "uram":
        return 0.0, 0.0, float(banks * ceil_div(width_bits, URAM_WIDTH) * ceil_div(depth, URAM_DEPTH))
    if kind == "lutram":
        return 0.0, banks * width_bits * depth * c["lut_per_rom_bit"], 0.0
    return float(banks * _brams_per_bank(int(c["bram_width"]), int(c["bram_depth"]), width_bits, depth,
                                         ports == 1)), 0.0, 0.0


@functools.lru_cache(maxsize=4096)
def _brams_per_bank(bram_width: int, bram_depth: int, width_bits: int, depth: int, sdp: bool) -> int:
    """BRAM_18K blocks of one width x depth memory in its cheapest aspect ratio."""
    if (bram_width, bram_depth) == (18, 1024):
        shapes = _BRAM_SDP_SHAPES if sdp else _BRAM_SHAPES
    else:
        shapes = ((bram_width, bram_depth),)
    return min(ceil_div(width_bits, w) * ceil_div(depth, d) for w, d in shapes)


def adder_tree_depth(target: Target, terms: int) -> int:
    """Pipeline stages of a tree adding `terms` values (at least one stage: the final add)."""
    return ceil_div(max(math.ceil(math.log2(max(terms, 2))), 1), int(target.coeff["adds_per_stage"]))


@functools.lru_cache(maxsize=65536)
def tree_adder_bits(leaves: int, leaf_bits: int, cap: int = 64) -> int:
    """Adder bits of a balanced tree summing `leaves` values of `leaf_bits` bits, each level
    one bit wider than the one below (templates/kernels/qc_common.h qc::Tree), never wider
    than `cap`: sum over levels of (adders at that level) * (their width)."""
    total, n, width = 0, leaves, leaf_bits
    while n > 1:
        width = min(width + 1, cap)
        total += (n // 2) * width
        n = n - n // 2
    return total


def fifo(target: Target, width_bits: int, depth: int) -> tuple[float, float, float]:
    """(BRAM_18K, LUT, FF) of a FIFO deeper than the default 2 (shift registers below 64
    words, LUTRAM or BRAM beyond, as memory() decides), plus its pointers."""
    bram, lut, _ = memory(target, width_bits, depth, ports=1)
    ptr = 2 * max(int(depth - 1).bit_length(), 1)
    return bram, lut + ptr + 10, float(ptr)


def width_converter(target: Target, elem_bits: int, fold_in: int, fold_out: int, beats_in: int) -> LayerCost:
    """A stream width converter (templates/kernels/qc_common.h qc::convert) from beats of
    fold_in elements to beats of fold_out (both divide the tensor's channels): it gathers
    fold_out / fold_in beats into one (up), or splits a beat into fold_in / fold_out (down),
    or, when neither divides the other, gathers into lcm-wide beats and splits those. One
    beat in or out per cycle."""
    c = target.coeff
    beats_out = beats_in * fold_in // fold_out
    if fold_out % fold_in == 0:      # gather: a fold_out-wide register, one slot per beat
        ff = fold_out * elem_bits
        lut = fold_out * elem_bits * k(target, "lut_per_select_bit", 0.5) * 0.5
        ii = beats_in
    elif fold_in % fold_out == 0:    # split: a fold_in-wide register and a mux per output lane
        ff = fold_in * elem_bits
        lut = fold_out * elem_bits * (fold_in // fold_out - 1) * k(target, "lut_per_mux_bit", 0.3)
        ii = beats_out
    else:
        wide = fold_in * fold_out // math.gcd(fold_in, fold_out)
        up = width_converter(target, elem_bits, fold_in, wide, beats_in)
        down = width_converter(target, elem_bits, wide, fold_out, beats_in * fold_in // wide)
        return LayerCost(style="width_converter", ii=max(up.ii, down.ii), latency=up.latency + down.latency,
                         first_out=up.first_out + down.first_out, lut=up.lut + down.lut, ff=up.ff + down.ff,
                         detail={"from": fold_in, "to": fold_out})
    s_lut, s_ff = stream_io(target, fold_out * elem_bits)
    depth = 1 + stream_cycles(target)
    first = max(fold_out // fold_in, 1) + depth
    return LayerCost(style="width_converter", ii=ii, latency=ii - 1 + depth, first_out=first,
                     lut=lut + s_lut + c["lut_fixed"], ff=ff + s_ff + c["ff_fixed"],
                     detail={"from": fold_in, "to": fold_out})


def with_converters(cost: LayerCost, converters: list[LayerCost]) -> LayerCost:
    """A layer's cost with the width converters in front of its inputs (they run as their
    own dataflow stages: the interval is the slowest, the latencies add up)."""
    if not converters:
        return cost
    ii = max([cost.ii] + [c.ii for c in converters])
    lead = max(c.first_out for c in converters)
    drain = max(c.latency - c.first_out for c in converters)
    detail = dict(cost.detail, converters=tuple(dict(c.detail) for c in converters))  # plain values: untracked by gc
    return LayerCost(style=cost.style, ii=ii, latency=max(cost.latency + lead, lead + drain + 1),
                     first_out=cost.first_out + lead,
                     dsp=cost.dsp, lut=cost.lut + sum(c.lut for c in converters),
                     ff=cost.ff + sum(c.ff for c in converters),
                     bram_18k=cost.bram_18k + sum(c.bram_18k for c in converters), uram=cost.uram, detail=detail)
