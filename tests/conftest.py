"""Shared fixtures: the dev models in ../shared (read in place, never copied)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    for cand in (os.environ.get("QCOMPILE_SHARED"), ROOT.parent / "shared", "/work/shared"):
        if cand and (Path(cand) / "models" / "dev" / "MANIFEST.json").is_file():
            return Path(cand)
    return None


SHARED = shared_dir()


def model_path(name: str) -> Path:
    if SHARED is None:
        pytest.skip("the shared dev models (../shared/models/dev) are not available; set QCOMPILE_SHARED")
    return SHARED / "models" / "dev" / name / "model.onnx"


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
