"""Compare the bit-accurate simulator with the model's own float reference.

The end-to-end error (simulator vs the reference on the raw inputs) has two parts, reported
apart: the input cast (the reference on the raw inputs vs on the inputs as the design's input
type holds them: the host's conversion, not the design's doing) and the design's own error
(simulator vs the reference, both on those cast inputs)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import progress
from .errors import DataError


@dataclass
class OutputStats:
    name: str
    max_abs_error: float
    mean_abs_error: float
    sqnr_db: float
    argmax_agreement: float | None   # fraction of samples whose argmax agrees (vector outputs)


@dataclass
class VerifyResult:
    samples: int
    outputs: list[OutputStats]       # end to end: simulator vs the reference on the raw inputs
    reference: str
    accuracy_reference: float | None = None   # the reference on the raw inputs, as `outputs`
    accuracy_simulator: float | None = None
    # the design's own error: simulator vs the reference on the inputs cast to the input types
    design: list[OutputStats] = field(default_factory=list)
    # the input cast's: the reference on the cast inputs vs on the raw inputs
    input_cast: list[OutputStats] = field(default_factory=list)
    inputs_on_grid: bool = False     # the raw inputs are values of the input types: no cast error
    input_types: list[str] = field(default_factory=list)   # per graph input, what the cast is
    accuracy_reference_cast: float | None = None   # the reference on the cast inputs


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    noise = float(np.sum((got - ref) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0:
        return float("inf")
    return 10 * np.log10(signal / noise) if signal > 0 else float("-inf")


def _stats(name: str, got: np.ndarray, ref: np.ndarray) -> OutputStats:
    """got against ref, both (samples, -1) float64."""
    err = np.abs(got - ref)
    agree = float(np.mean(got.argmax(1) == ref.argmax(1))) if got.shape[1] > 1 else None
    return OutputStats(name, float(err.max(initial=0.0)), float(err.mean()) if err.size else 0.0,
                       sqnr_db(ref, got), agree)


def cast_inputs(design, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Real inputs (IR layout) -> the real values the design's inputs hold for them: the
    simulator's quantize_inputs (the host's conversion, the model's input quantizer where it
    has one), then each input type's value times the tensor's real scale."""
    g, sim = design.graph, design.simulator()
    return [t.to_float(c) * np.asarray(g.tensors[name].scale, dtype=np.float64)
            for name, t, c in zip(g.inputs, sim.input_types, sim.quantize_inputs(xs))]


def _input_type(design, name: str) -> str:
    if name in design.graph.input_quantizers:
        return "the model's input quantizer"
    return design.graph.tensors[name].type.cpp()


def verify(design, model_path: str, x: np.ndarray, labels=None) -> VerifyResult:
    """x: inputs in the IR layout (as the simulator takes them; a list for several inputs)."""
    from .frontend.reference import reference_executor, run_reference

    g = design.graph
    xs = [np.asarray(v) for v in (list(x) if isinstance(x, (list, tuple)) else [x])]
    n = len(xs[0])

    def reference(inputs):
        return run_reference(model_path, [lay.to_onnx(v) for lay, v in zip(g.input_layouts, inputs)],
                             whole_tensor=g.whole_tensor)

    def rows(outs, m: int, sim: bool):
        return [np.asarray(g.output_to_onnx(o, k) if sim else o, dtype=np.float64).reshape(m, -1)
                for k, o in enumerate(outs)]

    # in chunks when a progress bar shows (each sample's result is independent of its batch)
    sim_out, ref_out, ref_cast, on_grid = [], [], [], True
    with progress.bar(total=n, desc="verify", unit="sample") as shown:
        for part in progress.slices(n, at_least=256):
            xp = [v[part] for v in xs]
            cast = cast_inputs(design, xp)
            grid = all(np.array_equal(c, np.asarray(v, dtype=np.float64)) for c, v in zip(cast, xp))
            m = part.stop - part.start
            sim_out.append(rows(design.simulator().run(xp), m, sim=True))
            ref_out.append(rows(reference(xp), m, sim=False))
            ref_cast.append(ref_out[-1] if grid else rows(reference(cast), m, sim=False))
            on_grid &= grid
            shown.update(m)
    sim_out, ref_out, ref_cast = ([np.concatenate(c) for c in zip(*parts)] for parts in (sim_out, ref_out, ref_cast))
    names = list(g.outputs)
    result = VerifyResult(
        samples=n, outputs=[_stats(k, s, r) for k, s, r in zip(names, sim_out, ref_out)],
        reference=reference_executor(model_path),
        design=[_stats(k, s, r) for k, s, r in zip(names, sim_out, ref_cast)],
        input_cast=[_stats(k, c, r) for k, c, r in zip(names, ref_cast, ref_out)],
        inputs_on_grid=on_grid, input_types=[_input_type(design, k) for k in g.inputs])
    if labels is not None:
        y = np.asarray(labels).reshape(-1)
        if len(y) != n:
            raise DataError(f"labels: {len(y)} labels for {n} samples")
        classes = ref_out[0].shape[1]
        if y.dtype.kind not in "biuf" or not np.all(np.isfinite(y)) or np.any(y != np.round(y)) \
                or y.min(initial=0) < 0 or y.max(initial=0) >= classes:
            raise DataError(f"labels: expected integer class indices 0..{classes - 1} (the first output's argmax)")
        result.accuracy_reference = float(np.mean(ref_out[0].argmax(1) == y))
        result.accuracy_reference_cast = float(np.mean(ref_cast[0].argmax(1) == y))
        result.accuracy_simulator = float(np.mean(sim_out[0].argmax(1) == y))
    return result


def _cells(s: OutputStats) -> list[str]:
    agree = "-" if s.argmax_agreement is None else f"{100 * s.argmax_agreement:.2f}%"
    return [f"{s.max_abs_error:.3g}", f"{s.mean_abs_error:.3g}", f"{s.sqnr_db:.1f} dB", agree]


def format_verify(r: VerifyResult) -> str:
    lines = [f"bit-accurate simulator vs float reference ({r.reference}), {r.samples} samples"]
    if r.inputs_on_grid or not r.design:
        if r.inputs_on_grid:
            lines.append("  inputs are on the input type's grid: no input-cast error, all of it is the design's")
        for s in r.outputs:
            agree = "" if s.argmax_agreement is None else f", argmax agreement {100 * s.argmax_agreement:.2f}%"
            lines.append(f"  output {s.name!r}: max abs error {s.max_abs_error:.3g}, mean abs error "
                         f"{s.mean_abs_error:.3g}, SQNR {s.sqnr_db:.1f} dB{agree}")
    else:
        types = sorted(set(r.input_types))
        lines[0] += f"; inputs cast to {', '.join(types)}" if types else ""
        head = ["max abs error", "mean abs error", "SQNR", "argmax agreement"]
        for d, c, t in zip(r.design, r.input_cast, r.outputs):
            table = [(f"  output {t.name!r}", head),
                     ("    design (sim vs ref, cast inputs)", _cells(d)),
                     ("    input cast (ref, cast vs raw)", _cells(c)),
                     ("    total (sim vs ref, raw inputs)", _cells(t))]
            first = max(len(label) for label, _ in table)
            widths = [max(len(row[k]) for _, row in table) for k in range(len(head))]
            lines += [label.ljust(first) + "".join("  " + v.rjust(w) for v, w in zip(row, widths))
                      for label, row in table]
    if r.accuracy_reference is not None:
        cast = "" if r.inputs_on_grid or r.accuracy_reference_cast is None else \
            f" ({100 * r.accuracy_reference_cast:.2f}% on the cast inputs)"
        lines.append(f"  accuracy on the labels: float model {100 * r.accuracy_reference:.2f}%{cast}, "
                     f"simulator {100 * r.accuracy_simulator:.2f}%")
    return "\n".join(lines)
