"""Where the C++ toolchain pieces live: g++ and the `ap_types` headers hls4ml ships."""
from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

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


def compile_cpp(sources: list[Path], exe: Path, include_dirs: list[Path], flags: tuple[str, ...] = ("-O1",)) -> None:
    """Build a C-simulation binary; a compiler error is reported with its first lines."""
    cmd = [compiler(), "-std=c++14", *flags, "-w", *(f"-I{d}" for d in include_dirs),
           *(str(s) for s in sources), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        head = "\n".join(proc.stderr.splitlines()[:30])
        raise ToolchainError(f"g++ failed building {exe.name}:\n{head}")
