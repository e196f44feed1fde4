"""The spine's dev models: compile, report, and simulator vs the model's own reference."""
import json

import numpy as np
import pytest

import compiler
from compiler.frontend.reference import run_reference
from compiler.verify import verify

from .conftest import model_path

MLPS = ["D01_jet_mlp_float", "D02_jet_mlp_bn_float", "D05_jet_mlp_qonnx_w6a6"]
REPORT_KEYS = {"qcompile_version", "model", "design", "target", "latency_cycles", "latency_us", "ii_cycles", "ii_us",
               "throughput_per_s", "clock_mhz", "resources", "available", "utilization_pct", "fits", "bottleneck",
               "layers", "inputs", "outputs", "options"}
LAYER_KEYS = {"name", "op", "style", "latency", "latency_us", "ii", "first_out", "dsp", "lut", "ff", "bram_18k", "uram",
              "utilization", "output_type", "source", "detail"}


@pytest.mark.parametrize("name", MLPS)
def test_compiles_with_documented_report(name, tmp_path):
    design = compiler.compile_model(model_path(name), "zcu104")
    out = compiler.write_project(design, tmp_path / "out")
    doc = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(doc)
    assert doc["target"]["part"] == "xczu7ev-ffvc1156-2-e"
    for layer in doc["layers"]:
        assert LAYER_KEYS <= set(layer), set(LAYER_KEYS) - set(layer)
    assert doc["latency_cycles"] > 0 and doc["ii_cycles"] >= 1
    assert set(doc["resources"]) == {"dsp", "lut", "ff", "bram_18k", "uram"}
    tcl = (out / "build.tcl").read_text()
    assert "xczu7ev-ffvc1156-2-e" in tcl and "create_clock -period 5" in tcl
    assert (out / "design" / "design.json").is_file()


def _calib(rng, n=1000):
    return rng.normal(size=(n, 16))


@pytest.mark.parametrize("name", ["D01_jet_mlp_float", "D02_jet_mlp_bn_float"])
def test_float_mlps_agree_with_onnxruntime(name, rng):
    """Default 16-bit formats, ranges from calibration data; 1,000 fresh random inputs."""
    design = compiler.compile_model(model_path(name), "zcu104", calib=_calib(rng))
    x = rng.normal(size=(1000, 16))
    r = verify(design, model_path(name), x)
    (out,) = r.outputs
    print(f"{name}: max abs error {out.max_abs_error:.3g}, SQNR {out.sqnr_db:.1f} dB, "
          f"argmax agreement {100 * out.argmax_agreement:.2f}%")
    assert r.reference == "onnxruntime"
    assert out.argmax_agreement >= 0.99
    assert out.sqnr_db > 40


def test_float_mlp_without_calibration_is_sound_and_reported(rng):
    """Interval analysis from the default input type: no overflow is possible, the error is
    larger (and reported) since the ranges are worst-case."""
    design = compiler.compile_model(model_path("D02_jet_mlp_bn_float"), "zcu104")
    x = rng.normal(size=(1000, 16))
    r = verify(design, model_path("D02_jet_mlp_bn_float"), x)
    print(f"D02 (interval ranges): argmax agreement {100 * r.outputs[0].argmax_agreement:.2f}%, "
          f"SQNR {r.outputs[0].sqnr_db:.1f} dB")
    assert all(t.type.overflow == "AP_WRAP" for n, t in design.graph.tensors.items()
               if not t.model_typed and n not in design.graph.inputs and n not in design.graph.outputs)
    assert r.outputs[0].argmax_agreement >= 0.99


def test_qonnx_mlp_is_exact_before_the_softmax(rng):
    """D05's arithmetic is fixed-point throughout (6-bit weights and activations, power-of-
    two scales): on inputs representable in the input type, every Quant output and the
    logits equal qonnx's execution exactly; the LUT softmax stays within its stated error."""
    path = model_path("D05_jet_mlp_qonnx_w6a6")
    design = compiler.compile_model(path, "zcu104")
    in_type = design.graph.tensors[design.graph.inputs[0]].type
    x = in_type.to_float(in_type.quantize(rng.normal(size=(1000, 16))))
    checked = ["Quant_8_out0", "Quant_9_out0", "Quant_10_out0", "Add_3_out0"]
    refs = run_reference(path, x, outputs=checked + ["global_out"])
    trace = design.simulator().trace([x])
    for name, ref in zip(checked, refs):
        assert name in trace, f"{name} not kept as an IR tensor"
        mismatches = int(np.sum(trace[name] != ref))
        print(f"D05 {name}: {mismatches} mismatching elements of {ref.size}")
        assert mismatches == 0
    softmax_err = np.abs(compiler.simulate(design, x) - refs[-1]).max()
    stated = next(n.op.max_error for n in design.graph.nodes() if n.kind == "Softmax")
    print(f"D05 softmax: max abs error {softmax_err:.3g} (stated {stated:.3g})")
    assert softmax_err <= 1.5 * stated


def test_design_round_trips_through_the_output_folder(tmp_path, rng):
    design = compiler.compile_model(model_path("D05_jet_mlp_qonnx_w6a6"), "zcu104")
    compiler.write_project(design, tmp_path / "out")
    again = compiler.load_design(tmp_path / "out")
    x = rng.normal(size=(200, 16))
    assert np.array_equal(compiler.simulate(design, x), compiler.simulate(again, x))
    assert compiler.estimate(again).as_dict() == compiler.estimate(design).as_dict()
