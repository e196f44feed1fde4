"""The ground-truth benchmark: every calibration file is read, estimated with the compiler's own
cost formulas and compared; the table is produced and finite (no accuracy threshold here: the
README has the numbers), --json has the documented schema, and rows the model cannot describe
are listed with a reason, never dropped."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.validation import groundtruth as gt

from .conftest import ROOT, SHARED

SCRIPT = ROOT / "benchmarks" / "groundtruth.py"
METRIC_KEYS = {"median_ape", "p90_ape", "within_2x", "n"}


def calibration_files() -> list[Path]:
    folder = SHARED / "groundtruth" if SHARED is not None else None
    files = sorted(folder.glob("*.jsonl")) if folder is not None and folder.is_dir() else []
    if not files:
        pytest.skip("the ground-truth files (../shared/groundtruth/*.jsonl) are not available; set QCOMPILE_SHARED")
    return files


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_json_table_is_complete_and_finite():
    files = calibration_files()
    p = run(*files, "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)               # exactly one JSON object on stdout
    rows = sum(1 for f in files for line in f.read_text().splitlines() if line.strip())
    assert doc["rows"] == rows
    for metric in gt.METRICS:
        t = doc[metric]
        assert set(t) == METRIC_KEYS
        assert t["n"] > 0, metric
        assert all(math.isfinite(t[k]) for k in ("median_ape", "p90_ape", "within_2x")), (metric, t)
        assert 0 <= t["within_2x"] <= 1 and 0 <= t["median_ape"] <= t["p90_ape"]
    # every row is either compared or listed as unmodeled with its reason
    assert doc["unmodeled_count"] == len(doc["unmodeled"])
    assert all(u["id"] and u["reason"] for u in doc["unmodeled"])
    assert doc["comparisons"] >= rows - len(doc["unmodeled"])
    assert set(doc["families"]) <= set(gt.FAMILIES) | {f"mismatched-{f}" for f in gt.FAMILIES}


def test_text_table_lists_unmodeled_rows(tmp_path):
    files = calibration_files()
    extra = tmp_path / "extra.jsonl"
    good = json.loads(next(line for f in files for line in f.read_text().splitlines() if '"Dense"' in line))
    odd = dict(good, id="row-with-an-unknown-op", layers=[dict(good["layers"][0], op="Bidirectional")])
    nopart = dict(good, id="row-on-an-unknown-part", part="xc9z999-foo-1")
    extra.write_text("\n".join([json.dumps(odd), json.dumps(nopart), "{not json", json.dumps(good)]) + "\n")
    p = run(*files, extra)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for metric in gt.METRICS:
        assert f"  {metric} " in out
    assert "Not modeled" in out
    assert "row-with-an-unknown-op" in out and "'Bidirectional'" in out
    assert "row-on-an-unknown-part" in out and "no board" in out
    assert "extra.jsonl:3" in out and "not a JSON object" in out
    assert "Per family" in out


def test_parts_resolve_to_boards():
    assert gt.board_for_part("xcvu13p-flga2577-2-e") == "vu13p"
    assert gt.board_for_part("xcu250-figd2104-2L-e") == "alveo-u250"
    assert gt.board_for_part("xc7z020clg400-1") == "pynq-z2"
    assert gt.board_for_part("xczu9eg-ffvb1156-2-e") == "zcu102"
    assert gt.board_for_part("xczu7ev-ffvc1156-2-e") == "zcu104"
    assert gt.board_for_part("xc9z999-foo-1") is None


def test_types_and_tool_families():
    assert gt.parse_type(None).cpp() == "ap_fixed<16,6>"
    assert gt.parse_type("ap_fixed<8,1>").width == 8
    assert gt.parse_type("ap_uint<1>").width == 1
    assert gt.parse_type("ap_fixed<69,29>").width == 69          # wider than FixedType: width only
    assert gt.tool_family("Vivado HLS 2020.1") == "vivado_hls"
    assert gt.tool_family("Vitis HLS 2023.2 (C synthesis) + Vivado 2023.2 synth_design (vsynth)") == "vitis_hls"
    assert gt.resource_stage({"resource_stage": "Vivado logic synthesis (VivadoSynthReport)"}) == "synth"
    assert gt.resource_stage({"stage": "HLS C-synthesis estimate (csynth report)"}) == "hls"


def test_the_estimate_is_the_compilers():
    """The comparison uses the compiler's own estimator on the built design, unchanged."""
    from compiler.cost.estimator import Estimator

    files = calibration_files()
    rows = gt.load_rows(files)
    prepared = [p for p in gt.prepare(rows) if p.design is not None and p.design.io_type == "io_parallel"][:3]
    assert prepared
    for p in prepared:
        net = Estimator(p.design.graph, p.design.target).estimate()
        (c, *_) = gt.compare_prepared(p)
        fifo = gt.fifo_totals(p.design)
        if c.stage == "hls":
            assert c.predicted["dsp"] == pytest.approx(net.totals["dsp"])
            assert c.predicted["lut"] == pytest.approx(net.totals["lut"] + fifo["lut"])
        assert c.predicted["latency"] == net.latency
