"""The contract every IR op fulfils, and the contexts the compiler hands it.

One op = one file in this package = one dataclass subclassing Op. Its fields are the op's
attributes and constants (weights live in the op, not in the graph). The simulator, the
cost model and the HLS emitter call these methods through the registry and never switch
on op names.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Callable, ClassVar

import numpy as np

from ..numerics import FixedType

if TYPE_CHECKING:  # pragma: no cover
    from ..cost.model import LayerCost
    from ..calibrate.ranges import Calibration
    from ..cost.target import Target
    from ..ir import Node, Tensor

# Fixed-point codes, batch first, held as float64: every tensor type is at most 53 bits wide,
# so float64 holds its codes exactly and BLAS does the integer products. An op switches to
# int64 internally wherever an intermediate value may exceed 2**53.
Codes = np.ndarray
Simulator = Callable[[list[Codes]], list[Codes]]


@dataclass
class Bounds:
    """Per-element value interval of a tensor (arrays of the per-sample shape)."""

    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of_type(cls, t: FixedType, shape) -> "Bounds":
        return cls(np.full(shape, t.min_value), np.full(shape, t.max_value))

    @property
    def min(self) -> float:
        return float(np.min(self.lo))

    @property
    def max(self) -> float:
        return float(np.max(self.hi))


@dataclass
class FormatPolicy:
    """How dynamic-fixed-point formats are chosen for tensors the model leaves in float."""

    width: int = 16           # activations
    weight_width: int = 16    # weights (biases are kept at accumulator precision)
    rounding: str = "AP_RND"  # rounding when an activation is narrowed
    widen_for_readers: bool = True  # False where a layer's width was given: it is kept as given
    weight_calibration: "Calibration | None" = None  # the float weights' clip method (None: min/max)

    def activation_type(self, bounds: Bounds, proven: bool, signed: bool | None = None) -> FixedType:
        """Fewest integer bits that hold the range. Proven (interval) ranges cannot overflow,
        so they wrap for free; observed (calibration) ranges saturate."""
        lo, hi = bounds.min, bounds.max
        _check_magnitude(lo, hi, "values")
        return FixedType.for_range(lo, hi, self.width, signed=(lo < 0) if signed is None else signed,
                                   rounding=self.rounding, overflow="AP_WRAP" if proven else "AP_SAT")

    def weight_type(self, values: np.ndarray) -> FixedType:
        """The weight width's type holding the weights' range, clipped by the weight
        calibration method: clipped weights saturate when quantized."""
        from ..calibrate.ranges import clip

        v = np.asarray(values, dtype=np.float64)
        lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
        _check_magnitude(lo, hi, "constants")
        full = (lo, hi)
        if self.weight_calibration is not None and v.size:
            lo, hi = clip(v, lo, hi, self.weight_calibration, self.weight_width)
        return FixedType.for_range(lo, hi, self.weight_width, signed=True, rounding="AP_RND_CONV",
                                   overflow="AP_WRAP" if (lo, hi) == full else "AP_SAT")


MAX_RESOLVED_WIDTH = 32     # the widest tensor narrowed() keeps for a reader's resolution
MAX_MAGNITUDE = 2.0 ** 47   # the largest |value| a dynamic-fixed-point format is chosen for


def _check_magnitude(lo: float, hi: float, what: str) -> None:
    """A float tensor reaching 1e20 (a weight scaled by mistake) would get a format whose step
    is beyond 2**50: every ordinary value would round to zero. Such a design is refused."""
    m = max(abs(lo), abs(hi))
    if not m <= MAX_MAGNITUDE:
        raise ValueError(f"{what} reach {m:.3g}, beyond the {MAX_MAGNITUDE:.3g} a fixed-point format is chosen for "
                         "(supported: smaller magnitudes; check the model's constants or scale it)")


@dataclass
class TypingContext:
    """What an op sees when the format pass types it."""

    node: "Node"
    inputs: list["Tensor"]       # already typed
    outputs: list["Tensor"]      # typed already when a model quantizer fixed them
    out_bounds: list[Bounds]     # value ranges of the outputs (float semantics)
    proven: bool                 # bounds come from interval analysis, not observation
    policy: FormatPolicy
    readers: list = field(default_factory=list)  # the ops reading each output (all outputs)

    @property
    def output_is_requantized(self) -> bool:
        """Every reader rounds its input itself (a quantizer): narrowing here would round twice."""
        return bool(self.readers) and all(getattr(op, "rounds_input", False) for op in self.readers)

    def narrowed(self, k: int = 0, signed: bool | None = None) -> FixedType:
        """The policy's type for output k, widened to the fraction bits its readers resolve
        when every reader names them (Softmax quantizes max - x to 2**-12 itself: cutting its
        logits to 16 bits first, 1 fraction bit under interval bounds, would round twice)."""
        t = self.policy.activation_type(self.out_bounds[k], self.proven, signed)
        wants = [getattr(op, "input_frac_bits", None) for op in self.readers]
        if self.policy.widen_for_readers and wants and None not in wants and max(wants) > t.frac_bits:
            t = FixedType(min(t.int_bits + max(wants), MAX_RESOLVED_WIDTH), t.int_bits, t.signed, t.rounding, t.overflow)
        return t


@dataclass
class Op:
    """Base class. Subclasses are dataclasses registered with @register."""

    kind: ClassVar[str] = ""
    template: ClassVar[str] = ""    # templates/layers/<template>.j2
    n_inputs: ClassVar[int] = 1
    rounds_input: ClassVar[bool] = False  # a quantizer: it does its own rounding of what it reads
    integer_output: ClassVar[bool] = False  # its output is an index (TopK): compiler.simulate returns integers
    # fraction bits of its input the op resolves itself (Softmax's exp index: 12); None: all of
    # them. A tensor read only by such ops keeps that many, whatever the width policy says
    input_frac_bits: ClassVar[int | None] = None

    # ---- shapes and float semantics ---------------------------------------------
    def infer_shapes(self, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [shapes[0]]

    def reference(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """Float64 semantics of the op as the model defines it (batch first)."""
        raise NotImplementedError

    def bounds(self, ins: list[Bounds]) -> list[Bounds]:
        """Sound per-element output intervals from input intervals."""
        raise NotImplementedError

    # ---- structured pruning (passes/prune_channels.py) --------------------------------
    def select_channels(self, keep: np.ndarray, channels: int) -> "Op | None":
        """This op with only channels `keep` (sorted indices of its input's last axis, of
        `channels`) kept on input and output, for an op that treats channels independently;
        None for an op that mixes them (the default), where pruning cannot pass."""
        return None

    # ---- real scales -------------------------------------------------------------------
    def rescale(self, in_scales: list) -> list:
        """Tensors carry a real scale (real value = fixed value * scale; a float, or one per
        channel). Given the input scales, rewrite the op's constants into fixed units and
        return the output scales. The default handles unit scales only; ops that cannot
        take a scaled input raise NeedsUnitScale and get a requantizer in front."""
        if all(is_unit(s) for s in in_scales):
            return [1.0]  # one output; multi-output ops override
        raise NeedsUnitScale([i for i, s in enumerate(in_scales) if not is_unit(s)])

    # ---- formats and bit-accurate simulation ------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        """Choose internal types and the output tensor types (respecting pre-typed ones)."""
        raise NotImplementedError

    def simulator(self, in_types: list[FixedType], out_types: list[FixedType]) -> Simulator:
        """A function from input codes to output codes, exactly as the C++ computes them."""
        raise NotImplementedError

    # ---- streams ----------------------------------------------------------------------
    def stream_folds(self, in_shapes: list[tuple[int, ...]], out_shapes: list[tuple[int, ...]],
                     arriving: list[int | None]) -> tuple[list[int], list[int]]:
        """Beat widths (elements per stream beat, dividing the last axis): the width each
        input is read at and each output is written at, given the widths the inputs arrive
        at (None: a graph input, free to choose). An input read at another width than it
        arrives gets a width converter in front. Default: whole items in and out (ops that
        need a whole vector at once, e.g. Softmax)."""
        return [channels_of(s) for s in in_shapes], [channels_of(s) for s in out_shapes]

    # ---- hardware -------------------------------------------------------------------
    def cost(self, ctx: "CostContext") -> "LayerCost":
        raise NotImplementedError

    def fold_choices(self, target: "Target") -> list[int] | None:
        """Reuse factors this op can take (ascending), or None when it has no such knob."""
        return None

    def what_if(self, ctx: "CostContext"):
        """For ops with what-if knobs (fold_choices not None): cost(overrides, input_bits,
        output_bits) -> LayerCost, prepared once (compiler.estimate calls it in search loops).
        Ops without knobs return None; the estimator re-types their tensors and calls cost()."""
        return None

    def hls(self, ctx: "HlsContext") -> dict:
        """Extra template variables (kernel parameters, constant arrays) for the template."""
        raise NotImplementedError

    # ---- helpers ------------------------------------------------------------------------
    def describe(self) -> str:
        """A short human summary for reports."""
        return self.kind

    def field_values(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class NeedsUnitScale(Exception):
    """Raised by Op.rescale: these inputs must be requantized to unit scale first."""

    def __init__(self, inputs: list[int]):
        super().__init__(inputs)
        self.inputs = inputs


def channels_of(shape) -> int:
    return shape[-1] if shape else 1


def is_unit(scale) -> bool:
    return bool(np.all(np.asarray(scale) == 1.0))


def collapse_scale(scale):
    """A per-channel scale whose entries are all equal becomes a plain float."""
    arr = np.asarray(scale, dtype=np.float64)
    if arr.ndim == 0 or np.all(arr == arr.reshape(-1)[0]):
        return float(arr.reshape(-1)[0])
    return arr


def common_scale(in_scales) -> list:
    """The output scale of an op joining two inputs value for value (a sum, a max): their common
    scale; when they differ, the inputs that are not at unit scale are requantized first."""
    a, b = in_scales
    if same_scale(a, b):
        return [a]
    raise NeedsUnitScale([i for i, s in enumerate(in_scales) if not is_unit(s)])


def same_scale(a, b) -> bool:
    return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))


class _StreamWidths:
    """The beat widths a context's op reads its inputs at and writes its outputs at: given,
    or the op's own rule (Op.stream_folds) from the widths its inputs arrive at."""

    def __post_init__(self):
        if self.in_folds is None or self.out_folds is None:
            self.in_folds, self.out_folds = self.node.op.stream_folds(
                [t.shape for t in self.inputs], [t.shape for t in self.outputs], [t.beat for t in self.inputs])

    @property
    def fold(self) -> int:
        """The beat width of the (first) output: the lanes of a per-channel stage."""
        return self.out_folds[0]


@dataclass
class CostContext(_StreamWidths):
    node: "Node"
    inputs: list["Tensor"]
    outputs: list["Tensor"]
    target: "Target"
    in_folds: list[int] | None = None   # the beat widths the op reads its inputs at (Op.stream_folds)
    out_folds: list[int] | None = None  # and writes its outputs at


@dataclass
class Constant:
    """A constant array of the design and how its memory is built: `word` consecutive
    elements form one memory word (1: one element per word; the whole size: registers or
    logic constants), `impl` the memory kind ("bram", "lutram", "uram", or None: the tool
    decides)."""
    name: str
    type: FixedType
    codes: np.ndarray
    word: int = 1
    impl: str | None = None
    banks: int = 1        # the array is `banks` equal copies side by side, each its own memory



@dataclass
class HlsContext(_StreamWidths):
    node: "Node"
    ident: str                  # the node's C++ identifier
    inputs: list["Tensor"]
    outputs: list["Tensor"]
    target: "Target"
    in_folds: list[int] | None = None
    out_folds: list[int] | None = None
    constants: list = field(default_factory=list)  # filled by the op: Constant records

    def constant(self, suffix: str, ftype: FixedType, codes: np.ndarray, word: int | None = None,
                 impl: str | None = None, banks: int = 1) -> str:
        """Declare a constant array (emitted into the weights header); returns its C++ name.
        word: elements per memory word (default: the whole array, i.e. registers/constants);
        banks: the codes are replicated into that many memories (parallel readers)."""
        name = f"{self.ident}_{suffix}"
        flat = np.asarray(codes, dtype=np.int64).ravel()
        if banks > 1:
            flat = np.tile(flat, banks)
        self.constants.append(Constant(name, ftype, flat, len(flat) if word is None else max(int(word), 1), impl,
                                       banks))
        return name

    def lane_constant(self, suffix: str, ftype: FixedType, codes: np.ndarray, per_channel: int = 1) -> str:
        """A per-channel parameter of a stage running at this context's fold: the values of
        one beat's channels (fold * per_channel of them) form one memory word."""
        return self.constant(suffix, ftype, codes, word=self.fold * per_channel)
