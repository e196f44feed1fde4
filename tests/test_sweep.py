"""qcompile sweep: models x targets x configurations on Dask (a LocalCluster, or a scheduler
and workers started here on localhost), one compile per model and target, the CSV's numbers
equal to compiler.estimate's, Pareto plots, one-line errors."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

import compiler  # noqa: E402
from compiler.sweep import SweepRequest, pareto_front, run_sweep  # noqa: E402

from .conftest import model_path  # noqa: E402
from .test_cli import assert_user_error, qcompile  # noqa: E402

D01, D05 = "D01_jet_mlp_float", "D05_jet_mlp_qonnx_w6a6"


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_sweep_two_models_two_targets_on_a_local_cluster(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 16))
    cfg = tmp_path / "configs.json"
    cfg.write_text(json.dumps([{"name": "as compiled", "layers": {}}, {"name": "again", "layers": {}}]))
    np.save(tmp_path / "x.npy", x)
    p = qcompile("sweep", model_path(D01), model_path(D05), "--targets", "pynq-z2,ZCU104", "--configs", cfg,
                 "--data", tmp_path / "x.npy", "-o", tmp_path / "out")
    assert p.returncode == 0, p.stderr
    assert "8 points (2 models x 2 targets x 2 configurations): 4 compiles" in p.stdout
    rows = _rows(tmp_path / "out" / "sweep.csv")
    assert len(rows) == 8 and {(r["model"], r["target"]) for r in rows} == {
        (m, t) for m in (D01, D05) for t in ("pynq-z2", "zcu104")}
    # the numbers are the compiled designs' estimates
    design = compiler.compile_model(model_path(D05), "zcu104")
    cost = compiler.estimate(design)
    row = next(r for r in rows if r["model"] == D05 and r["target"] == "zcu104")
    assert float(row["latency_us"]) == pytest.approx(cost.latency_us) and int(row["ii_cycles"]) == cost.ii
    assert float(row["lut"]) == pytest.approx(cost.totals["lut"], abs=0.06)
    assert all(float(r["argmax_agreement"]) == 1.0 for r in rows)   # no numeric knobs: the design itself
    for m in (D01, D05):
        assert (tmp_path / "out" / f"pareto_{m}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_thousand_points_compile_once_per_model_and_target(tmp_path, monkeypatch):
    calls = []
    compile_model = compiler.compile_model

    def counting(*a, **k):
        calls.append(a[:2])
        return compile_model(*a, **k)
    monkeypatch.setattr(compiler, "compile_model", counting)   # in-process workers see it
    layers = ["fc1", "fc2", "fc3"]
    rng = np.random.default_rng(1)
    configs = [(f"p{i}", {name: {"reuse_factor": int(rng.choice([1, 2, 4, 8])),
                                 "weight_bits": int(rng.integers(4, 12))} for name in layers}) for i in range(1000)]
    req = SweepRequest(models=["examples/digits_mlp.onnx"], targets=["pynq-z2"], configs=configs)
    rows = run_sweep(req, tmp_path, workers=2, processes=False)
    assert len(rows) == 1000 and len(calls) == 1
    want = compiler.estimate_batch(compile_model("examples/digits_mlp.onnx", "pynq-z2"), [c for _, c in configs])
    assert np.allclose([r["latency_us"] for r in rows], want.latency_us)
    assert [r["fits"] for r in rows] == list(want.fits)


def test_sweep_on_a_scheduler_and_workers_started_here(tmp_path):
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the dask command line is not installed")
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                              "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env)
    worker = None
    try:
        for _ in range(300):
            if info.is_file() and info.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen([dask, "worker", "--scheduler-file", str(info), "--nworkers", "1",
                                   "--nthreads", "1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env)
        p = qcompile("sweep", model_path(D01), model_path(D05), "--targets", "pynq-z2,zcu104",
                     "--scheduler", address, "-o", tmp_path / "out")
        assert p.returncode == 0, p.stderr
        assert len(_rows(tmp_path / "out" / "sweep.csv")) == 4
    finally:
        for proc in (worker, sched):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_sweep_errors_are_one_line(tmp_path):
    assert_user_error(qcompile("sweep", model_path(D01), "--targets", "zcu14", "-o", tmp_path / "o"),
                      "did you mean zcu104")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x", "layers": {"fc1": 4}}]))
    assert_user_error(qcompile("sweep", model_path(D01), "--targets", "zcu104", "--configs", bad, "-o", tmp_path / "o"),
                      "configs", "point 'x'")
    assert_user_error(qcompile("sweep", model_path(D01), "--targets", "zcu104", "--scheduler", "tcp://127.0.0.1:9",
                               "-o", tmp_path / "o"), "--scheduler", "cannot connect")
    assert not (tmp_path / "o").exists()


def test_pareto_front():
    cost = np.array([3.0, 1.0, 2.0, 2.0, 4.0])
    value = np.array([5.0, 1.0, 3.0, 2.0, 5.0])
    assert list(pareto_front(cost, value)) == [1, 2, 0]
