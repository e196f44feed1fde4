"""Every op: registry completeness, differential tests against the model's reference executor,
and one C simulation covering every kernel."""
import numpy as np
import pytest

import compiler
from compiler.backend.csim import compare
from compiler.frontend.reference import run_reference
from compiler.ops import REGISTRY
from compiler.resources import data_dir

from . import onnx_builders as B

# op kind -> builders of models in which that op survives the passes standalone or fused
DIFFERENTIAL = {
    "Dense": [B.dense_matmul_add, B.dense_gemm],
    "Affine": [B.batchnorm, B.arith_chain],
    "Relu": [B.arith_chain, B.quant_two_readers],
    "Softmax": [B.softmax, B.quant_two_readers],
    "Quant": [B.quant_two_readers],
}
ALL_BUILDERS = sorted({b for bs in DIFFERENTIAL.values() for b in bs}, key=lambda b: b.__name__)


def _declared_differential_tests() -> dict:
    """Union of the DIFFERENTIAL tables of every tests/test_*.py module: each test module
    declares which op kinds its differential tests cover."""
    import importlib
    from pathlib import Path

    found: dict = {}
    for f in sorted(Path(__file__).parent.glob("test_*.py")):
        mod = importlib.import_module(f"{__package__}.{f.stem}")
        for kind, builders in getattr(mod, "DIFFERENTIAL", {}).items():
            found.setdefault(kind, []).extend(builders)
    return found


def test_every_registered_op_is_complete():
    templates = data_dir("templates") / "layers"
    declared = _declared_differential_tests()
    for kind, cls in REGISTRY.items():
        assert cls.template and (templates / f"{cls.template}.j2").is_file(), f"{kind}: no template"
        for method in ("simulator", "cost", "hls", "reference", "bounds", "assign_types"):
            assert getattr(cls, method) is not getattr(compiler.ops.Op, method), f"{kind}: no {method}"
        assert declared.get(kind), f"{kind}: no differential test (declare it in a test module's DIFFERENTIAL)"


def _grid_inputs(design, rng, n=500):
    t = design.graph.tensors[design.graph.inputs[0]]
    x = rng.normal(scale=2.0, size=(n,) + t.shape)
    return t.type.to_float(t.type.quantize(x))  # exactly representable: isolates the op's own error


def _tolerance(design, x):
    """Worst-case error of the design vs float semantics: propagate each op's own rounding
    (output lsb/2, quantized constants) through the bounds of later ops, coarsely: the
    sum of output LSBs along the graph times the largest gain seen, plus softmax tables."""
    tol = 0.0
    for node in design.graph.nodes():
        out = design.graph.tensors[node.outputs[0]].type
        gain = 1.0
        w = getattr(node.op, "weight", None)
        if w is not None:
            gain = float(np.abs(w).sum(axis=0).max())
            wt = node.op.weight_type
            tol = tol * gain + float(np.abs(x).max()) * w.shape[0] * wt.lsb / 2
        s = getattr(node.op, "scale", None)
        if getattr(node.op, "scale_type", None) is not None:
            gain = float(np.abs(s).max())
            tol = tol * gain + float(np.abs(x).max() + 1) * node.op.scale_type.lsb
        tol += out.lsb
        if node.kind == "Softmax":
            tol = max(tol, 1.5 * node.op.max_error)
    return tol


@pytest.mark.parametrize("builder", ALL_BUILDERS, ids=lambda b: b.__name__)
def test_op_against_reference_executor(builder, tmp_path, rng):
    path = B.save(builder(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    x = _grid_inputs(design, rng)
    sim = design.simulator().run([x])
    ref = run_reference(path, x)
    tol = _tolerance(design, x)
    for got, want, name in zip(sim, ref, design.graph.outputs):
        err = float(np.abs(got - want).max())
        print(f"{builder.__name__} {name}: max abs error {err:.3g} (bound {tol:.3g})")
        assert err <= tol


def test_quant_cast_is_exact(tmp_path, rng):
    """The standalone Quant stage reproduces QONNX's Quant bit for bit."""
    path = B.save(B.quant_two_readers(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    assert "Quant" in {n.kind for n in design.graph.nodes()}
    x = _grid_inputs(design, rng)
    assert np.array_equal(design.simulator().run([x])[0], run_reference(path, x)[0])


def test_every_kernel_is_bit_exact_in_csim(tmp_path, rng):
    path = B.save(B.all_ops(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    kinds = {n.kind for n in design.graph.nodes()}
    assert kinds == {"Affine", "Relu", "Quant", "Dense", "Softmax"}, kinds
    out = compiler.write_project(design, tmp_path / "out")
    x = np.concatenate([rng.normal(size=(400, 8)), rng.normal(scale=30, size=(100, 8))])
    r = compare(design, out, x)
    assert r.mismatches == 0, r


@pytest.mark.parametrize("n", [2, 3, 5, 10, 33])
def test_softmax_accuracy_is_stated_and_holds(n, tmp_path, rng):
    path = B.save(B.softmax(rng, n), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    stated = next(node.op.max_error for node in design.graph.nodes() if node.kind == "Softmax")
    assert 0 < stated < 2e-3
    x = _grid_inputs(design, rng, 2000)
    err = np.abs(compiler.simulate(design, x) - run_reference(path, x)[0]).max()
    assert err <= 1.5 * stated
