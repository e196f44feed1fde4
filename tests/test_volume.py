"""3-D convolution and pooling (frontend/convert_volume.py: a gathering frame buffer and a 2-D
kernel with a (1, K) window): against onnxruntime for the attribute combinations, the
refusals, and one C simulation of a small volumetric CNN."""
import numpy as np
import pytest
from onnx import helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import UnsupportedError
from compiler.frontend.reference import run_reference

from . import onnx_builders as B

SHAPE = (2, 5, 4, 6)   # (C, D, H, W)


def conv3d(rng, groups=1, **attrs):
    w = rng.normal(size=(4, SHAPE[0] // groups, 3, 2, 3))
    return B.make_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="c3", group=groups, **attrs)],
                        [("x", SHAPE)], [("y", [])], [("w", w), ("b", rng.normal(size=4))])


def pool3d(op, **attrs):
    return B.make_model([helper.make_node(op, ["x"], ["y"], name="p3", **attrs)], [("x", SHAPE)], [("y", [])])


CASES = {
    "conv": lambda rng: conv3d(rng),
    "conv_strided_padded": lambda rng: conv3d(rng, strides=[2, 1, 2], pads=[1, 0, 1, 1, 1, 0]),
    "conv_dilated_groups": lambda rng: conv3d(rng, groups=2, dilations=[2, 1, 1]),
    "conv_same": lambda rng: conv3d(rng, auto_pad="SAME_UPPER"),
    "maxpool_padded": lambda rng: pool3d("MaxPool", kernel_shape=[2, 3, 3], strides=[1, 2, 2], pads=[1, 1, 1, 0, 1, 1]),
    "avgpool": lambda rng: pool3d("AveragePool", kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
    "avgpool_include_pad": lambda rng: pool3d("AveragePool", kernel_shape=[3, 3, 3], pads=[1] * 6, count_include_pad=1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_volume_ops_against_onnxruntime(name, tmp_path, rng):
    path = B.save(CASES[name](rng), tmp_path / "m.onnx")
    x = rng.normal(size=(100,) + SHAPE)
    design = compiler.compile_model(path, "zcu104", calib=x)
    assert "Transpose" in {n.kind for n in design.graph.nodes()}   # the window buffer
    got, want = compiler.simulate(design, x), run_reference(path, x)[0]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 0.005 * np.abs(want).max() + design.graph.tensors[design.graph.outputs[0]].type.lsb


def test_padded_average_without_the_pad_count_is_refused(tmp_path):
    path = B.save(pool3d("AveragePool", kernel_shape=[3, 3, 3], pads=[1] * 6), tmp_path / "m.onnx")
    with pytest.raises(UnsupportedError, match="node 'p3' \\(AveragePool\\): a padded 3-D AveragePool"):
        compiler.compile_model(path, "zcu104")


def test_volumetric_cnn_is_bit_exact_in_csim(tmp_path, rng):
    m = B.make_model([helper.make_node("Conv", ["x", "w"], ["c"], name="c3", pads=[1] * 6),
                      helper.make_node("Relu", ["c"], ["r"], name="relu"),
                      helper.make_node("MaxPool", ["r"], ["p"], name="p3", kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
                      helper.make_node("Flatten", ["p"], ["f"], name="flat"),
                      helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1)],
                     [("x", SHAPE)], [("y", [3])],
                     [("w", rng.normal(size=(4, 2, 3, 3, 3))), ("fc", rng.normal(size=(3, 4 * 2 * 2 * 3)))])
    path = B.save(m, tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", reuse_factor=4)
    x = design.graph.inputs_to_ir(rng.normal(scale=2, size=(100,) + SHAPE))
    r = compare(design, compiler.write_project(design, tmp_path / "out"), x)
    assert r.samples == 100 and r.mismatches == 0, r
