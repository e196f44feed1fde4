"""Element-wise arithmetic of two computed tensors (Mul, Max/Min chains, Add/Sub with
broadcasting), constants that vary along the positions (PositionAffine, PRelu slopes of any
broadcast shape) and Pad's edge/reflect modes: differential tests against onnxruntime with a
propagated worst-case error bound, the broadcast walk and FIFO sizing, the cost of the
broadcast operand's buffer and the constant ROMs, clear refusals, and one C simulation of
every kernel (qc_binary.h, qc::pad_mirror) bit-exact against the simulator."""
import numpy as np
import pytest
from onnx import helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError
from compiler.frontend.reference import run_reference
from compiler.ops._broadcast import geometry

from .onnx_builders import make_model, save


def _node(op, ins, out, **attrs):
    return helper.make_node(op, ins, [out], name=out, **attrs)


# ---- models (one input each: the second operand is a branch of the same input) ----------
def mul_equal(rng):
    return make_model([_node("Relu", ["x"], "r"), _node("Mul", ["x", "r"], "y")], [("x", [4, 5])], [("y", [4, 5])])


def mul_square(rng):
    return make_model([_node("Mul", ["x", "x"], "y")], [("x", [3, 4])], [("y", [3, 4])])


def mul_se_block(rng):
    """(N, C, H, W) * (N, C, 1, 1): a squeeze-and-excitation gate (the pool needs the whole
    image before its one item, so x waits in a deep FIFO)."""
    return make_model([_node("GlobalAveragePool", ["x"], "p"), _node("Mul", ["x", "p"], "y")],
                      [("x", [3, 4, 5])], [("y", [3, 4, 5])])


def mul_spatial_gate(rng):
    """(N, C, H, W) * (N, 1, H, W): one value per pixel for every channel (broadcast first)."""
    w = rng.normal(size=(1, 3, 1, 1))
    return make_model([_node("Conv", ["x", "w"], "g"), _node("Mul", ["g", "x"], "y")],
                      [("x", [3, 4, 5])], [("y", [3, 4, 5])], [("w", w)])


def add_size1(rng):
    """(N, C) + (N, 1) and (N, 1) - (N, C) (the reversed difference)."""
    w = rng.normal(size=(3, 1))
    return make_model([_node("MatMul", ["x", "w"], "s"), _node("Add", ["x", "s"], "a"),
                       _node("Sub", ["s", "a"], "y")], [("x", [3])], [("y", [3])], [("w", w)])


def max_chain(rng):
    """Variadic Max of three tensors and a scalar: a chain and a clamp."""
    return make_model([_node("Mul", ["x", "k"], "n"), _node("Relu", ["x"], "r"),
                       _node("Max", ["x", "n", "r", "c"], "y")],
                      [("x", [6])], [("y", [6])], [("c", np.float32(0.25)), ("k", np.float32(-0.75))])


def min_revisit(rng):
    """(N, C, H, W) with (N, C, 1, W): every row reuses the pooled row (a W-item buffer)."""
    return make_model([_node("AveragePool", ["x"], "p", kernel_shape=[3, 1]), _node("Min", ["x", "p"], "y")],
                      [("x", [2, 3, 4])], [("y", [2, 3, 4])])


def position_add_mul(rng):
    """x + C(2, 3, 4), * C(3, 4) (trailing-aligned: per pixel, all channels), C(3, 1) - x."""
    return make_model([_node("Add", ["x", "a"], "s"), _node("Mul", ["s", "m"], "t"), _node("Sub", ["b", "t"], "y")],
                      [("x", [2, 3, 4])], [("y", [2, 3, 4])],
                      [("a", rng.normal(size=(2, 3, 4))), ("m", rng.normal(size=(3, 4))),
                       ("b", rng.normal(size=(3, 1)))])


def position_div(rng):
    return make_model([_node("Div", ["x", "d"], "y")], [("x", [3, 5])], [("y", [3, 5])],
                      [("d", rng.uniform(0.5, 2.0, size=(3, 5)) * rng.choice([-1, 1], size=(3, 5)))])


def prelu_trailing(rng):
    """A slope of shape (1, 5) against (N, 3, 2, 5): ONNX aligns trailing axes, so it varies
    along W (per position), not per channel."""
    return make_model([_node("PRelu", ["x", "s"], "y")], [("x", [3, 2, 5])], [("y", [3, 2, 5])],
                      [("s", rng.normal(size=(1, 5)))])


def prelu_full(rng):
    return make_model([_node("PRelu", ["x", "s"], "y")], [("x", [2, 3, 4])], [("y", [2, 3, 4])],
                      [("s", rng.normal(size=(2, 3, 4)))])


def _pad(mode, pads, shape):
    def build(rng):
        r = len(shape) + 1
        p = [0] + list(pads[:r - 1]) + [0] + list(pads[r - 1:])
        out = [d + p[i + 1] + p[r + i + 1] for i, d in enumerate(shape)]
        return make_model([_node("Pad", ["x", "p"], "y", mode=mode)], [("x", shape)], [("y", out)],
                          [("p", np.array(p, dtype=np.int64))])
    build.__name__ = f"pad_{mode}_{'x'.join(map(str, shape))}"
    return build


def _int_inits(model):
    """Pad's pads must be int64: make_model writes float32 initializers."""
    from onnx import numpy_helper
    for i, t in enumerate(model.graph.initializer):
        if t.name == "p":
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(t).astype(np.int64), "p"))
    return model


# pads of the per-sample axes: begins, then ends
pad_reflect = _pad("reflect", [0, 2, 1, 0, 1, 3], [2, 4, 5])
pad_edge = _pad("edge", [0, 3, 0, 0, 1, 2], [2, 3, 4])
pad_reflect_1d = _pad("reflect", [0, 2, 0, 3], [3, 6])
pad_edge_channels = _pad("edge", [1, 0, 2, 1, 1, 0], [2, 3, 4])

DIFFERENTIAL = {
    "Mul": [mul_equal, mul_square, mul_se_block, mul_spatial_gate],
    "MinMax": [max_chain, min_revisit],
    "AddBroadcast": [add_size1],
    "PositionAffine": [position_add_mul, position_div],
    "PRelu": [prelu_trailing, prelu_full],
    "Pad": [pad_reflect, pad_edge, pad_reflect_1d, pad_edge_channels],
}
BUILDERS = [b for bs in DIFFERENTIAL.values() for b in bs]


def _model(builder, rng, path):
    m = builder(rng)
    if builder.__name__.startswith("pad_"):
        m = _int_inits(m)
    return save(m, path)


def error_bound(design) -> float:
    """Worst-case |simulator - float model| on inputs on the input type's grid: per stage its
    own rounding (one output lsb; quantized constants) plus the errors it receives through
    its gain (a product: each input's error times the other's largest magnitude)."""
    g = design.graph
    err = {t: 0.0 for t in g.inputs}

    def mag(t):
        ty = g.tensors[t].type
        return max(abs(ty.min_value), abs(ty.max_value))

    for node in g.nodes():
        op, ins = node.op, node.inputs
        e_in = [err[t] for t in ins]
        lsb = g.tensors[node.outputs[0]].type.lsb
        if node.kind == "Mul":
            a, b = ins[0], ins[-1]
            ea, eb = e_in[0], e_in[-1]
            e = ea * mag(b) + eb * mag(a) + ea * eb
        elif node.kind in ("Add", "AddBroadcast"):
            e = sum(e_in)
        elif node.kind in ("Affine", "PositionAffine"):
            e = e_in[0] * float(np.abs(op.scale).max()) + mag(ins[0]) * op.scale_type.lsb / 2
        elif node.kind == "PRelu":
            e = e_in[0] * max(1.0, float(np.abs(op.slope).max())) + op.max_error
        elif getattr(op, "weight", None) is not None and getattr(op, "weight_type", None) is not None:
            w = op.weight
            e = max(e_in) * float(np.abs(w).sum(axis=0).max()) + mag(ins[0]) * w.shape[0] * op.weight_type.lsb / 2
        else:
            e = max(e_in)
        err[node.outputs[0]] = e + lsb
    return max(err[t] for t in g.outputs)


def _layer(design, name):
    return next(c for n, _, c in compiler.estimate(design).layers if n == name)


def _inputs(design, rng, n=300, scale=2.0):
    g = design.graph
    t = g.tensors[g.inputs[0]]
    x_ir = t.type.to_float(t.type.quantize(rng.normal(scale=scale, size=(n,) + t.shape)))
    return x_ir, g.input_layouts[0].to_onnx(x_ir)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_against_onnxruntime(builder, tmp_path, rng):
    path = _model(builder, rng, tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    kinds = {n.kind for n in design.graph.nodes()}
    expect = next(k for k, bs in DIFFERENTIAL.items() if builder in bs)
    assert expect in kinds, kinds
    x_ir, x = _inputs(design, rng)
    got = compiler.simulate(design, x)
    want = run_reference(path, x)[0]
    err = float(np.abs(got - want).max())
    bound = error_bound(design) + 1e-6 * (1 + float(np.abs(want).max()))  # onnxruntime's float32
    print(f"{builder.__name__}: {sorted(kinds)} max abs error {err:.3g} (bound {bound:.3g})")
    assert err <= bound
    if expect == "Pad":
        assert err == 0.0  # values only move


def test_prelu_slopes_of_legacy_opset_are_per_channel(tmp_path, rng):
    """Opset 6 PRelu had no broadcasting: PyTorch's (C,) slope is per channel (as onnx's
    reference reads it), from opset 7 it aligns with the last axis."""
    s = np.array([0.1, -0.5, 2.0])
    m6 = make_model([_node("PRelu", ["x", "s"], "y")], [("x", [3, 4])], [("y", [3, 4])], [("s", s)], opset=6)
    m6.ir_version = 3
    d = compiler.compile_model(save(m6, tmp_path / "m6.onnx"), "zcu104")
    x = -np.ones((2, 3, 4))
    assert np.allclose(compiler.simulate(d, x), -s[None, :, None] * np.ones((2, 3, 4)), atol=1e-3)
    m13 = make_model([_node("PRelu", ["x", "s"], "y")], [("x", [4, 3])], [("y", [4, 3])], [("s", s)])
    d = compiler.compile_model(save(m13, tmp_path / "m13.onnx"), "zcu104")
    assert np.allclose(compiler.simulate(d, -np.ones((2, 4, 3))), -s[None, None, :] * np.ones((2, 4, 3)), atol=1e-3)


def test_broadcast_walk():
    """B's item per X item, the items of B read so far, the reuse buffer."""
    g = geometry((3, 4, 2), (1, 4, 2))       # (H, W, C) with (1, W, C): revisited every row
    assert g.revisit_axis == 0 and g.buf_items == 4 and g.b_lanes
    assert list(g.b_index()) == [0, 1, 2, 3] * 3
    assert list(g.b_items_needed()) == [1, 2, 3, 4] + [4] * 8
    g = geometry((3, 4, 2), (3, 1, 1))       # one value per row, for every channel
    assert g.revisit_axis == 2 and g.buf_items == 1 and not g.b_lanes
    assert list(g.b_items_needed()) == [1] * 4 + [2] * 4 + [3] * 4
    with pytest.raises(ValueError):
        geometry((3, 4, 2), (2, 4, 2))


def test_se_block_fifo_holds_the_image_and_cost_counts_the_buffers(tmp_path, rng):
    """x waits for the pooled gate: its FIFO holds the whole image (H*W items); the gate is
    one item per sample, read once and kept in a register buffer of C values."""
    design = compiler.compile_model(_model(mul_se_block, rng, tmp_path / "m.onnx"), "zcu104")
    (node,) = [n for n in design.graph.nodes() if n.kind == "Mul"]
    assert node.op.input_depths[0] >= 20 and node.op.input_depths[1] == 2
    layer = _layer(design, node.name)
    assert layer.detail["reuse_words"] >= 1 and layer.detail["broadcast"] == [1, 1, 3]
    # the position ROM of a per-position constant is in the cost
    design = compiler.compile_model(_model(position_add_mul, rng, tmp_path / "p.onnx"), "zcu104")
    roms = [_layer(design, n.name).detail for n in design.graph.nodes() if n.kind == "PositionAffine"]
    assert any(d["rom_words"] == 12 for d in roms), roms


def test_mul_uses_a_multiplier_per_lane(tmp_path, rng):
    design = compiler.compile_model(_model(mul_equal, rng, tmp_path / "m.onnx"), "zcu104")
    (node,) = [n for n in design.graph.nodes() if n.kind == "Mul"]
    layer = _layer(design, node.name)
    lanes = layer.detail["lanes"]
    assert layer.dsp == lanes  # 16 x 16 bits: one DSP slice each
    t = design.graph.tensors
    a, b = (t[i].type for i in node.inputs)
    assert node.op.acc_type.frac_bits == a.frac_bits + b.frac_bits


@pytest.mark.parametrize("nodes, inputs, inits, message", [
    ([_node("Relu", ["x"], "r"), _node("Div", ["x", "r"], "y")], [("x", [4])], [],
     "node 'y' (Div): Div of two computed tensors is not supported"),
    ([_node("GlobalAveragePool", ["x"], "p"), _node("Conv", ["x", "w"], "q"),
      _node("Mul", ["p", "q"], "y")], [("x", [2, 3, 4])], [("w", np.ones((1, 2, 1, 1)))],
     "node 'y' (Mul): inputs of shapes (N, 2, 1, 1) and (N, 1, 3, 4) both broadcast"),
    ([_node("Add", ["x", "c"], "y")], [("x", [3, 4])], [("c", np.ones((2, 1, 1)))],
     "node 'y' (Add): the constant operand of shape (2, 1, 1) varies along axis 0, the batch"),
    ([_node("PRelu", ["x", "s"], "y")], [("x", [3, 4])], [("s", np.ones(3))],
     "node 'y' (PRelu): the slope of shape (3,) does not broadcast to the input (N, 3, 4) (ONNX aligns trailing"),
    ([_node("Max", ["x", "c"], "y")], [("x", [3])], [("c", np.ones(3))],
     "node 'y' (Max): Max with a constant operand of shape (3,) is not supported (supported: a scalar"),
    ([_node("Pad", ["x", "p"], "y", mode="reflect")], [("x", [2, 3])], [("p", np.array([0, 0, 3, 0, 0, 0]))],
     "node 'y' (Pad): reflect pads 3, 0 on axis 2 of size 3 (supported: smaller than the axis)"),
    ([_node("Pad", ["x", "p"], "y", mode="wrap")], [("x", [2, 3])], [("p", np.array([0, 0, 1, 0, 0, 0]))],
     "node 'y' (Pad): mode=wrap is not supported (supported: constant, edge, reflect)"),
])
def test_errors_name_node_and_op(nodes, inputs, inits, message, tmp_path):
    m = make_model(nodes, inputs, [("y", [1])], inits, opset=19)
    m = _int_inits(m)
    with pytest.raises(CompileError) as e:
        compiler.compile_model(save(m, tmp_path / "m.onnx"), "zcu104")
    assert message in str(e.value), str(e.value)


def all_kernels(rng):
    """One model with every kernel: Mul by a per-channel gate (one item per sample), Max with
    a per-pixel value (broadcast over channels), Min with a revisited row, a reversed Sub
    broadcast, a square, per-position Add and Mul constants, per-position PRelu slopes,
    reflect and edge Pads."""
    w = rng.normal(size=(1, 4, 1, 1))
    nodes = [_node("Conv", ["x0", "w0"], "x"),   # 4 channels, folded to beats of 2 (see the test)
             _node("GlobalAveragePool", ["x"], "p"), _node("Mul", ["x", "p"], "m1"),
             _node("Conv", ["x", "w"], "c"), _node("Max", ["m1", "c"], "m2"),
             _node("AveragePool", ["x"], "a", kernel_shape=[3, 1]), _node("Min", ["m2", "a"], "m3"),
             _node("Sub", ["a", "m3"], "m4"), _node("Mul", ["m4", "m4"], "m5"),
             _node("Add", ["m5", "k1"], "m6"), _node("Mul", ["m6", "k2"], "m7"),
             _node("PRelu", ["m7", "s"], "m8"),
             _node("Pad", ["m8", "p1"], "m9", mode="reflect"), _node("Pad", ["m9", "p2"], "y", mode="edge")]
    inits = [("w0", rng.normal(size=(4, 2, 1, 1)) / 2), ("w", w), ("k1", rng.normal(size=(4, 3, 4))), ("k2", rng.normal(size=(3, 1))),
             ("s", rng.normal(size=(3, 4))), ("p1", np.array([0, 0, 2, 1, 0, 0, 1, 3])),
             ("p2", np.array([0, 0, 1, 0, 0, 0, 2, 1]))]
    m = make_model(nodes, [("x0", [2, 3, 4])], [("y", [4, 7, 9])], inits)
    from onnx import numpy_helper
    for i, t in enumerate(m.graph.initializer):
        if t.name in ("p1", "p2"):
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.int64),
                                                                    t.name))
    return m


def test_every_kernel_is_bit_exact_in_csim(tmp_path, rng):
    path = save(all_kernels(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", layers={"x": {"pe": 2}})
    kinds = [n.kind for n in design.graph.nodes()]
    beats = {n.name: design.graph.tensors[n.outputs[0]].beat for n in design.graph.nodes()}
    assert beats["m1"] == 2 and beats["m6"] == 2, beats  # two beats per item: the b_groups paths
    for k in ("Mul", "MinMax", "AddBroadcast", "PositionAffine", "PRelu", "Pad"):
        assert k in kinds, kinds
    x_ir, x = _inputs(design, rng, n=200, scale=3.0)
    want = run_reference(path, x)[0]
    got = compiler.simulate(design, x)
    print(f"all kernels vs onnxruntime: max abs error {np.abs(got - want).max():.3g} (bound {error_bound(design):.3g})")
    assert np.abs(got - want).max() <= error_bound(design) + 1e-5 * (1 + np.abs(want).max())
    out = compiler.write_project(design, tmp_path / "out")
    r = compare(design, out, x_ir)
    print(r)
    assert r.samples == 200 and r.mismatches == 0, r
