"""Compare the bit-accurate simulator with the model's own float reference."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    outputs: list[OutputStats]
    reference: str
    accuracy_reference: float | None = None
    accuracy_simulator: float | None = None


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    noise = float(np.sum((got - ref) ** 2))
    signal = float(np.sum(ref ** 2))
    if noise == 0:
        return float("inf")
    return 10 * np.log10(signal / noise) if signal > 0 else float("-inf")


def verify(design, model_path: str, x: np.ndarray, labels=None) -> VerifyResult:
    """x: inputs in the IR layout (as the simulator takes them; a list for several inputs)."""
    from .frontend.reference import reference_executor, run_reference

    g = design.graph
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    sim_out = design.simulator().run(xs)
    ref_out = run_reference(model_path, [lay.to_onnx(v) for lay, v in zip(g.input_layouts, xs)],
                            whole_tensor=g.whole_tensor)
    x = xs[0]
    stats = []
    for k, (name, got, ref) in enumerate(zip(g.outputs, sim_out, ref_out)):
        got = g.output_to_onnx(got, k).reshape(len(x), -1)
        ref = np.asarray(ref, dtype=np.float64).reshape(len(x), -1)
        err = np.abs(got - ref)
        agree = float(np.mean(got.argmax(1) == ref.argmax(1))) if got.shape[1] > 1 else None
        stats.append(OutputStats(name, float(err.max()), float(err.mean()), sqnr_db(ref, got), agree))
    result = VerifyResult(samples=len(x), outputs=stats, reference=reference_executor(model_path))
    if labels is not None:
        y = np.asarray(labels).reshape(-1)
        if len(y) != len(x):
            raise DataError(f"labels: {len(y)} labels for {len(x)} samples")
        classes = np.asarray(ref_out[0]).reshape(len(x), -1).shape[1]
        if y.dtype.kind not in "biuf" or not np.all(np.isfinite(y)) or np.any(y != np.round(y)) \
                or y.min(initial=0) < 0 or y.max(initial=0) >= classes:
            raise DataError(f"labels: expected integer class indices 0..{classes - 1} (the first output's argmax)")
        result.accuracy_reference = float(np.mean(np.asarray(ref_out[0]).reshape(len(x), -1).argmax(1) == y))
        result.accuracy_simulator = float(np.mean(g.output_to_onnx(sim_out[0], 0)
                                                  .reshape(len(x), -1).argmax(1) == y))
    return result


def format_verify(r: VerifyResult) -> str:
    lines = [f"bit-accurate simulator vs float reference ({r.reference}), {r.samples} samples"]
    for s in r.outputs:
        agree = "" if s.argmax_agreement is None else f", argmax agreement {100 * s.argmax_agreement:.2f}%"
        lines.append(f"  output {s.name!r}: max abs error {s.max_abs_error:.3g}, mean abs error {s.mean_abs_error:.3g}, "
                     f"SQNR {s.sqnr_db:.1f} dB{agree}")
    if r.accuracy_reference is not None:
        lines.append(f"  accuracy on the labels: float model {100 * r.accuracy_reference:.2f}%, "
                     f"simulator {100 * r.accuracy_simulator:.2f}%")
    return "\n".join(lines)
