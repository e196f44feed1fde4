"""examples/optuna_search.py --quick: an NSGA-II search over per-layer widths and folding whose
chosen point, compiled by `qcompile --config`, has exactly the estimate the search used."""
import json
import subprocess
import sys

import pytest

from .conftest import ROOT

pytest.importorskip("optuna")
pytest.importorskip("matplotlib")


def test_optuna_search_quick(tmp_path):
    script = ROOT / "examples" / "optuna_search.py"
    p = subprocess.run([sys.executable, str(script), "--quick", "--out-dir", str(tmp_path)], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "Pareto front (" in out and "<- chosen" in out, out
    assert "check: the CLI's latency, II and resource totals equal the search's estimate exactly" in out, out
    assert "MISMATCH" not in out
    assert (tmp_path / "pareto.png").read_bytes().startswith(b"\x89PNG")
    config = json.loads((tmp_path / "chosen_config.json").read_text())
    assert set(config) == {"layers"} and set(config["layers"]) == {"fc1", "fc2", "fc3"}
    assert all(set(knobs) == {"reuse_factor", "weight_bits", "act_bits"} for knobs in config["layers"].values())
    assert (tmp_path / "design" / "report.json").is_file()
