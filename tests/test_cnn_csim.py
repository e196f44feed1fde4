"""The convolutional kernels in C++ (g++ + the ap_types headers) are bit-exact with the
simulator. Each build covers many kernels: 2-D convolution and pooling of every kind, the
layout and join kernels, and the 1-D ones (with folded MAC arrays)."""
import numpy as np
import pytest

import compiler
from compiler.backend.csim import compare

from . import onnx_builders_cnn as C
from .onnx_builders import save

CASES = {
    # builder, reuse factors (global, per layer), kinds the build must contain
    "mixed_2d": (C.mixed_2d, 1, {"grp": 3}, {"Conv", "Pool", "Concat"}),
    "mixed_graph": (C.mixed_graph, 1, {}, {"Pad", "Conv", "Add", "Pool", "Concat", "Resize", "DepthToSpace",
                                          "Transpose", "Reshape", "Dense"}),
    "mixed_1d": (C.mixed_1d, 2, {"c1": 6}, {"Conv", "Pool", "Resize", "Reshape", "Dense"}),
    "quantized_residual_concat": (C.quantized_residual_concat, 1, {}, {"Conv", "Add", "Concat"}),
    "ternary_cnn": (C.ternary_cnn, 2, {}, {"Conv"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_cnn_kernels_bit_exact(name, tmp_path, rng):
    builder, reuse, layer_reuse, kinds = CASES[name]
    path = save(builder(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", reuse_factor=reuse, layer_reuse=layer_reuse)
    assert kinds <= {n.kind for n in design.graph.nodes()}
    out = compiler.write_project(design, tmp_path / "out")
    shape = design.graph.tensors[design.graph.inputs[0]].shape
    # typical values, and large ones that exercise wrapping/saturation paths
    x = np.concatenate([rng.normal(size=(250,) + shape), rng.normal(scale=15, size=(50,) + shape)])
    r = compare(design, out, x)
    print(f"{name}: {r.samples} samples, {r.mismatches} mismatches, build {r.seconds_build:.1f} s, "
          f"run {r.seconds_run:.1f} s")
    assert r.samples == 300 and r.mismatches == 0


def test_ternary_convolutions_use_no_multiplier(tmp_path, rng):
    design = compiler.compile_model(save(C.ternary_cnn(rng), tmp_path / "m.onnx"), "zcu104", reuse_factor=3)
    convs = [n for n in design.graph.nodes() if n.kind == "Conv"]
    assert [n.op.kernel for n in convs] == ["signed", "signed"]
    layers = {name: c for name, _, c in compiler.estimate(design).layers}
    assert all(layers[n.name].dsp == 0 and layers[n.name].style.endswith("_signed") for n in convs)
