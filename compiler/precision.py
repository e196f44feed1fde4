"""Automatic per-layer precision: the cheapest widths that keep an accuracy criterion.

    compile_model(model, target, calib=x, auto_precision="argmax:0.99")   # or "sqnr:40"

Each knob is one layer's weight width (Dense/Conv with float weights) or output width (a
tensor the format pass narrows). The search, in the spirit of HAWQ's sensitivity-ordered
mixed precision, but measured rather than estimated from Hessians:
1. sensitivity: every knob alone at SENSITIVITY_BITS, the rest at the start width; the
   criterion's value on the calibration data orders the knobs, least sensitive first (a
   knob that changes neither the outputs nor the estimate is inert and dropped);
2. uniform: the cheapest width in WIDTHS for every activation and weight (the inputs
   included) that meets the criterion (each is tried: on small data accuracy is not
   monotone in the width);
3. rounds: from there, in sensitivity order, each knob steps one width down where the criterion still
   holds and the estimated cost falls, until no knob can; stepping evenly keeps any one
   layer from spending the whole accuracy budget;
every measurement is the bit-accurate simulator of a compiled design against the float
model (the reference executor verify uses) on the calibration data. The cost the choice
lowers is the estimate's LUT and DSP shares of the device, summed, at the parallelism the
other options ask for. The result is an ordinary Design; options["auto_precision"] holds the
criterion, the measured value and the chosen widths in --config format ({"width",
"weight_width", "layers"}), so that `qcompile --config` reproduces the design.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .errors import CompileError

WIDTHS = (16, 14, 12, 10, 8, 7, 6, 5, 4, 3, 2)   # the widths a knob may take, widest first
SENSITIVITY_BITS = 4
COST_RESOURCES = ("lut", "dsp")


@dataclass(frozen=True)
class Criterion:
    """argmax:A (share of samples whose first output's argmax matches the float model's,
    at least A; a tie for the top value does not match: its argmax is luck) or sqnr:D (the first output's SQNR against the float model, at least D dB)."""

    metric: str
    bound: float

    @classmethod
    def parse(cls, text: str) -> "Criterion":
        metric, _, value = str(text).partition(":")
        try:
            bound = float(value)
        except ValueError:
            bound = float("nan")
        ok = (metric == "argmax" and 0 < bound <= 1) or (metric == "sqnr" and np.isfinite(bound))
        if not ok:
            raise CompileError(f"auto precision {text!r}: expected 'argmax:A' with A in (0, 1] (e.g. argmax:0.99) "
                               "or 'sqnr:D' in dB (e.g. sqnr:40)")
        return cls(metric, bound)

    def measure(self, ref: np.ndarray, got: np.ndarray) -> float:
        from .verify import sqnr_db

        ref, got = (np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in (ref, got))
        if self.metric == "argmax":   # a tie for the design's top value counts as a disagreement
            top = got.max(axis=1, keepdims=True)
            unique = (got == top).sum(axis=1) == 1
            return float(np.mean((ref.argmax(1) == got.argmax(1)) & unique))
        return float(sqnr_db(ref, got))

    def holds(self, value: float) -> bool:
        return value >= self.bound

    def __str__(self) -> str:
        return f"{self.metric}:{self.bound:g}"


@dataclass(frozen=True)
class Knob:
    layer: str
    setting: str    # "weight_bits" | "act_bits"


@dataclass
class PrecisionSearch:
    """What the search did: it goes into report.json under options.auto_precision."""

    criterion: str
    measured: float
    cost: float                       # LUT + DSP shares of the device, chosen design
    start_cost: float                 # the same at the start width
    uniform_width: int                # the cheapest uniform width meeting the criterion
    uniform_cost: float               # and its cost
    compiles: int
    order: list[tuple[str, str, float]] = field(default_factory=list)  # knob, its sensitivity value
    config: dict = field(default_factory=dict)                          # {"layers": {layer: {setting: bits}}}

    def as_dict(self) -> dict:
        return {"criterion": self.criterion, "measured": self.measured, "cost_share": self.cost,
                "start_cost_share": self.start_cost, "uniform_width": self.uniform_width,
                "uniform_cost_share": self.uniform_cost, "compiles": self.compiles,
                "sensitivity": [{"layer": k, "setting": s, "value": v} for k, s, v in self.order],
                "config": self.config}


def design_cost(design) -> float:
    """The search's cost: the estimate's LUT and DSP shares of the device, summed."""
    cost = design.estimator().estimate()
    return float(sum(cost.totals[r] / cost.available[r] for r in COST_RESOURCES if cost.available[r]))


def search(model, target, criterion: str, calib, compile_args: dict):
    """The cheapest per-layer widths meeting `criterion` on `calib` (module docstring).
    compile_args: compile_model's other arguments (per-layer widths among them refused)."""
    import compiler

    crit = Criterion.parse(criterion)
    if calib is None:
        raise CompileError("auto precision measures the design on calibration data: pass calib (--calib X.npy)")
    given = {name: set(knobs) & {"weight_bits", "act_bits"} for name, knobs in (compile_args.get("layers") or {}).items()
             if isinstance(knobs, dict)}
    if any(given.values()):
        raise CompileError("auto precision chooses weight_bits and act_bits itself; per-layer widths were given too "
                           f"(layers {', '.join(k for k, v in given.items() if v)}): give one")
    start = int(compile_args.pop("width", 16))
    compile_args.pop("weight_width", None)
    user_layers = compile_args.pop("layers", None) or {}
    widths = [w for w in WIDTHS if w <= start]
    compiles = 0

    def build(width: int, choice: dict[Knob, int]):
        nonlocal compiles
        layers = {name: dict(knobs) for name, knobs in user_layers.items()}
        for k, bits in choice.items():
            layers.setdefault(k.layer, {})[k.setting] = bits
        compiles += 1
        return compiler.compile_model(model, target, calib=calib, layers=layers, width=width, weight_width=width,
                                      **compile_args)

    def score(design) -> float:
        return crit.measure(ref, compiler.simulate(design, calib))

    base = build(start, {})
    ref = _reference(model, calib, base.graph.whole_tensor)
    base_out = compiler.simulate(base, calib)
    base_cost = design_cost(base)
    if not crit.holds(crit.measure(ref, base_out)):
        raise CompileError(f"auto precision {crit}: the design at {start} bits everywhere measures "
                           f"{crit.measure(ref, base_out):.4g} on the calibration data, so no narrower one can meet it "
                           "(raise the width or relax the criterion)")
    sensitivity = []
    for knob in _knobs(base):
        d = build(start, {knob: min(SENSITIVITY_BITS, start)})
        out = compiler.simulate(d, calib)
        if np.array_equal(out, base_out) and design_cost(d) == base_cost:
            continue   # inert: the setting changes nothing in this design
        sensitivity.append((knob, crit.measure(ref, out)))
    sensitivity.sort(key=lambda kv: -kv[1])
    knobs = [knob for knob, _ in sensitivity]
    # uniform: the cheapest width for everything (inputs included) meeting the criterion;
    # every width is tried, accuracy is not monotone in it on small data
    uniform = [(design_cost(d), w) for w in widths[1:] for d in [build(w, {})] if crit.holds(score(d))]
    uniform_cost, width = min(uniform + [(base_cost, start)])
    cost = uniform_cost
    # rounds: knobs step down from the uniform width, one width at a time in sensitivity order
    choice: dict[Knob, int] = {}
    moved = True
    while moved:
        moved = False
        for knob in knobs:
            now = widths.index(choice.get(knob, width))
            if now + 1 >= len(widths):
                continue
            trial = {**choice, knob: widths[now + 1]}
            d = build(width, trial)
            c = design_cost(d)
            if c < cost and crit.holds(score(d)):
                choice, cost, moved = trial, c, True
    design = build(width, choice)
    measured = score(design)
    layers: dict[str, dict] = {}
    for k, bits in choice.items():
        layers.setdefault(k.layer, {})[k.setting] = bits
    result = PrecisionSearch(criterion=str(crit), measured=measured, cost=design_cost(design), start_cost=base_cost,
                             uniform_width=width, uniform_cost=uniform_cost, compiles=compiles,
                             order=[(k.layer, k.setting, v) for k, v in sensitivity],
                             config={"width": width, "weight_width": width, "layers": layers})
    design.options["auto_precision"] = result.as_dict()
    design.compile_args.update(auto_precision=criterion, layers=user_layers or None, width=start, weight_width=start)
    return design


def _knobs(design) -> list[Knob]:
    """Settings the format pass honours: the weight width of Dense/Conv layers with float
    weights, the output width of every layer whose output the pass types."""
    g = design.graph
    out = []
    for node in g.nodes():
        if node.kind in ("Dense", "Conv") and not getattr(node.op, "weights_from_model", True):
            out.append(Knob(node.name, "weight_bits"))
        if not all(g.tensors[t].model_typed for t in node.outputs):
            out.append(Knob(node.name, "act_bits"))
    return out


def _reference(model, calib, whole_tensor: bool) -> np.ndarray:
    """The float model's first output on the calibration data (verify's reference executor)."""
    from .frontend.reference import run_reference

    if isinstance(model, (str, os.PathLike)):
        return run_reference(model, calib, whole_tensor=whole_tensor)[0]
    import onnx

    with tempfile.TemporaryDirectory() as tmp:   # run_reference reads a file
        path = os.path.join(tmp, "model.onnx")
        onnx.save(model, path)
        return run_reference(path, calib, whole_tensor=whole_tensor)[0]
