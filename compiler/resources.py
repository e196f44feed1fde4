"""Locate the data folders (templates/, hw_models/) in a source checkout or an installed wheel."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`templates` or `hw_models`: packaged under compiler/_data in a wheel, at the repository
    root in a checkout (editable install)."""
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"data folder {name!r} not found next to the compiler package")
