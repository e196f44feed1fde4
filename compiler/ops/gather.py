"""Gather from a constant table by computed integer indices: an embedding lookup, y[i] =
table[index[i]] (ONNX Gather, axis 0, on a constant (V, E) table). Exact: the output is the
table's own type. Negative indices count from the end as ONNX defines; an index outside
[-V, V) (an error in ONNX) reads the nearest row.

Hardware (qc::gather, templates/kernels/qc_gather.h): the table is a ROM of V words, one
row of E values each; every index read from the input beat addresses one row, which is
written as one output beat: one lookup per cycle."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cost.hardware import memory, stream_cycles, stream_io
from ..cost.model import LayerCost
from ..numerics import FixedType
from . import register
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, Op, TypingContext, is_unit


@register
@dataclass
class Gather(Op):
    kind = "Gather"
    template = "gather"

    table: np.ndarray | None = None          # (V, E) real values
    table_type: FixedType | None = None      # set by the model's quantizer, else by the weight policy
    table_scale: float = 1.0                 # real value = table code * lsb * table_scale

    def describe(self) -> str:
        v, e = self.table.shape
        return f"Gather (embedding {v} x {e})"

    def infer_shapes(self, shapes):
        return [tuple(shapes[0]) + (self.table.shape[1],)]

    def _rows(self, idx: np.ndarray) -> np.ndarray:
        v = self.table.shape[0]
        i = np.asarray(idx, dtype=np.int64)
        return np.clip(np.where(i < 0, i + v, i), 0, v - 1)

    def reference(self, xs):
        return [self.table[self._rows(np.round(xs[0]))]]

    def bounds(self, ins):
        rows = self.table[np.unique(self._rows(np.arange(int(np.floor(ins[0].min)), int(np.ceil(ins[0].max)) + 1)))] \
            if ins[0].max - ins[0].min < 1 << 20 else self.table
        shape = ins[0].lo.shape + (self.table.shape[1],)
        return [Bounds(np.broadcast_to(rows.min(axis=0), shape).copy(), np.broadcast_to(rows.max(axis=0), shape).copy())]

    def rescale(self, in_scales):
        if not is_unit(in_scales[0]):
            raise NeedsUnitScale([0])
        return [self.table_scale]

    def assign_types(self, ctx: TypingContext) -> None:
        x = ctx.inputs[0].type
        if x.frac_bits != 0:
            raise ValueError(f"the indices are of type {x} (supported: integers, e.g. an int64 graph input)")
        if self.table_type is None:
            self.table_type = ctx.policy.weight_type(self.table / self.table_scale)
        out = ctx.outputs[0]
        if out.type is None:
            out.type, out.model_typed = self.table_type, ctx.inputs[0].model_typed

    def _codes(self) -> np.ndarray:
        return self.table_type.quantize(self.table / self.table_scale)

    def simulator(self, in_types, out_types):
        (y_type,) = out_types
        table = y_type.cast(self._codes(), self.table_type).astype(np.float64)

        def run(ins):
            return [table[self._rows(ins[0])]]

        return run

    def cost(self, ctx: CostContext) -> LayerCost:
        """A V-word ROM of E-value rows; one index (one output beat) per cycle."""
        x, y = ctx.inputs[0], ctx.outputs[0]
        v, e = self.table.shape
        c = ctx.target.coeff
        bram, rom_lut, _ = memory(ctx.target, e * self.table_type.width, v)
        lookups = x.size
        s_lut, s_ff = stream_io(ctx.target, e * y.type.width)
        index_bits = max(v - 1, 1).bit_length() + 1
        depth = 2 + stream_cycles(ctx.target)
        return LayerCost(style="gather", ii=lookups, latency=lookups + depth, first_out=depth,
                         lut=rom_lut + 3 * index_bits * c["lut_per_adder_bit"] + c["lut_fixed"] + s_lut,
                         ff=index_bits + x.channels * x.type.width + e * y.type.width + c["ff_fixed"] + s_ff,
                         bram_18k=bram, detail={"rows": v, "row_values": e})

    def hls(self, ctx: HlsContext) -> dict:
        v, e = self.table.shape
        return {"rows": v, "row_values": e, "indices": ctx.inputs[0].channels, "items": ctx.inputs[0].items,
                "table_type": self.table_type,
                "table": ctx.constant("table", self.table_type, self._codes(), word=e)}
