"""Slice, Split, Tile and Expand against onnxruntime: 1-D, 2-D and image shapes along every axis,
negative and clamped indices, negative steps (lanes reversed in the kernel; items reversed
through the output's layout), Split by attribute, input, num_outputs and equal parts, Tile and
Expand; the layout rules (a reversed spatial slice costs a Transpose only where a consumer
needs the order); FIFO sizing across a split that meets again; clear errors; one C simulation
covering every kernel mode bit for bit."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import compiler
from compiler.backend.csim import compare
from compiler.errors import CompileError
from compiler.frontend.reference import run_reference

from .onnx_builders import QONNX, quant_node, save

BIG = 2 ** 63 - 1


def _model(nodes, in_shape, outs, inits=(), opset=13, fixed_batch=None):
    """Input x (N, *in_shape) (or a fixed shape), outputs [(name, shape or None)]; int64 inits."""
    batch = ["N"] if fixed_batch is None else []
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, batch + list(in_shape))]
    out_vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n, _ in outs]
    tensors = [numpy_helper.from_array(np.asarray(v, dtype=np.int64 if np.asarray(v).dtype.kind in "iu" else
                                                  np.float32), k) for k, v in inits]
    m = helper.make_model(helper.make_graph(nodes, "t", ins, out_vi, tensors),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset < 21 else 10
    return m


def _slice(x, y, starts, ends, axes=None, steps=None, name="s", tag=""):
    """A Slice node (opset >= 10) and its constant inputs."""
    p = name + tag
    ins, inits = [x, f"{p}_b", f"{p}_e"], [(f"{p}_b", starts), (f"{p}_e", ends)]
    if axes is not None:
        ins.append(f"{p}_a")
        inits.append((f"{p}_a", axes))
    if steps is not None:
        if axes is None:
            raise ValueError("steps need axes")
        ins.append(f"{p}_t")
        inits.append((f"{p}_t", steps))
    return helper.make_node("Slice", ins, [y], name=name), inits


# ---- builders: one model each (name -> builder(rng)) ------------------------------------------
def slice_1d(rng):
    """(N, 11): negative start, step 3 along the only (channel) axis."""
    n, i = _slice("x", "y", [-10], [BIG], [1], [3])
    return _model([n], (11,), [("y", None)], i)


def slice_1d_reversed(rng):
    """(N, 9): a negative step from a clamped start down to a clamped INT_MIN end (all lanes
    reversed), then another reversal by step -2."""
    n1, i1 = _slice("x", "r", [BIG], [-BIG - 1], [1], [-1], name="rev")
    n2, i2 = _slice("r", "y", [-2], [0], [1], [-2], name="rev2")
    return _model([n1, n2], (9,), [("y", None)], i1 + i2)


def slice_2d_every_axis(rng):
    """(N, 6, 7): channels 1..5 step 2 and positions 6..0 step -3 (reversed items)."""
    n, i = _slice("x", "y", [1, 6], [6, -BIG - 1], [1, 2], [2, -3])
    return _model([n], (6, 7), [("y", None)], i)


def slice_image_every_axis(rng):
    """(N, 5, 8, 9): channels reversed, rows 1..7 step 2, columns -7..-1."""
    n, i = _slice("x", "y", [4, 1, -7], [-BIG - 1, 100, -1], [1, 2, 3], [-1, 2, 1])
    return _model([n], (5, 8, 9), [("y", None)], i)


def slice_image_default_axes(rng):
    """No axes input: starts/ends cover the leading axes (the batch kept whole)."""
    n, i = _slice("x", "y", [0, 1, 2], [BIG, 4, 7])
    return _model([n], (5, 6, 8), [("y", None)], i)


def slice_opset9_attributes(rng):
    """Opset 9: starts/ends/axes as attributes, negative axis and clamped end."""
    n = helper.make_node("Slice", ["x"], ["y"], name="s", starts=[1, -3], ends=[1000, -1], axes=[1, -1])
    return _model([n], (4, 6, 7), [("y", None)], opset=9)


def slice_reversed_rows_into_conv(rng):
    """Rows reversed (a layout record), then a Conv that needs channels-last order: the data
    moves (a Transpose), and the Conv's output is right."""
    n, i = _slice("x", "r", [-1], [-BIG - 1], [2], [-1])
    w = rng.normal(scale=0.5, size=(2, 3, 3, 3))
    conv = helper.make_node("Conv", ["r", "W"], ["y"], name="conv", kernel_shape=[3, 3])
    return _model([n, conv], (3, 6, 5), [("y", None)], i + [("W", w)])


def split_attribute_opset11(rng):
    """(N, 7, 4): split=[2, 5] along the channels (attribute, opset 11), both outputs."""
    n = helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=1, split=[2, 5])
    return _model([n], (7, 4), [("a", None), ("b", None)], opset=11)


def split_input_spatial(rng):
    """(N, 3, 9, 4): split input [2, 3, 4] along the rows (opset 13), three outputs."""
    n = helper.make_node("Split", ["x", "sz"], ["a", "b", "c"], name="sp", axis=2)
    return _model([n], (3, 9, 4), [("a", None), ("b", None), ("c", None)], [("sz", [2, 3, 4])])


def split_num_outputs(rng):
    """Opset 18 num_outputs=3 over 8 columns: 3, 3, 2."""
    n = helper.make_node("Split", ["x"], ["a", "b", "c"], name="sp", axis=-1, num_outputs=3)
    return _model([n], (2, 5, 8), [("a", None), ("b", None), ("c", None)], opset=18)


def split_halves_meet_again(rng):
    """(N, 4, 6, 5): equal split of the rows, the halves added: the upper half waits in a
    FIFO while the filter skips to the lower half (passes/size_fifos.py)."""
    n = helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=2)
    add = helper.make_node("Add", ["a", "b"], ["y"], name="add")
    return _model([n, add], (4, 6, 5), [("y", None)])


def split_channels_then_sub(rng):
    """A GLU-like shape without the product: (N, 6) halves along the channels, subtracted."""
    n = helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=1)
    sub = helper.make_node("Sub", ["a", "b"], ["y"], name="sub")
    return _model([n, sub], (6,), [("y", None)])


def split_rank1_whole_tensor(rng):
    """A fixed rank-1 input (no batch axis): Split along its only axis."""
    n = helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=0, split=[3, 2])
    return _model([n], (5,), [("a", None), ("b", None)], opset=11, fixed_batch=True)


def tile_1d(rng):
    n = helper.make_node("Tile", ["x", "r"], ["y"], name="t")
    return _model([n], (5,), [("y", None)], [("r", [1, 3])])


def tile_2d(rng):
    """(N, 3, 4): channels x2, positions x3."""
    n = helper.make_node("Tile", ["x", "r"], ["y"], name="t")
    return _model([n], (3, 4), [("y", None)], [("r", [1, 2, 3])])


def tile_image(rng):
    """(N, 2, 3, 4): every axis repeated (the whole frame buffered)."""
    n = helper.make_node("Tile", ["x", "r"], ["y"], name="t")
    return _model([n], (2, 3, 4), [("y", None)], [("r", [1, 2, 2, 3])])


def tile_columns_only(rng):
    """(N, 3, 4, 5): only the columns repeat: one row is buffered."""
    n = helper.make_node("Tile", ["x", "r"], ["y"], name="t")
    return _model([n], (3, 4, 5), [("y", None)], [("r", [1, 1, 1, 3])])


def expand_image(rng):
    """(N, 3, 1, 1) -> (N, 3, 4, 5) (after a pooling: a computed, channels-last input)."""
    pool = helper.make_node("GlobalAveragePool", ["x"], ["p"], name="gap")
    n = helper.make_node("Expand", ["p", "shape"], ["y"], name="e")
    return _model([pool, n], (3, 6, 7), [("y", None)], [("shape", [1, 3, 4, 5])])


def expand_2d_shorter_shape(rng):
    """(N, 1, 6) expanded by a shape of rank 2 (aligned from the right): (N, 4, 6)."""
    n = helper.make_node("Expand", ["x", "shape"], ["y"], name="e")
    return _model([n], (1, 6), [("y", None)], [("shape", [4, 1])])


def slice_whole_rank1(rng):
    """A fixed rank-1 input: positions 5, 3, 1 (the only axis is not a batch)."""
    n, i = _slice("x", "y", [5], [0], [0], [-2])
    return _model([n], (7,), [("y", None)], i, fixed_batch=True)


def tile_whole_tensor(rng):
    """A fixed (2, 3) input tiled (2, 2): its first axis repeats, so it is not a batch."""
    n = helper.make_node("Tile", ["x", "r"], ["y"], name="t")
    return _model([n], (2, 3), [("y", None)], [("r", [2, 2])], fixed_batch=True)


def expand_whole_tensor(rng):
    """A fixed (3, 1) input expanded to (2, 3, 4): a new leading axis and a broadcast one."""
    n = helper.make_node("Expand", ["x", "shape"], ["y"], name="e")
    return _model([n], (3, 1), [("y", None)], [("shape", [2, 3, 4])], fixed_batch=True)


def quantized_per_channel(rng):
    """A per-channel (non-power-of-two) quantizer, lanes reversed by step -2, tiled x3: the
    channels' real scales follow them (no requantizer)."""
    q, qi = quant_node("q", "x", "xq", np.array([0.3, 0.7, 0.11, 0.5], dtype=np.float32), 6)
    n, i = _slice("xq", "s", [-1], [-BIG - 1], [1], [-2])
    t = helper.make_node("Tile", ["s", "r"], ["y"], name="t")
    m = _model([q, n, t], (4,), [("y", None)], qi + i + [("r", [1, 3])])
    m.opset_import.append(helper.make_opsetid(QONNX, 1))
    return m


SLICES = [slice_1d, slice_1d_reversed, slice_2d_every_axis, slice_image_every_axis, slice_image_default_axes,
          slice_opset9_attributes, slice_reversed_rows_into_conv, split_attribute_opset11, split_input_spatial,
          split_num_outputs, split_halves_meet_again, split_channels_then_sub, split_rank1_whole_tensor,
          slice_whole_rank1]
TILES = [tile_1d, tile_2d, tile_image, tile_columns_only, expand_image, expand_2d_shorter_shape, tile_whole_tensor,
         expand_whole_tensor]
DIFFERENTIAL = {"Slice": SLICES + [quantized_per_channel], "Tile": TILES + [quantized_per_channel]}
EXACT = set(SLICES + TILES) - {slice_reversed_rows_into_conv, expand_image, split_halves_meet_again,
                               split_channels_then_sub}


def _inputs(design, rng, n=64):
    """Random data in the model's layout, exactly representable in the input type."""
    g = design.graph
    t = g.tensors[g.inputs[0]]
    shape = tuple(g.input_layouts[0].onnx_shape)
    if g.whole_tensor:
        return t.type.to_float(t.type.quantize(rng.normal(scale=3.0, size=shape)))
    x = rng.normal(scale=3.0, size=(n,) + shape)
    return t.type.to_float(t.type.quantize(x))


def _outputs(v):
    return v if isinstance(v, list) else [v]


@pytest.mark.parametrize("builder", SLICES + TILES, ids=lambda b: b.__name__)
def test_against_onnxruntime(builder, tmp_path, rng):
    path = save(builder(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    x = _inputs(design, rng)
    got, want = _outputs(compiler.simulate(design, x)), run_reference(path, x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape, (g.shape, w.shape)
        err = float(np.abs(g - w).max())
        lsb = max(design.graph.tensors[t].type.lsb for t in design.graph.outputs)
        if builder in EXACT:
            assert err == 0, err        # values are only moved: exact on representable inputs
        else:
            assert err <= 4 * lsb + 1e-3 * float(np.abs(w).max()), err


def test_per_channel_scales_follow_their_channels(tmp_path, rng):
    path = save(quantized_per_channel(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    g = design.graph
    assert _kinds(design) == ["Slice", "Tile"]
    assert np.allclose(g.tensors[g.outputs[0]].scale, np.tile([0.5, 0.7], 3))
    x = rng.normal(scale=4.0, size=(200, 4))
    got, want = compiler.simulate(design, x), run_reference(path, x)[0]
    assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max()  # float32 reference rounding only


def _kinds(design):
    return [n.kind for n in design.graph.nodes()]


def test_types_are_kept_and_nothing_moves_needlessly(tmp_path, rng):
    """Output type = input type; a reversed spatial slice at the graph output is a layout
    record (no Transpose), into a Conv it costs one; Split is one Slice per output."""
    d = compiler.compile_model(save(slice_2d_every_axis(rng), tmp_path / "a.onnx"), "zcu104")
    g = d.graph
    assert _kinds(d) == ["Slice"]
    (node,) = g.nodes()
    assert g.tensors[node.inputs[0]].type == g.tensors[node.outputs[0]].type
    assert g.output_layouts[0].index() is not None        # the reversal: the host reorders
    d = compiler.compile_model(save(slice_reversed_rows_into_conv(rng), tmp_path / "b.onnx"), "zcu104")
    assert _kinds(d) == ["Slice", "Transpose", "Conv"]
    d = compiler.compile_model(save(split_input_spatial(rng), tmp_path / "c.onnx"), "zcu104")
    assert _kinds(d) == ["Slice"] * 3
    d = compiler.compile_model(save(slice_image_default_axes(rng), tmp_path / "d.onnx"), "zcu104")
    assert _kinds(d) == ["Slice"]


def test_split_halves_get_a_deep_fifo(tmp_path, rng):
    """The upper half of the rows is produced before the lower half starts: the Add's first
    input FIFO holds half the image (15 items of 5x... here 3 rows x 5 columns)."""
    d = compiler.compile_model(save(split_halves_meet_again(rng), tmp_path / "m.onnx"), "zcu104")
    add = next(n for n in d.graph.nodes() if n.kind == "Add")
    assert add.op.input_depths[0] >= 3 * 5, add.op.input_depths


def test_cost(tmp_path, rng):
    """A slice is a filter: its interval is the input's beats, no memory; a tile along the
    rows buffers the frame; along the channels only it buffers nothing."""
    d = compiler.compile_model(save(slice_image_every_axis(rng), tmp_path / "a.onnx"), "zcu104")
    (name, _, c), = compiler.estimate(d).layers
    assert c.style == "slice_filter" and c.bram_18k == 0 and c.dsp == 0
    assert c.ii == 8 * 9  # one whole item per beat (the channels are reversed lanes)
    d = compiler.compile_model(save(tile_image(rng), tmp_path / "b.onnx"), "zcu104")
    (_, _, c), = compiler.estimate(d).layers
    assert c.style == "tile_buffer" and c.detail["buffer_items"] == 12 and c.ii == 12 + 72
    d = compiler.compile_model(save(tile_1d(rng), tmp_path / "c.onnx"), "zcu104")
    (_, _, c), = compiler.estimate(d).layers
    assert c.style == "tile_lanes" and c.bram_18k == 0 and c.ii == 1


def _error_models(rng):
    s_batch, i_batch = _slice("x", "y", [1], [3], [0])
    yield "slicing the batch dimension", _model([s_batch], (4,), [("y", None)], i_batch)
    s_empty, i_empty = _slice("x", "y", [3], [1], [1])
    yield "select nothing", _model([s_empty], (4,), [("y", None)], i_empty)
    s_zero, i_zero = _slice("x", "y", [0], [3], [1], [0])
    yield "steps [0] contain 0", _model([s_zero], (4,), [("y", None)], i_zero)
    relu = helper.make_node("Relu", ["x"], ["r"], name="r")
    computed = helper.make_node("Slice", ["x", "r", "e"], ["y"], name="s")
    yield "starts must be a constant", _model([relu, computed], (1,), [("y", None)], [("e", [1])])
    yield "does not split into 2 equal parts", _model(
        [helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=1)], (5,), [("a", None), ("b", None)])
    yield "split sizes [2, 2]", _model([helper.make_node("Split", ["x", "sz"], ["a", "b"], name="sp", axis=1)],
                                       (5,), [("a", None), ("b", None)], [("sz", [2, 2])])
    yield "splitting the batch dimension", _model(
        [helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=0)], (4,), [("a", None), ("b", None)])
    tile = helper.make_node("Tile", ["x", "r"], ["y"], name="t")
    yield "repeat the batch dimension", _model([tile], (4,), [("y", None)], [("r", [2, 1])])
    yield "do not fit the input's 2 dimensions", _model([tile], (4,), [("y", None)], [("r", [1, 1, 2])])
    exp = helper.make_node("Expand", ["x", "shape"], ["y"], name="e")
    yield "expands the batch dimension", _model([exp], (4,), [("y", None)], [("shape", [3, 4])])
    yield "cannot broadcast", _model([exp], (4,), [("y", None)], [("shape", [1, 3])])
    yield "adds axes in front of the batch", _model([exp], (4,), [("y", None)], [("shape", [2, 1, 4])])
    relu2 = helper.make_node("Relu", ["x"], ["sh"], name="r")
    yield "shape must be a constant", _model([relu2, helper.make_node("Expand", ["x", "sh"], ["y"], name="e")],
                                             (2,), [("y", None)])


@pytest.mark.parametrize("case", range(13))
def test_errors_name_node_and_op(case, tmp_path, rng):
    message, model = list(_error_models(rng))[case]
    with pytest.raises(CompileError) as e:
        compiler.compile_model(save(model, tmp_path / "m.onnx"), "zcu104")
    text = str(e.value)
    assert message in text and "node '" in text and "\n" not in text, text


def all_kernels(rng):
    """One input (N, 4, 6, 5) and every kernel mode: lanes reversed (whole items), a rows x
    reversed-columns filter, beat filters on folded Convs' 1-wide beats (channel step 2) and
    2-wide beats (a channel range on beat boundaries, with columns), a range off them (a width
    converter, whole items), channel halves (lanes), Split halves meeting in an Add,
    a buffered Tile of the frame, a row-buffered Tile, a lane-only Tile, a Tile behind a converter, an Expand of a
    pooled vector (block of one item)."""
    nodes, inits, outs = [], [], []

    def out(name):
        outs.append((name, None))

    n, i = _slice("x", "o_lanes", [-1], [-BIG - 1], [1], [-1], name="lanes")
    nodes.append(n), inits.extend(i), out("o_lanes")
    n, i = _slice("x", "o_rows", [1, -1], [BIG, -BIG - 1], [2, 3], [2, -2], name="rows")
    nodes.append(n), inits.extend(i), out("o_rows")
    w = rng.normal(scale=0.5, size=(6, 4, 1, 1))
    nodes.append(helper.make_node("Conv", ["x", "W"], ["c"], name="conv", kernel_shape=[1, 1]))
    inits.append(("W", w))
    n, i = _slice("c", "o_step", [1], [BIG], [1], [2], name="step")
    nodes.append(n), inits.extend(i), out("o_step")
    nodes.append(helper.make_node("Conv", ["x", "W2"], ["c2"], name="conv2", kernel_shape=[1, 1]))
    inits.append(("W2", rng.normal(scale=0.5, size=(6, 4, 1, 1))))
    n, i = _slice("c2", "o_beats", [2, 1], [6, 5], [1, 3], name="beats")
    nodes.append(n), inits.extend(i), out("o_beats")
    n, i = _slice("c2", "o_gather", [1], [4], [1], name="gather")  # off beat boundaries: whole items
    nodes.append(n), inits.extend(i), out("o_gather")
    nodes.append(helper.make_node("Tile", ["c2", "r4"], ["o_tfold"], name="tile_fold"))
    inits.append(("r4", [1, 2, 1, 2]))
    out("o_tfold")
    nodes.append(helper.make_node("Split", ["x", "sz"], ["ha", "hb"], name="halves", axis=2))
    inits.append(("sz", [3, 3]))
    nodes.append(helper.make_node("Add", ["ha", "hb"], ["o_add"], name="add"))
    out("o_add")
    nodes.append(helper.make_node("Split", ["x", "sc"], ["ca", "cb"], name="chans", axis=1))
    inits.append(("sc", [2, 2]))
    nodes.append(helper.make_node("Relu", ["cb"], ["o_chan"], name="relu"))
    out("o_chan")
    nodes.append(helper.make_node("Tile", ["ca", "r1"], ["o_tile"], name="tile_frame"))
    inits.append(("r1", [1, 2, 2, 1]))
    out("o_tile")
    nodes.append(helper.make_node("Tile", ["x", "r2"], ["o_cols"], name="tile_cols"))
    inits.append(("r2", [1, 1, 1, 2]))
    out("o_cols")
    nodes.append(helper.make_node("Tile", ["x", "r3"], ["o_tlanes"], name="tile_lanes"))
    inits.append(("r3", [1, 3, 1, 1]))
    out("o_tlanes")
    nodes.append(helper.make_node("GlobalMaxPool", ["x"], ["p"], name="gmp"))
    nodes.append(helper.make_node("Expand", ["p", "shape"], ["o_exp"], name="expand"))
    inits.append(("shape", [1, 4, 2, 3]))
    out("o_exp")
    return _model(nodes, (4, 6, 5), outs, inits)


def test_every_kernel_is_bit_exact_in_csim(tmp_path, rng):
    path = save(all_kernels(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104", layers={"conv": {"pe": 1}, "conv2": {"pe": 2}})
    g = design.graph
    modes = {(n.name, g.tensors[n.inputs[0]].beat, g.tensors[n.outputs[0]].beat) for n in g.nodes()
             if n.kind == "Slice"}
    print(sorted(modes))
    plans = [n.op.plan(g.tensors[n.inputs[0]].channels, g.tensors[n.inputs[0]].beat) for n in g.nodes()
             if n.kind == "Slice"]
    assert any(p.chan[0] > 1 and p.chan[2] > 1 for p in plans)         # beat filter, channel step
    assert any(p.fold_in == 2 and p.chan == (3, 1, 1, 2) for p in plans)  # beat filter of 2-lane beats
    gather = next(n for n in g.nodes() if n.name == "gather")
    assert g.tensors[gather.inputs[0]].beat == 2 and gather.op.plan(6, 2).fold_in == 6  # behind a converter
    assert any(p.lane_step < 0 for p in plans)                         # reversed lanes
    tiles = {n.op.block(g.tensors[n.inputs[0]].shape)["buffered"] for n in g.nodes() if n.kind == "Tile"}
    assert tiles == {True, False}
    x = rng.normal(scale=3.0, size=(200, 4, 6, 5))
    want = run_reference(path, x)
    got = compiler.simulate(design, x)
    for a, b in zip(got, want):
        assert np.abs(a - b).max() <= 0.05 + 1e-2 * np.abs(b).max()
    r = compare(design, compiler.write_project(design, tmp_path / "out"), g.inputs_to_ir(x))
    print(r)
    assert r.samples == 200 and r.mismatches == 0, r
