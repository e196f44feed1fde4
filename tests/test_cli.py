"""The command line: the main job, and clear one-line errors (exit 2, no output folder)."""
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from .conftest import model_path


def qcompile(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "compiler.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def assert_user_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_compile_writes_project_and_prints_table(tmp_path):
    out = tmp_path / "d05"
    p = qcompile(model_path("D05_jet_mlp_qonnx_w6a6"), "--target", "zcu104", "-o", out)
    assert p.returncode == 0, p.stderr
    assert "% of device" in p.stdout and "latency" in p.stdout
    for rel in ("report.json", "build.tcl", "firmware/parameters.h", "firmware/weights.h", "firmware/qc_dense.h",
                "tb/tb_input.txt", "design/design.json"):
        assert (out / rel).is_file(), rel
    again = qcompile(model_path("D05_jet_mlp_qonnx_w6a6"), "-o", out)
    assert_user_error(again, "already exists", "--force")
    assert qcompile(model_path("D05_jet_mlp_qonnx_w6a6"), "-o", out, "--force").returncode == 0


def test_clock_option_reaches_build_script(tmp_path):
    out = tmp_path / "o"
    assert qcompile(model_path("D01_jet_mlp_float"), "-o", out, "--clock-mhz", "250").returncode == 0
    assert "create_clock -period 4 " in (out / "build.tcl").read_text()


def _unsupported_model(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Hardmax", ["x"], ["y"], name="weird_hardmax")
    onnx.save(helper.make_model(helper.make_graph([node], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 13)]),
              path)


def test_unsupported_op_names_node_and_op(tmp_path):
    m = tmp_path / "hardmax.onnx"
    _unsupported_model(m)
    out = tmp_path / "out"
    p = qcompile(m, "-o", out)
    assert_user_error(p, "node 'weird_hardmax' (Hardmax)", "not supported", "supported:", "Gemm")
    assert not out.exists()
    assert not list(tmp_path.glob(".out*")), "no temporary folder left behind"


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    p = qcompile(tmp_path / "nope.onnx", "-o", out)
    assert_user_error(p, "nope.onnx", "no such file")
    assert not out.exists()


@pytest.mark.parametrize("content", [b"", b"this is not a protobuf \x00\xff" * 10, None])
def test_not_an_onnx_file(tmp_path, content):
    m = tmp_path / "bad.onnx"
    if content is None:  # a truncated real model
        content = model_path("D01_jet_mlp_float").read_bytes()[:5000]
    m.write_bytes(content)
    out = tmp_path / "out"
    p = qcompile(m, "-o", out)
    assert_user_error(p, "bad.onnx", "not a valid ONNX model")
    assert not out.exists()


def test_unknown_target_lists_known_ones(tmp_path):
    p = qcompile(model_path("D01_jet_mlp_float"), "--target", "zcu999", "-o", tmp_path / "o")
    assert_user_error(p, "unknown target 'zcu999'", "zcu104")


def test_verify_prints_errors_and_agreement():
    p = qcompile("verify", model_path("D02_jet_mlp_bn_float"), "--target", "zcu104", "-n", "300")
    assert p.returncode == 0, p.stderr
    assert "SQNR" in p.stdout and "argmax agreement" in p.stdout and "max abs error" in p.stdout


def test_bad_data_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.npy"
    np.save(bad, np.zeros((10, 7)))
    p = qcompile("verify", model_path("D01_jet_mlp_float"), "--data", bad)
    assert_user_error(p, "does not match the model input")


def test_csim_command_reports_mismatch_count(tmp_path):
    out = tmp_path / "o"
    assert qcompile(model_path("D05_jet_mlp_qonnx_w6a6"), "-o", out).returncode == 0
    p = qcompile("csim", out, "-n", "50")
    assert p.returncode == 0, p.stderr
    assert "50 samples, 0 mismatching" in p.stdout


def test_targets_lists_boards():
    p = qcompile("targets")
    assert p.returncode == 0
    assert "xczu7ev-ffvc1156-2-e" in p.stdout
