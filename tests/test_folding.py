"""Folded designs: streams of beats narrower than their items, PE x SIMD MAC arrays, window
generators and per-channel stages at the stream's width, width converters where neighbours
differ. The C++ stays bit-exact with the simulator at every folding (the arithmetic does
not change), and the default and --fit designs fit the boards people deploy on."""
import subprocess
import sys

import numpy as np
import pytest

import compiler
from compiler.backend.csim import compare
from compiler.ops._mac import MacOp

from . import onnx_builders_cnn as C
from .conftest import ROOT, model_path
from .onnx_builders import save

DEV = ["D01_jet_mlp_float", "D02_jet_mlp_bn_float", "D03_conv1d_float", "D04_conv2d_bn_pool_float",
       "D05_jet_mlp_qonnx_w6a6", "D06_tfc_binary_w1a1", "D07_unsw_mlp_w2a2_sparse", "D08_sepconv_qonnx_w4a4_chlast",
       "D09_kws_dscnn_qdq_int8", "D10_mnist8_cnn_float_gold", "D12_jet_mlp_qdq_int8_generated"]


def _random_shapes(design, rng) -> dict:
    """A random PE x SIMD shape for every MAC layer, narrow ones (1 lane) included."""
    out = {}
    for node in design.graph.nodes():
        if isinstance(node.op, MacOp):
            shapes = node.op.mac_shapes(design.target)
            pe, simd = shapes[int(rng.integers(len(shapes)))]
            out[node.name] = {"pe": int(pe), "simd": int(simd)}
    return out


def _widths(design) -> set[tuple[int, int]]:
    """(beat width, channels) of every stream."""
    return {(t.beat, t.channels) for t in design.graph.tensors.values()}


@pytest.mark.parametrize("builder", [C.mixed_2d, C.mixed_graph, C.mixed_1d, C.quantized_residual_concat,
                                     C.ternary_cnn, C.separable_conv], ids=lambda b: b.__name__)
def test_random_foldings_are_bit_exact(builder, tmp_path, rng):
    path = save(builder(rng), tmp_path / "m.onnx")
    base = compiler.compile_model(path, "zcu104", reuse_factor=1)
    layers = _random_shapes(base, np.random.default_rng(len(builder.__name__)))
    design = compiler.compile_model(path, "zcu104", layers=layers)
    widths = _widths(design)
    assert any(beat < channels for beat, channels in widths), widths   # something is folded
    out = compiler.write_project(design, tmp_path / "out")
    shape = design.graph.tensors[design.graph.inputs[0]].shape
    x = np.concatenate([rng.normal(size=(60,) + shape), rng.normal(scale=15, size=(20,) + shape)])
    r = compare(design, out, x)
    print(f"{builder.__name__}: {layers}; widths {sorted(widths)}; {r.mismatches} mismatches")
    assert r.samples == 80 and r.mismatches == 0


def _mlp(rng, sizes):
    from onnx import helper

    from .onnx_builders import make_model

    nodes, inits, x = [], [], "x"
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        nodes += [helper.make_node("MatMul", [x, f"W{k}"], [f"h{k}"], name=f"fc{k}"),
                  helper.make_node("Add", [f"h{k}", f"B{k}"], [f"a{k}"], name=f"add{k}")]
        inits += [(f"W{k}", rng.normal(size=(a, b)) * 0.4), (f"B{k}", rng.normal(size=b))]
        x = f"a{k}"
        if k < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [x], [f"r{k}"], name=f"relu{k}"))
            x = f"r{k}"
    nodes[-1].output[0] = "y"
    return make_model(nodes, [("x", [sizes[0]])], [("y", [sizes[-1]])], inits)


def test_every_width_of_an_mlp_is_bit_exact(tmp_path, rng):
    """Beats of 1 value, a few, and whole vectors; wide beats sliced inside an array (a
    12-wide beat for SIMD 6), gathered (1 -> 3) and, where neither width divides the other
    (4 and 6 of 12 channels), converted through their lcm."""
    path = save(_mlp(rng, [8, 12, 12, 12, 4]), tmp_path / "m.onnx")
    shapes = {"fc0": (1, 2), "fc1": (12, 3), "fc2": (4, 6), "fc3": (2, 6)}   # (PE, SIMD)
    design = compiler.compile_model(path, "zcu104", layers={n: {"pe": p, "simd": s} for n, (p, s) in shapes.items()})
    costs = {name: c for name, _, c in compiler.estimate(design).layers}
    assert {c["from"]: c["to"] for c in costs["fc1"].detail["converters"]} == {1: 3}   # gathered to SIMD
    assert costs["fc2"].detail["in_fold"] == 12                                     # a whole beat, sliced
    assert costs["fc3"].detail["converters"][0] == {"from": 4, "to": 6}              # via 12
    r = compare(design, compiler.write_project(design, tmp_path / "out"),
                np.concatenate([rng.normal(size=(150, 8)), rng.normal(scale=10, size=(50, 8))]))
    assert r.mismatches == 0


def test_d07_bipolar_on_pynq_z2_beats_finn_and_is_bit_exact(tmp_path, rng):
    """D07 with its inputs declared bipolar, as FINN deploys it: >= 1,250,000 inferences/s at
    100 MHz within the default caps (FINN's estimate of its folding for a 1M target; 926,918/s
    measured on board), and `qcompile csim` bit-exact."""
    path = model_path("D07_unsw_mlp_w2a2_sparse")
    out = tmp_path / "d07"
    p = subprocess.run([sys.executable, "-m", "compiler.cli", path, "--target", "pynq-z2", "--fit",
                        "--input-type", "ap_fixed<2,2>", "-o", out], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    design = compiler.load_design(out)
    cost = compiler.estimate(design)
    print(f"D07 on pynq-z2: {cost.throughput:,.0f}/s, LUT {cost.utilization['lut']:.0f}%")
    assert cost.throughput >= 1_250_000 and cost.fits
    assert all(cost.totals[k] <= 0.8 * cost.available[k] for k in cost.totals if cost.available[k])
    kernels = {n.op.active_kernel for n in design.graph.nodes() if n.kind == "Quant"}
    assert "thresholds" in kernels   # 2-bit activations without a multiplier
    x = np.sign(rng.normal(size=(200, 600)))
    np.save(tmp_path / "x.npy", x)
    p = subprocess.run([sys.executable, "-m", "compiler.cli", "csim", out, "-n", "200", "--data", tmp_path / "x.npy"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0 and "200 samples, 0 mismatching" in p.stdout, p.stdout + p.stderr


def test_d09_fits_pynq_z2_and_is_bit_exact(tmp_path, rng):
    design = compiler.compile_model(model_path("D09_kws_dscnn_qdq_int8"), "pynq-z2", fit=True)
    cost = compiler.estimate(design)
    assert cost.fits and all(cost.totals[k] <= 0.8 * cost.available[k] for k in cost.totals if cost.available[k])
    assert any(t.beat < t.channels for t in design.graph.tensors.values())
    out = compiler.write_project(design, tmp_path / "out")
    r = compare(design, out, design.graph.input_to_ir(rng.normal(scale=30, size=(30, 490))))
    assert r.mismatches == 0


@pytest.mark.parametrize("target", ["pynq-z2", "zcu104"])
def test_every_dev_model_fits(target):
    """pynq-z2 with --fit, zcu104 with the default compile (no folding options): each dev
    model (D11 is refused: minifloat) fits within the default caps."""
    for name in DEV:
        design = compiler.compile_model(model_path(name), target, **({"fit": True} if target == "pynq-z2" else {}))
        cost = compiler.estimate(design)
        used = {k: cost.totals[k] / cost.available[k] for k in cost.totals if cost.available[k]}
        print(f"{name} on {target}: {cost.throughput:,.0f}/s, " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in used.items()))
        assert cost.fits and max(used.values()) <= 0.8, (name, used)
        if target == "zcu104":
            assert design.options["fold"].startswith("default"), design.options


def test_fully_parallel_when_asked(tmp_path):
    """--reuse-factor 1 still asks for the fully parallel design, whether it fits or not."""
    design = compiler.compile_model(model_path("D01_jet_mlp_float"), "zcu104", reuse_factor=1)
    assert all(n.op.reuse_factor == 1 for n in design.graph.nodes() if isinstance(n.op, MacOp))
    assert all(t.fold is None for t in design.graph.tensors.values())


def _block_sparse_mlp(rng):
    """An MLP whose first two weight matrices are zero in whole 4 x 4 blocks (structured
    pruning), one output group (columns 12..15 of fc1) entirely."""
    model = _mlp(rng, [16, 16, 16, 4])
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name in ("W0", "W1"):
            w = numpy_helper.to_array(init).copy()
            keep = rng.random((4, 4)) < 0.4
            keep[:, :2] = True                                    # the first output group stays dense
            keep[1, 2:] = False                                   # a zero 4 x 8 block for PE 8
            if init.name == "W1":
                keep[:, 3] = False
            w *= np.kron(keep, np.ones((4, 4)))
            init.CopyFrom(numpy_helper.from_array(w, init.name))
    return model


def test_folded_arrays_skip_all_zero_weight_blocks(tmp_path, rng):
    """Sparsity at any reuse: a folded array visits only the nonzero PE x SIMD blocks (after
    the first output group, which reads the input), so the interval and the weight memory
    shrink by the skipped blocks, the report says so, and the C++ stays bit-exact (fc1 reads
    8-wide beats 4 at a time: the schedule's slices)."""
    path = save(_block_sparse_mlp(rng), tmp_path / "m.onnx")
    layers = {"fc0": {"pe": 8, "simd": 4}, "fc1": {"pe": 4, "simd": 4}, "fc2": {"pe": 1, "simd": 8}}
    design = compiler.compile_model(path, "zcu104", layers=layers)
    costs = {name: c for name, _, c in compiler.estimate(design).layers}
    for name, reuse in (("fc0", 8), ("fc1", 16)):
        op = design.graph.node(name).op
        blocks = op.block_schedule(*op.shape)
        assert blocks is not None and len(blocks) < reuse
        d = costs[name].detail
        assert d["reuse_factor"] == reuse and d["cycles_per_item"] == len(blocks)
        assert d["cycles_saved"] == d["weight_words_saved"] == reuse - len(blocks) > 0
        assert costs[name].ii == len(blocks)
    assert costs["fc1"].detail["in_fold"] == 8                    # 8-wide beats, 4-wide slices
    assert compiler.estimate(design).ii < 16
    out = compiler.write_project(design, tmp_path / "out")
    header = (out / "firmware" / "parameters.h").read_text()
    assert header.count("skip = true") == 2
    x = np.concatenate([rng.normal(size=(60, 16)), rng.normal(scale=10, size=(20, 16))])
    r = compare(design, out, x)
    assert r.samples == 80 and r.mismatches == 0
    # the estimator's what-if agrees with the compiled design, and pruning estimates skipping too
    est = compiler.estimate(compiler.compile_model(path, "zcu104"), layers)
    assert est.ii == compiler.estimate(design).ii
    pruned = compiler.estimate(design, {"fc2": {"pe": 1, "simd": 1, "pruning": 0.9}})
    assert pruned.costs[design.estimator().index["fc2"]].detail["cycles_saved"] > 0


def test_grouped_convolution_skips_the_blocks_off_its_diagonal(tmp_path, rng):
    """A grouped convolution's array is block-diagonal: at SIMD = one group's channels of a
    tap and PE = one group's outputs, the second group visits only its own channels' blocks
    (18 + 9 cycles per pixel instead of 36), bit-exact."""
    path = save(C.conv2d_grouped(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", layers={"conv": {"pe": 3, "simd": 2}})
    d = {name: c for name, _, c in compiler.estimate(design).layers}["conv"].detail
    assert (d["reuse_factor"], d["cycles_per_item"], d["cycles_saved"]) == (36, 27, 9)
    out = compiler.write_project(design, tmp_path / "out")
    assert "skip = true" in (out / "firmware" / "parameters.h").read_text()
    shape = design.graph.tensors[design.graph.inputs[0]].shape
    r = compare(design, out, rng.normal(size=(40,) + shape))
    assert r.samples == 40 and r.mismatches == 0


def test_fold_search_sees_the_widths_streams_will_have(rng, tmp_path):
    """While folding (before the stream widths are assigned), a Dense fed by a Flatten of a
    conv's output arrives at the conv's beat width, as it will in the design: the search
    found no fitting plan when it costed the Dense as fed by one 1568-wide beat."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w1 = numpy_helper.from_array(rng.normal(size=(8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(size=(8, 8, 3, 3)).astype(np.float32), "w2")
    fc = numpy_helper.from_array(rng.normal(size=(3, 8 * 14 * 14)).astype(np.float32), "fc")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c1", "w2"], ["c2"]),
             helper.make_node("Elu", ["c2"], ["e"]),
             helper.make_node("Flatten", ["e"], ["f"]),
             helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w1, w2, fc])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    cost = compiler.estimate(compiler.compile_model(path, "zcu104"))
    assert cost.fits and cost.totals["dsp"] < 0.8 * cost.available["dsp"]
