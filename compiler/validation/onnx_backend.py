"""onnx's own backend test cases (onnx/backend/test/data/{pytorch-converted,pytorch-operator,
simple}: a model.onnx with reference inputs and outputs) run through compile_model + simulate.

Each case ends in one of:
    match    compiled, and every output agrees with the reference within TOLERANCE
    refused  a CompileError: one line naming what is not supported (checked by the tests)
    wrong    compiled, but an output is off by more than TOLERANCE: a silently wrong design
    crash    any other exception: a bug

The design is the default compile for the target (16-bit dynamic fixed point), calibrated
on the case's own inputs. TOLERANCE is what the compiler states for such a design: every
output within 1% of the output's range (max |reference|) plus two steps of the output's
type. A model whose reference outputs are all zero is compared absolutely.
Used by tests/test_onnx_backend.py and benchmarks/onnx_backend.py; the compiler itself never
imports this module.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import numpy as np

SUITES = ("pytorch-converted", "pytorch-operator", "simple")
RELATIVE_TOLERANCE = 0.01
LSB_TOLERANCE = 2


@dataclass
class Case:
    suite: str
    name: str
    folder: str

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"

    def data(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        import onnx
        from onnx import numpy_helper

        ds = sorted(glob.glob(os.path.join(self.folder, "test_data_set_*")))[0]

        def read(kind):
            return [numpy_helper.to_array(onnx.load_tensor(p))
                    for p in sorted(glob.glob(os.path.join(ds, f"{kind}_*.pb")),
                                    key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))]
        return read("input"), read("output")


@dataclass
class Outcome:
    case: Case
    status: str                 # match | refused | wrong | crash
    detail: str = ""            # the error line, or the worst error against the tolerance
    error: float | None = None  # worst |got - want| / tolerance over the outputs (match, wrong)


def cases() -> list[Case]:
    import onnx

    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    out = []
    for suite in SUITES:
        folder = os.path.join(root, suite)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if os.path.isfile(os.path.join(folder, name, "model.onnx")):
                out.append(Case(suite, name, os.path.join(folder, name)))
    return out


def tolerance(want: np.ndarray, lsb: float) -> float:
    scale = float(np.abs(want).max(initial=0.0))
    return RELATIVE_TOLERANCE * scale + LSB_TOLERANCE * lsb


def run(case: Case, target: str = "zcu104") -> Outcome:
    import compiler
    from compiler.errors import CompileError

    inputs, wanted = case.data()
    try:
        design = compiler.compile_model(os.path.join(case.folder, "model.onnx"), target,
                                        calib=inputs if len(inputs) > 1 else inputs[0])
        got = compiler.simulate(design, inputs if len(inputs) > 1 else inputs[0])
    except CompileError as e:
        return Outcome(case, "refused", str(e))
    except Exception as e:  # a bug: reported, never hidden
        return Outcome(case, "crash", f"{type(e).__name__}: {e}")
    got = got if isinstance(got, list) else [got]
    if len(got) != len(wanted):
        return Outcome(case, "wrong", f"{len(got)} outputs, the model has {len(wanted)}")
    g = design.graph
    worst, detail = 0.0, ""
    for k, (y, want) in enumerate(zip(got, wanted)):
        want = np.asarray(want, dtype=np.float64)
        if np.shape(y) != want.shape:
            return Outcome(case, "wrong", f"output {k}: shape {np.shape(y)}, the model's is {want.shape}")
        if not np.all(np.isfinite(want)):  # NaN/inf: no fixed-point design computes that; it must refuse
            return Outcome(case, "wrong", f"output {k}: the reference holds NaN or infinity, the design does not")
        tol = tolerance(want, g.tensors[g.outputs[k]].type.lsb)
        err = float(np.abs(np.asarray(y, dtype=np.float64) - want).max(initial=0.0))
        if err / tol >= worst:
            worst, detail = err / tol, f"output {k}: max error {err:.3g}, tolerance {tol:.3g}"
    return Outcome(case, "match" if worst <= 1.0 else "wrong", detail, worst)
