"""The example scripts run (small sizes) and say what they found."""
import importlib.util

from .conftest import ROOT


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mixed_precision_search(capsys, tmp_path):
    """estimate_batch over random per-layer widths, accuracy of a few by simulation, the
    chosen configuration compiled with the same settings and written out."""
    search = _load("mixed_precision_search")
    code = search.main(["-n", "400", "--probe", "8", "--max-drop", "0.05", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "estimated 400 configurations" in out and code == 0, out
    assert (tmp_path / "out" / "report.json").is_file()
