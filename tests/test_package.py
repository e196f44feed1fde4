"""The board package (--package): the host's word packing is the testbench's, and through the
word-level C simulation of the AXI-stream top it gives compiler.simulate bit for bit; the
PYNQ driver batches over DMA transfers; the Vivado/Vitis scripts name the right IP, widths
and part; boards without a package and designs it cannot stream are refused in one line."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import compiler
from compiler.backend import csim as design_csim
from compiler.errors import OutputError, TargetError
from compiler.numerics import FixedType
from compiler.package import csim as package_csim
from compiler.package import hex_words, words_from_hex
from compiler.package.host_io import StreamPort, word_geometry

from .conftest import model_path
from .test_cli import assert_user_error, qcompile


# ---- the word format, against its definition --------------------------------------------------
def _port(width: int, fold: int, beats: int, signed: bool = True) -> StreamPort:
    bits, wpb, per_word = word_geometry(width, fold)
    return StreamPort("t", (fold * beats,), (fold * beats,), None, FixedType(width, width, signed), np.float64(1.0),
                      fold, beats, bits, wpb, per_word)


def _reference_pack(port: StreamPort, codes: np.ndarray) -> np.ndarray:
    """The README's definition with Python integers: value c of a beat in word c // per_word,
    at bits [(c % per_word) * E, ...), words little-endian."""
    E, W = port.type.width, port.word_bits
    out = []
    for sample in codes:
        words = [0] * port.words_per_sample
        for e, v in enumerate(sample):
            beat, c = divmod(e, port.fold)
            words[beat * port.words_per_beat + c // port.per_word] |= (int(v) & ((1 << E) - 1)) << ((c % port.per_word) * E)
        out.append(b"".join(w.to_bytes(W // 8, "little") for w in words))
    return np.frombuffer(b"".join(out), dtype=np.uint8).reshape(len(codes), -1)


@pytest.mark.parametrize("width, fold, beats, signed", [(2, 1, 1, True), (6, 16, 3, True), (8, 4, 5, False),
                                                       (16, 120, 5, True), (26, 16, 2, True), (7, 150, 2, False),
                                                       (1, 40, 3, False), (33, 5, 2, True), (62, 3, 2, True)])
def test_packing_matches_its_definition_and_round_trips(width, fold, beats, signed, rng):
    port = _port(width, fold, beats, signed)
    assert port.word_bits in (32, 64, 128, 256, 512, 1024) and port.per_word * width <= port.word_bits
    codes = rng.integers(port.type.min_code, port.type.max_code + 1, size=(7, port.elements), dtype=np.int64)
    packed = port.pack(codes)
    assert np.array_equal(packed, _reference_pack(port, codes))
    assert np.array_equal(port.unpack(packed), codes)


def test_word_geometry():
    assert word_geometry(16, 1) == (32, 1, 1)         # at least 32 bits: the header holds a 32-bit count
    assert word_geometry(6, 16) == (128, 1, 16)       # 96 bits of values -> the next power of two
    assert word_geometry(16, 120) == (1024, 2, 64)    # a beat wider than the widest DMA stream
    assert hex_words(np.arange(8, dtype=np.uint8), 4) == "03020100\n07060504\n"
    assert np.array_equal(words_from_hex(["03020100", "07060504"], 4).ravel(), np.arange(8))


# ---- the package's C simulation against the simulator ------------------------------------------
def _host_io(out: Path):
    """The shipped qc_host_io.py (and qc_numerics/), imported from the output folder as the
    board would import them."""
    pkg = str(out / "package")
    for name in [m for m in sys.modules if m == "qc_host_io" or m.startswith("qc_numerics")]:
        del sys.modules[name]
    sys.path.insert(0, pkg)
    try:
        module = importlib.import_module("qc_host_io")
    finally:
        sys.path.remove(pkg)
    assert Path(module.__file__).resolve().parent == Path(pkg).resolve()
    return module.HostIO.load(out / "package" / "design_io.json")


def _inputs(design, n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n,) + tuple(design.graph.input_layouts[0].onnx_shape)) * 1.5


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    made = {}

    def make(model: str, target: str = "pynq-z2"):
        if (model, target) not in made:
            out = tmp_path_factory.mktemp("pkg") / model
            design = compiler.compile_model(model_path(model), target)
            tb = design_csim.testbench_rows(design, [design.graph.input_to_ir(_inputs(design, 6, seed=11))])
            compiler.write_project(design, out, package=True, tb_inputs=tb)
            made[model, target] = design, out
        return made[model, target]
    return make


# float MLP, QONNX input quantizer, binary (bipolar input), QONNX W2A2 with a 1024-bit two-word
# beat, QDQ int8 CNN (NCHW input), float CNN
@pytest.mark.parametrize("model", ["D01_jet_mlp_float", "D05_jet_mlp_qonnx_w6a6", "D06_tfc_binary_w1a1",
                                   "D07_unsw_mlp_w2a2_sparse", "D09_kws_dscnn_qdq_int8", "D10_mnist8_cnn_float_gold"])
def test_packed_words_through_the_csim_give_the_simulator_bit_for_bit(model, packaged):
    design, out = packaged(model)
    io = _host_io(out)
    x = _inputs(design, 40)
    data = np.concatenate([io.pack_batch(x[:25]), io.pack_batch(x[25:])])   # two transfers back to back
    words, last = package_csim.run(out, data, io.input.word_bytes, io.output.word_bytes)
    per = io.output.words_per_sample
    assert words.shape == (40 * per, io.output.word_bytes)
    assert [k for k, flag in enumerate(last) if flag == "1"] == [25 * per - 1, 40 * per - 1]   # TLAST per batch
    got = np.concatenate([io.unpack_batch(words[:25 * per], 25), io.unpack_batch(words[25 * per:], 15)])
    want = compiler.simulate(design, x)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_the_words_file_for_vitis_csim_is_the_testbench_input(packaged):
    """package/hls/tb_words_in.txt holds tb/tb_input.txt's samples as words, header first."""
    design, out = packaged("D05_jet_mlp_qonnx_w6a6")
    io = _host_io(out)
    rows = np.loadtxt(out / "tb" / "tb_input.txt", ndmin=2)
    lines = (out / "package" / "hls" / "tb_words_in.txt").read_text().split()
    data = words_from_hex(lines, io.input.word_bytes)
    assert int.from_bytes(data[0, :4].tobytes(), "little") == len(rows)
    assert np.array_equal(io.input.unpack(data[1:].ravel()), io.input.type.quantize(rows))


def test_alveo_package_streams_through_the_data_movers(packaged):
    design, out = packaged("D01_jet_mlp_float", "alveo-u250")
    files = {str(p.relative_to(out / "package")) for p in (out / "package").rglob("*") if p.is_file()}
    assert {"alveo/qc_datamovers.cpp", "alveo/link.cfg", "build.sh", "host.py", "qc_host_io.py"} <= files
    assert not files & {"driver.py", "vivado/block_design.tcl"}
    top = json.loads((out / "package" / "design_io.json").read_text())["top"]
    link = (out / "package" / "alveo" / "link.cfg").read_text()
    assert f"stream_connect=qc_mm2s.out:{top}.s_axis" in link and f"stream_connect={top}.m_axis:qc_s2mm.in" in link
    build = (out / "package" / "build.sh").read_text()
    assert "xilinx_u250_gen3x16_xdma" in build and f"-k {top}" in build
    assert subprocess.run(["bash", "-n", str(out / "package" / "build.sh")]).returncode == 0
    io = _host_io(out)
    x = _inputs(design, 30)
    words, last = package_csim.run(out, io.pack_batch(x), io.input.word_bytes, io.output.word_bytes)
    assert set(last) == {"x"}   # the words land in device memory
    assert np.array_equal(io.unpack_batch(words, len(x)), compiler.simulate(design, x))


# ---- the PYNQ driver, on a stand-in for pynq whose DMA runs the word testbench -----------------
class _Buffer(np.ndarray):
    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        pass


class _Channel:
    def __init__(self, dma, send: bool):
        self.dma, self.send = dma, send

    def transfer(self, buf, start=0, nbytes=0):
        assert start == 0 and 0 < nbytes <= buf.nbytes < 1 << 26
        if self.send:
            self.dma.sent = np.array(buf[:nbytes])
        else:
            self.dma.target = (buf, nbytes)

    def wait(self):
        if self.send:   # the design answers the whole transfer
            words, last = package_csim.run(self.dma.out_dir, self.dma.sent, self.dma.in_bytes, self.dma.out_bytes)
            buf, nbytes = self.dma.target
            assert words.nbytes == nbytes and last[-1] == "1" and last.count("1") == 1
            buf[:nbytes] = words.ravel()
            self.dma.transfers += 1


def _fake_pynq(out: Path, io) -> types.ModuleType:
    dma = types.SimpleNamespace(out_dir=out, in_bytes=io.input.word_bytes, out_bytes=io.output.word_bytes,
                                transfers=0, sent=None, target=None)
    dma.sendchannel, dma.recvchannel = _Channel(dma, True), _Channel(dma, False)
    pynq = types.ModuleType("pynq")
    pynq.Overlay = lambda path: types.SimpleNamespace(axi_dma=dma, path=path)
    pynq.allocate = lambda shape, dtype: np.zeros(shape, dtype).view(_Buffer)
    return pynq


def test_pynq_driver_batches_transfers_and_gives_the_simulator(packaged, monkeypatch):
    design, out = packaged("D09_kws_dscnn_qdq_int8")
    io = _host_io(out)
    pynq = _fake_pynq(out, io)
    monkeypatch.setitem(sys.modules, "pynq", pynq)
    monkeypatch.syspath_prepend(str(out / "package"))
    driver = importlib.import_module("driver")
    try:
        acc = driver.Accelerator(max_batch=8)
        assert acc.overlay.path.endswith(f"overlay/{io.doc['top']}.bit")
        x = _inputs(design, 19)
        y = acc.predict(x)
        assert acc.dma.transfers == 3   # 8 + 8 + 3
        assert np.array_equal(y, compiler.simulate(design, x))
        acc.close()
        # `python3 driver.py X.npy -o Y.npy`
        np.save(out / "x.npy", x[:5])
        sys.modules["qc_host_io"].command_line(driver.Accelerator, "board", "--bitfile",
                                               [str(out / "x.npy"), "-o", str(out / "y.npy")])
        assert np.array_equal(np.load(out / "y.npy"), y[:5])
    finally:
        sys.modules.pop("driver", None)


# ---- the Tcl scripts, run under tclsh with every Vivado/Vitis command logged ----------------
TCL_STUBS = r"""
set ::calls {}
proc unknown {args} { lappend ::calls $args; return "" }
proc get_ipdefs {args} { set name [lindex [split [lindex $args end] :] 2]; return [list "xilinx.com:ip:$name:1.0"] }
proc get_board_parts {args} { return {} }
proc get_bd_cells {args} { return [list rst_ps_100M] }
proc create_bd_cell {args} { lappend ::calls [linsert $args 0 create_bd_cell]; return [lindex $args end] }
proc get_property {name args} { if {$name eq "PROGRESS"} { return "100%" }; return "" }
proc glob {args} { return [list /fake/file] }
rename file _file
proc file {sub args} { if {$sub in {copy mkdir}} { lappend ::calls [list file $sub {*}$args]; return "" }; return [_file $sub {*}$args] }
proc exit {args} {}
"""


def _tcl_calls(script: Path, tmp_path: Path) -> list[str]:
    runner = tmp_path / "run.tcl"
    runner.write_text(TCL_STUBS + f"cd {{{tmp_path}}}\nsource {{{script}}}\nforeach c $::calls {{ puts $c }}\n")
    p = subprocess.run(["tclsh", str(runner)], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


@pytest.mark.parametrize("model, target, ps", [("D07_unsw_mlp_w2a2_sparse", "pynq-z2", "processing_system7"),
                                               ("D01_jet_mlp_float", "zcu104", "zynq_ultra_ps_e")])
def test_vivado_and_vitis_scripts_build_the_right_design(model, target, ps, packaged, tmp_path):
    pytest.importorskip("shutil").which("tclsh") or pytest.skip("tclsh is not installed")
    design, out = packaged(model, target)
    io = json.loads((out / "package" / "design_io.json").read_text())
    top = io["top"]
    bd = _tcl_calls(out / "package" / "vivado" / "block_design.tcl", tmp_path)
    text = "\n".join(bd)
    assert f"create_project {top}_bd" in text and f"-part {design.target.part}" in text
    assert f"create_bd_cell -type ip -vlnv xilinx.com:ip:{ps}:1.0 ps" in text
    assert f"create_bd_cell -type ip -vlnv xilinx.com:hls:{top}:1.0 accel" in text
    dma = next(c for c in bd if c.startswith("set_property -dict") and "c_include_sg" in c)
    assert f"CONFIG.c_m_axis_mm2s_tdata_width {io['input']['word_bits']}" in dma
    assert f"CONFIG.c_s_axis_s2mm_tdata_width {io['output']['word_bits']}" in dma
    assert "CONFIG.c_sg_length_width 26" in dma and dma.endswith(" axi_dma")
    assert "connect_bd_intf_net" in text and "accel/s_axis" in text and "accel/m_axis" in text
    assert "get_bd_pins accel/ap_clk" in text and "get_bd_pins rst_ps_100M/peripheral_aresetn" in text
    assert "launch_runs impl_1 -to_step write_bitstream" in text
    assert any(c.startswith("file copy") and c.endswith(f"{top}.hwh") for c in bd)
    clock = f"{design.target.clock_mhz:g}"
    assert (f"PCW_FPGA0_PERIPHERAL_FREQMHZ {clock}" if ps == "processing_system7"
            else f"PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ {clock}") in text
    hls = "\n".join(_tcl_calls(out / "package" / "hls" / "build_ip.tcl", tmp_path))
    assert f"set_top {top}" in hls and f"set_part {design.target.part}" in hls and "export_design" in hls
    assert "csim_design -argv {tb_words_in.txt tb_words_out.txt}" in hls
    build = out / "package" / "build.sh"
    assert build.stat().st_mode & 0o100 and subprocess.run(["bash", "-n", str(build)]).returncode == 0
    assert design.target.package is not None and compiler.load_design(out).target.package == design.target.package


# ---- refusals: one line, exit 2, no folder ----------------------------------------------------
def test_bare_device_has_no_package(tmp_path):
    p = qcompile(model_path("D01_jet_mlp_float"), "--target", "vu9p", "--package", "-o", tmp_path / "o")
    assert_user_error(p, "--package", "vu9p", "pynq-z2")
    assert not (tmp_path / "o").exists()


def test_two_output_model_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    ys = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("y1", "y2")]
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y1"], name="r1"),
                                             helper.make_node("Relu", ["x"], ["y2"], name="r2")], "two", [x], ys),
                          opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, str(tmp_path / "two.onnx"))
    design = compiler.compile_model(str(tmp_path / "two.onnx"), "pynq-z2")
    with pytest.raises(OutputError, match="exactly one input and one output"):
        compiler.write_project(design, tmp_path / "o", package=True)
    assert not (tmp_path / "o").exists()
    with pytest.raises(TargetError, match="bare device"):
        compiler.write_project(compiler.compile_model(str(tmp_path / "two.onnx"), "vu13p"), tmp_path / "o",
                               package=True)


def test_cli_package_with_csim_checks_both_testbenches(tmp_path):
    out = tmp_path / "d07"
    p = qcompile(model_path("D07_unsw_mlp_w2a2_sparse"), "--target", "pynq-z2", "--fit", "--package", "--csim",
                 "--csim-n", "60", "-o", out)
    assert p.returncode == 0, p.stderr
    assert "package/" in p.stdout
    assert "package word testbench: 60 samples, 0 mismatching" in p.stdout
    marker = json.loads((out / ".qcompile").read_text())["files"]
    assert "package/driver.py" in marker and "package/vivado/block_design.tcl" in marker
