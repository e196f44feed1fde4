"""The board package (`--package`): what puts a compiled design on a board.

package/ in the output folder holds an AXI-stream top around the firmware (hls/), its word
testbench, and per board family:
- Zynq (pynq-z2, ultra96v2, zcu102, zcu104, kv260): hls/build_ip.tcl (Vitis HLS IP),
  vivado/block_design.tcl (the PS, an AXI DMA, bitstream and .hwh), driver.py (PYNQ);
- Alveo (u200, u250): alveo/ (data-mover kernels, link.cfg), build.sh (v++), host.py (XRT).
Both hosts quantize, pack and unpack with qc_host_io.py (this package's host_io.py, copied
with compiler/numerics), which the tests check against compiler.simulate through the word
testbench.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OutputError, TargetError
from .host_io import FORMAT, MAX_ELEMENT_BITS, word_geometry

HERE = Path(__file__).resolve().parent
NUMERICS = HERE.parent / "numerics"
PACKAGE_SOURCES = ("__init__.py", "fixed.py", "requant.py", "jit.py", "buffers.py")   # compiler/numerics, copied as qc_numerics/


@dataclass
class PortView:
    """A stream port as the package templates use it."""

    vec: str              # the firmware's beat type
    element_bits: int
    fold: int
    beats: int
    word_bits: int
    words_per_beat: int
    per_word: int

    @property
    def words_per_sample(self) -> int:
        return self.beats * self.words_per_beat


def check_packageable(design) -> None:
    """One line when --package cannot build for this design or target."""
    from ..cost.target import available_targets, load_target

    target, g = design.target, design.graph
    if target.package is None:
        boards = [n for n in available_targets() if load_target(n).package is not None]
        raise TargetError(f"--package: target {target.name!r} is a bare device with no board package "
                          f"(boards with one: {', '.join(boards)})")
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise OutputError(f"--package: the design has {len(g.inputs)} input(s) and {len(g.outputs)} output(s); "
                          "the board package streams exactly one input and one output")
    for name in (g.inputs[0], g.outputs[0]):
        width = g.tensors[name].type.width
        if width > MAX_ELEMENT_BITS:
            raise OutputError(f"--package: tensor {name!r} is {width} bits wide; the board package's host "
                              f"moves values of at most {MAX_ELEMENT_BITS} bits")


def io_document(design, top: str) -> dict:
    """design_io.json: everything the host needs to talk to the design (qc_host_io.HostIO)."""
    g, sim = design.graph, design.simulator()

    def port(name: str, layout, t, integer: bool = False, quantizer=None) -> dict:
        tensor = g.tensors[name]
        bits, wpb, per_word = word_geometry(t.width, tensor.beat)
        idx = layout.index()
        return {"name": name, "onnx_shape": list(layout.onnx_shape), "ir_shape": list(tensor.shape),
                "index": None if idx is None else idx.tolist(),
                "type": {"width": t.width, "int_bits": t.int_bits, "signed": t.signed, "rounding": t.rounding,
                         "overflow": t.overflow, "cpp": t.cpp()},
                "scale": np.asarray(tensor.scale, dtype=np.float64).tolist(),
                "fold": tensor.beat, "beats": tensor.beats, "word_bits": bits, "words_per_beat": wpb,
                "per_word": per_word, "quantizer": quantizer, "integer": integer}

    x, y = g.inputs[0], g.outputs[0]
    producer = g.producer(y)
    path = Path(design.model_path)
    return {"format": FORMAT, "top": f"{top}_axi", "firmware_top": top,
            "model": path.parent.name if path.stem == "model" else path.name,
            "target": design.target.name, "clock_mhz": design.target.clock_mhz,
            "input": port(x, g.input_layouts[0], sim.input_types[0], quantizer=_quantizer(g, x)),
            "output": port(y, g.output_layouts[0], sim.output_types[0],
                           integer=bool(producer is not None and producer.op.integer_output))}


def _quantizer(g, name: str) -> dict | None:
    q = g.input_quantizers.get(name)
    if q is None:
        return None
    if q.bipolar:
        return {"kind": "bipolar", "threshold": None if q.threshold is None else np.asarray(q.threshold).tolist(),
                "flip": None if q.flip is None else np.asarray(q.flip).tolist()}
    return {"kind": "quant", "scale": np.asarray(q.scale, dtype=np.float64).tolist(),
            "zero_point": np.asarray(q.zero_point, dtype=np.float64).tolist(),
            "qmin": int(q.qmin), "qmax": int(q.qmax), "rounding": q.rounding}


# the PS port the DMA reaches memory through, bits per PL clock cycle (block_design.tcl sets them)
HP_PORT_BITS = {"zynq-7000": 64, "zynq-ultrascale+": 128}


def _rate(target, ii: int, inp: PortView, out: PortView) -> dict:
    """What limits the package's samples/s: the firmware's II, the word reader and writer (one
    word per cycle), and on Zynq the PS memory port each DMA direction goes through."""
    hz = target.clock_mhz * 1e6
    limits = {"the firmware's II": hz / ii, "the input words": hz / inp.words_per_sample,
              "the output words": hz / out.words_per_sample}
    port = HP_PORT_BITS.get(target.package.platform)
    if port:
        port_bytes = port / 8 * hz
        limits["the PS memory port (input)"] = port_bytes / (inp.words_per_sample * inp.word_bits / 8)
        limits["the PS memory port (output)"] = port_bytes / (out.words_per_sample * out.word_bits / 8)
    bound = min(limits, key=limits.get)
    return {"samples_per_s": limits[bound], "bound": bound, "firmware_per_s": hz / ii, "port_bits": port}


def _view(doc_port: dict, vec: str) -> PortView:
    return PortView(vec, doc_port["type"]["width"], doc_port["fold"], doc_port["beats"], doc_port["word_bits"],
                    doc_port["words_per_beat"], doc_port["per_word"])


def words_text(io_doc: dict, rows) -> str:
    """The word testbench's input file for testbench rows (the input type's values, one sample
    per row, IR order): the batch's header word and every sample's words, in hexadecimal."""
    from .host_io import HostIO

    io = HostIO(io_doc)
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, io.input.elements)
    if len(rows) == 0:
        return ""
    return hex_words(io.frame(io.input.type.quantize(rows)), io.input.word_bytes)   # rows on the grid: exact


def hex_words(data: np.ndarray, word_bytes: int) -> str:
    """Little-endian word bytes -> one hexadecimal word per line, most significant digit first."""
    words = np.asarray(data, dtype=np.uint8).reshape(-1, word_bytes)[:, ::-1]
    return "".join(w.tobytes().hex() + "\n" for w in words)


def words_from_hex(lines: list[str], word_bytes: int) -> np.ndarray:
    """The inverse of hex_words: little-endian bytes of the words."""
    return np.array([list(bytes.fromhex(s)[::-1]) for s in lines], dtype=np.uint8).reshape(-1, word_bytes)


def render_package(design, env, top: str, vec_in: str, vec_out: str, report: dict, tb_rows=None) -> dict[str, str]:
    """The package's files {path under the output folder: text}."""
    check_packageable(design)
    target, pkg = design.target, design.target.package
    doc = io_document(design, top)
    axi_top = f"{top}_axi"
    inp, out = _view(doc["input"], vec_in), _view(doc["output"], vec_out)
    latency, ii = report.get("latency_cycles", 1), max(1, report.get("ii_cycles", 1))
    common = dict(top=top, axi_top=axi_top, inp=inp, out=out, target=target, package=pkg,
                  zynq7=pkg.platform == "zynq-7000", alveo=pkg.platform == "alveo",
                  flag_depth=max(2, -(-latency // ii) + 2), io=doc, ii=ii,
                  rate=_rate(target, ii, inp, out))
    files = {
        "package/design_io.json": json.dumps(doc, indent=1),
        "package/qc_host_io.py": (HERE / "host_io.py").read_text(),
        "package/hls/qc_axi_sdata.h": env.get_template("package/qc_axi_sdata.h").render(),
        f"package/hls/{axi_top}.h": env.get_template("package/axi_top.h.j2").render(**common),
        f"package/hls/{axi_top}.cpp": env.get_template("package/axi_top.cpp.j2").render(**common),
        f"package/hls/{axi_top}_tb.cpp": env.get_template("package/axi_tb.cpp.j2").render(**common),
        "package/hls/tb_words_in.txt": words_text(doc, tb_rows) if tb_rows is not None else "",
        "package/README.md": env.get_template("package/README.md.j2").render(**common),
    }
    for name in PACKAGE_SOURCES:
        files[f"package/qc_numerics/{name}"] = (NUMERICS / name).read_text()
    if pkg.platform == "alveo":
        files.update({
            "package/alveo/qc_datamovers.h": env.get_template("package/qc_datamovers.h.j2").render(**common),
            "package/alveo/qc_datamovers.cpp": env.get_template("package/qc_datamovers.cpp.j2").render(**common),
            "package/alveo/link.cfg": env.get_template("package/link.cfg.j2").render(**common),
            "package/build.sh": env.get_template("package/build_alveo.sh.j2").render(**common),
            "package/host.py": (HERE / "xrt_host.py").read_text(),
        })
    else:
        files.update({
            "package/hls/build_ip.tcl": env.get_template("package/build_ip.tcl.j2").render(**common),
            "package/vivado/block_design.tcl": env.get_template("package/block_design.tcl.j2").render(**common),
            "package/build.sh": env.get_template("package/build_zynq.sh.j2").render(**common),
            "package/driver.py": (HERE / "pynq_driver.py").read_text(),
        })
    return files

