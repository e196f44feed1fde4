"""Convolutional networks: Conv (also QONNX's channels_last Conv, NHWC), MaxPool,
AveragePool, GlobalMaxPool, GlobalAveragePool, Pad, Concat, Resize/Upsample (nearest) and
DepthToSpace.

Each converter asks the importer for the input layout its IR op works in (channels-last
images: ONNX (C, *spatial) as (*spatial, C); a channels_last op's NHWC input as it is) and
describes its output's layout, so Transposes around the ops cost nothing where they only
undo each other.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..ops.concat import MAX_INPUTS, Concat
from ..ops.conv import Conv
from ..ops.depth_to_space import DepthToSpace
from ..ops.pad import Pad
from ..ops.pool import Pool
from ..ops.resize import Resize
from ..ops._window import Window
from .convert_volume import volume_conv, volume_pool
from .values import Act, canonical_perm, check_size, converter

CHANNELS_LAST = "qonnx.custom_op.channels_last"


def _ints(ctx, name, default, n):
    v = [int(a) for a in ctx.attrs.get(name, default)]
    if len(v) != n:
        raise ctx.error(f"attribute {name}={v} should have {n} values", ModelError)
    return v


def _geometry(ctx, spatial, kernel, dilations_default=True):
    """strides, dilations and explicit pads (begins..., ends...) from the attributes,
    auto_pad included (SAME_UPPER/SAME_LOWER put the odd pad at the end/beginning)."""
    r = len(spatial)
    strides = _ints(ctx, "strides", [1] * r, r)
    dilations = _ints(ctx, "dilations", [1] * r, r) if dilations_default else [1] * r
    auto_pad = str(ctx.attrs.get("auto_pad", "NOTSET")).upper()
    if auto_pad in ("NOTSET", ""):
        pads = _ints(ctx, "pads", [0] * (2 * r), 2 * r)
    elif auto_pad == "VALID":
        pads = [0] * (2 * r)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for n, k, s, d in zip(spatial, kernel, strides, dilations):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            small = total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else total - small)
            ends.append(total - begins[-1])
        pads = begins + ends
    else:
        raise ctx.error(f"auto_pad={auto_pad} is not supported (supported: NOTSET, VALID, SAME_UPPER, SAME_LOWER)")
    if min(strides + dilations) < 1:
        raise ctx.error("strides and dilations must be positive", ModelError)
    if min(pads) < 0:
        raise ctx.error(f"negative pads {pads} are not supported")
    return strides, dilations, pads


def _image(imp, ctx, x: Act, channels_last_op: bool) -> tuple[Act, tuple[int, ...], int]:
    """The input as the IR's channels-last image: (act, ONNX spatial dims, channels)."""
    rank = len(x.shape) - 1
    if rank not in (1, 2):
        layout = "(N, W, C) or (N, H, W, C)" if channels_last_op else "(N, C, W) or (N, C, H, W)"
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported "
                        f"(supported: 1-D, 2-D and 3-D images, {layout})")
    if channels_last_op:
        return imp.to_layout(ctx, x, tuple(range(rank + 1))), tuple(x.shape[:-1]), x.shape[-1]
    return imp.channels_last(ctx, x), tuple(x.shape[1:]), x.shape[0]


def _output(imp, ctx, op, x: Act, spatial_out, channels, channels_last_op: bool) -> Act:
    if channels_last_op:
        return imp.emit(ctx, op, x, tuple(spatial_out) + (channels,), perm=None)
    shape = (channels,) + tuple(spatial_out)
    return imp.emit(ctx, op, x, shape, perm=canonical_perm(len(shape)))


def _check_window(ctx, win: Window):
    problem = win.check()
    if problem:
        raise ctx.error(problem, ModelError)


# ---- convolution ------------------------------------------------------------------------------
@converter("Conv")
@converter("Conv", domains=(CHANNELS_LAST,))
def _conv(imp, ctx, ins):
    """1-D/2-D/3-D (NHWC op: 1-D/2-D); constant weight, bias; any kernel/stride/dilation/group; pads >= 0

    Any auto_pad. Quantized weights: one scale per tensor or per output channel. 3-D (N, C, D, H, W):
    im2col and a 2-D kernel (convert_volume). QONNX channels_last Conv: 1-D/2-D NHWC."""
    chlast = ctx.node.domain == CHANNELS_LAST
    if not chlast and isinstance(ins[0], Act) and len(ins[0].shape) == 4:  # a volume: im2col + 2-D
        return volume_conv(imp, ctx, ins, _conv)
    x, spatial, c_in = _image(imp, ctx, ctx.act(ins[0]), chlast)
    w = ctx.const(ins[1], "weight")
    value = np.asarray(w.value if w.qtype is None else w.fixed, dtype=np.float64)
    r = len(spatial)
    if value.ndim != r + 2:
        raise ctx.error(f"weight of shape {value.shape} does not fit a {r}-D convolution", ModelError)
    if chlast:  # (C_out, *k, C_in/g) -> ONNX's (C_out, C_in/g, *k)
        value = np.moveaxis(value, -1, 1)
    c_out, cin_g, kernel = value.shape[0], value.shape[1], list(value.shape[2:])
    if "kernel_shape" in ctx.attrs and [int(k) for k in ctx.attrs["kernel_shape"]] != kernel:
        raise ctx.error(f"kernel_shape={list(ctx.attrs['kernel_shape'])} does not match the weight {value.shape}",
                        ModelError)
    groups = int(ctx.attrs.get("group", 1))
    if groups < 1 or c_in % groups or c_out % groups or cin_g * groups != c_in:
        raise ctx.error(f"group={groups} does not fit {c_in} input channels, {c_out} output channels and a weight "
                        f"of shape {value.shape} (each group reads C_in/group channels)", ModelError)
    strides, dilations, pads = _geometry(ctx, spatial, kernel)
    # (C_out, C_in/g, *k) -> rows (tap, input channel of the group), one column per output channel
    weight = np.moveaxis(value, (0, 1), (-1, -2)).reshape(-1, c_out)
    op = Conv(weight=weight, kernel_shape=tuple(kernel), strides=tuple(strides), dilations=tuple(dilations),
              pads=tuple(pads), groups=groups)
    if w.qtype is not None:
        op.weight_type, op.weights_from_model = w.qtype, True
        op.weight_scale = _per_output_scale(ctx, w.scale, value.shape, chlast)
    if len(ins) > 2 and ins[2] is not None:
        b = np.asarray(ctx.const(ins[2], "bias").value, dtype=np.float64).reshape(-1)
        if b.size != c_out:
            raise ctx.error(f"bias of {b.size} values does not match {c_out} output channels", ModelError)
        op.bias = b.copy()
    win = op.window(imp.graph.tensors[x.tensor].shape)
    _check_window(ctx, win)
    return _output(imp, ctx, op, x, (win.out_h, win.out_w)[-r:], c_out, chlast)


def _per_output_scale(ctx, scale, shape, chlast: bool):
    """A quantized weight's real scale: one value, or one per output channel."""
    s = np.asarray(scale, dtype=np.float64)
    if s.size == 1:
        return float(s.reshape(-1)[0])
    full = np.broadcast_to(s, shape if not chlast else (shape[0],) + tuple(shape[2:]) + (shape[1],))
    per_out = full.reshape(shape[0], -1)
    if not np.all(per_out == per_out[:, :1]):
        raise ctx.error("weight scales that vary within an output channel are not supported "
                        "(supported: per-tensor or per output channel)")
    return per_out[:, 0].copy()


# ---- pooling --------------------------------------------------------------------------------------
@converter("MaxPool", "AveragePool")
@converter("MaxPool", domains=(CHANNELS_LAST,))
def _pool(imp, ctx, ins):
    """1-D/2-D/3-D (NHWC: 1-D/2-D); no Indices; ceil_mode=1: not 3-D, AveragePool only if it adds nothing

    Pads >= 0, any auto_pad. 3-D: ceil_mode=0; a padded AveragePool needs count_include_pad=1.
    QONNX channels_last MaxPool: 1-D/2-D NHWC."""
    chlast = ctx.node.domain == CHANNELS_LAST
    mode = "max" if ctx.node.op_type == "MaxPool" else "avg"
    if len(ctx.node.output) > 1 and ctx.node.output[1]:
        raise ctx.error("the Indices output is not supported (supported: the pooled values only)")
    if not chlast and isinstance(ins[0], Act) and len(ins[0].shape) == 4:  # a volume: im2col + 2-D
        return volume_pool(imp, ctx, ins, _pool)
    x, spatial, c = _image(imp, ctx, ctx.act(ins[0]), chlast)
    r = len(spatial)
    if "kernel_shape" not in ctx.attrs:
        raise ctx.error("attribute kernel_shape is missing", ModelError)
    kernel = _ints(ctx, "kernel_shape", [], r)
    strides, dilations, pads = _geometry(ctx, spatial, kernel)
    if int(ctx.attrs.get("ceil_mode", 0)):
        for i, (n, k, s, d) in enumerate(zip(spatial, kernel, strides, dilations)):
            ek, span = (k - 1) * d + 1, n + pads[i] + pads[r + i]
            out = -(-(span - ek) // s) + 1
            if (out - 1) * s >= n + pads[i]:  # the last window must start inside the input or its begin pad
                out -= 1
            extra = (out - 1) * s + ek - span
            if extra > 0:
                if mode == "avg":
                    raise ctx.error("ceil_mode=1 that adds a partial window is not supported for AveragePool "
                                    "(supported: MaxPool, or sizes where it changes nothing)")
                pads[r + i] += extra  # max ignores padding
    op = Pool(mode=mode, kernel_shape=tuple(kernel), strides=tuple(strides), dilations=tuple(dilations), pads=tuple(pads),
              count_include_pad=bool(int(ctx.attrs.get("count_include_pad", 0))))
    win = op.window(imp.graph.tensors[x.tensor].shape)
    _check_window(ctx, win)
    return _output(imp, ctx, op, x, (win.out_h, win.out_w)[-r:], c, chlast)


@converter("GlobalMaxPool", "GlobalAveragePool")
def _global_pool(imp, ctx, ins):
    """1-D and 2-D images, (N, C, W) or (N, C, H, W); volumes are refused"""
    x, spatial, c = _image(imp, ctx, ctx.act(ins[0]), False)
    op = Pool(mode="max" if ctx.node.op_type == "GlobalMaxPool" else "avg", is_global=True)
    return _output(imp, ctx, op, x, (1,) * len(spatial), c, False)


# ---- padding, concatenation, resizing ---------------------------------------------------------
def _own_layout(imp, ctx, x: Act) -> tuple[Act, tuple[int, ...]]:
    """x in a transposed layout (its own when it has one: free), and that perm."""
    if x.flat_order is None:
        perm = x.perm if x.perm is not None else tuple(range(len(x.shape)))
    else:
        perm = canonical_perm(len(x.shape))
    return imp.to_layout(ctx, x, perm), perm


@converter("Pad")
def _pad(imp, ctx, ins):
    """constant/edge/reflect; constant pads >= 0, none on the batch axis; reflect pads < the axis size"""
    x = ctx.act(ins[0])
    mode = str(ctx.attrs.get("mode", "constant")).lower()
    if mode not in ("constant", "edge", "reflect"):
        raise ctx.error(f"mode={mode} is not supported (supported: constant, edge, reflect)")
    rank = len(x.shape) + 1
    if imp.opset.get("", 13) < 11:
        pads, value = [int(p) for p in ctx.attrs.get("pads", [])], float(ctx.attrs.get("value", 0.0))
    else:
        pads = [int(p) for p in ctx.const(ins[1], "pads").value.reshape(-1)]
        value = 0.0
        if len(ins) > 2 and ins[2] is not None:
            v = np.asarray(ctx.const(ins[2], "constant_value").value, dtype=np.float64).reshape(-1)
            value = float(v[0]) if v.size else 0.0
        if len(ins) > 3 and ins[3] is not None:  # opset 18: pads for these axes only
            axes = [int(a) + rank if a < 0 else int(a) for a in ctx.const(ins[3], "axes").value.reshape(-1)]
            full = [0] * (2 * rank)
            for i, a in enumerate(axes):
                full[a], full[rank + a] = pads[i], pads[len(axes) + i]
            pads = full
    if len(pads) != 2 * rank:
        raise ctx.error(f"pads {pads} do not fit a rank-{rank} input", ModelError)
    if pads[0] or pads[rank]:
        raise ctx.error("padding the batch dimension is not supported")
    if min(pads) < 0:
        raise ctx.error(f"negative pads {pads} (cropping) are not supported")
    if not any(pads):
        return x
    if mode == "reflect":
        for a, d in enumerate(x.shape, start=1):
            if max(pads[a], pads[rank + a]) >= d:
                raise ctx.error(f"reflect pads {pads[a]}, {pads[rank + a]} on axis {a} of size {d} (supported: "
                                "smaller than the axis)")
    if mode != "constant":
        value = 0.0
    x, perm = _own_layout(imp, ctx, x)
    begins, ends = pads[1:rank], pads[rank + 1:]
    ir_pads = tuple(begins[p] for p in perm) + tuple(ends[p] for p in perm)
    shape = tuple(d + b + e for d, b, e in zip(x.shape, begins, ends))
    return imp.emit(ctx, Pad(pads=ir_pads, value=value, mode=mode), x, shape, perm=perm)


@converter("Concat")
def _concat(imp, ctx, ins):
    """any number of computed inputs (no constants) along any axis but the batch"""
    xs = [ctx.act(v, f"input {i}") for i, v in enumerate(ins) if v is not None]
    if len(xs) == 1:
        return xs[0]
    rank = len(xs[0].shape) + 1
    if "axis" not in ctx.attrs:
        raise ctx.error("attribute axis is missing", ModelError)
    axis = ctx.axis(ctx.attrs["axis"], rank)
    if axis == 0:
        raise ctx.error("concatenating along the batch dimension is not supported")
    a = axis - 1
    for x in xs[1:]:
        if len(x.shape) != len(xs[0].shape) or any(d != e for i, (d, e) in enumerate(zip(x.shape, xs[0].shape))
                                                   if i != a):
            raise ctx.error(f"input shapes {[x.shape for x in xs]} differ outside axis {axis}", ModelError)
    # the concatenation axis must be the IR's last (channel) axis: keep the first input's
    # layout when it already is, else move that axis last
    first = xs[0]
    if first.flat_order is None and first.perm is not None and first.perm[-1] == a:
        perm = first.perm
    elif a == 0:
        perm = canonical_perm(len(first.shape))
    else:
        perm = tuple(i for i in range(len(first.shape)) if i != a) + (a,)
    xs = [imp.to_layout(ctx, x, perm) for x in xs]
    k = 0
    while len(xs) > 1:  # Concat takes up to MAX_INPUTS streams: chain them
        group, xs = xs[:MAX_INPUTS], xs[MAX_INPUTS:]
        shape = list(group[0].shape)
        shape[a] = sum(x.shape[a] for x in group)
        last = not xs
        out = imp.emit(ctx, Concat(), group, tuple(shape), suffix="" if last else f"part{k}", perm=perm)
        xs = [out] + xs
        k += 1
    return xs[0]


_COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def nearest_indices(n_in: int, n_out: int, scale: float, coordinate_mode: str, nearest_mode: str) -> np.ndarray:
    """The input index each output index copies, by ONNX Resize's nearest-neighbour rules,
    computed in float32 as onnxruntime does (a scale of 0.6 is 0.6000000238f there)."""
    f = np.float32
    x, scale = np.arange(n_out, dtype=f), f(scale)
    half = f(0.5)
    if coordinate_mode == "half_pixel":
        orig = (x + half) / scale - half
    elif coordinate_mode == "pytorch_half_pixel":
        orig = (x + half) / scale - half if n_out > 1 else np.zeros_like(x)
    elif coordinate_mode == "align_corners":
        orig = x * f(n_in - 1) / f(n_out - 1) if n_out > 1 else np.zeros_like(x)
    elif coordinate_mode == "asymmetric":
        orig = x / scale
    else:  # tf_half_pixel_for_nn
        orig = (x + half) / scale
    if nearest_mode == "round_prefer_floor":
        idx = np.where(orig - np.floor(orig) == half, np.floor(orig), np.round(orig))
    elif nearest_mode == "round_prefer_ceil":
        idx = np.floor(orig + half)
    elif nearest_mode == "floor":
        idx = np.floor(orig)
    else:
        idx = np.ceil(orig)
    return np.clip(idx, 0, n_in - 1).astype(np.int64)


@converter("Resize", "Upsample")
def _resize(imp, ctx, ins):
    """nearest only, on the spatial axes of 1-D/2-D images; no antialias, axes, tf_crop_and_resize

    Channels first or last; scales or sizes constant; coordinate_transformation_mode: half_pixel,
    pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn; any nearest_mode."""
    x = ctx.act(ins[0])
    mode = str(ctx.attrs.get("mode", "nearest")).lower()
    if mode != "nearest":
        raise ctx.error(f"mode={mode} is not supported (supported: nearest)")
    rank = len(x.shape) + 1
    opset = imp.opset.get("", 13)
    legacy = ctx.node.op_type == "Upsample" or opset < 11
    coord = "asymmetric" if legacy else str(ctx.attrs.get("coordinate_transformation_mode", "half_pixel"))
    nearest = "floor" if legacy else str(ctx.attrs.get("nearest_mode", "round_prefer_floor"))
    if coord not in _COORDINATE_MODES:
        raise ctx.error(f"coordinate_transformation_mode={coord} is not supported (supported: "
                        f"{', '.join(_COORDINATE_MODES)})")
    if nearest not in _NEAREST_MODES:
        raise ctx.error(f"nearest_mode={nearest} is not supported (supported: {', '.join(_NEAREST_MODES)})")
    if int(ctx.attrs.get("antialias", 0)) or "axes" in ctx.attrs:
        raise ctx.error("antialias and axes are not supported")
    scales = sizes = None
    if legacy:
        if "scales" in ctx.attrs:
            scales = [float(s) for s in ctx.attrs["scales"]]
        else:
            scales = [float(s) for s in ctx.const(ins[1], "scales").value.reshape(-1)]
    else:
        s_in = ins[2] if len(ins) > 2 else None
        z_in = ins[3] if len(ins) > 3 else None
        if z_in is not None and ctx.const(z_in, "sizes").value.size:
            sizes = [int(v) for v in ctx.const(z_in, "sizes").value.reshape(-1)]
        elif s_in is not None and ctx.const(s_in, "scales").value.size:
            scales = [float(v) for v in ctx.const(s_in, "scales").value.reshape(-1)]
        else:
            raise ctx.error("neither scales nor sizes is given", ModelError)
    full = (1,) + x.shape
    if sizes is None:
        if len(scales) != rank or not all(math.isfinite(s) and s > 0 for s in scales):
            raise ctx.error(f"scales {scales} do not fit a rank-{rank} input (positive, finite)", ModelError)
        sizes = [int(math.floor(d * s)) for d, s in zip(full, scales)]
    else:
        if len(sizes) != rank:
            raise ctx.error(f"sizes {sizes} do not fit a rank-{rank} input", ModelError)
        scales = [o / d for o, d in zip(sizes, full)]
    if min(sizes) < 1:
        raise ctx.error(f"resizing to {sizes} leaves an empty dimension", ModelError)
    check_size(sizes[1:], f"node {ctx.name!r} ({ctx.node.op_type}) output")
    # the channel axis is the one left as it is: axis 1 (NCHW), or the last (an NHWC tensor of a
    # channels-last export)
    chlast = rank in (3, 4) and sizes[1] != full[1] and sizes[-1] == full[-1]
    if rank not in (3, 4) or (sizes[1] != full[1] and not chlast):
        raise ctx.error(f"resizing (N, {', '.join(map(str, x.shape))}) to {sizes} is not supported "
                        "(supported: the spatial axes of 1-D and 2-D images, channels first or last)")
    axes = range(1, rank - 1) if chlast else range(2, rank)
    maps = [nearest_indices(full[a], sizes[a], scales[a], coord, nearest) for a in axes]
    x, spatial, c = _image(imp, ctx, x, chlast)
    op = Resize(rows=maps[0] if len(maps) == 2 else np.zeros(1, dtype=np.int64), cols=maps[-1])
    return _output(imp, ctx, op, x, tuple(sizes[a] for a in axes), c, chlast)


@converter("DepthToSpace")
def _depth_to_space(imp, ctx, ins):
    """DCR and CRD modes on (N, C, H, W) inputs, blocksize dividing the channels"""
    x = ctx.act(ins[0])
    b = int(ctx.attrs.get("blocksize", 0))
    mode = str(ctx.attrs.get("mode", "DCR")).upper()
    if mode not in ("DCR", "CRD"):
        raise ctx.error(f"mode={mode} is not supported (supported: DCR, CRD)", ModelError)
    if len(x.shape) != 3:
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported (supported: (N, C, H, W))")
    if b < 1 or x.shape[0] % (b * b):
        raise ctx.error(f"blocksize={b} does not divide the {x.shape[0]} channels into {b}x{b} blocks", ModelError)
    x, (h, w), c = _image(imp, ctx, x, False)
    return _output(imp, ctx, DepthToSpace(block=b, mode=mode), x, (h * b, w * b), c // (b * b), False)
