"""Channels-last exports: a tf2onnx-style NHWC U-Net (Transposes around each Conv, Resize on
the NHWC tensor, the skip Concat on axis 3) and the same network through qonnx's own
channels-last conversion (ConvertToChannelsLastAndClean: channels_last Conv/MaxPool, NHWC
Resize and Concat, a residual Add): against the reference executor, and bit-exact in C-sim."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import compiler
from compiler.backend.csim import compare
from compiler.frontend.reference import run_reference

from . import onnx_builders as B

CONV = dict(strides=[1, 1], dilations=[1, 1], group=1)   # spelt out: qonnx's channels-last ops read them


def _model(nodes, x_shape, y_shape, inits):
    g = helper.make_graph(nodes, "unet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
                          [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def nhwc_unet(rng):
    """What tf2onnx writes for a Keras U-Net block: NHWC in and out, NHWC Resize and Concat."""
    def t(i, o, p):
        return helper.make_node("Transpose", [i], [o], perm=p, name=f"t_{o}")
    nodes = [t("x", "xc", [0, 3, 1, 2]),
             helper.make_node("Conv", ["xc", "w1", "b1"], ["c1"], name="c1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
             t("r1", "r1l", [0, 2, 3, 1]),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="p1", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="c2", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             t("c2", "c2l", [0, 2, 3, 1]),
             helper.make_node("Resize", ["c2l", "", "sc"], ["up"], name="up", mode="nearest"),
             helper.make_node("Concat", ["up", "r1l"], ["cat"], name="cat", axis=3),
             helper.make_node("Relu", ["cat"], ["catr"], name="cat_relu"),
             t("catr", "catc", [0, 3, 1, 2]),
             helper.make_node("Conv", ["catc", "w3"], ["c3"], name="c3", kernel_shape=[1, 1]),
             t("c3", "y", [0, 2, 3, 1])]
    return _model(nodes, [1, 8, 8, 3], [1, 8, 8, 3],
                  [("w1", rng.normal(size=(4, 3, 3, 3))), ("b1", rng.normal(size=4)),
                   ("w2", rng.normal(size=(4, 4, 3, 3))), ("b2", rng.normal(size=4)), ("sc", [1, 2, 2, 1]),
                   ("w3", rng.normal(size=(3, 8, 1, 1)))])


def nchw_unet(rng):
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="c1", pads=[1, 1, 1, 1], kernel_shape=[3, 3], **CONV),
             helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="p1", kernel_shape=[2, 2], strides=[2, 2],
                              pads=[0, 0, 0, 0]),
             helper.make_node("Conv", ["p1", "w2"], ["c2"], name="c2", pads=[1, 1, 1, 1], kernel_shape=[3, 3], **CONV),
             helper.make_node("Relu", ["c2"], ["r2"], name="r2"),
             helper.make_node("Resize", ["r2", "", "sc"], ["up"], name="up", mode="nearest"),
             helper.make_node("Concat", ["up", "r1"], ["cat"], name="cat", axis=1),
             helper.make_node("Conv", ["cat", "w3"], ["c3"], name="c3", kernel_shape=[1, 1], pads=[0, 0, 0, 0], **CONV),
             helper.make_node("Add", ["c3", "x"], ["y"], name="skip")]
    return _model(nodes, [1, 3, 8, 8], [1, 3, 8, 8],
                  [("w1", rng.normal(size=(4, 3, 3, 3))), ("w2", rng.normal(size=(4, 4, 3, 3))), ("sc", [1, 1, 2, 2]),
                   ("w3", rng.normal(size=(3, 8, 1, 1)))])


def qonnx_channels_last(rng, tmp_path, input_channels_last: bool):
    pytest.importorskip("qonnx")
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    src = B.save(nchw_unet(rng), tmp_path / "nchw.onnx")
    w = cleanup_model(ModelWrapper(str(src))).transform(InferShapes())
    w = w.transform(ConvertToChannelsLastAndClean(make_input_channels_last=input_channels_last))
    path = tmp_path / f"cl{int(input_channels_last)}.onnx"
    w.save(str(path))
    return path


def _cases(rng, tmp_path):
    return {"tf2onnx_nhwc": B.save(nhwc_unet(rng), tmp_path / "nhwc.onnx"),
            "qonnx_chlast": qonnx_channels_last(rng, tmp_path, False),
            "qonnx_chlast_input": qonnx_channels_last(rng, tmp_path, True)}


@pytest.mark.parametrize("name", ["tf2onnx_nhwc", "qonnx_chlast", "qonnx_chlast_input"])
def test_channels_last_unet(name, tmp_path, rng):
    path = _cases(rng, tmp_path)[name]
    design = compiler.compile_model(path, "zcu104")
    kinds = [n.kind for n in design.graph.nodes()]
    assert {"Conv", "Resize", "Concat"} <= set(kinds)
    assert "Transpose" not in kinds    # every layout change of the export is absorbed
    x = rng.normal(size=(40,) + tuple(design.graph.input_layouts[0].onnx_shape))
    design = compiler.compile_model(path, "zcu104", calib=x)
    got, want = compiler.simulate(design, x), run_reference(path, x)[0]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 0.005 * np.abs(want).max()
    r = compare(design, compiler.write_project(design, tmp_path / "out"), design.graph.inputs_to_ir(x))
    assert r.samples == 40 and r.mismatches == 0, r
