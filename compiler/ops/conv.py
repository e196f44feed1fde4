"""Conv: 1-D and 2-D convolution on channels-last images, with strides, dilations, zero
padding, groups (grouped and depthwise, any channel multiplier) and a bias.

A window's arithmetic is a Dense layer's: the weight is stored as the (K, C_out) matrix of
a window's K = kh*kw*C_in/groups values (tap-major, then input channel of the group), and
typing (exact accumulators sized from the input type and the actual weights, the model's
exact arithmetic kept) is Dense's own code. Output channel o reads the input channels of
its group, o // (C_out/groups). BatchNorm folding, ReLU fusion and the reuse factor apply
as to Dense (the passes name both).

Hardware (templates/kernels/qc_conv.h): a window generator (_window.py) feeding the MAC
array of _mac.py, two dataflow stages; the layer's interval is the slower of the two:
- "pointwise" (1x1, stride 1, no padding): no generator, the pixels are the array's items;
- "sliced" (SIMD divides C_in): the sliced generator emits each window as taps x C_in/SIMD
  beats of SIMD channels, tap-major like the weight rows; its ring of rows is the only
  buffer; the array takes SF * NF cycles per window;
- "window" (SIMD = every window value): the whole-window generator, one window per beat;
- depthwise convolutions (one input channel per output channel) use a vector unit (FINN's
  VVAU): PE channels per beat, SIMD = 1 (the sliced generator in channel-major order, one
  tap per cycle) or SIMD = taps with PE = C (whole windows, fully parallel).
Grouped convolutions (other than depthwise) store the block-diagonal (taps*C_in, C_out)
weight array; its structural zeros cost nothing when fully parallel.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, buffers, grid_codes, jit
from . import register
from ._mac import MacArray, MacOp, accepted_fold, float32_exact, mac_array_context
from ._window import (Window, batch_chunks, swg_context, swg_cost, swg_needed, window_context,
                      window_registers_cost)
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, Op, collapse_scale, is_unit
from .dense import Dense, MacWhatIf


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


class _ConvSim:
    """The simulator's convolution on exact integer codes (held as float32 or float64, scaled
    by a power of two): the same sums as Conv._run, computed with fewer passes over memory,
    block by block so that each block is finished (post: ReLU, rounding, saturation, in
    place) while it is in cache:
    - pointwise (1x1, stride 1, no padding): matrix products on row blocks of the input;
    - other ordinary convolutions: im2col (one gather) and one matrix product per chunk;
    - depthwise: per kernel tap one multiply and one add, in chunks that stay in cache, from a
      zero-padded buffer filled once per chunk (its border stays zero);
    - grouped ones: Conv._run's tap loop.
    Every partial sum is an integer within the accumulator's bounds (float32 only where
    float32_exact proves all of them below 2**24), so any summation order gives the same
    value; the bias is added last, even when zero, which also turns a -0.0 sum into +0.0 as
    Conv._run's sums (started from the bias) are.
    In batch runs with the compiled loops (numerics/jit.py) and a finish of one affine step,
    bias and finish are one compiled pass per block (possibly a fused requantizer's too), the
    depthwise layer is one compiled loop and the im2col gather a compiled copy."""

    # Blocks small enough to stay in a core's L2 cache, large enough that two threads rarely
    # wait for each other's Python overhead (the GIL): measured on D09 with 2 threads
    BLOCK = 1 << 17        # output elements per block of a pointwise layer
    DW_BUDGET = 1 << 18    # elements per depthwise chunk (padded input, accumulators, products)
    IM2COL_BUDGET = 1 << 20   # elements per im2col chunk (patches and outputs; measured on D10)

    def __init__(self, op, w: np.ndarray, b: np.ndarray, dtype, one_step=None):
        """one_step: the finish as (rounding, lo, hi) of CastPlan.one_step, where it is one
        step: large batches then take the compiled loops (numerics/jit.py), bias and finish
        in one pass (in place of `post`)."""
        self.op, self.w, self.b, self.dtype = op, np.ascontiguousarray(w), np.ascontiguousarray(b), dtype
        self.groups = op.groups
        self.pointwise = op.taps == 1 and set(op.strides) == {1} and not any(op.pads) and op.groups == 1
        self.dw = op.groups > 1 and op.cin_per_group == 1 and op.n_out == op.groups
        self._wt = None
        self.one_step = one_step
        if one_step is not None:
            self.affine = jit.Affine(op.n_out, pre=self.b, rounding=one_step[0], lo=one_step[1], hi=one_step[2])

    def _block(self, xb, ob, r0, post, affine):
        """One block of output rows ob (r0..) = finish(xb @ w + b): the product, then bias
        and post in place (a compiled affine: in one pass)."""
        np.matmul(xb.astype(self.dtype, copy=False), self.w, out=ob)
        if affine is not None:
            affine(ob, ob)
            return
        ob += self.b
        if post is not None:
            post(ob, r0)

    def __call__(self, x: np.ndarray, post=None, affine=None) -> np.ndarray:
        """The accumulators (n, *out, C_out); post(rows, r0), if given, on each finished block
        of output rows (a 2-D view: rows r0.. of the (n * pixels, C_out) result), in place.
        affine: a compiled finish taking the bias as `pre` in place of one_step's (a
        requantizer fused behind the layer; the caller has checked jit.worth)."""
        op, dtype, w = self.op, self.dtype, self.w
        n = len(x)
        win = op.window(x.shape[1:])
        out_shape = (n,) + win.out_shape(len(op.kernel_shape), op.n_out)
        if affine is None and self.one_step is not None and jit.worth(int(np.prod(out_shape))):
            affine = self.affine
        if self.dw and affine is not None:
            return self._depthwise_compiled(x, win, out_shape, affine)
        if self.pointwise:
            x2 = x.reshape(-1, x.shape[-1])
            res = buffers.empty(out_shape, dtype)
            out = res.reshape(len(x2), op.n_out)
            step = max(1, self.BLOCK // op.n_out)
            for r in range(0, len(x2), step):
                self._block(x2[r:r + step], out[r:r + step], r, post, affine)
            return res
        if self.groups == 1:
            out = buffers.empty(out_shape, dtype)
            flat = out.reshape(-1, op.n_out)
            per_sample = win.out_h * win.out_w * (x.shape[-1] * win.taps + op.n_out)
            rows = win.out_h * win.out_w
            x4 = win.as_2d(x)
            for sl in batch_chunks(n, per_sample, budget=self.IM2COL_BUDGET):
                if affine is not None:   # the compiled gather (numpy's copy of a window view is slow)
                    patches = buffers.empty((sl.stop - sl.start, win.out_h, win.out_w, w.shape[0]), dtype)
                    jit.kernels().im2col(np.ascontiguousarray(x4[sl], dtype=dtype), win.kh, win.kw, win.sh, win.sw,
                                         win.dh, win.dw, win.pt, win.pl, patches)
                else:
                    patches = win.patches(win.pad(x[sl], dtype=dtype))
                self._block(patches.reshape(-1, w.shape[0]), flat[sl.start * rows:sl.stop * rows],
                            sl.start * rows, post, affine)
                if affine is not None:
                    buffers.recycle(patches)
            return out
        if self.dw:
            return self._depthwise(x, win, out_shape, post)
        out = op._run(x, w, self.b if affine is None else np.zeros_like(self.b), dtype=dtype)
        if affine is not None:
            affine(out, out)
        elif post is not None:
            post(out.reshape(-1, op.n_out), 0)
        return out

    def _depthwise_compiled(self, x, win, out_shape, affine):
        """The depthwise layer in one compiled loop: sums, bias and finish per output row."""
        out = buffers.empty(out_shape, self.dtype)
        jit.kernels().depthwise(win.as_2d(x).astype(self.dtype, copy=False), self.w, win.kh, win.kw,
                                win.sh, win.sw, win.dh, win.dw, win.pt, win.pl,
                                out.reshape(len(x), win.out_h, win.out_w, -1), *affine.per_channel())
        return out

    def _depthwise(self, x, win, out_shape, post):
        dtype, n, b = self.dtype, len(x), self.b
        c = x.shape[-1]
        wt = self._wt
        if wt is None or wt.shape[1] != win.out_w:
            # each tap's weights repeated along the output row: one long inner loop per row
            wt = self._wt = np.ascontiguousarray(np.broadcast_to(self.w.reshape(win.taps, 1, c),
                                                                 (win.taps, win.out_w, c)))
        out = buffers.empty(out_shape, dtype)
        acc4 = out.reshape(n, win.out_h, win.out_w, c)
        per_sample = win.out_h * win.out_w * 2 * c + win.hp * win.wp * c
        step = max(1, self.DW_BUDGET // max(per_sample, 1))
        xp = np.zeros((min(step, n), win.hp, win.wp, c), dtype=dtype)
        tmp = np.empty((min(step, n), win.out_h, win.out_w, c), dtype=dtype)
        x4 = win.as_2d(x)
        for s0 in range(0, n, step):
            m = min(step, n - s0)
            xb = xp[:m]
            xb[:, win.pt:win.pt + win.in_h, win.pl:win.pl + win.in_w] = x4[s0:s0 + m]
            a, t_ = acc4[s0:s0 + m], tmp[:m]
            for t, view in win.tap_views(xb):
                if t == 0:
                    np.multiply(view, wt[0], out=a)
                else:
                    np.multiply(view, wt[t], out=t_)
                    a += t_
            a += b
            if post is not None:
                post(a.reshape(-1, c), s0 * win.out_h * win.out_w)
        return out


@register
@dataclass
class Conv(MacOp, Op):
    kind = "Conv"
    template = "conv"

    weight: np.ndarray                 # (K, C_out) real values
    bias: np.ndarray | None = None     # (C_out,)
    activation: str | None = None      # fused ReLU
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
    pe: int = 0                            # output lanes (0: every output channel)
    simd: int = 0                          # input lanes (0: the whole window)
    memory: str = "auto"                   # weight memory: "auto" (by size), "bram", "lutram"

    def __post_init__(self):
        self.kernel_shape, self.strides, self.dilations, self.pads = (
            tuple(int(v) for v in a) for a in (self.kernel_shape, self.strides, self.dilations, self.pads))
        self.groups = int(self.groups)

    # a window is a Dense layer's input vector: the same exact typing
    assign_types = Dense.assign_types
    _accum_code_bounds = Dense._accum_code_bounds
    _accum_bits, _too_wide = Dense._accum_bits, Dense._too_wide

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

    # ---- structured pruning (passes/prune_channels.py) ------------------------------
    def keep_inputs(self, keep, scale=None):
        """Rows of the kept input channels in every tap (the weight is tap-major), each
        times `scale` if given (duplicates in keep allowed)."""
        if self.groups != 1:
            raise ValueError("a grouped convolution's inputs are pruned with its groups")
        w = self.weight.reshape(self.taps, self.cin_per_group, self.n_out)[:, keep, :]
        if scale is not None:
            w = w * np.asarray(scale)[None, :, None]
        return dataclasses.replace(self, weight=w.reshape(-1, self.n_out))

    def input_channel_max(self):
        """Each input channel's largest |weight| over every tap and output."""
        w = np.abs(np.asarray(self.weight, dtype=np.float64))
        return w.reshape(self.taps, self.cin_per_group, self.n_out).max(axis=(0, 2))

    def select_channels(self, keep, channels):
        """A depthwise convolution (one filter per channel) prunes with its channels."""
        if not (self.groups == self.in_channels == self.n_out == channels and self.cin_per_group == 1):
            return None
        return dataclasses.replace(self.keep_outputs(keep), groups=len(keep))

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
            xp = win.pad(x[sl], dtype=dtype)
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
        self.weight_scale = 1.0   # carried by the output's scale from here on: weight and bias are in its units
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
            # float32 BLAS (twice the speed, half the memory traffic) where it is exact
            dtype = np.float32 if float32_exact(wq, x_type, bq, plan.offset) else np.float64
            w, b = w.astype(dtype), b.astype(dtype)   # once, not per batch chunk
            # The ReLU and an in-place finish (the rounding of exact values: floor/rint, and a
            # saturating or proven-unneeded overflow step) run on each block of accumulators
            # while it is in cache. In float32 every partial sum is an integer (times the
            # power-of-two scale) below 2**24, so these steps are exact in float32 too, and
            # codes of at most 24 bits are exact float32 values: the output may stay float32
            # ("narrow") when the simulator says every reader takes it.
            in_place = (plan.kind in ("exact", "floor", "rint") and float(dtype(floor)) == floor
                        and (not plan.check_overflow or y_type.overflow == "AP_SAT"
                             or (y_type.overflow == "AP_SAT_SYM" and not y_type.signed)))
            finish32 = in_place and dtype == np.float32 and y_type.width <= 24
            sim = _ConvSim(self, w, b, dtype, plan.one_step(floor if relu else None) if in_place else None)

            def post(a, r0=0):   # in place
                if relu:
                    np.maximum(a, floor, out=a)
                plan.finish(a, prescaled=True)

            def run(ins, narrow=False):
                if finish32:
                    y = sim(ins[0], post)
                    return [y if narrow else y.astype(np.float64)]
                if in_place and dtype == np.float64:
                    return [sim(ins[0], post)]
                acc = sim(ins[0]).astype(np.float64, copy=False)
                if relu:
                    np.maximum(acc, floor, out=acc)
                return [plan.finish(acc, prescaled=True)]

            run.narrow_inputs = True
            run.narrow_output = finish32
            if sim.one_step == (jit.ROUND_NONE, -math.inf, math.inf) and (finish32 or dtype == np.float64):
                def fuse_requantizer(requant_kwargs, out_dtype):
                    """This layer and the requantizer that alone reads it as one step
                    (interpreter._fuse_requantizers): the sums, then the requantizer's
                    compiled step with the bias in front; this layer's own finish is exact
                    (nothing to round or clip), so the values are the two steps' values."""
                    kwargs = requant_kwargs(self.n_out)
                    if kwargs is None or np.dtype(out_dtype) != np.dtype(dtype):
                        return None
                    affine = jit.Affine(self.n_out, pre=b, **kwargs)
                    return lambda ins: [sim(ins[0], affine=affine)]

                run.fuse_requantizer = fuse_requantizer
        else:  # wide accumulators: int64 arithmetic
            def run(ins):
                acc = self._run(ins[0].astype(np.int64), wq, bq, dtype=np.int64)
                if relu:
                    np.maximum(acc, 0, out=acc)
                return [y_type.cast(acc, acc_type).astype(np.float64)]

            run.narrow_inputs = True   # float32 codes: the astype above is exact

        return run

    # ---- hardware ---------------------------------------------------------------------------
    @property
    def depthwise(self) -> bool:
        """One input channel per output channel: the vector unit (VVAU)."""
        return self.groups > 1 and self.cin_per_group == 1 and self.n_out == self.groups

    @property
    def pointwise(self) -> bool:
        return self.taps == 1 and set(self.strides) == {1} and not any(self.pads) and not self.depthwise

    @property
    def array_dims(self) -> tuple[int, int]:
        if self.depthwise:
            return self.taps, self.n_out                    # per channel: its taps
        return self.taps * self.in_channels, self.n_out    # grouped: block-diagonal rows

    def valid_shape(self, pe: int, simd: int) -> bool:
        rows, cols = self.array_dims
        if cols % pe:
            return False
        if self.depthwise:
            return simd == 1 or (simd == rows and pe == cols)
        return simd == rows or self.in_channels % simd == 0

    def simd_rule(self) -> str:
        rows = self.array_dims[0]
        if self.depthwise:
            return f"1, or {rows} (every tap) with PE = every channel"
        return f"divides {self.in_channels} (input channels), or {rows} (the whole window)"

    def mode(self, simd: int) -> str:
        if self.pointwise:
            return "pointwise"
        if self.depthwise:
            return "depthwise_window" if simd == self.taps else "depthwise_sliced"
        return "window" if simd == self.array_dims[0] else "sliced"

    def array_weights(self) -> np.ndarray:
        """The weight array the hardware stores (rows in window order, tap-major)."""
        if self.depthwise or self.groups == 1:
            return self.weight
        rows, cols = self.array_dims
        cin_g, cout_g, c = self.cin_per_group, self.n_out // self.groups, self.in_channels
        full = np.zeros((rows, cols))
        w = self.weight.reshape(self.taps, cin_g, cols)
        for g in range(self.groups):
            o = slice(g * cout_g, (g + 1) * cout_g)
            full.reshape(self.taps, c, cols)[:, g * cin_g:(g + 1) * cin_g, o] = w[:, :, o]
        return full

    def stream_folds(self, in_shapes, out_shapes, arriving):
        pe, simd = self.shape
        return [self.native_fold(arriving[0], simd, pe)], [pe]

    def native_fold(self, arriving: int | None, simd: int, pe: int) -> int:
        """The input beat width: the pointwise array's (a wider beat is sliced inside), the
        sliced generator's (SIMD, or PE channels for a depthwise one), or whole pixels."""
        mode = self.mode(simd)
        if mode == "pointwise":
            return accepted_fold(arriving, simd, self.in_channels)
        if mode == "sliced":
            return simd
        if mode == "depthwise_sliced":
            return pe
        return self.in_channels

    def mac_fold_in(self, in_fold: int, simd: int) -> int:
        mode = self.mode(simd)
        if mode == "pointwise":
            return in_fold
        return self.array_dims[0] if mode in ("window", "depthwise_window") else simd

    def what_if(self, ctx: CostContext):
        """The MAC array behind the window generator (Dense's what-if, plus the generator)."""
        win = self.window(ctx.inputs[0].shape)
        rows, cols = self.array_dims
        mac = MacArray(ctx.target, n_in=rows, n_out=cols, items=win.out_h * win.out_w, activation=self.activation,
                       kernel=self.kernel, bias_bits=self.bias_bits(), depthwise=self.depthwise)
        target = ctx.target
        gens: dict = {}

        def generator(pe, simd, x_bits, in_fold):
            """The window generator's cost in front of the array (None: pointwise, none)."""
            mode = self.mode(simd)
            if mode == "pointwise":
                return None
            key = (mode, x_bits, in_fold)
            gen = gens.get(key)
            if gen is None:
                if mode in ("window", "depthwise_window"):
                    gen = window_registers_cost(target, win, x_bits)
                else:
                    gen = swg_cost(target, win, in_fold, x_bits, channel_major=self.depthwise)
                gens[key] = gen
            return gen

        def style(simd):
            return "conv_" + self.mode(simd) + ("" if self.kernel == "mac" else f"_{self.kernel}")

        return MacWhatIf(self, mac, ctx.inputs[0].type.width, generator=generator, style=style,
                         detail={"windows": win.out_h * win.out_w})

    def cost(self, ctx: CostContext):
        return self.what_if(ctx)({}, ctx.inputs[0].type.width, ctx.outputs[0].type.width, ctx.in_folds[0])

    def hls(self, ctx: HlsContext) -> dict:
        win = self.window(ctx.inputs[0].shape)
        pe, simd = self.shape
        mode = self.mode(simd)
        in_fold = ctx.in_folds[0]
        mac = mac_array_context(self, ctx, pe, simd, self.mac_fold_in(in_fold, simd), self.array_weights(),
                                self.memory_impl(ctx.target, pe, simd))
        sliced = mode in ("sliced", "depthwise_sliced")
        return dict(window_context(win), **mac, items=win.out_h * win.out_w, mode=mode,
                    swg=swg_context(win, in_fold, self.depthwise) if sliced else None,
                    win_size=self.taps * win.channels)

    def items_needed(self, in_shapes, out_shape):
        win = self.window(in_shapes[0])
        if self.mode(self.shape[1]) in ("sliced", "depthwise_sliced"):
            return [swg_needed(win)]
        return [win.items_needed()]
