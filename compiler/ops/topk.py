"""TopK over the last axis: the k largest (or smallest) values of each item, sorted, or
their positions. ONNX's tie rule: of two equal values the lower index comes first.

One node gives one of the two ONNX outputs (`output`: "values" or "indices"); a TopK whose
values and indices are both used becomes two nodes reading the same stream. Indices are
unsigned integer codes (ap_ufixed<b,b>, b = bits of n - 1) with a unit scale.

Hardware (templates/kernels/qc_topk.h, qc::topk): a sequential insertion over the beats.
The input arrives at its stream's width, `fold` values per beat; a sorted register list of
k (value, index) entries is kept per item. Each value is inserted in one step: k
comparators (strict > for largest, so an equal value stays behind the ones already there:
lower indices first, as ONNX wants), then every entry at or past the insertion point
moves down by one (a k-entry shift register with a 2:1 mux per bit). The fold values of
a beat are inserted one after another inside the same pipelined cycle (a chain of fold
insertions: fold * k comparators and muxes), so an item takes channels / fold cycles and
the k results leave as one beat with the item's last beat.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from . import register
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, Op, TypingContext, channels_of

OUTPUTS = ("values", "indices")
INSERTIONS_PER_STAGE = 4   # compare + shift-mux levels that fit one clock cycle at the usual targets


def index_type(n: int) -> FixedType:
    """The exact unsigned integer type of positions 0 .. n - 1."""
    return exact_type(0, max(n - 1, 0), 0)


@register
@dataclass
class TopK(Op):
    kind = "TopK"
    template = "topk"

    k: int
    output: str = "values"      # which ONNX output this node computes: "values" or "indices"
    largest: bool = True        # False: the k smallest

    def __post_init__(self):
        if self.output not in OUTPUTS:
            raise ValueError(f"TopK output {self.output!r} (supported: {', '.join(OUTPUTS)})")

    @property
    def integer_output(self) -> bool:
        """Its output is an integer index tensor, not a real value (compiler.simulate may
        return it as integers)."""
        return self.output == "indices"

    def describe(self) -> str:
        which = "largest" if self.largest else "smallest"
        return f"TopK k={self.k} {which} ({self.output})"

    def infer_shapes(self, shapes):
        (shape,) = shapes
        if not shape or not 1 <= self.k <= shape[-1]:
            raise ValueError(f"k={self.k} does not fit an axis of {shape[-1] if shape else 0} values")
        return [tuple(shape[:-1]) + (self.k,)]

    # ---- semantics ------------------------------------------------------------------------
    def order(self, x: np.ndarray) -> np.ndarray:
        """The positions of the k results along the last axis: a stable sort keeps equal
        values in index order, which is ONNX's tie rule (and the insertion's)."""
        keys = -x if self.largest else x
        return np.argsort(keys, axis=-1, kind="stable")[..., :self.k]

    def reference(self, xs):
        x = np.asarray(xs[0], dtype=np.float64)
        pos = self.order(x)
        if self.output == "indices":
            return [pos.astype(np.float64)]
        return [np.take_along_axis(x, pos, axis=-1)]

    def bounds(self, ins):
        b = ins[0]
        shape = tuple(b.lo.shape[:-1]) + (self.k,)
        if self.output == "indices":
            return [Bounds(np.zeros(shape), np.full(shape, float(b.lo.shape[-1] - 1)))]
        lo = np.broadcast_to(b.lo.min(axis=-1, keepdims=True), shape).copy()
        hi = np.broadcast_to(b.hi.max(axis=-1, keepdims=True), shape).copy()
        return [Bounds(lo, hi)]

    def rescale(self, in_scales):
        """Comparisons of fixed values order the real ones under one positive scale; values
        keep it, indices are plain integers. Per-channel scales need real values first."""
        s = np.asarray(in_scales[0], dtype=np.float64)
        if (s.ndim and not np.all(s == s.reshape(-1)[0])) or np.any(s <= 0):
            raise NeedsUnitScale([0])
        return [1.0 if self.output == "indices" else float(s.reshape(-1)[0])]

    # ---- formats and simulation ----------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        x, out = ctx.inputs[0], ctx.outputs[0]
        if self.output == "indices":
            out.type, out.model_typed = index_type(x.shape[-1]), True
        elif out.type is None:  # the values are the input's own (a preset type casts them)
            out.type, out.model_typed = x.type, x.model_typed

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        indices, cast = self.output == "indices", y_type != x_type

        def run(ins):
            x = ins[0]
            pos = self.order(x)
            if indices:
                return [pos.astype(np.float64)]
            v = np.take_along_axis(x, pos, axis=-1)
            return [y_type.cast(v, x_type) if cast else v]

        return run

    # ---- hardware -----------------------------------------------------------------------------
    def stream_folds(self, in_shapes, out_shapes, arriving):
        """The input at the width it arrives at (a divisor of the axis), the k results as one beat."""
        n = channels_of(in_shapes[0])
        return [math.gcd(arriving[0] or n, n)], [channels_of(out_shapes[0])]

    def cost(self, ctx: CostContext):
        """fold insertions per cycle into a k-entry sorted list: fold * k comparators of the
        value width, fold * k muxes of an entry (value and index bits) for the shift, the k
        entry registers; channels / fold cycles per item; latency: the chain's pipeline stages
        plus the stream handshakes; the output stream of k values."""
        from ..cost.hardware import clog2, stream_cycles, stream_io
        from ..cost.model import LayerCost

        c = ctx.target.coeff
        x, y = ctx.inputs[0], ctx.outputs[0]
        n, fold = x.channels, ctx.in_folds[0]
        beats = x.size // fold
        w, ib = x.type.width, index_type(n).width
        entry = w + ib + 1                                  # value, index, valid flag
        adder = c["lut_per_adder_bit"]
        lut = fold * self.k * (w * adder + entry * k_mux(ctx.target)) + c["lut_fixed"]
        ff = self.k * entry * c.get("ff_per_reg_bit", 1.0) + 2 * clog2(max(beats, 2)) + c["ff_fixed"]
        s_lut, s_ff = stream_io(ctx.target, self.k * y.type.width)
        # the chain of fold insertions is scheduled over pipeline stages, INSERTIONS_PER_STAGE a stage
        depth = 1 + -(-fold // INSERTIONS_PER_STAGE) + stream_cycles(ctx.target)
        return LayerCost(style="topk_insertion", ii=beats, latency=max(beats - 1 + depth, 1),
                         first_out=max(x.channels // fold - 1 + depth, 1), lut=lut + s_lut, ff=ff + s_ff,
                         detail={"k": self.k, "lanes": fold, "comparators": fold * self.k, "output": self.output})

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        fold = ctx.in_folds[0]
        return {"n": x.channels, "items": x.items, "fold": fold, "groups": x.channels // fold, "k": self.k,
                "idx_type": index_type(x.channels), "largest": self.largest,
                "indices": self.output == "indices"}


def k_mux(target) -> float:
    """LUTs per bit of a 2:1 mux (the shift of an entry)."""
    return target.coeff.get("lut_per_mux_bit", 0.5)
