"""ConvTranspose (1-D and 2-D): strides, pads, output_padding, dilations, groups (depthwise
included), auto_pad, the output_shape attribute (up to the natural size, as onnxruntime
accepts it), with or without a bias; float or model-quantized weights (per tensor or per
output channel, axis 1 of the weight). Refused: 3-D and larger images, negative pads or
output_padding, weights that are computed, scales that vary within an output channel.

Lowering: a polyphase (sub-pixel) decomposition, so no multiplier ever sees an inserted zero.
Along one axis a ConvTranspose adds x[i] * w[k] into fine position u = i*s + k*d (output
o = u - pad_begin). Split u = q*s + r: tap k always lands in phase r_k = (k*d) mod s of
coarse position q = i + t_k, t_k = floor(k*d / s). So every phase is an ordinary stride-1
correlation of the input with its own taps, and all s phases of coarse pixel q read the
same input window x[q - T .. q] (T = t_{K-1}). The IR gets
    Conv (stride 1, kernel T/delta + 1 with dilation delta = gcd of the T - t_k, C_in ->
          sh*sw*C_out columns: tap k of ConvTranspose channel o at row (T - t_k)/delta of
          column (group, phase r_k, o), the weight flipped and in/out swapped per group)
    DeconvShuffle (ops/deconv_shuffle.py: phase (rh, rw) of coarse pixel (qh, qw) to output
          pixel (qh*sh + rh, qw*sw + rw) - offset, cropping the pads)
with the Conv's own zero padding (generated, never stored) in front of the first and after
the last coarse pixel. Each weight of the model is stored once; the other entries of the
(T/delta + 1)^2 x sh*sw array are zeros, which the MAC array skips (constant products
vanish when fully parallel; all-zero blocks are skipped when folded). Per image that is
~Oh*Ow/(sh*sw) windows of ~K^2*C_in*C_out/groups useful MACs each, where the zero-insertion
lowering (FINN's) makes ~Oh*Ow windows of K^2*C_in*C_out/groups MACs, most of them on
inserted zeros: the polyphase design does 1/(sh*sw) of the work and its window generator
buffers input rows, not zero-stuffed ones. Stride 1 is a plain Conv with the flipped kernel
(no shuffle stage unless the pads crop it).

The Conv node is named '<node>_phases' (its reuse factor can be set under that name); the
shuffle node keeps the ConvTranspose's name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..ops.conv import Conv
from ..ops.deconv_shuffle import DeconvShuffle
from .convert_cnn import _check_window, _image, _ints, _output
from .values import canonical_perm, converter


@dataclass
class _Axis:
    """The polyphase plan of one spatial axis."""

    n_in: int          # input length
    kernel: int        # K
    stride: int        # s: the number of phases
    dilation: int
    pad_begin: int     # may be negative (an output_shape larger than the natural one)
    n_out: int         # output length
    phase: np.ndarray  # (K,) phase r_k of each tap
    row: np.ndarray    # (K,) the Conv tap index (T - t_k) / delta of each tap
    conv_kernel: int   # T / delta + 1
    conv_dilation: int
    conv_pads: tuple[int, int]
    offset: int        # output 0 is fine position `offset` of the Conv's coarse grid
    coarse: int        # the Conv's output length

    @classmethod
    def plan(cls, n_in, kernel, stride, dilation, pad_begin, pad_end, out_pad) -> "_Axis":
        natural = (n_in - 1) * stride + (kernel - 1) * dilation + 1 + out_pad
        n_out = natural - pad_begin - pad_end
        k = np.arange(kernel)
        t = (k * dilation) // stride
        phase = (k * dilation) % stride
        top = int(t[-1])
        delta = math.gcd(*(int(top - v) for v in t)) or 1
        row = (top - t) // delta
        q0 = min(pad_begin // stride, top)             # first coarse position the Conv computes
        q_last = (pad_begin + n_out - 1) // stride      # coarse position of the last output
        end = max(q_last + 1 - n_in, 0)
        return cls(n_in, kernel, stride, dilation, pad_begin, n_out, phase, row, top // delta + 1, delta,
                   (top - q0, end), pad_begin - q0 * stride, n_in - q0 + end)


def _pads(ctx, spatial, kernel, strides, dilations, out_pad):
    """Explicit (begins..., ends...) pads from pads / auto_pad / output_shape, as
    onnxruntime computes them: the total padding is the natural size minus the wanted
    one, SAME_UPPER puts its odd half at the end, SAME_LOWER and NOTSET at the beginning."""
    r = len(spatial)
    auto_pad = str(ctx.attrs.get("auto_pad", "NOTSET")).upper() or "NOTSET"
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise ctx.error(f"auto_pad={auto_pad} is not supported (supported: NOTSET, VALID, SAME_UPPER, SAME_LOWER)")
    natural = [(n - 1) * s + (k - 1) * d + 1 + p for n, k, s, d, p in zip(spatial, kernel, strides, dilations, out_pad)]
    wanted = None
    if "output_shape" in ctx.attrs:
        shape = [int(v) for v in ctx.attrs["output_shape"]]
        if len(shape) != r:
            raise ctx.error(f"attribute output_shape={list(ctx.attrs['output_shape'])} should have {r} values",
                            ModelError)
        wanted = shape
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        wanted = [n * s for n, s in zip(spatial, strides)]
    if wanted is None:
        return [0] * (2 * r) if auto_pad == "VALID" else _ints(ctx, "pads", [0] * (2 * r), 2 * r)
    begins, ends = [], []
    if any(want > nat for nat, want in zip(natural, wanted)):
        raise ctx.error(f"output shape {wanted} is larger than the transposed convolution's {natural} "
                        "(supported: up to its natural size; output_padding adds at the end)", ModelError)
    for nat, want in zip(natural, wanted):
        total = nat - want
        small = total // 2
        if auto_pad == "SAME_UPPER":
            begins.append(small)
        else:
            begins.append(total - small)
        ends.append(total - begins[-1])
    return begins + ends


@converter("ConvTranspose")
def _conv_transpose(imp, ctx, ins):
    """1-D/2-D; constant weight and bias; any stride, dilation, group, auto_pad; pads, output_padding >= 0

    output_shape up to the natural size; quantized weights: one scale per tensor or per output channel."""
    x = ctx.act(ins[0])
    if len(x.shape) not in (2, 3):
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported "
                        "(supported: 1-D and 2-D images, (N, C, W) or (N, C, H, W))")
    x, spatial, c_in = _image(imp, ctx, x, False)
    w = ctx.const(ins[1], "weight")
    value = np.asarray(w.value if w.qtype is None else w.fixed, dtype=np.float64)
    r = len(spatial)
    if value.ndim != r + 2:
        raise ctx.error(f"weight of shape {value.shape} does not fit a {r}-D transposed convolution", ModelError)
    groups = int(ctx.attrs.get("group", 1))
    w_in, cout_g, kernel = value.shape[0], value.shape[1], [int(v) for v in value.shape[2:]]
    if "kernel_shape" in ctx.attrs and [int(k) for k in ctx.attrs["kernel_shape"]] != kernel:
        raise ctx.error(f"kernel_shape={list(ctx.attrs['kernel_shape'])} does not match the weight {value.shape}",
                        ModelError)
    if groups < 1 or w_in != c_in or c_in % groups:
        raise ctx.error(f"group={groups} does not fit {c_in} input channels and a weight of shape {value.shape} "
                        "(the weight is (C_in, C_out/group, *kernel))", ModelError)
    if min(kernel) < 1 or cout_g < 1:
        raise ctx.error(f"weight of shape {value.shape} is empty", ModelError)
    strides = _ints(ctx, "strides", [1] * r, r)
    dilations = _ints(ctx, "dilations", [1] * r, r)
    out_pad = _ints(ctx, "output_padding", [0] * r, r)
    if min(strides + dilations) < 1:
        raise ctx.error("strides and dilations must be positive", ModelError)
    if min(out_pad) < 0:
        raise ctx.error(f"negative output_padding {out_pad} is not supported", ModelError)
    pads = _pads(ctx, spatial, kernel, strides, dilations, out_pad)
    if min(pads) < 0:
        raise ctx.error(f"negative pads {pads} are not supported", ModelError)
    axes = [_Axis.plan(spatial[i], kernel[i], strides[i], dilations[i], pads[i], pads[r + i], out_pad[i])
            for i in range(r)]
    if min(a.n_out for a in axes) < 1:
        raise ctx.error(f"the output would be empty ({[a.n_out for a in axes]}): the pads {pads} remove more "
                        "than the transposed convolution produces", ModelError)
    # 1-D is the 2-D case with one row (one phase)
    rows, cols = (axes[0], axes[1]) if r == 2 else (None, axes[0])
    sh = rows.stride if rows else 1
    phases, cin_g, c_out = sh * cols.stride, c_in // groups, groups * cout_g
    n_cols = groups * phases * cout_g

    # the Conv's weight in ONNX Conv layout (columns, C_in/g, *conv kernel)
    conv_kernel = [a.conv_kernel for a in axes]
    wc = np.zeros((n_cols, cin_g) + tuple(conv_kernel))
    g_idx = np.arange(groups)[:, None, None]
    ci = np.arange(cin_g)[None, :, None]
    j = np.arange(cout_g)[None, None, :]
    src = value.reshape((groups, cin_g, cout_g) + tuple(kernel))
    for taps in np.ndindex(*kernel):
        ph = rows.phase[taps[0]] * cols.stride + cols.phase[taps[-1]] if rows else cols.phase[taps[0]]
        at = tuple(a.row[t] for a, t in zip(axes, taps))
        col = np.broadcast_to(g_idx * (phases * cout_g) + ph * cout_g + j, (groups, cin_g, cout_g))
        wc[(col, np.broadcast_to(ci, col.shape)) + at] = src[(slice(None),) * 3 + taps]
    weight = np.moveaxis(wc, (0, 1), (-1, -2)).reshape(-1, n_cols)
    op = Conv(weight=weight, kernel_shape=tuple(conv_kernel), strides=(1,) * r,
              dilations=tuple(a.conv_dilation for a in axes),
              pads=tuple(a.conv_pads[0] for a in axes) + tuple(a.conv_pads[1] for a in axes), groups=groups)
    if w.qtype is not None:
        op.weight_type, op.weights_from_model = w.qtype, True
        op.weight_scale = _column_scale(ctx, w.scale, value.shape, groups, phases)
    if len(ins) > 2 and ins[2] is not None:
        b = np.asarray(ctx.const(ins[2], "bias").value, dtype=np.float64).reshape(-1)
        if b.size != c_out:
            raise ctx.error(f"bias of {b.size} values does not match {c_out} output channels", ModelError)
        op.bias = np.broadcast_to(b.reshape(groups, 1, cout_g), (groups, phases, cout_g)).reshape(-1).copy()
    win = op.window(imp.graph.tensors[x.tensor].shape)
    _check_window(ctx, win)
    coarse = tuple(a.coarse for a in axes)
    out_spatial = tuple(a.n_out for a in axes)
    if phases == 1 and all(a.offset == 0 and a.coarse == a.n_out for a in axes):
        return _output(imp, ctx, op, x, out_spatial, c_out, False)
    mid = imp.emit(ctx, op, x, (n_cols,) + coarse, suffix="phases", perm=canonical_perm(r + 1))
    shuffle = DeconvShuffle(rank=r, sh=sh, sw=cols.stride, off_h=rows.offset if rows else 0, off_w=cols.offset,
                            out_h=rows.n_out if rows else 1, out_w=cols.n_out, group_size=cout_g)
    return _output(imp, ctx, shuffle, mid, out_spatial, c_out, False)


def _column_scale(ctx, scale, shape, groups: int, phases: int):
    """A quantized weight's real scale (broadcast against (C_in, C_out/g, *k)): one value,
    or one per output channel, repeated for each phase column of that channel."""
    s = np.asarray(scale, dtype=np.float64)
    if s.size == 1:
        return float(s.reshape(-1)[0])
    full = np.broadcast_to(s, shape).reshape(groups, shape[0] // groups, shape[1], -1)
    per_out = full[:, :1, :, :1]
    if not np.all(full == per_out):
        raise ctx.error("weight scales that vary within an output channel are not supported "
                        "(supported: per-tensor or per output channel, axis 1 of the weight)")
    per_out = per_out.reshape(groups, 1, shape[1])
    return np.broadcast_to(per_out, (groups, phases, shape[1])).reshape(-1).copy()
