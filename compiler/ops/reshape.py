"""Reshape: regroup a stream into items of another size without reordering any value
(e.g. the 16 pixels x 16 channels of a pooled image into one 256-vector for a Dense). The
importer adds it only where a consumer needs another item size; ONNX Flatten/Reshape
themselves are layout records (see frontend/values.py).

Hardware: a stream of beats is the same flat sequence whatever the item size, so at a beat
width dividing both item sizes (the usual case) the stage passes beats through unchanged
(plus the cast of a model quantizer fused onto its output, if any)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from . import register
from .base import CostContext, HlsContext
from ._movement import MovementOp
from ._lanes import LaneOp


@register
@dataclass
class Reshape(LaneOp, MovementOp):
    kind = "Reshape"
    template = "reshape"

    out_shape: tuple[int, ...] = ()

    def __post_init__(self):
        self.out_shape = tuple(int(d) for d in self.out_shape)

    def describe(self) -> str:
        return f"Reshape ->{'x'.join(map(str, self.out_shape))}"

    def infer_shapes(self, shapes):
        if math.prod(shapes[0]) != math.prod(self.out_shape):
            raise ValueError(f"cannot reshape {shapes[0]} to {self.out_shape}")
        return [self.out_shape]

    def select_channels(self, keep, channels):
        return None   # regroups items: passes/prune_channels.py follows a flatten itself

    def move(self, x):
        return x.reshape((len(x),) + self.out_shape)

    def cost(self, ctx: CostContext):
        """Beats pass through: the output register (and a cast) only."""
        from ..cost.hardware import stream_io
        from ..cost.model import LayerCost

        y, c, fold = ctx.outputs[0], ctx.target.coeff, ctx.fold
        s_lut, s_ff = stream_io(ctx.target, fold * y.type.width)
        beats = y.beats if y.fold == fold else y.size // fold
        return LayerCost(style="repack", ii=beats, latency=beats + 1, first_out=2,
                         lut=fold * y.type.width * 0.25 + c["lut_fixed"] + s_lut,
                         ff=fold * y.type.width + c["ff_fixed"] + s_ff)

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0]
        return {"beats": x.size // ctx.fold, "fold": ctx.fold}

    def items_needed(self, in_shapes, out_shape):
        """Output item k holds elements [k*Co, (k+1)*Co): it needs ceil((k+1)*Co/Ci) input items."""
        import numpy as np

        ci, co = in_shapes[0][-1], out_shape[-1]
        k = np.arange(math.prod(out_shape) // co)
        return [-(-(k + 1) * co // ci)]
