"""Structured pruning (compiler.prune, --prune): the weakest output channels go with everything
computed from them; in float this is exactly the model with the next layer's weights on those
channels zeroed; pruned designs estimate smaller and C-simulate bit-exact; what cannot be
pruned is refused in one line."""
from __future__ import annotations

import copy
import tempfile

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import compiler
from compiler.backend.csim import compare
from compiler.calibrate.ranges import float_run
from compiler.errors import CompileError
from compiler.frontend.onnx import load_onnx
from compiler.options import CompileOptions
from compiler.passes.prune_channels import prune_channels

from .conftest import model_path
from .test_cli import assert_user_error, qcompile

DIGITS = "examples/digits_mlp.onnx"


def _removed(op, ratio: float) -> np.ndarray:
    """The definition: round(ratio * C) channels of smallest L1 weight norm (ties by index)."""
    norms = np.abs(op.weight * np.asarray(op.weight_scale, dtype=np.float64)).sum(axis=0)
    return np.sort(np.argsort(norms, kind="stable")[:int(round(ratio * op.n_out))])


def _zero_reads(graph, layer: str, removed: np.ndarray) -> None:
    """The reference: the next MAC layers' weights on the removed channels set to zero."""
    channels = graph.node(layer).op.n_out
    seen, todo = set(), [graph.node(layer).outputs[0]]
    while todo:
        t = todo.pop()
        for n in graph.consumers(t):
            if n.name in seen:
                continue
            seen.add(n.name)
            if n.kind == "Dense":
                w = n.op.weight.copy()
                w[np.isin(np.arange(len(w)) % channels, removed)] = 0   # direct, or after a flatten
                n.op.weight = w
            elif n.kind == "Conv" and n.op.groups == 1:
                w = n.op.weight.reshape(n.op.taps, n.op.cin_per_group, n.op.n_out).copy()
                w[:, removed] = 0
                n.op.weight = w.reshape(-1, n.op.n_out)
            else:
                todo.extend(n.outputs)


@pytest.mark.parametrize("model, layer", [
    ("D10_mnist8_cnn_float_gold", "Convolution28"),      # BN, ReLU, pooling, into a Conv
    ("D10_mnist8_cnn_float_gold", "Convolution110"),     # BN, ReLU, pooling, a flatten, into a Dense
    ("D04_conv2d_bn_pool_float", "Conv2D_1"),            # ELU, BN, into a Conv
    ("D01_jet_mlp_float", "_class__keras_layers_core_Dense__1"),   # BN, ReLU, into a Dense
    ("D05_jet_mlp_qonnx_w6a6", "MatMul_0"),              # QONNX: BN, ReLU, a quantizer
])
def test_pruning_is_exactly_zeroing_what_reads_the_removed_channels(model, layer):
    graph = load_onnx(model_path(model))
    original, reference = copy.deepcopy(graph), copy.deepcopy(graph)
    removed = _removed(graph.node(layer).op, 0.5)
    options = CompileOptions(prune={layer: 0.5})
    pruned = prune_channels(graph, options)
    kept = graph.node(layer).op.n_out
    assert options.pruned == {layer: (kept, kept + len(removed))} and len(removed) > 0
    _zero_reads(reference, layer, removed)
    x = np.random.default_rng(0).normal(size=(64,) + tuple(graph.tensors[graph.inputs[0]].shape))
    want = float_run(reference, {graph.inputs[0]: x})[reference.outputs[0]]
    got = float_run(pruned, {graph.inputs[0]: x})[pruned.outputs[0]]
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    unpruned = float_run(original, {graph.inputs[0]: x})[original.outputs[0]]
    assert not np.allclose(unpruned, got, rtol=1e-6, atol=1e-6)   # the removed channels did contribute


def test_dead_channels_prune_without_changing_a_bit(tmp_path):
    """Channels that are always zero (zero weights, negative bias, ReLU) are the smallest, so
    they are the ones pruned, and the pruned design's outputs equal the full design's."""
    m = onnx.load(DIGITS)
    inits = {i.name: i for i in m.graph.initializer}
    gemm = next(n for n in m.graph.node if n.op_type in ("Gemm", "MatMul"))
    w_name = gemm.input[1]
    w = numpy_helper.to_array(inits[w_name]).copy()
    dead = [3, 7, 8, 20, 21, 30, 31, 0]
    trans = gemm.op_type == "Gemm" and any(a.name == "transB" and a.i for a in gemm.attribute)
    if trans:
        w[dead, :] = 0
    else:
        w[:, dead] = 0
    inits[w_name].CopyFrom(numpy_helper.from_array(w, w_name))
    b_name = gemm.input[2]
    b = numpy_helper.to_array(inits[b_name]).copy()
    b[dead] = -1.0
    inits[b_name].CopyFrom(numpy_helper.from_array(b, b_name))
    path = tmp_path / "dead.onnx"
    onnx.save(m, str(path))
    calib, x = np.load("examples/digits_calib_x.npy"), np.load("examples/digits_test_x.npy")
    full = compiler.compile_model(path, "zcu104", calib=calib, reuse_factor=4)
    pruned = compiler.prune(full, {"fc1": len(dead) / 32})
    assert pruned.options["pruned"] == {"fc1": [24, 32]}
    assert np.array_equal(compiler.simulate(pruned, x), compiler.simulate(full, x))
    assert compiler.estimate(pruned).totals["lut"] < compiler.estimate(full).totals["lut"]


@pytest.mark.parametrize("model, ratio", [("D04_conv2d_bn_pool_float", 0.5), ("D05_jet_mlp_qonnx_w6a6", 0.5),
                                          ("D06_tfc_binary_w1a1", 0.5), ("D09_kws_dscnn_qdq_int8", 0.25)])
def test_pruned_designs_csim_bit_exact_and_cost_less(model, ratio):
    full = compiler.compile_model(model_path(model), "zcu104", reuse_factor=8)
    layers = {n.name: ratio for n in full.graph.nodes()
              if n.kind in ("Dense", "Conv") and getattr(n.op, "groups", 1) == 1}
    del layers[list(layers)[-1]]   # the classifier feeds the output (or a softmax): not prunable
    pruned = compiler.prune(full, layers)
    assert set(pruned.options["pruned"]) == set(layers)
    x = [np.random.default_rng(1).normal(size=(60,) + tuple(pruned.graph.tensors[pruned.graph.inputs[0]].shape))]
    with tempfile.TemporaryDirectory() as t:
        compiler.write_project(pruned, t + "/o")
        r = compare(pruned, t + "/o", x)
    assert r.samples == 60 and r.mismatches == 0
    cost, base = compiler.estimate(pruned), compiler.estimate(full)
    assert cost.totals["lut"] < base.totals["lut"]
    macs = lambda d: sum(n.op.n_in * n.op.n_out for n in d.graph.nodes() if n.kind in ("Dense", "Conv"))  # noqa: E731
    assert macs(pruned) < macs(full)


def test_what_cannot_be_pruned_is_refused():
    d = compiler.compile_model(DIGITS, "zcu104")
    with pytest.raises(CompileError, match="reach node 'softmax' .*mixes channels"):
        compiler.prune(d, {"fc3": 0.5})
    with pytest.raises(CompileError, match="no layer 'fc9' .*fc1, fc2, fc3"):
        compiler.prune(d, {"fc9": 0.5})
    with pytest.raises(CompileError, match=r"in \[0, 1\)"):
        compiler.prune(d, {"fc1": 1.0})
    with pytest.raises(CompileError, match="not a Dense or ungrouped Conv"):   # a depthwise convolution
        compiler.prune(model_path("D09_kws_dscnn_qdq_int8"), {"Conv__95": 0.5}, target="zcu104")
    p = qcompile(DIGITS, "--prune", "fc3=0.5", "-o", "unused")
    assert_user_error(p, "prune", "fc3", "Softmax")
    p = qcompile(DIGITS, "--prune", "fc1", "-o", "unused")
    assert_user_error(p, "--prune", "expected pairs like")


def test_cli_prune_reports_what_was_pruned(tmp_path):
    p = qcompile(DIGITS, "--prune", "fc1=0.5,fc2=0.25", "-o", tmp_path / "o")
    assert p.returncode == 0, p.stderr
    assert "fc1: pruned to 16 of 32 output channels" in p.stdout and "fc2: pruned to 12 of 16" in p.stdout
    assert compiler.load_design(tmp_path / "o").options["pruned"] == {"fc1": [16, 32], "fc2": [12, 16]}
