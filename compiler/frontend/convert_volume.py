"""3-D convolution and pooling (Conv, MaxPool, AveragePool on (N, C, D, H, W)) as an im2col
and a 2-D kernel: the volume is buffered whole by a gathering Transpose (ops/transpose.py)
that writes, for each output position p, its K = kd*kh*kw window taps of C channels as one
row of a (P, K) image; a 2-D Conv (or Pool) with a (1, K) kernel and stride (1, K) then
reduces each row, reusing that op's MAC array, folding, cost and C++. The price is the
frame buffer (the whole input sample) and the K-fold duplication of the stream, both in
the estimate; padding taps read a zero (Conv, AveragePool with count_include_pad) or, for
MaxPool, another tap of the same window (which leaves the maximum as it is).

convert_cnn's Conv and pooling converters hand rank-3 inputs here.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..ops.transpose import Transpose
from .values import Act, Const, check_size


def volume_conv(imp, ctx, ins, conv2d):
    """Conv on a volume: conv2d is convert_cnn's 2-D converter, called on the im2col image."""
    x = ctx.act(ins[0])
    w = ctx.const(ins[1], "weight")
    value = np.asarray(w.value, dtype=np.float64)
    if value.ndim != 5:
        raise ctx.error(f"weight of shape {value.shape} does not fit a 3-D convolution", ModelError)
    kernel = list(value.shape[2:])
    planes, out_spatial = _im2col(imp, ctx, x, kernel, pad_with="zero")
    k = math.prod(kernel)
    flat = Const.quantized(w.fixed.reshape(value.shape[:2] + (1, k)), w.qtype, _flat_scale(w.scale, value.shape, k)) \
        if w.qtype is not None else Const(value.reshape(value.shape[:2] + (1, k)))
    sub = _planar_ctx(ctx, k, group=ctx.attrs.get("group", 1))
    y = conv2d(imp, sub, [planes, flat] + list(ins[2:]))
    return _as_volume(imp, y, out_spatial)


def volume_pool(imp, ctx, ins, pool2d):
    x = ctx.act(ins[0])
    if "kernel_shape" not in ctx.attrs:
        raise ctx.error("attribute kernel_shape is missing", ModelError)
    if int(ctx.attrs.get("ceil_mode", 0)):
        raise ctx.error("ceil_mode=1 on a 3-D pooling is not supported (supported: 0)")
    kernel = [int(v) for v in ctx.attrs["kernel_shape"]]
    avg = ctx.node.op_type == "AveragePool"
    padded = any(int(p) for p in ctx.attrs.get("pads", [])) or \
        str(ctx.attrs.get("auto_pad", "NOTSET")).upper() not in ("NOTSET", "VALID", "")
    if avg and padded and not int(ctx.attrs.get("count_include_pad", 0)):
        raise ctx.error("a padded 3-D AveragePool with count_include_pad=0 is not supported (supported: no padding, "
                        "or count_include_pad=1)")
    planes, out_spatial = _im2col(imp, ctx, x, kernel, pad_with="zero" if avg else "window")
    sub = _planar_ctx(ctx, math.prod(kernel))
    sub.attrs.pop("count_include_pad", None)
    y = pool2d(imp, sub, [planes])
    return _as_volume(imp, y, out_spatial)


def _geometry(ctx, spatial, kernel):
    from .convert_cnn import _geometry as geometry

    return geometry(ctx, spatial, kernel)


def _im2col(imp, ctx, x: Act, kernel, pad_with: str) -> tuple[Act, tuple[int, ...]]:
    """x (C, D, H, W) -> the (C, P, K) image of its windows (IR: (P, K, C), channels last)."""
    c, spatial = x.shape[0], tuple(x.shape[1:])
    if len(kernel) != 3:
        raise ctx.error(f"kernel_shape={kernel} does not fit a 3-D input", ModelError)
    strides, dilations, pads = _geometry(ctx, spatial, kernel)
    out = tuple((n + pads[i] + pads[3 + i] - ((k - 1) * d + 1)) // s + 1
                for i, (n, k, s, d) in enumerate(zip(spatial, kernel, strides, dilations)))
    if min(out) < 1:
        raise ctx.error(f"the window {kernel} does not fit the padded input {spatial}", ModelError)
    p, k = math.prod(out), math.prod(kernel)
    check_size((p, k, c), f"node {ctx.name!r} ({ctx.node.op_type}) window buffer")
    x = imp.channels_last(ctx, x)                    # IR (D, H, W, C)
    # source voxel of every (position, tap): o * stride - pad_begin + tap * dilation
    grids = [np.arange(n)[:, None] * s - pb + np.arange(kk)[None, :] * d
             for n, kk, s, d, pb in zip(out, kernel, strides, dilations, pads[:3])]
    # (P, K) arrays of the source coordinates per axis
    coords = []
    for axis in range(3):
        shape = [1] * 6
        shape[axis], shape[3 + axis] = out[axis], kernel[axis]
        coords.append(np.broadcast_to(grids[axis].reshape(shape), tuple(out) + tuple(kernel)).reshape(p, k))
    inside = np.ones((p, k), dtype=bool)
    for axis in range(3):
        inside &= (coords[axis] >= 0) & (coords[axis] < spatial[axis])
    voxel = (np.clip(coords[0], 0, spatial[0] - 1) * spatial[1] + np.clip(coords[1], 0, spatial[1] - 1)) \
        * spatial[2] + np.clip(coords[2], 0, spatial[2] - 1)
    if pad_with == "window":  # max: a padding tap repeats the window's first tap inside
        first = np.argmax(inside, axis=1)
        voxel = np.where(inside, voxel, voxel[np.arange(p), first][:, None])
        inside = np.ones_like(inside)
    order = voxel[:, :, None] * c + np.arange(c)[None, None, :]
    order = np.where(inside[:, :, None], order, -1).reshape(-1)
    planes = imp.emit(ctx, Transpose(out_shape=(p, k, c), order=order), x, (c, p, k), suffix="windows", perm=(1, 2, 0))
    return planes, out


def _planar_ctx(ctx, k: int, group=None):
    """The node's context with the attributes of the (1, K) kernel, stride (1, K) 2-D op."""
    from .onnx import _NodeCtx

    attrs = {a: v for a, v in ctx.attrs.items() if a not in ("strides", "pads", "dilations", "auto_pad",
                                                               "kernel_shape")}
    attrs.update(kernel_shape=[1, k], strides=[1, k], pads=[0, 0, 0, 0], dilations=[1, 1])
    if group is not None:
        attrs["group"] = group
    return _NodeCtx(ctx.imp, ctx.node, ctx.name, attrs)


def _flat_scale(scale, shape, k):
    s = np.asarray(scale, dtype=np.float64)
    if s.size == 1:
        return scale
    return np.broadcast_to(s, shape).reshape(shape[:2] + (1, k))


def _as_volume(imp, y: Act, out_spatial) -> Act:
    """The 2-D op's (C_out, P, 1) output described as the volume (C_out, D', H', W'): the same
    channels-last values in the same order (a consumer needing the 4-D shape regroups)."""
    return Act(y.tensor, (y.shape[0],) + tuple(out_spatial), perm=(1, 2, 3, 0))
