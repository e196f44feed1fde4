"""MatMul of two computed tensors (ops/matmul.py) and models without a batch axis
(frontend/whole_tensor.py): differential tests against onnxruntime, refusals, and one C
simulation covering both."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import UnsupportedError
from compiler.frontend.reference import run_reference

from . import onnx_builders as B


def attention_core(rng, t=5, d=4, e=3):
    """relu(q @ kᵀ) @ v on (N, T, D) inputs: both products are of two streams."""
    return B.make_model([helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1], name="tr"),
                         helper.make_node("MatMul", ["q", "kt"], ["s"], name="qk"),
                         helper.make_node("Relu", ["s"], ["r"], name="relu"),
                         helper.make_node("MatMul", ["r", "v"], ["y"], name="sv")],
                        [("q", [t, d]), ("k", [t, d]), ("v", [t, e])], [("y", [t, e])])


def heads(rng, h=2, t=3, d=4):
    """A product per head: (N, H, T, D) @ (N, H, D, T)."""
    return B.make_model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
                        [("a", [h, t, d]), ("b", [h, d, t])], [("y", [h, t, t])])


def _fixed(model, shapes):
    """The model with every graph input and output of these fixed shapes (no batch axis)."""
    for v, shape in zip(list(model.graph.input) + list(model.graph.output), shapes):
        v.type.tensor_type.shape.Clear()
        v.type.tensor_type.shape.dim.extend(helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
                                            .type.tensor_type.shape.dim)
    return model


def seq_first_attention(rng, length=6, embed=8):
    """PyTorch's (L, N=1, E) attention layout: the batch axis is the second, so Transposes move
    axis 0 (a sequence), and one sample is the whole tensor."""
    m = B.make_model([helper.make_node("Transpose", ["q"], ["qt"], perm=[1, 0, 2], name="tq"),
                      helper.make_node("Transpose", ["k"], ["kt"], perm=[1, 2, 0], name="tk"),
                      helper.make_node("MatMul", ["qt", "kt"], ["s"], name="qk"),
                      helper.make_node("Mul", ["s", "scale"], ["ss"], name="scale"),
                      helper.make_node("Transpose", ["v"], ["vt"], perm=[1, 0, 2], name="tv"),
                      helper.make_node("MatMul", ["ss", "vt"], ["o"], name="sv"),
                      helper.make_node("Transpose", ["o"], ["y"], perm=[1, 0, 2], name="to")],
                     [("q", []), ("k", []), ("v", [])], [("y", [])], [("scale", np.float32(embed ** -0.5))])
    return _fixed(m, [(length, 1, embed)] * 4)


DIFFERENTIAL = {"MatMul": [attention_core, heads, seq_first_attention]}


@pytest.mark.parametrize("builder", DIFFERENTIAL["MatMul"], ids=lambda b: b.__name__)
def test_matmul_of_two_streams_against_onnxruntime(builder, tmp_path, rng):
    path = B.save(builder(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    whole = design.graph.whole_tensor
    shapes = [design.graph.input_layouts[k].onnx_shape for k in range(len(design.graph.inputs))]
    x = [rng.normal(size=(200,) + tuple(s)) for s in shapes]
    design = compiler.compile_model(path, "zcu104", calib=x)
    assert "MatMul" in {n.kind for n in design.graph.nodes()}
    got = compiler.simulate(design, x)
    want = run_reference(path, x, whole_tensor=whole)[0]
    if whole:  # one sample in the model's own shapes gives the model's own output shape
        assert np.array_equal(compiler.simulate(design, [v[0] for v in x]), got[0])
    assert got.shape == want.shape
    err = np.abs(got - want).max()
    print(f"{builder.__name__}: max error {err:.3g} of {np.abs(want).max():.3g}")
    assert err <= 0.01 * np.abs(want).max()


def test_whole_tensor_models_refuse_ops_with_a_batch_axis(tmp_path, rng):
    """A batch-moving Transpose makes the model whole-tensor; a Conv there would read the wrong
    axis as its channels, so it is refused (with the batch reading's own message)."""
    m = B.make_model([helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2, 3], name="tr"),
                      helper.make_node("Conv", ["t", "w"], ["y"], name="conv")],
                     [("x", [])], [("y", [])], [("w", rng.normal(size=(2, 1, 1, 1)))])
    path = B.save(_fixed(m, [(1, 3, 4, 4), (3, 2, 4, 4)]), tmp_path / "m.onnx")
    with pytest.raises(UnsupportedError, match="node 'tr' \\(Transpose\\)"):
        compiler.compile_model(path, "zcu104")


def test_a_fixed_batch_of_one_may_be_squeezed_away(tmp_path, rng):
    m = B.make_model([helper.make_node("Squeeze", ["x", "ax"], ["s"], name="sq"),
                      helper.make_node("Relu", ["s"], ["y"], name="r")], [("x", [])], [("y", [])],
                     [("ax", np.array([0]))])
    m.graph.initializer[0].data_type = TensorProto.INT64
    m.graph.initializer[0].ClearField("float_data")
    m.graph.initializer[0].raw_data = np.array([0], dtype=np.int64).tobytes()
    path = B.save(_fixed(m, [(1, 4), (4,)]), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    assert design.graph.whole_tensor
    x = np.round(rng.normal(size=(1, 4)) * 16) / 16
    assert np.array_equal(compiler.simulate(design, x), np.maximum(x[0], 0))


def test_matmul_refusals_are_one_line(tmp_path, rng):
    m = B.make_model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
                     [("a", [2, 3, 4]), ("b", [1, 4, 3])], [("y", [2, 3, 3])])
    with pytest.raises(UnsupportedError, match="node 'mm' \\(MatMul\\).*no broadcasting"):
        compiler.compile_model(B.save(m, tmp_path / "m.onnx"), "zcu104")


def test_matmul_and_whole_tensor_designs_are_bit_exact_in_csim(tmp_path, rng):
    for name, builder in (("heads", heads), ("seq", seq_first_attention)):
        path = B.save(builder(rng), tmp_path / f"{name}.onnx")
        design = compiler.compile_model(path, "zcu104")
        shapes = [design.graph.tensors[t].shape for t in design.graph.inputs]
        x = [rng.normal(scale=3, size=(200,) + s) for s in shapes]
        r = compare(design, compiler.write_project(design, tmp_path / f"out_{name}"), x)
        assert r.samples == 200 and r.mismatches == 0, (name, r)
