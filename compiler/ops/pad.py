"""Pad: padding of a channels-last tensor along any of its axes (spatial borders and extra
channels). mode "constant": the value is exact in the output type (the input type when it
holds the value, else a type chosen for both); one pixel per cycle, the input's where inside.
mode "edge" (repeat the border) and "reflect" (mirror without repeating the border, as numpy
and ONNX define them): values are only moved, so the output keeps the input type. Hardware
(qc::pad_mirror, templates/kernels/qc_layout.h): a line buffer of the input rows an output
row can still read (1 for edge, max(top, bottom) + 1 for reflect, whole pixels a word);
each output row first reads the input rows it needs, then writes its pixels, one per cycle
(in_items + out_items cycles per sample)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import register
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, Op, TypingContext, is_unit
from ._movement import items


def _code(t, value: float) -> int:
    return int(t.quantize(np.array([value]))[0])


def _as_3d(shape):
    """IR shape (C,), (W, C) or (H, W, C) -> (H, W, C)."""
    return (1,) * (3 - len(shape)) + tuple(shape)


@register
@dataclass
class Pad(Op):
    kind = "Pad"
    template = "pad"

    pads: tuple[int, ...] = ()      # per IR axis: begins, then ends
    value: float = 0.0
    mode: str = "constant"          # constant | edge | reflect

    def __post_init__(self):
        self.pads = tuple(int(p) for p in self.pads)
        self.value = float(self.value)

    @property
    def rank(self) -> int:
        return len(self.pads) // 2

    def describe(self) -> str:
        if self.mode != "constant":
            return f"Pad {self.pads} {self.mode}"
        return f"Pad {self.pads}" + (f" ={self.value:g}" if self.value else "")

    def infer_shapes(self, shapes):
        (shape,) = shapes
        if len(shape) != self.rank:
            raise ValueError(f"pads {self.pads} do not fit shape {shape}")
        r = self.rank
        return [tuple(d + self.pads[i] + self.pads[r + i] for i, d in enumerate(shape))]

    def _widths(self):
        r = self.rank
        return [(0, 0)] + [(self.pads[i], self.pads[r + i]) for i in range(r)]

    def _pad(self, x, widths, value=None):
        if self.mode != "constant":
            return np.pad(x, widths, mode=self.mode)
        return np.pad(x, widths, constant_values=self.value if value is None else value)

    def reference(self, xs):
        return [self._pad(xs[0], self._widths())]

    def bounds(self, ins):
        w = self._widths()[1:]
        return [Bounds(self._pad(ins[0].lo, w), self._pad(ins[0].hi, w))]

    def rescale(self, in_scales):
        """The padding value is real: in fixed units it is value / scale."""
        s = in_scales[0]
        if self.mode != "constant":  # values only move: a per-channel scale must not move with channel pads
            if np.ndim(s) and (self.pads[self.rank - 1] or self.pads[-1]):
                raise NeedsUnitScale([0])
            return [s]
        if np.ndim(s) and (self.value != 0 or self.pads[self.rank - 1] or self.pads[-1]):
            raise NeedsUnitScale([0])
        if not is_unit(s) and not np.ndim(s):
            self.value = self.value / float(s)
        return [s]

    def assign_types(self, ctx: TypingContext) -> None:
        x, out = ctx.inputs[0], ctx.outputs[0]
        if out.type is None:
            t = x.type
            exact = self.mode != "constant" or t.min_value <= self.value <= t.max_value and _code(t, self.value) * t.lsb == self.value
            if exact:
                out.type, out.model_typed = t, x.model_typed
            else:
                out.type = ctx.narrowed()

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        fill = float(_code(y_type, self.value))
        widths = self._widths()

        def run(ins):
            x = ins[0] if x_type == y_type else y_type.cast(ins[0], x_type).astype(np.float64)
            return [self._pad(x, widths, fill)]

        return run

    def cost(self, ctx: CostContext):
        """Whole pixels, one per cycle: the input's where inside, the constant elsewhere."""
        from ..cost.model import LayerCost

        y, c = ctx.outputs[0], ctx.target.coeff
        if self.mode != "constant":  # the line buffer; reading rows and writing rows take turns
            from ..cost.hardware import memory

            x = ctx.inputs[0]
            rows, in_w = self._line_rows(), _as_3d(x.shape)[1]
            bram, lut, _ = memory(ctx.target, x.channels * x.type.width, rows * in_w, ports=1)
            ii = x.items + y.items
            first = (self._want(0, _as_3d(x.shape)[0]) + 1) * in_w + 2   # the rows output row 0 reads
            return LayerCost(style="pad_" + self.mode, ii=ii, latency=ii + 1, first_out=first,
                             bram_18k=bram, lut=lut + y.channels * y.type.width * 0.5 + c["lut_fixed"],
                             ff=y.channels * y.type.width + c["ff_fixed"], detail={"line_rows": rows})
        ii = y.items
        return LayerCost(style="pad", ii=ii, latency=ii + 1, first_out=2,
                         lut=y.channels * y.type.width * 0.5 + c["lut_fixed"], ff=y.channels * y.type.width + c["ff_fixed"])

    def hls(self, ctx: HlsContext) -> dict:
        h, w, c = _as_3d(ctx.inputs[0].shape)
        hp, wp, cp = _as_3d(ctx.outputs[0].shape)
        b = _as_3d(self.pads[:self.rank])
        y_type = ctx.outputs[0].type
        return {"in_h": h, "in_w": w, "in_c": c, "out_h": hp, "out_w": wp, "out_c": cp,
                "pt": b[0], "pl": b[1], "pc": b[2], "in_items": items(ctx.inputs[0]), "mode": self.mode,
                "mode_code": {"constant": 0, "edge": 1, "reflect": 2}[self.mode], "rows": self._line_rows(),
                "value": repr(_code(y_type, self.value) * y_type.lsb)}

    def _source(self, i: int, n: int) -> int:
        """The input index an output index (shifted by the begin pad) reads (edge/reflect)."""
        if i < 0:
            return -i if self.mode == "reflect" else 0
        if i >= n:
            return 2 * (n - 1) - i if self.mode == "reflect" else n - 1
        return i

    def _want(self, r: int, h: int) -> int:
        """The last input row read before output row r of an image of h rows (rows are read
        in order, once)."""
        pt = _as_3d(self.pads[:self.rank])[0]
        return max(self._source(-pt, h), self._source(r - pt, h))

    def _line_rows(self) -> int:
        if self.mode == "edge":
            return 1
        r = self.rank
        b, e = _as_3d(self.pads[:r]), _as_3d(self.pads[r:])
        return max(b[0], e[0]) + 1

    def items_needed(self, in_shapes, out_shape):
        if self.mode != "constant":
            h, w, _ = _as_3d(in_shapes[0])
            hp, wp, _ = _as_3d(out_shape)
            rows = np.array([min(self._want(r, h), h - 1) + 1 for r in range(hp)], dtype=np.int64)
            return [np.repeat(rows * w, wp)]
        h, w, _ = _as_3d(in_shapes[0])
        hp, wp, _ = _as_3d(out_shape)
        pt, pl, _ = _as_3d(self.pads[:self.rank])
        r, c = np.arange(hp)[:, None], np.arange(wp)[None, :]
        full_rows = np.clip(r - pt, 0, h)
        in_row = (r >= pt) & (r < pt + h)
        need = full_rows * w + in_row * np.clip(c - pl + 1, 0, w)
        return [np.maximum(need, 0).ravel()]
