"""The breast-cancer example (examples/make_cancer_mlp.py): its files load, the float model
classifies as it should, and qcompile's design agrees with onnxruntime.

The model takes RAW features (~1e-3 .. ~4e3) and standardizes them itself (Sub/Div), so one
per-tensor input format has to hold all 30 features. Calibrated at the default 16 bits the
input type is ap_ufixed<16,12> (LSB 1/16), which erases the small features (fractal
dimension, smoothness, ...): the simulator then agrees with onnxruntime on the raw inputs on
90.06% of the test split only (accuracy 96.49% -> 90.06%), while the design itself is exact
on the inputs as cast (100%). A wider input type recovers it all."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import compiler
from compiler.verify import cast_inputs

from .conftest import ROOT

EX = ROOT / "examples"
MODEL = EX / "cancer_mlp.onnx"
WIDE_INPUT = "ap_ufixed<24,13,AP_RND_CONV,AP_SAT>"


@pytest.fixture(scope="module")
def data():
    return {k: np.load(EX / f"cancer_{k}.npy") for k in ("test_x", "test_y", "calib_x")}


@pytest.fixture(scope="module")
def ort_probs(data):
    sess = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": data["test_x"]})[0]


@pytest.fixture(scope="module")
def design16(data):
    return compiler.compile_model(MODEL, "pynq-z2", calib=data["calib_x"])


def _ort_argmax(x):
    sess = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x.astype(np.float32)})[0].argmax(1)


def test_files_load(data):
    x, y, c = data["test_x"], data["test_y"], data["calib_x"]
    assert x.dtype == np.float32 and x.shape == (171, 30)
    assert y.dtype == np.int64 and y.shape == (171,) and set(np.unique(y)) == {0, 1}
    assert c.dtype == np.float32 and c.shape == (100, 30)
    assert x.max() > 1e3 and x.max(axis=0).min() < 0.1   # raw, not standardized
    for p in (MODEL, *(EX / f"cancer_{k}.npy" for k in data)):
        assert p.stat().st_size < 50_000, p
    model = onnx.load(MODEL)
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node][:3] == ["Sub", "Div", "Gemm"]


def test_float_accuracy(data, ort_probs):
    acc = (ort_probs.argmax(1) == data["test_y"]).mean()
    assert acc > 0.93, acc


def test_design_exact_on_cast_inputs(data, design16):
    """The design's own error (verify's 'design' row): simulator vs onnxruntime, both on the
    inputs as the design's input type holds them."""
    x = data["test_x"]
    sim = compiler.simulate(design16, x).argmax(1)
    ref = _ort_argmax(cast_inputs(design16, [x])[0])
    assert (sim == ref).mean() >= 0.97, (sim == ref).mean()


@pytest.mark.xfail(strict=True, reason="per-tensor input ap_ufixed<16,12> (LSB 1/16) erases the ~1e-3..1e-1 "
                   "features: 90.06% agreement on raw inputs (measured)")
def test_agreement_on_raw_inputs_default_16_bits(data, ort_probs, design16):
    sim = compiler.simulate(design16, data["test_x"]).argmax(1)
    agree = (sim == ort_probs.argmax(1)).mean()
    assert agree >= 0.97, f"{agree:.4f} agreement (input type {design16.graph.tensors['input'].type.cpp()})"


def test_agreement_on_raw_inputs_wide_input_type(data, ort_probs):
    design = compiler.compile_model(MODEL, "pynq-z2", calib=data["calib_x"], input_type=WIDE_INPUT)
    sim = compiler.simulate(design, data["test_x"]).argmax(1)
    agree = (sim == ort_probs.argmax(1)).mean()
    assert agree >= 0.97, agree
    assert (sim == data["test_y"]).mean() > 0.93
