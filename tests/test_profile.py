"""qcompile profile and verify --per-layer: the files it writes, and its numbers against their
definitions (SQNR against compiler.simulate, widths, saturation counted directly)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from matplotlib.image import imread
from onnx import numpy_helper

import compiler
from compiler.cli import main
from compiler.errors import CompileError
from compiler.profile import format_profile, profile, write_profile
from compiler.verify import sqnr_db

from .conftest import ROOT, model_path
from .test_cli import assert_user_error, qcompile

DIGITS = ROOT / "examples" / "digits_mlp.onnx"
CALIB = ROOT / "examples" / "digits_calib_x.npy"
TEST_X = ROOT / "examples" / "digits_test_x.npy"
CNN = "D10_mnist8_cnn_float_gold"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TENSOR_KEYS = {"tensor", "layer", "op", "shape", "in_float_model", "type", "float", "histogram", "above_max",
               "below_min", "saturated", "overflowed", "sqnr_db", "plot"}


def run(capsys, *args) -> SimpleNamespace:
    """The CLI in this process (no interpreter start-up per call), as qcompile() reports it."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def digits_weights() -> list[tuple[np.ndarray, np.ndarray]]:
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in onnx.load(str(DIGITS)).graph.initializer}
    return [(inits[f"fc{k}.weight"], inits[f"fc{k}.bias"]) for k in (1, 2, 3)]


def digits_float(x: np.ndarray) -> dict[str, np.ndarray]:
    """The digits MLP in float64 from its ONNX weights: relu1, relu2, logits, probabilities."""
    (w1, b1), (w2, b2), (w3, b3) = digits_weights()
    h1 = np.maximum(x @ w1 + b1, 0)
    h2 = np.maximum(h1 @ w2 + b2, 0)
    z = h2 @ w3 + b3
    e = np.exp(z - z.max(1, keepdims=True))
    return {"relu1_out": h1, "relu2_out": h2, "fc3_out": z, "probabilities": e / e.sum(1, keepdims=True)}


def check_output_folder(out: Path) -> dict:
    doc = json.loads((out / "profile.json").read_text())
    assert doc["format"] == 1 and doc["samples"] > 0
    for t in doc["tensors"]:
        assert set(t) == TENSOR_KEYS, t["tensor"]
    pngs = sorted(out.glob("*.png"))
    assert out / "sqnr.png" in pngs
    assert {t["plot"] for t in doc["tensors"] if t["layer"] is not None} <= {p.name for p in pngs}
    html = (out / "profile.html").read_text()
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_SIGNATURE, png
        image = imread(png)
        assert image.ndim == 3 and image.size > 0, png
        assert f'src="{png.name}"' in html, png.name
    return doc


def test_cli_profile_on_the_digits_mlp(tmp_path):
    out = tmp_path / "prof"
    p = qcompile("profile", DIGITS, "--calib", CALIB, "--data", TEST_X, "-o", out)
    assert p.returncode == 0, p.stderr
    for word in ("layer", "SQNR with upstream", "SQNR alone", "fc1", "fc2", "fc3", "softmax", "Dense"):
        assert word in p.stdout, word
    doc = check_output_folder(out)
    assert [t["tensor"] for t in doc["tensors"]] == ["input", "relu1_out", "relu2_out", "fc3_out", "probabilities"]
    assert doc["samples"] == len(np.load(TEST_X))


def test_cli_profile_on_a_cnn(tmp_path, capsys):
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).normal(size=(200, 1, 28, 28)))
    out = tmp_path / "prof"
    p = run(capsys, "profile", model_path(CNN), "--data", data, "-o", out)
    assert p.returncode == 0, p.stderr
    doc = check_output_folder(out)
    kinds = {t["op"] for t in doc["tensors"]}
    assert {"Conv", "Pool", "Dense"} <= kinds
    assert all(t["in_float_model"] for t in doc["tensors"])
    # without calibration the types come from sound intervals: AP_WRAP, and nothing wraps
    assert all(t["overflowed"] == 0 for t in doc["tensors"] if t["type"]["overflow"] == "AP_WRAP")


def test_last_layer_sqnr_with_upstream_is_the_end_to_end_sqnr():
    x = np.load(TEST_X)
    d = compiler.compile_model(DIGITS, "zcu104", calib=np.load(CALIB))
    last = profile(d, x).tensors[-1]
    assert last.tensor == "probabilities"
    expected = sqnr_db(digits_float(x)["probabilities"], compiler.simulate(d, x))
    assert last.sqnr_with_upstream_db == pytest.approx(expected, rel=1e-9)


def test_sqnr_alone_follows_the_width():
    x, calib = np.load(TEST_X), np.load(CALIB)
    alone = {w: {t.layer: t.sqnr_alone_db for t in profile(compiler.compile_model(DIGITS, "zcu104", calib=calib,
                                                                                  width=w), x).tensors if t.layer}
             for w in (16, 6)}
    for layer in ("fc1", "fc2", "fc3"):
        assert alone[16][layer] > 40, (layer, alone[16][layer])
        assert alone[6][layer] < alone[16][layer] - 10, (layer, alone)


def test_saturated_counts_are_the_values_outside_the_type():
    """Calibrated on data ten times smaller, the input and fc1's output saturate on the real data."""
    x, calib = np.load(TEST_X).astype(np.float64), np.load(CALIB)
    d = compiler.compile_model(DIGITS, "zcu104", calib=calib * 0.1)
    by_name = {t.tensor: t for t in profile(d, x).tensors}
    for name, values in (("input", x), ("relu1_out", digits_float(x)["relu1_out"])):
        ty = d.graph.tensors[name].type
        assert ty.overflow == "AP_SAT"
        direct = int(np.sum(values > ty.max_value) + np.sum(values < ty.min_value))
        assert direct > 0
        t = by_name[name]
        assert (t.saturated, t.overflowed) == (direct, 0), name
        assert t.above_max + t.below_min == direct
    assert "saturated" in format_profile(profile(d, x))


def test_verify_per_layer_prints_the_profile_table(capsys):
    p = run(capsys, "verify", DIGITS, "--calib", CALIB, "--data", TEST_X, "--per-layer")
    assert p.returncode == 0, p.stderr
    verify_at, table_at = p.stdout.index("bit-accurate simulator vs float reference"), p.stdout.index("per-layer profile")
    assert verify_at < table_at
    assert "SQNR alone" in p.stdout and "fc2" in p.stdout[table_at:]


def test_cli_errors_are_one_line(tmp_path, capsys):
    out = tmp_path / "prof"
    assert_user_error(run(capsys, "profile", DIGITS, "-o", out), "--data")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((5, 7)))
    assert_user_error(run(capsys, "profile", DIGITS, "--data", bad, "-o", out), "does not match the model input")
    assert_user_error(run(capsys, "profile", DIGITS, "--data", tmp_path / "none.npy", "-o", out), "no such file")
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert_user_error(run(capsys, "profile", DIGITS, "--data", TEST_X, "-o", out), "already exists", "--force")
    assert run(capsys, "profile", DIGITS, "--data", TEST_X, "-o", out, "--force").returncode == 0
    assert (out / "profile.json").is_file() and (out / "notes.txt").read_text() == "mine"


def test_without_matplotlib_the_plots_ask_for_the_extra(tmp_path, monkeypatch):
    d = compiler.compile_model(DIGITS, "zcu104")
    p = profile(d, np.load(TEST_X)[:20])   # the numbers need no matplotlib
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(CompileError, match=r"pip install qcompile\[plots\]"):
        write_profile(p, tmp_path / "prof")
