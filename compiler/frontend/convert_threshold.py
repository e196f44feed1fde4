"""FINN-ONNX MultiThreshold (domains finn, finn.custom_op.general, qonnx.custom_op.general, onnx.brevitas):
y = out_bias + out_scale * #{ j : x >= T[c][j] }, onto the Threshold op.

The channel axis is qonnx's: `data_layout` names it (its "C"); without one, a rank-2 input
is NC, rank 3 NWC, rank 4 NCHW, others have it at axis 1. Thresholds are (C, N), or (1, N)
for all channels. `out_dtype` only annotates the output type for FINN (qonnx's executor
neither checks nor clips to it), so it is not read: the output type is derived exactly.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..ops.threshold import MAX_STEP, Threshold, output_grid
from .values import converter

# FINN's old and new domains; "onnx.brevitas" is an alias qonnx's registry resolves to the general ops
THRESHOLD_DOMAINS = ("finn", "finn.custom_op.general", "qonnx.custom_op.general", "onnx.brevitas")
DEFAULT_LAYOUTS = {2: "NC", 3: "NWC", 4: "NCHW"}   # qonnx's guess from the rank


def _float_attr(ctx, name: str, default: float) -> float:
    v = ctx.attrs.get(name, default)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ctx.error(f"attribute {name}={v!r} must be a finite number", ModelError)
    return float(v)


def _channel_axis(ctx, rank: int) -> int:
    """The ONNX channel axis (batch included) of a rank-`rank` input."""
    layout = str(ctx.attrs.get("data_layout", "") or "")
    if not layout:
        return DEFAULT_LAYOUTS.get(rank, "NC").index("C")
    if len(layout) != rank or layout[0] != "N" or layout.count("C") != 1 or len(set(layout)) != rank:
        raise ctx.error(f"data_layout={layout!r} is not supported for a rank-{rank} input (supported: {rank} "
                        "distinct letters, N first and one C, e.g. NC, NWC, NCHW, NHWC)")
    return layout.index("C")


@converter("MultiThreshold", domains=THRESHOLD_DOMAINS,
           attributes={"out_dtype": "string", "out_scale": "float", "out_bias": "float", "data_layout": "string"})
def _multithreshold(imp, ctx, ins):
    """constant (C, N) or (1, N) thresholds on the data_layout's C axis; outputs on one integer grid

    out_scale != 0 and out_bias a multiple of out_scale / q, q <= MAX_STEP (ops/threshold.py)."""
    if len(ins) != 2 or ins[1] is None:
        raise ctx.error(f"expected 2 inputs (x, thresholds), got {len(ins)}", ModelError)
    x = ctx.act(ins[0])
    t = np.asarray(ctx.const(ins[1], "thresholds").value, dtype=np.float64)
    if t.ndim != 2:
        raise ctx.error(f"thresholds of shape {t.shape} are not supported (supported: (channels, N) or (1, N))")
    if np.isnan(t).any():
        raise ctx.error("the thresholds contain NaN", ModelError)
    out_scale, out_bias = _float_attr(ctx, "out_scale", 1.0), _float_attr(ctx, "out_bias", 0.0)
    if output_grid(out_scale, out_bias) is None:
        raise ctx.error(f"out_scale={out_scale:g}, out_bias={out_bias:g} is not supported: the outputs must be "
                        f"exact integer multiples of one unit (supported: out_scale != 0 and out_bias a multiple "
                        f"of out_scale / q for an integer q <= {MAX_STEP}, e.g. out_scale=2, out_bias=-1)")
    axis = _channel_axis(ctx, len(x.shape) + 1) - 1          # per sample
    c = x.shape[axis]
    if t.shape[0] not in (1, c):
        raise ctx.error(f"{t.shape[0]} rows of thresholds for {c} channels (axis {axis + 1} of the input); "
                        "expected one row per channel or one for all", ModelError)
    if t.shape[0] > 1 and c > 1:   # per channel: the IR's last axis must be the channel axis
        if len(x.shape) == 1:
            x, rows = imp.per_channel(ctx, x, np.arange(c))
            t = t[rows.astype(np.int64)]
        else:
            x = imp.to_layout(ctx, x, tuple(a for a in range(len(x.shape)) if a != axis) + (axis,))
    else:
        t = t[:1]   # one row for all channels suits any layout
    return imp.emit(ctx, Threshold(thresholds=t, out_scale=out_scale, out_bias=out_bias), x, x.shape)
