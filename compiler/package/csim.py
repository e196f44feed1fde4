"""C simulation of the board package: its word testbench built with g++ (cached like the
design's own testbench) and run on the words a host would send."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..backend.csim import cached_binary
from ..errors import OutputError, ToolchainError
from . import hex_words, words_from_hex


def build(out_dir: Path) -> Path:
    """The word testbench binary for an output folder written with --package."""
    out_dir = Path(out_dir)
    io_path = out_dir / "package" / "design_io.json"
    if not io_path.is_file():
        raise OutputError(f"{out_dir}: no package/design_io.json; compile with --package")
    doc = json.loads(io_path.read_text())
    top, axi = doc["firmware_top"], doc["top"]
    hls, alveo = out_dir / "package" / "hls", out_dir / "package" / "alveo"
    sources = [out_dir / "firmware" / f"{top}.cpp", hls / f"{axi}.cpp", hls / f"{axi}_tb.cpp"]
    if alveo.is_dir():
        sources.append(alveo / "qc_datamovers.cpp")
    includes = [out_dir / "firmware", hls] + ([alveo] if alveo.is_dir() else [])
    return cached_binary(f"{axi}_words", sources, includes, "building the package's word testbench (g++)")


def run(out_dir: Path, data: np.ndarray, in_word_bytes: int, out_word_bytes: int) -> tuple[np.ndarray, list[str]]:
    """Send the bytes of one or more input transfers (header words included) through the
    word testbench; returns the output words' bytes (words, out_word_bytes) and each word's
    TLAST ("0"/"1", or "x" where the words land in memory)."""
    exe = build(out_dir)
    with tempfile.TemporaryDirectory(prefix="qcompile-words-") as work:
        inp, outp = Path(work) / "in.txt", Path(work) / "out.txt"
        inp.write_text(hex_words(data, in_word_bytes))
        proc = subprocess.run([str(exe), str(inp), str(outp)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolchainError(f"the word testbench failed (exit {proc.returncode}): {proc.stderr.strip()[:500]}")
        lines = [line.split() for line in outp.read_text().splitlines() if line.strip()]
    return words_from_hex([w for w, _ in lines], out_word_bytes), [last for _, last in lines]


def compare(design, out_dir: Path, xs: list[np.ndarray]) -> tuple[int, int]:
    """The package's word testbench against the simulator on inputs xs (IR layout, one array
    per graph input): (samples, samples whose output codes differ in any bit). The words are
    packed from the input codes the simulator uses, with one header word for the batch."""
    from .host_io import HostIO

    io = HostIO(json.loads((Path(out_dir) / "package" / "design_io.json").read_text()))
    sim = design.simulator()
    codes_in = sim.quantize_inputs(xs)
    n = len(xs[0])
    data = io.frame(np.asarray(codes_in[0]).astype(np.int64).reshape(n, -1))
    words, _ = run(out_dir, data, io.input.word_bytes, io.output.word_bytes)
    got = io.output.unpack(words.ravel())
    want = np.asarray(sim.run_codes(codes_in)[0]).astype(np.int64).reshape(n, -1)
    return n, int((got != want).any(axis=1).sum())
