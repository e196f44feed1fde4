"""Gather as an embedding lookup (ops/gather.py): int64 indices from the graph input into a
constant table, against onnxruntime, refusals, and C simulation."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import UnsupportedError
from compiler.frontend.reference import run_reference

from . import onnx_builders as B


def embedding_mlp(rng, vocab=11, dim=4, length=3, classes=2):
    """Token ids -> embedding -> flatten -> dense: a tiny text classifier."""
    m = B.make_model([helper.make_node("Gather", ["E", "ids"], ["e"], name="emb", axis=0),
                      helper.make_node("Flatten", ["e"], ["f"], name="flat", axis=1),
                      helper.make_node("MatMul", ["f", "W"], ["y"], name="fc")],
                     [("ids", [length])], [("y", [classes])],
                     [("E", rng.normal(size=(vocab, dim))), ("W", rng.normal(size=(length * dim, classes)))])
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    return m


def embedding_only(rng, vocab=7, dim=3, length=5):
    m = B.make_model([helper.make_node("Gather", ["E", "ids"], ["y"], name="emb")],
                     [("ids", [length])], [("y", [length, dim])], [("E", rng.normal(size=(vocab, dim)))])
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    return m


DIFFERENTIAL = {"Gather": [embedding_mlp, embedding_only]}


@pytest.mark.parametrize("builder", DIFFERENTIAL["Gather"], ids=lambda b: b.__name__)
def test_embedding_against_onnxruntime(builder, tmp_path, rng):
    path = B.save(builder(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    g = design.graph
    vocab = next(n.op for n in g.nodes() if n.kind == "Gather").table.shape[0]
    ids = rng.integers(-vocab, vocab, size=(300,) + g.input_layouts[0].onnx_shape)   # negative: from the end
    got = compiler.simulate(design, ids)
    want = run_reference(path, ids.astype(np.int64))[0]
    emb = next(n.op for n in g.nodes() if n.kind == "Gather")
    err = np.abs(got - want).max()
    assert err <= 2 * emb.table_type.lsb * (12 if builder is embedding_mlp else 1), err


def test_out_of_range_indices_read_the_nearest_row(tmp_path, rng):
    design = compiler.compile_model(B.save(embedding_only(rng), tmp_path / "m.onnx"), "zcu104")
    op = next(n.op for n in design.graph.nodes() if n.kind == "Gather")
    got = compiler.simulate(design, np.array([[0, 6, 7, 100, -100]]))
    t = op.table_type.to_float(op.table_type.quantize(op.table))
    assert np.array_equal(got[0], t[[0, 6, 6, 6, 0]])


def test_float_indices_are_refused(tmp_path, rng):
    m = embedding_only(rng)
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT
    with pytest.raises(UnsupportedError, match="node 'emb' \\(Gather\\): the indices must be an integer tensor"):
        compiler.compile_model(B.save(m, tmp_path / "m.onnx"), "zcu104")


def test_embedding_is_bit_exact_in_csim(tmp_path, rng):
    path = B.save(embedding_mlp(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    x = design.graph.inputs_to_ir(rng.integers(-11, 14, size=(200, 3)))
    r = compare(design, compiler.write_project(design, tmp_path / "out"), x)
    assert r.samples == 200 and r.mismatches == 0, r
