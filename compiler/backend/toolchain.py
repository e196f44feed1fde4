"""Where the C++ toolchain pieces live: g++ and the `ap_types` headers hls4ml ships."""
from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from ..cache import cache_dir
from ..errors import ToolchainError


@functools.lru_cache(maxsize=1)
def ap_types_include() -> Path:
    """The folder holding ap_fixed.h, from the installed hls4ml package (found without
    importing hls4ml, which is slow to import and pulls optional frameworks)."""
    import importlib.util

    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError("the hls4ml package is not installed; its ap_types headers are needed "
                             "for C simulation (pip install hls4ml)")
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "templates" / "vivado" / "ap_types"
        if (candidate / "ap_fixed.h").is_file():
            return candidate
    raise ToolchainError("hls4ml is installed but its templates/vivado/ap_types/ap_fixed.h was not found")


def compiler() -> str:
    cxx = shutil.which("g++")
    if cxx is None:
        raise ToolchainError("g++ was not found on PATH; it is needed for C simulation")
    return cxx


PCH_HEADERS = ("ap_fixed.h", "ap_int.h", "hls_stream.h", "<cstdio>", "<fstream>", "<sstream>", "<string>")


def precompiled_header(flags: tuple[str, ...]) -> Path | None:
    """A folder holding qc_pch.h and its precompiled .gch for these flags (parsing the
    ap_types headers is ~2 s of every translation unit). Cached per user, keyed by the
    compiler, the flags and the headers' location; written atomically, so parallel builds
    may race. None when no cache folder is writable: builds then just take longer (g++
    also falls back to the plain header by itself if a .gch does not match)."""
    import hashlib
    import os
    import tempfile

    inc = ap_types_include()
    version = subprocess.run([compiler(), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    key = hashlib.sha256(f"{version}|{flags}|{inc}".encode()).hexdigest()[:16]
    root = cache_dir("pch") / key
    gch = root / "qc_pch.h.gch"
    if gch.is_file():
        return root
    try:
        root.mkdir(parents=True, exist_ok=True)
        header = root / "qc_pch.h"
        text = "".join(f"#include {h}\n" if h.startswith("<") else f'#include "{h}"\n' for h in PCH_HEADERS)
        if not header.is_file() or header.read_text() != text:
            header.write_text(text)
        fd, tmp = tempfile.mkstemp(suffix=".gch", dir=root)
        os.close(fd)
        proc = subprocess.run([compiler(), "-std=c++14", *flags, "-w", f"-I{inc}", "-x", "c++-header", str(header),
                               "-o", tmp], capture_output=True, text=True)
        if proc.returncode != 0:
            os.unlink(tmp)
            return None
        os.replace(tmp, gch)
    except OSError:
        return None
    return root


def compile_cpp(sources: list[Path], exe: Path, include_dirs: list[Path], flags: tuple[str, ...] = ("-O1",),
                pch: bool = False) -> None:
    """Build a C-simulation binary; a compiler error is reported with its first lines."""
    pre = []
    if pch and (root := precompiled_header(flags)) is not None:
        pre = [f"-I{root}", "-include", "qc_pch.h"]
    cmd = [compiler(), "-std=c++14", *flags, "-w", *pre, *(f"-I{d}" for d in include_dirs),
           *(str(s) for s in sources), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        head = "\n".join(proc.stderr.splitlines()[:30])
        raise ToolchainError(f"g++ failed building {exe.name}:\n{head}")
