"""Conv: 1-D and 2-D convolution on channels-last images, with strides, dilations, zero
padding, groups (grouped and depthwise, any channel multiplier) and a bias.

A window's arithmetic is a Dense layer's: the weight is stored as the (K, C_out) matrix of
a window's K = kh*kw*C_in/groups values (tap-major, then input channel of the group), and
typing (exact accumulators sized from the input type and the actual weights, the model's
exact arithmetic kept) is Dense's own code. Output channel o reads the input channels of
its group, o // (C_out/groups). BatchNorm folding, ReLU fusion and the reuse factor apply
as to Dense (the passes name both).

Hardware (templates/kernels/qc_conv.h): a line buffer of (ekh-1) padded rows turns the
pixel stream (one pixel per cycle, padding generated inside) into windows, which feed a MAC
array folded by the reuse factor exactly like Dense's; II per image ~ max(padded pixels,
output pixels * reuse).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, grid_codes
from . import register
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, Op, collapse_scale, is_unit
from ..cost.kernels import MacArray
from .dense import Dense, mac_array_context, mac_knobs
from ._window import Window, batch_chunks


def _conv_accumulate(xp: np.ndarray, win: Window, w: np.ndarray, groups: int, acc: np.ndarray) -> None:
    """acc (N, Ho, Wo, C_out) += the convolution of the padded batch xp with w (K, C_out):
    an im2col matrix product for ordinary convolutions, one kernel tap at a time for grouped
    ones (exact for integer codes: every partial sum is a bias plus a subset of the
    products, so it stays within the accumulator's bounds, below 2**53)."""
    c = xp.shape[-1]
    cout = w.shape[1]
    cin_g, cout_g = c // groups, cout // groups
    flat = acc.reshape(-1, cout)
    tmp = None
    if groups == 1:  # im2col: one patch matrix (tap-major, then channel, as w's rows), one BLAS call
        flat += win.patches(xp).reshape(-1, w.shape[0]) @ w
        return
    for t, view in win.tap_views(xp):
        wt = w[t * cin_g:(t + 1) * cin_g]                      # (cin_g, C_out)
        if cin_g == 1 and cout_g == 1:                         # depthwise: one product per channel
            tmp = np.multiply(view, wt[0], out=tmp)
            acc += tmp
        elif cin_g == 1:                                       # depthwise with a channel multiplier
            acc.reshape(acc.shape[:3] + (groups, cout_g))[...] += view[..., None] * wt.reshape(groups, cout_g)
        else:
            wg = wt.reshape(cin_g, groups, cout_g).transpose(1, 0, 2)          # (g, cin_g, cout_g)
            v = view.reshape(-1, groups, cin_g).transpose(1, 0, 2)
            flat += np.matmul(v, wg).transpose(1, 0, 2).reshape(-1, cout)


@register
@dataclass
class Conv(Op):
    kind = "Conv"
    template = "conv"

    weight: np.ndarray                 # (K, C_out) real values
    bias: np.ndarray | None = None     # (C_out,)
    activation: str | None = None      # fused ReLU
    reuse_factor: int = 1
    weight_type: FixedType | None = None
    bias_type: FixedType | None = None
    accum_type: FixedType | None = None
    weights_from_model: bool = False
    weight_scale: float | np.ndarray = 1.0  # real weight = weight * weight_scale (per output channel)
    kernel_shape: tuple[int, ...] = (1, 1)
    strides: tuple[int, ...] = (1, 1)
    dilations: tuple[int, ...] = (1, 1)
    pads: tuple[int, ...] = (0, 0, 0, 0)   # ONNX order: begins, then ends
    groups: int = 1
    kernel: str = "mac"                    # Dense's MAC array kernels: "mac", "signed", "xnor"

    def __post_init__(self):
        self.kernel_shape, self.strides, self.dilations, self.pads = (
            tuple(int(v) for v in a) for a in (self.kernel_shape, self.strides, self.dilations, self.pads))
        self.groups = int(self.groups)

    # a window is a Dense layer's input vector: the same exact typing
    assign_types = Dense.assign_types
    _accum_code_bounds = Dense._accum_code_bounds

    @property
    def n_in(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    nonzero = Dense.nonzero
    nonzero_at = Dense.nonzero_at

    def choose_kernel(self, input_bipolar: bool) -> str:
        """Dense's choice; XNOR only without padding (a zero pad is not a +-1 input)."""
        return Dense.choose_kernel(self, input_bipolar and not any(self.pads))

    @property
    def taps(self) -> int:
        return int(np.prod(self.kernel_shape))

    @property
    def cin_per_group(self) -> int:
        return self.n_in // self.taps

    @property
    def in_channels(self) -> int:
        return self.cin_per_group * self.groups

    def window(self, in_shape) -> Window:
        return Window.of(in_shape, self.kernel_shape, self.strides, self.dilations, self.pads)

    def describe(self) -> str:
        k = "x".join(map(str, self.kernel_shape))
        s = "" if set(self.strides) == {1} else f"/s{'x'.join(map(str, self.strides))}"
        d = "" if set(self.dilations) == {1} else f"/d{'x'.join(map(str, self.dilations))}"
        g = "" if self.groups == 1 else (" dw" if self.cin_per_group == 1 else f" g{self.groups}")
        act = f"+{self.activation}" if self.activation else ""
        style = "" if self.kernel == "mac" else f" [{self.kernel}]"
        return f"Conv{len(self.kernel_shape)}D {k}{s}{d}{g} {self.in_channels}->{self.n_out}{act}{style}"

    def infer_shapes(self, shapes):
        (shape,) = shapes
        if len(shape) != len(self.kernel_shape) + 1 or shape[-1] != self.in_channels:
            raise ValueError(f"input {shape} does not fit a {len(self.kernel_shape)}-D kernel over {self.in_channels} channels")
        return [self.window(shape).out_shape(len(self.kernel_shape), self.n_out)]

    # ---- float semantics -----------------------------------------------------------
    def _run(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, dtype=np.float64) -> np.ndarray:
        """Convolution of a batch x (N, *spatial, C) in `dtype`; b (C_out,) starts the sums."""
        win = self.window(x.shape[1:])
        out_shape = win.out_shape(len(self.kernel_shape), self.n_out)
        n = len(x)
        out = np.empty((n,) + out_shape, dtype=dtype)
        per_sample = win.out_h * win.out_w * (x.shape[-1] * (win.taps if self.groups == 1 else 1) + self.n_out)
        # grouped convolutions stream over their data once per tap: chunks that stay in cache
        for sl in batch_chunks(n, per_sample, budget=1 << 23 if self.groups == 1 else 1 << 17):
            xp = win.pad(x[sl].astype(dtype, copy=False))
            acc = np.empty((xp.shape[0], win.out_h, win.out_w, self.n_out), dtype=dtype)
            acc[...] = 0 if b is None else b.astype(dtype)
            _conv_accumulate(xp, win, w.astype(dtype, copy=False), self.groups, acc)
            out[sl] = acc.reshape((xp.shape[0],) + out_shape)
        return out

    def reference(self, xs):
        y = self._run(xs[0], self.weight, self.bias)
        return [np.maximum(y, 0.0) if self.activation == "relu" else y]

    def bounds(self, ins):
        b = ins[0]
        w_pos, w_neg = np.maximum(self.weight, 0), np.minimum(self.weight, 0)
        # padding contributes exact zeros, which the zero-padded sums reproduce
        lo = self._run(b.lo[None], w_pos, self.bias)[0] + self._run(b.hi[None], w_neg, None)[0]
        hi = self._run(b.hi[None], w_pos, self.bias)[0] + self._run(b.lo[None], w_neg, None)[0]
        if self.activation == "relu":
            lo, hi = np.maximum(lo, 0), np.maximum(hi, 0)
        return [Bounds(lo, hi)]

    # ---- real scales ------------------------------------------------------------------
    def rescale(self, in_scales):
        """As Dense's: float weights absorb the input scale (per input channel: each weight
        row of a group reads one channel), model-quantized weights keep their grid and the
        scales multiply into the output scale. Zero padding stays zero under any scale."""
        s_x = np.asarray(in_scales[0], dtype=np.float64)
        if not self.weights_from_model:
            if not is_unit(s_x):
                if s_x.ndim:
                    cin_g, cout_g = self.cin_per_group, self.n_out // self.groups
                    ch = (np.arange(self.n_out)[None, :] // cout_g) * cin_g + np.arange(self.n_in)[:, None] % cin_g
                    self.weight = self.weight * np.broadcast_to(s_x, (self.in_channels,))[ch]
                else:
                    self.weight = self.weight * float(s_x)
            out = self.weight_scale
        else:
            if s_x.ndim and not np.all(s_x == s_x.reshape(-1)[0]):
                raise NeedsUnitScale([0])  # per-channel input scales would move weights off their grid
            out = float(s_x.reshape(-1)[0]) * np.asarray(self.weight_scale, dtype=np.float64)
        out = collapse_scale(out)
        if self.bias is not None and not is_unit(out):
            self.bias = self.bias / out
        return [out]

    # ---- bit-accurate simulation ---------------------------------------------------------
    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        acc_type = self.accum_type
        up = 1 << (acc_type.frac_bits - x_type.frac_bits - self.weight_type.frac_bits)
        wq = self.weight_type.quantize(self.weight) * up    # products at the accumulator's precision
        bq = np.zeros(self.n_out, dtype=np.int64) if self.bias is None else grid_codes(self.bias, acc_type.frac_bits)
        lo, hi = self._accum_code_bounds(x_type, wq // up, acc_type.frac_bits)
        relu = self.activation == "relu"
        if lo >= -(2 ** 52) and hi < 2 ** 52:
            # exact in float64; the cast's offset and scale are folded into bias and weights
            plan = y_type.cast_plan(acc_type, 0 if relu else lo, hi)
            w = wq.astype(np.float64) * plan.scale
            b = (bq.astype(np.float64) + plan.offset) * plan.scale
            floor = plan.offset * plan.scale

            def run(ins):
                acc = self._run(ins[0], w, b)
                if relu:
                    np.maximum(acc, floor, out=acc)
                return [plan.finish(acc, prescaled=True)]
        else:  # wide accumulators: int64 arithmetic
            def run(ins):
                acc = self._run(ins[0].astype(np.int64), wq, bq, dtype=np.int64)
                if relu:
                    np.maximum(acc, 0, out=acc)
                return [y_type.cast(acc, acc_type).astype(np.float64)]

        return run

    # ---- hardware ---------------------------------------------------------------------------
    def fold_choices(self, target) -> list[int]:
        return Dense.fold_choices(self, target)  # the same MAC array per window

    def what_if(self, ctx: CostContext):
        """Dense.what_if for the MAC array behind the sliding window."""
        from ..cost.cnn_kernels import conv_cost

        win = self.window(ctx.inputs[0].shape)
        mac = MacArray(ctx.target, n_in=self.n_in, n_out=self.n_out, items=win.out_h * win.out_w,
                       activation=self.activation, kernel=self.kernel)
        x0 = ctx.inputs[0].type.width

        def cost(ov: dict, x_bits: int, y_bits: int):
            return conv_cost(mac, self, win, x_bits, y_bits, mac_knobs(self, ov, x_bits - x0))

        return cost

    def cost(self, ctx: CostContext):
        return self.what_if(ctx)({}, ctx.inputs[0].type.width, ctx.outputs[0].type.width)

    def hls(self, ctx: HlsContext) -> dict:
        win = self.window(ctx.inputs[0].shape)
        return dict(window_context(win), **mac_array_context(self, ctx), items=win.out_h * win.out_w,
                    groups=self.groups, cin_g=self.cin_per_group, cout_g=self.n_out // self.groups,
                    win_size=self.taps * win.channels, kernel=self.kernel, kernel_id=Dense.KERNELS.index(self.kernel))

    def items_needed(self, in_shapes, out_shape):
        return [self.window(in_shapes[0]).items_needed()]


def window_context(win: Window) -> dict:
    """Template variables of the sliding-window generator (qc_window.h)."""
    return {"in_h": win.in_h, "in_w": win.in_w, "channels": win.channels, "kh": win.kh, "kw": win.kw,
            "sh": win.sh, "sw": win.sw, "dh": win.dh, "dw": win.dw, "pt": win.pt, "pl": win.pl,
            "hp": win.hp, "wp": win.wp, "ekh": win.ekh, "ekw": win.ekw, "out_h": win.out_h, "out_w": win.out_w,
            "lb_rows": max(win.ekh - 1, 1)}
