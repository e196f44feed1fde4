"""The per-user cache, one folder (XDG_CACHE_HOME/qcompile, default ~/.cache/qcompile):
    jinja/  compiled templates (~0.15 s saved per run)
    pch/    the precompiled ap_types headers, per g++ version and flags (~80 MB; ~2 s per build)
    csim/   C-simulation binaries, keyed by their sources' content (the newest few kept)
Everything in it is rebuilt on demand; `qcompile cache clear` empties it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

CSIM_KEPT = 16   # C-simulation binaries kept (each a few MB); the least recently built go first


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qcompile"


def cache_dir(kind: str) -> Path:
    """cache_root()/kind (not created)."""
    return cache_root() / kind


def usage() -> dict[str, tuple[int, int]]:
    """{subfolder: (files, bytes)} of what the cache holds."""
    out = {}
    root = cache_root()
    if root.is_dir():
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            files = [f for f in sub.rglob("*") if f.is_file()]
            out[sub.name] = (len(files), sum(f.stat().st_size for f in files))
    return out


def clear() -> int:
    """Remove the whole cache; returns the bytes freed."""
    freed = sum(b for _, b in usage().values())
    shutil.rmtree(cache_root(), ignore_errors=True)
    return freed


def trim(kind: str, keep: int) -> None:
    """Keep the `keep` most recently modified entries of cache_dir(kind)."""
    folder = cache_dir(kind)
    if not folder.is_dir():
        return
    entries = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
