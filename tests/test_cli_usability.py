"""What a new user meets first: --version, forgiving target names, refused conflicts, --json,
full layer names, `qcompile ops`, the cache, and csim leaving the output folder as it was."""
import json

import compiler
import pytest
from compiler.cost.target import load_target
from compiler.errors import CompileError, TargetError

from .conftest import model_path
from .test_cli import assert_user_error, qcompile

DIGITS = "examples/digits_mlp.onnx"


def test_version_and_help_show_the_compile_options():
    v = qcompile("--version")
    assert v.returncode == 0 and v.stdout.strip() == f"qcompile {compiler.__version__}"
    h = qcompile("--help")
    assert h.returncode == 0
    for option in ("--target", "--calib", "--fit", "--fps", "--reuse-factor", "--csim", "--json", "QOperator"):
        assert option in h.stdout, option


@pytest.mark.parametrize("typed, board", [("ZCU104", "zcu104"), ("Pynq_Z2", "pynq-z2"), ("u250", "alveo-u250"),
                                          ("KV260", "kv260")])
def test_targets_are_found_in_any_spelling(typed, board):
    assert load_target(typed).name == load_target(board).name


def test_unknown_target_suggests_the_closest():
    with pytest.raises(TargetError, match="did you mean zcu104"):
        load_target("zcu14")
    p = qcompile(DIGITS, "--target", "pynqz", "-o", "unused")
    assert_user_error(p, "did you mean pynq-z2")


@pytest.mark.parametrize("args, fragment", [
    (("--fps", "1e6", "--fit"), "fit (the fastest design within the caps) and fps"),
    (("--latency-us", "1", "--fps", "1e6", "--fit"), "and fps and latency_us"),
    (("--reuse-factor", "8", "--fit"), "reuse_factor conflict"),
    (("--caps", "dsp=0.5"), "caps bound a folding request"),
])
def test_conflicting_requests_are_refused(tmp_path, args, fragment):
    out = tmp_path / "out"
    assert_user_error(qcompile(DIGITS, *args, "-o", out), fragment)
    assert not out.exists()


def test_conflicts_are_refused_in_the_api_too():
    with pytest.raises(CompileError, match="conflict"):
        compiler.compile_model(DIGITS, "zcu104", fps=1e6, fit=True)
    with pytest.raises(CompileError, match="caps bound"):
        compiler.compile_model(DIGITS, "zcu104", caps={"dsp": 0.5})


def test_caps_bound_an_fps_request():
    # caps now apply to --fps as well: a cheaper-than-allowed design is still chosen, within them
    d = compiler.compile_model(DIGITS, "pynq-z2", fps=1e5, caps={"dsp": 0.2})
    assert compiler.estimate(d).totals["dsp"] <= 0.2 * d.target.resources["dsp"]
    with pytest.raises(CompileError, match="dsp 5%.*the wall"):
        compiler.compile_model(DIGITS, "pynq-z2", fps=1e5, caps={"dsp": 0.05})


def test_json_puts_only_the_report_on_stdout(tmp_path):
    p = qcompile(DIGITS, "--json", "-o", tmp_path / "out")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc == json.loads((tmp_path / "out" / "report.json").read_text())
    assert "wrote" in p.stderr and "% of device" not in p.stdout


def test_terminal_table_shows_full_layer_names(tmp_path):
    p = qcompile(model_path("D01_jet_mlp_float"), "-o", tmp_path / "out")
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    names = [L["name"] for L in doc["layers"]]
    assert len(set(names)) == len(names) > 3
    rows = [line.split()[0] for line in p.stdout.splitlines() if line.split() and line.split()[0] in names]
    assert rows == names   # every layer's row starts with its whole name, none cut
    assert f"bottleneck {doc['bottleneck']};" in p.stdout and doc["bottleneck"] in rows


def test_network_cost_prints_as_a_table():
    d = compiler.compile_model(DIGITS, "zcu104")
    text = str(compiler.estimate(d))
    assert "lat(cyc)" in text and "% of device" in text
    assert all(n.name in text for n in d.graph.nodes())


def test_ops_lists_every_converter_with_its_limits():
    from compiler.frontend import onnx as _  # noqa: F401  (registers the converters)
    from compiler.frontend.values import CONVERTERS

    p = qcompile("ops")
    assert p.returncode == 0, p.stderr
    listed = {line.split()[0] for line in p.stdout.splitlines()[:-1]}
    assert {k.rpartition(":")[2] for k in CONVERTERS} == listed
    assert any("[" in line and "qonnx" in line for line in p.stdout.splitlines())   # custom domains are named
    softmax = next(line for line in p.stdout.splitlines() if line.startswith("Softmax "))
    assert "4096" in softmax   # the limit the converter enforces


def test_cache_shows_and_clears(tmp_path, monkeypatch):
    env_cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(env_cache))
    (env_cache / "qcompile" / "csim" / "x").mkdir(parents=True)
    (env_cache / "qcompile" / "csim" / "x" / "bin").write_bytes(b"0" * 5000)
    import subprocess
    import sys
    show = subprocess.run([sys.executable, "-m", "compiler.cli", "cache"], capture_output=True, text=True)
    assert show.returncode == 0 and "csim/" in show.stdout and str(env_cache) in show.stdout
    clear = subprocess.run([sys.executable, "-m", "compiler.cli", "cache", "clear"], capture_output=True, text=True)
    assert clear.returncode == 0 and not (env_cache / "qcompile").exists()


def test_csim_leaves_the_output_folder_as_written(tmp_path):
    out = tmp_path / "out"
    assert qcompile(DIGITS, "-o", out).returncode == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    p = qcompile("csim", out, "-n", "20")
    assert p.returncode == 0 and "0 mismatching" in p.stdout, p.stdout + p.stderr
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    again = qcompile("csim", out, "-n", "20")   # the cached binary: no rebuild
    assert again.returncode == 0 and "0 mismatching" in again.stdout


def test_write_project_tells_an_api_caller_about_force(tmp_path):
    d = compiler.compile_model(DIGITS, "zcu104")
    compiler.write_project(d, tmp_path / "out")
    with pytest.raises(CompileError, match="force=True"):
        compiler.write_project(d, tmp_path / "out")
