"""C simulation: build the generated testbench with g++ and the ap_types headers, run it,
and compare its outputs with the bit-accurate simulator."""
from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import progress
from ..cache import CSIM_KEPT, cache_dir, trim
from ..errors import OutputError, ToolchainError
from ..progress import ticking
from .emit import _literal
from .toolchain import ap_types_include, compile_cpp


@dataclass
class CsimResult:
    samples: int
    mismatches: int          # samples whose outputs differ from the simulator in any element
    mismatched_elements: int
    max_abs_diff: float
    seconds_build: float
    seconds_run: float


CSIM_FLAGS = ("-O1", "-fno-exceptions")
# -fno-exceptions: large constant arrays of ap_fixed otherwise compile in quadratic time (g++
# emits exception cleanups for every partially built array element). -O1: unoptimized
# ap_fixed code runs CNNs ~50x slower.


def build(out_dir: Path) -> Path:
    """The testbench binary, built in the cache (compiler/cache.py) under the hash of its
    sources, so the output folder stays as qcompile wrote it and an unchanged design is
    not rebuilt."""
    out_dir = Path(out_dir)
    tbs = sorted((out_dir / "tb").glob("*_tb.cpp"))
    if not tbs:
        raise OutputError(f"{out_dir}: no testbench in tb/; is this a qcompile output folder?")
    top = tbs[0].name[:-len("_tb.cpp")]
    return cached_binary(f"{top}_csim", [out_dir / "firmware" / f"{top}.cpp", tbs[0]], [out_dir / "firmware"],
                         "building the C simulation (g++)")


def cached_binary(name: str, sources: list[Path], includes: list[Path], what: str) -> Path:
    """g++ of sources (with the headers in includes and ap_types) into the csim cache, keyed
    by the content of every source and header: built once, reused until one changes."""
    import hashlib

    digest = hashlib.sha256(repr(CSIM_FLAGS).encode())
    for p in list(sources) + sorted(f for d in includes for f in Path(d).glob("*.h")):
        digest.update(p.name.encode() + b"\0" + p.read_bytes())
    folder = cache_dir("csim") / digest.hexdigest()[:24]
    exe = folder / name
    if exe.is_file():
        os.utime(folder)   # recently used: kept by trim
        return exe
    trim("csim", CSIM_KEPT - 1)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{os.getpid()}"
    with ticking(what):
        compile_cpp(sources, tmp, list(includes) + [ap_types_include()], flags=CSIM_FLAGS, pch=True)
    os.replace(tmp, exe)   # atomic: a parallel build of the same sources finds a whole binary
    return exe


def run(out_dir: Path, rows: np.ndarray, n_outputs_values: int) -> np.ndarray:
    """Run the testbench on rows of flattened inputs (in a temporary folder, in chunks so a
    progress bar can follow); returns the flattened outputs."""
    exe = build(out_dir)
    chunks = [rows[part] for part in progress.slices(len(rows))]
    parts = []
    with tempfile.TemporaryDirectory(prefix="qcompile-csim-") as work, \
            progress.bar(total=len(rows), desc="C simulation", unit="sample") as shown:
        inp, outp = Path(work) / "input.txt", Path(work) / "output.txt"
        for chunk in chunks:
            inp.write_text("\n".join(" ".join(_literal(v) for v in row) for row in chunk) + "\n")
            proc = subprocess.run([str(exe), str(inp), str(outp)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise ToolchainError(f"the C simulation failed (exit {proc.returncode}): {proc.stderr.strip()[:500]}")
            parts += [[float(v) for v in line.split()] for line in outp.read_text().splitlines() if line.strip()]
            shown.update(len(chunk))
    values = np.array(parts)
    if values.shape != (len(rows), n_outputs_values):
        raise ToolchainError(f"the C simulation wrote {values.shape} values, expected {(len(rows), n_outputs_values)}")
    return values


def _as_inputs(design, x) -> list[np.ndarray]:
    """Inputs in the IR layout: a list with one array per graph input (an array for one)."""
    return list(x) if isinstance(x, (list, tuple)) else [x]


def testbench_rows(design, x, codes=None) -> np.ndarray:
    """Testbench input lines for real inputs x (IR layout; a list for several inputs): the
    values the input types hold exactly, every input of a sample on its line (converting real
    data is the host's job: the simulator's quantize_inputs)."""
    sim = design.simulator()
    xs = _as_inputs(design, x)
    codes = sim.quantize_inputs(xs) if codes is None else codes
    return np.concatenate([t.to_float(c).reshape(len(xs[0]), -1) for t, c in zip(sim.input_types, codes)], axis=1)


def compare(design, out_dir: Path, x) -> CsimResult:
    """Run both the C++ testbench and the simulator on inputs x (IR layout; a list for a
    model with several inputs) and count every sample whose outputs differ in any bit."""
    import time

    sim = design.simulator()
    xs = _as_inputs(design, x)
    n = len(xs[0])
    t0 = time.perf_counter()
    build(out_dir)
    t1 = time.perf_counter()
    in_codes = sim.quantize_inputs(xs)
    rows = testbench_rows(design, xs, in_codes)
    codes = sim.run_codes(in_codes)
    expected = np.concatenate([t.to_float(c).reshape(n, -1) for t, c in zip(sim.output_types, codes)], axis=1)
    got = run(out_dir, rows, expected.shape[1])
    t2 = time.perf_counter()
    diff = got != expected
    return CsimResult(samples=n, mismatches=int(diff.any(axis=1).sum()), mismatched_elements=int(diff.sum()),
                      max_abs_diff=float(np.abs(got - expected).max(initial=0.0)), seconds_build=t1 - t0,
                      seconds_run=t2 - t1)
