"""Cost formulas of the convolutional kernels (templates/kernels/qc_window.h, qc_conv.h,
qc_pool.h, qc_layout.h, qc_merge.h), built on the shared primitives of kernels.py.

Streaming images: one pixel (all its channels) per stream item. The sliding-window
generator walks the padded image at one position per cycle and keeps (ekh-1) padded rows
of wp pixels in a line buffer (BRAM or LUTRAM, one memory per row) and ekh x ekw pixels
of window registers; a MAC array (Dense's, same reuse factor) or a reduction consumes the
windows. FIFOs deeper than the default 2 (residual shortcuts) are counted in the layer
that reads them.
"""
from __future__ import annotations

import math

from ..numerics import FixedType
from .kernels import MacArray, adder_tree_depth, memory, multiplier
from .model import LayerCost
from .target import Target


def _items(t) -> int:
    return t.size // (t.shape[-1] if t.shape else 1)


def line_buffer(target: Target, win, width_bits: int) -> tuple[float, float, float]:
    """(BRAM_18K, LUT, FF) of a window generator: (ekh-1) row memories of wp words of one
    pixel, plus the ekh x ekw window registers."""
    rows = win.ekh - 1
    bram, lut = memory(target, width_bits * win.channels, win.wp, banks=rows) if rows > 0 else (0.0, 0.0)
    ff = win.ekh * win.ekw * win.channels * width_bits
    return bram, lut + 30, ff + 2 * math.ceil(math.log2(max(win.hp * win.wp, 2)))


def _first_window(win) -> int:
    """Cycles from the first real pixel to the first complete window (padding before the
    first pixel costs nothing: it is generated while the input has not arrived)."""
    return max(1, (win.ekh - 1) * win.wp + win.ekw - (win.pt * win.wp + win.pl))


def conv_cost(mac: MacArray, op, win, x_bits: int, y_bits: int, knobs: tuple[int, int, int, int]) -> LayerCost:
    """A sliding window feeding `mac` (the layer's MacArray, one item per window); knobs:
    (reuse, nonzero, weight bits, accumulator bits), see ops.dense.mac_knobs."""
    reuse, nonzero, w_bits, acc_bits = knobs
    n_win = win.out_h * win.out_w
    mac_cost = mac(reuse, nonzero, x_bits, w_bits, acc_bits, y_bits)
    lb_bram, lb_lut, lb_ff = line_buffer(mac.target, win, x_bits)
    ii = max(win.hp * win.wp, n_win * reuse)
    depth = mac_cost.first_out
    first = _first_window(win) + depth
    style = ("conv_line_buffer" if win.taps > 1 else "conv_pointwise") + ("" if op.kernel == "mac" else f"_{op.kernel}")
    detail = dict(mac_cost.detail, windows=n_win, padded_pixels=win.hp * win.wp, line_buffer_rows=win.ekh - 1,
                  line_buffer_words=(win.ekh - 1) * win.wp, window_registers=win.ekh * win.ekw * win.channels)
    return LayerCost(style=style, ii=ii, latency=max(win.hp * win.wp, _first_window(win) + n_win * reuse) + depth,
                     first_out=first, dsp=mac_cost.dsp, lut=mac_cost.lut + lb_lut, ff=mac_cost.ff + lb_ff,
                     bram_18k=mac_cost.bram_18k + lb_bram, detail=detail)


def pool_cost(target: Target, op, win, x_type: FixedType, y_type: FixedType) -> LayerCost:
    c = target.coeff
    ch = win.channels
    n_win = win.out_h * win.out_w
    if op.is_global:
        acc_w = op.sum_type.width if op.mode == "avg" else x_type.width
        lut = ch * acc_w * c["lut_per_adder_bit"] + c["lut_fixed"]
        ff = ch * acc_w + c["ff_fixed"]
        bram, first, ii = 0.0, win.in_h * win.in_w + 2, win.in_h * win.in_w
        style = "pool_global"
    else:
        bram, lut, ff = line_buffer(target, win, x_type.width)
        red_w = op.sum_type.width if op.mode == "avg" else x_type.width
        # a comparator (+mux) or adder per tap and channel, as a tree
        lut += (win.taps - 1) * ch * red_w * c["lut_per_adder_bit"] * (1.5 if op.mode == "max" else 1.0) + c["lut_fixed"]
        ff += ch * red_w + c["ff_fixed"]
        ii = max(win.hp * win.wp, n_win)
        first = _first_window(win) + adder_tree_depth(target, win.taps) + 1
        style = "pool"
    dsp = 0.0
    if op.mode == "avg":
        m_dsp, m_lut, m_ff = multiplier(target, op.sum_type.width, op.recip_type.width)
        dsp, lut, ff = dsp + ch * m_dsp, lut + ch * m_lut, ff + ch * m_ff
        r_bram, r_lut = memory(target, op.recip_type.width, win.taps + 1)
        bram, lut = bram + r_bram, lut + r_lut
        first += int(c["mult_latency"])
    return LayerCost(style=style, ii=ii, latency=max(ii, first) + 1, first_out=first, dsp=dsp, lut=lut, ff=ff,
                     bram_18k=bram, detail={"mode": op.mode, "windows": n_win, "taps": win.taps,
                                            "line_buffer_words": 0 if op.is_global else (win.ekh - 1) * win.wp})


def repack_cost(target: Target, x, y) -> LayerCost:
    """Regrouping items: whole items per cycle when one item size divides the other, else
    one value per cycle."""
    c = target.coeff
    ci, co = x.shape[-1], y.shape[-1]
    ii = max(_items(x), _items(y)) if (ci % co == 0 or co % ci == 0) else x.size
    width = max(ci, co) * y.type.width
    return LayerCost(style="repack", ii=ii, latency=ii + 1, first_out=max(1, -(-co // ci)) + 1,
                     lut=width * 0.5 + c["lut_fixed"], ff=width + c["ff_fixed"])


def transpose_cost(target: Target, x, y) -> LayerCost:
    """A frame buffer: every value is written, then read out in the new order (one value
    per cycle)."""
    c = target.coeff
    bram, lut = memory(target, x.type.width, x.size)
    ii = _items(x) + y.size
    return LayerCost(style="transpose_buffer", ii=ii, latency=ii + 2, first_out=_items(x) + y.shape[-1] + 2,
                     lut=lut + 40 + c["lut_fixed"], ff=y.shape[-1] * y.type.width + c["ff_fixed"], bram_18k=bram,
                     detail={"buffer_words": x.size})


def pad_cost(target: Target, x, y) -> LayerCost:
    c = target.coeff
    ii = _items(y)
    return LayerCost(style="pad", ii=ii, latency=ii + 1, first_out=2,
                     lut=y.shape[-1] * y.type.width * 0.5 + c["lut_fixed"], ff=y.shape[-1] * y.type.width + c["ff_fixed"])


def row_buffer_cost(target: Target, style: str, x, y, row_pixels: int) -> LayerCost:
    """Kernels that buffer one input row (Resize, DepthToSpace)."""
    c = target.coeff
    width = x.shape[-1] * x.type.width
    bram, lut = memory(target, width, row_pixels)
    ii = max(_items(x), _items(y))
    return LayerCost(style=style, ii=ii, latency=ii + row_pixels + 1, first_out=row_pixels + 2, bram_18k=bram,
                     lut=lut + y.shape[-1] * y.type.width * 0.5 + c["lut_fixed"],
                     ff=y.shape[-1] * y.type.width + c["ff_fixed"])


def fifo_cost(target: Target, width_bits: int, depth: int) -> tuple[float, float, float]:
    """(BRAM_18K, LUT, FF) of a FIFO deeper than the default 2 (shift registers below 64
    words, LUTRAM or BRAM beyond, as memory() decides), plus its pointers."""
    bram, lut = memory(target, width_bits, depth)
    ptr = 2 * max(int(depth - 1).bit_length(), 1)
    return bram, lut + ptr + 10, float(ptr)


def merge_cost(target: Target, kind: str, inputs, y, depths, adder_bits: int = 0) -> LayerCost:
    """Add (one adder per channel) or Concat (wiring), one pixel per cycle, plus the FIFOs
    sized for its inputs."""
    c = target.coeff
    ch = y.shape[-1]
    lut = (ch * adder_bits * c["lut_per_adder_bit"] if kind == "add" else ch * y.type.width * 0.25) + c["lut_fixed"]
    ff = ch * y.type.width + c["ff_fixed"]
    bram = 0.0
    depths = list(depths or [2] * len(inputs))
    for t, d in zip(inputs, depths):
        if d > 2:
            b, l, f = fifo_cost(target, t.shape[-1] * t.type.width, d)
            bram, lut, ff = bram + b, lut + l, ff + f
    ii = _items(y)
    return LayerCost(style=kind, ii=ii, latency=ii + 2, first_out=2, lut=lut, ff=ff, bram_18k=bram,
                     detail={"fifo_depths": depths})
