"""The convolutional dev models: D03 (Conv1D, NWC input with Transposes), D04 (Conv2D + BN +
MaxPool + Selu, NHWC input with Transposes), D10 (mnist-8 with the authors' vectors), and
the convolution parts of D08 (QONNX channels_last separable conv) and D09 (QDQ DS-CNN):
compiled for the ZCU104, simulator vs the model's reference, C simulation bit-exact."""
import json
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import compiler
from compiler.backend.csim import compare
from compiler.frontend.reference import run_reference
from compiler.verify import verify

from .conftest import model_path
from .test_cnn_ops import error_bound

CNNS = ["D03_conv1d_float", "D04_conv2d_bn_pool_float", "D10_mnist8_cnn_float_gold"]
# kernels each model must map to (the Transposes and Flatten around them cost nothing)
KINDS = {"D03_conv1d_float": ["Conv", "Conv", "Conv", "Reshape", "Dense", "Dense", "Softmax"],
         "D04_conv2d_bn_pool_float": ["Conv", "Elu", "Affine", "Conv", "Elu", "Pool", "Reshape", "Dense", "Elu",
                                      "Dense", "Softmax"],
         "D10_mnist8_cnn_float_gold": ["Conv", "Pool", "Conv", "Pool", "Reshape", "Dense"]}


def _inputs(design, rng, n, scale=1.0):
    g = design.graph
    t = g.tensors[g.inputs[0]]
    x = rng.normal(scale=scale, size=(n,) + g.input_layouts[0].onnx_shape)
    return t.type.to_float(t.type.quantize(x))  # the model's layout, exactly representable


@pytest.mark.parametrize("name", CNNS)
def test_compiles_for_zcu104_with_the_cli(name, tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "compiler.cli", model_path(name), "--target", "zcu104", "-o", out],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = json.loads((out / "report.json").read_text())
    styles = [L["style"] for L in doc["layers"]]
    print(f"{name}: {', '.join(styles)}; II {doc['ii_cycles']} cycles, latency {doc['latency_cycles']} cycles")
    assert {"conv_sliced", "conv_window"} & set(styles)
    assert all(L["ii"] >= 1 and L["latency"] >= L["first_out"] >= 1 for L in doc["layers"])


@pytest.mark.parametrize("name", CNNS)
def test_layouts_cost_no_data_movement(name):
    design = compiler.compile_model(model_path(name), "zcu104")
    assert [n.kind for n in design.graph.nodes()] == KINDS[name]


@pytest.mark.parametrize("name", CNNS)
def test_simulator_vs_onnxruntime(name, rng):
    """Without calibration every type comes from sound intervals: the error stays within the
    worst-case bound. With calibration data (random, 500 samples) the error is far smaller."""
    path = model_path(name)
    design = compiler.compile_model(path, "zcu104")
    x = _inputs(design, rng, 300)
    r = verify(design, path, design.graph.input_to_ir(x))
    (o,) = r.outputs
    bound = error_bound(design)
    print(f"{name} (interval types): max abs error {o.max_abs_error:.3g} (bound {bound:.3g}), "
          f"SQNR {o.sqnr_db:.1f} dB, argmax agreement {100 * o.argmax_agreement:.1f}%")
    assert o.max_abs_error <= bound
    calib = _inputs(design, rng, 500)
    design = compiler.compile_model(path, "zcu104", calib=calib)
    r = verify(design, path, design.graph.input_to_ir(_inputs(design, rng, 300)))
    (o,) = r.outputs
    print(f"{name} (calibrated): max abs error {o.max_abs_error:.3g}, SQNR {o.sqnr_db:.1f} dB, "
          f"argmax agreement {100 * o.argmax_agreement:.1f}%")
    assert o.sqnr_db > 45 and o.argmax_agreement >= 0.99


@pytest.mark.parametrize("name, n", [("D03_conv1d_float", 300), ("D04_conv2d_bn_pool_float", 300),
                                     ("D10_mnist8_cnn_float_gold", 200)])
def test_csim_bit_exact(name, n, tmp_path, rng):
    design = compiler.compile_model(model_path(name), "zcu104", calib=_inputs(compiler.compile_model(
        model_path(name), "zcu104"), rng, 300))
    out = compiler.write_project(design, tmp_path / "out")
    shape = design.graph.tensors[design.graph.inputs[0]].shape
    x = np.concatenate([rng.normal(size=(n - 20,) + shape), rng.normal(scale=20, size=(20,) + shape)])
    r = compare(design, out, x)
    print(f"{name}: {r.samples} samples, {r.mismatches} mismatches, build {r.seconds_build:.1f} s, "
          f"run {r.seconds_run:.1f} s")
    assert r.samples == n and r.mismatches == 0


def test_d10_authors_vectors(rng):
    """mnist-8's own input and output: the same class, and an error within what verify
    measures on the calibration set (the vector and noisy copies of it)."""
    path = model_path("D10_mnist8_cnn_float_gold")
    folder = path.parent / "test_data_set_0"
    x = numpy_helper.to_array(onnx.load_tensor(str(folder / "input_0.pb"))).astype(np.float64)
    y = numpy_helper.to_array(onnx.load_tensor(str(folder / "output_0.pb"))).astype(np.float64)
    calib = np.concatenate([x, np.clip(x + rng.normal(scale=20, size=(200,) + x.shape[1:]), 0, 255)])
    design = compiler.compile_model(path, "zcu104", calib=calib)
    got = compiler.simulate(design, x)
    err = float(np.abs(got - y).max())
    r = verify(design, path, design.graph.input_to_ir(calib))
    reported = r.outputs[0].max_abs_error
    lsb = design.graph.tensors[design.graph.outputs[0]].type.lsb
    print(f"D10 authors' vector: class {int(got.argmax())} (expected {int(y.argmax())}), max abs error {err:.3g} "
          f"on logits up to {np.abs(y).max():.4g} (output lsb {lsb:.3g}); verify on the calibration set: max abs "
          f"error {reported:.3g}, SQNR {r.outputs[0].sqnr_db:.1f} dB")
    assert got.argmax() == y.argmax()
    # the authors' output differs from onnxruntime's by float32 rounding only
    assert err <= reported + float(np.abs(run_reference(path, x)[0] - y).max())


# ---- the convolution parts of the quantized CNNs ---------------------------------------------
def _d08_small(tmp_path, h=24, w=20):
    """D08 is fully convolutional: the same model on an h x w image."""
    m = onnx.load(str(model_path("D08_sepconv_qonnx_w4a4_chlast")))
    for v in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        d = v.type.tensor_type.shape.dim
        if len(d) == 4 and d[1].dim_value == 512:
            d[1].dim_value, d[2].dim_value = h, w
    path = tmp_path / "d08_small.onnx"
    onnx.save(m, str(path))
    return path


def _qonnx_per_sample(path, x):
    """qonnx's execution, one sample at a time (its batch-size change drops the shapes its
    channels_last Conv needs)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapper = ModelWrapper(onnx.load(str(path)))
        iname, oname = wrapper.graph.input[0].name, wrapper.graph.output[0].name
        return np.concatenate([execute_onnx(wrapper, {iname: x[i:i + 1].astype(np.float32)})[oname]
                               for i in range(len(x))]).astype(np.float64)


def test_d08_channels_last_separable_conv_is_exact(tmp_path, rng):
    """QONNX 4-bit depthwise-separable convs with channels_last Conv on an NHWC input: no
    transpose stage, and exact against qonnx (power-of-two scales), on a smaller image."""
    path = _d08_small(tmp_path)
    design = compiler.compile_model(path, "zcu104")
    assert [n.kind for n in design.graph.nodes()] == ["Conv", "Conv", "PRelu", "Conv", "Conv"]
    assert design.graph.input_layouts[0].index() is None
    x = rng.normal(size=(12, 24, 20, 3))
    got = compiler.simulate(design, x)
    want = _qonnx_per_sample(path, x)
    print(f"D08 (24x20 input): {int(np.sum(got != want))} of {want.size} values differ from qonnx")
    assert np.array_equal(got, want)
    out = compiler.write_project(design, tmp_path / "out")
    r = compare(design, out, design.graph.input_to_ir(rng.normal(size=(40, 24, 20, 3))))
    print(f"D08 (24x20 input) C simulation: {r.mismatches} mismatches, build {r.seconds_build:.1f} s")
    assert r.mismatches == 0


def test_d09_dscnn_convolutions_vs_onnxruntime(rng):
    """QDQ int8 DS-CNN: the flat input becomes a 49x10 one-channel image for free, then
    Conv, four depthwise + pointwise pairs, AveragePool and the classifier."""
    path = model_path("D09_kws_dscnn_qdq_int8")
    design = compiler.compile_model(path, "zcu104")
    kinds = [n.kind for n in design.graph.nodes()]
    assert kinds.count("Conv") == 9 and "Pool" in kinds and "Transpose" not in kinds
    assert design.graph.tensors[design.graph.inputs[0]].shape == (49, 10, 1)
    x = rng.normal(scale=30, size=(200, 490))
    r = verify(design, path, design.graph.input_to_ir(x))
    (o,) = r.outputs
    print(f"D09: max abs error {o.max_abs_error:.3g}, argmax agreement {100 * o.argmax_agreement:.1f}%")
    assert o.argmax_agreement >= 0.99


@pytest.mark.slow
def test_d08_full_size(tmp_path, rng):
    path = model_path("D08_sepconv_qonnx_w4a4_chlast")
    design = compiler.compile_model(path, "zcu104")
    x = rng.normal(size=(2, 512, 512, 3))
    assert np.array_equal(compiler.simulate(design, x), _qonnx_per_sample(path, x))
    out = compiler.write_project(design, tmp_path / "out")
    assert compare(design, out, design.graph.input_to_ir(x)).mismatches == 0


def test_d09_csim_bit_exact(tmp_path, rng):
    design = compiler.compile_model(model_path("D09_kws_dscnn_qdq_int8"), "zcu104")
    out = compiler.write_project(design, tmp_path / "out")
    r = compare(design, out, design.graph.input_to_ir(rng.normal(scale=30, size=(40, 490))))
    assert r.mismatches == 0
