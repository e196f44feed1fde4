"""Convolutional ops against onnxruntime (and qonnx's executor for channels_last Conv):
every op alone with odd sizes, strides, border padding, dilation, groups and depthwise
channel multipliers, in 1-D and 2-D; the layout rules (free transposes, Flatten of CHW data
into a Dense, real data movement only where needed); the analytic FIFO depths; the cost
report; clear errors."""
import json

import numpy as np
import onnx
import pytest
from onnx import helper

import compiler
from compiler.errors import CompileError
from compiler.frontend.reference import run_reference

from . import onnx_builders_cnn as C
from .onnx_builders import save

# op kind -> models in which that op survives the passes (test_ops.py checks every op has one)
DIFFERENTIAL = {
    "Conv": [C.conv2d_basic, C.conv2d_strided_odd, C.conv2d_dilated, C.conv2d_depthwise_multiplier,
             C.conv2d_grouped, C.conv1d, C.conv_chlast],
    "Pool": [C.maxpool_padded_strided, C.avgpool_exclude_pad, C.global_avgpool, C.pool1d],
    "Pad": [C.pad_constant],
    "Add": [C.residual_add, C.sub_two_branches, C.quantized_residual_concat],
    "Concat": [C.concat_mixed_formats, C.concat_nhwc_last_axis, C.quantized_residual_concat, C.concat_five],
    "Resize": [C.resize_nearest_2x, C.upsample_1d],
    "DepthToSpace": [C.depth_to_space, C.depth_to_space_crd],
    "Transpose": [C.transpose_moves_data],
    "Reshape": [C.flatten_chw_dense],
}

# ops that only move or select values: on inputs exactly representable they are exact
MOVEMENT = {C.maxpool_padded_strided, C.maxpool_ceil_dilated, C.pool1d, C.global_maxpool, C.pad_constant,
            C.resize_nearest_2x, C.resize_fractional_asymmetric, C.resize_align_corners_ceil, C.upsample_1d,
            C.depth_to_space, C.depth_to_space_crd}


def error_bound(design) -> float:
    """A worst-case bound of |simulator - float model| on inputs exactly representable in the
    input type: each stage's own error (output rounding, quantized weights, lookup tables)
    plus the error it receives amplified by its gain (max column sum of |weights|)."""
    g = design.graph
    err = {t: 0.0 for t in g.inputs}
    for node in g.nodes():
        op, e = node.op, max(err[t] for t in node.inputs)
        x_t = g.tensors[node.inputs[0]].type
        x_max = max(abs(x_t.min_value), abs(x_t.max_value))
        w = getattr(op, "weight", None)
        if w is not None and getattr(op, "weight_type", None) is not None:
            terms = int(np.count_nonzero(w, axis=0).max(initial=1))
            e = e * float(np.abs(w).sum(axis=0).max(initial=0)) + x_max * terms * op.weight_type.lsb / 2
        elif node.kind == "Affine":
            e = e * float(np.abs(op.scale).max()) + x_max * op.scale_type.lsb / 2
        elif node.kind == "Add":
            e = sum(err[t] for t in node.inputs)
        elif getattr(op, "max_error", None) is not None:  # lookup tables (softmax, Selu, ...)
            e = e * (1.0 if node.kind == "Softmax" else 2.0) + op.max_error
        for t in node.outputs:
            err[t] = e + g.tensors[t].type.lsb
    return max(err[t] for t in g.outputs)


def grid_inputs(design, rng, n=300, scale=2.0):
    """Random inputs in the model's layout, exactly representable in the input type."""
    g = design.graph
    t = g.tensors[g.inputs[0]]
    x = rng.normal(scale=scale, size=(n,) + g.input_layouts[0].onnx_shape)
    return t.type.to_float(t.type.quantize(x))


def compare_with_reference(path, design, x):
    got = compiler.simulate(design, x)
    want = run_reference(path, x)[0]
    return float(np.abs(got.reshape(want.shape) - want).max()), want


BUILDERS = sorted(set(C.ALL) | {C.concat_five}, key=lambda b: b.__name__)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_op_against_reference(builder, tmp_path, rng):
    path = save(builder(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    x = grid_inputs(design, rng)
    err, want = compare_with_reference(path, design, x)
    bound = error_bound(design)
    print(f"{builder.__name__}: max abs error {err:.3g} (bound {bound:.3g}, outputs up to {np.abs(want).max():.3g})")
    if builder in MOVEMENT:
        assert err == 0
    assert err <= bound


def test_quantized_residual_and_concat_are_exact(tmp_path, rng):
    """Model-quantized inputs of different formats: the Add aligns binary points in a type
    that holds both exactly, the Concat casts into their union; both equal qonnx bit for bit."""
    path = save(C.quantized_residual_concat(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    g = design.graph
    add, cat = (n for n in g.nodes() if n.kind in ("Add", "Concat"))
    assert len({g.tensors[t].type for t in add.inputs}) == 2 and len({g.tensors[t].type for t in cat.inputs}) == 3
    assert g.tensors[add.outputs[0]].model_typed and g.tensors[cat.outputs[0]].model_typed
    x = rng.normal(size=(200, 3, 6, 5))
    assert np.array_equal(compiler.simulate(design, x), run_reference(path, x)[0])


def test_separable_and_channels_last_match_qonnx_layouts(tmp_path, rng):
    """QONNX channels_last Conv takes NHWC data and (C_out, kh, kw, C_in/g) weights; its
    output stays NHWC, with no transpose stage anywhere."""
    for builder in (C.conv_chlast, C.conv_chlast_depthwise):
        design = compiler.compile_model(save(builder(rng), tmp_path / "m.onnx"), "zcu104")
        assert [n.kind for n in design.graph.nodes()] == ["Conv"]
        assert design.graph.input_layouts[0].index() is None and design.graph.output_layouts[0].index() is None


# ---- layout ------------------------------------------------------------------------------
def _kinds(design):
    return [n.kind for n in design.graph.nodes()]


def test_transposes_around_a_conv_are_free(tmp_path, rng):
    """NHWC in, Transpose, Conv, Relu, Transpose back, NHWC out: one stage, no data moves,
    and the user's NHWC data goes in unchanged."""
    design = compiler.compile_model(save(C.nhwc_transposes(rng), tmp_path / "m.onnx"), "zcu104")
    assert _kinds(design) == ["Conv"]
    g = design.graph
    assert g.input_layouts[0].index() is None and g.output_layouts[0].index() is None
    assert g.tensors[g.inputs[0]].shape == (6, 5, 2)


def test_flatten_of_chw_data_permutes_dense_rows(tmp_path, rng):
    """Flatten of (C, H, W) data into a Gemm: the stream is only regrouped (Reshape) and the
    Dense weight rows follow the channels-last order; no Transpose stage."""
    model = C.flatten_chw_dense(rng)
    design = compiler.compile_model(save(model, tmp_path / "m.onnx"), "zcu104")
    assert _kinds(design) == ["Conv", "Reshape", "Dense"]
    g_onnx = onnx.numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "G"))
    dense = design.graph.nodes()[-1].op
    order = np.arange(36).reshape(3, 3, 4).transpose(1, 2, 0).ravel()   # (C, H, W) values in (H, W, C) order
    wt = dense.weight_type
    assert np.array_equal(dense.weight, wt.to_float(wt.quantize(g_onnx.astype(np.float64)[order])))


def test_transpose_that_moves_data_is_a_stage(tmp_path, rng):
    design = compiler.compile_model(save(C.transpose_moves_data(rng), tmp_path / "m.onnx"), "zcu104")
    assert _kinds(design) == ["Conv", "Transpose", "Conv"]


def test_graph_input_layout_suits_its_first_use(tmp_path, rng):
    """(C, H, W) input into a Conv: channels-last (the user's NCHW data is reordered in
    software); (C, W) input of a Conv1D as well; a flat vector reshaped into an image with
    one channel: the same order, only the IR shape changes."""
    d = compiler.compile_model(save(C.conv2d_basic(rng), tmp_path / "a.onnx"), "zcu104")
    assert d.graph.input_layouts[0].perm == (1, 2, 0) and d.graph.tensors["x"].shape == (9, 7, 3)
    x = rng.normal(size=(4, 3, 9, 7))
    assert np.array_equal(d.graph.input_to_ir(x), x.transpose(0, 2, 3, 1))
    assert np.array_equal(d.graph.input_layouts[0].to_onnx(d.graph.input_to_ir(x)), x)
    flat = C.model([helper.make_node("Reshape", ["x", "s"], ["r"], name="r"),
                    helper.make_node("Conv", ["r", "W"], ["y"], name="c", kernel_shape=[3, 3])],
                   (30,), [], [("W", rng.normal(size=(2, 1, 3, 3)))])
    flat.graph.initializer.append(onnx.numpy_helper.from_array(np.array([-1, 1, 5, 6], dtype=np.int64), "s"))
    d = compiler.compile_model(save(flat, tmp_path / "b.onnx"), "zcu104")
    assert _kinds(d) == ["Conv"] and d.graph.tensors["x"].shape == (5, 6, 1)


def test_design_with_layouts_round_trips(tmp_path, rng):
    path = save(C.mixed_graph(rng), tmp_path / "m.onnx")
    design = compiler.compile_model(path, "zcu104")
    compiler.write_project(design, tmp_path / "out")
    again = compiler.load_design(tmp_path / "out")
    assert again.graph.input_layouts[0].perm == design.graph.input_layouts[0].perm
    x = grid_inputs(design, rng, 20)
    assert np.array_equal(compiler.simulate(design, x), compiler.simulate(again, x))
    assert compiler.estimate(again).as_dict() == compiler.estimate(design).as_dict()


# ---- FIFO depths ---------------------------------------------------------------------------
def _dataflow_completes(graph, depth_of) -> bool:
    """A token-level model of the streaming pipeline with bounded FIFOs: a stage writes its
    output item w once it has read items_needed(w) items of each input (and cannot read
    further before writing it, as a sliding window cannot); a tensor read by several stages
    is copied by a fork that needs room in every copy. True when every output completes."""
    from compiler.passes.size_fifos import _items, _needed

    nodes = graph.nodes()
    readers = {t: [n.name for n in graph.consumers(t)] for t in graph.tensors}
    for t in graph.outputs:
        readers[t].append("<out>")
    total = {t: _items(graph.tensors[t].shape) for t in graph.tensors}
    written = {t: 0 for t in graph.tensors}
    need = {n.name: _needed(n.op, [graph.tensors[t].shape for t in n.inputs], graph.tensors[n.outputs[0]].shape)
            for n in nodes}
    read = {(t, n.name): 0 for n in nodes for t in n.inputs}
    cap = {(t, r): depth_of.get((t, r), 2) for t in graph.tensors for r in readers[t]}
    level = {(t, r): 0 for t in graph.tensors for r in readers[t]}

    def can_write(t):
        return all(level[(t, r)] < cap[(t, r)] for r in readers[t] if r != "<out>")

    def write(t):
        for r in readers[t]:
            if r != "<out>":
                level[(t, r)] += 1
        written[t] += 1

    progress = True
    while progress:
        progress = False
        for t in graph.inputs:                      # the source delivers whenever there is room
            if written[t] < total[t] and can_write(t):
                write(t)
                progress = True
        for n in nodes:
            out = n.outputs[0]
            w = written[out]
            for i, t in enumerate(n.inputs):        # read what the next output needs
                want = int(need[n.name][i][w]) if w < total[out] else total[t]
                while read[(t, n.name)] < min(want, total[t]) and level[(t, n.name)] > 0:
                    level[(t, n.name)] -= 1
                    read[(t, n.name)] += 1
                    progress = True
            if w < total[out] and all(read[(t, n.name)] >= need[n.name][i][w] for i, t in enumerate(n.inputs)) \
                    and can_write(out):
                write(out)
                progress = True
    return all(written[t] == total[t] for t in graph.outputs)


@pytest.mark.parametrize("builder, deadlocks_at_depth_2", [(C.residual_add, True), (C.mixed_graph, True),
                                                           (C.concat_mixed_formats, True)],
                         ids=lambda b: getattr(b, "__name__", str(b)))
def test_fifo_depths_prevent_deadlock(builder, deadlocks_at_depth_2, tmp_path, rng):
    """The sized depths let every stream complete; where the shortcut is direct, the default
    depth would deadlock (stages on a path buffer a little themselves, which the sizing
    does not count: it errs on the safe side)."""
    design = compiler.compile_model(save(builder(rng), tmp_path / "m.onnx"), "zcu104")
    g = design.graph
    sized = {(t, n.name): d for n in g.nodes() for t, d in zip(n.inputs, getattr(n.op, "input_depths", None) or [])}
    deep = {k: d for k, d in sized.items() if d > 2}
    print(f"{builder.__name__}: FIFO depths {deep}")
    assert deep, "a join with skewed paths needs a deep FIFO"
    assert _dataflow_completes(g, sized)
    assert _dataflow_completes(g, {}) != deadlocks_at_depth_2
    from compiler.backend.emit import render_project
    from compiler.report import build_report

    text = render_project(design, build_report(design, compiler.estimate(design)))[f"firmware/{g.name}.cpp"]   # the emitted streams have the depths
    beats = {k: d * (g.tensors[k[0]].channels // g.tensors[k[0]].beat) for k, d in deep.items()}  # items -> beats
    assert all(f"depth={d}" in text for d in beats.values())


def test_fifo_memory_is_counted(tmp_path, rng):
    design = compiler.compile_model(save(C.residual_add(rng), tmp_path / "m.onnx"), "zcu104")
    layer = next(L for L in compiler.estimate(design).as_dict()["layers"] if L["style"] == "add")
    assert max(layer["detail"]["fifo_depths"]) > 2 and layer["lut"] > 100


# ---- cost -----------------------------------------------------------------------------------------
def test_report_names_each_kernel_style(tmp_path, rng):
    styles = set()
    for builder in (C.mixed_2d, C.mixed_graph, C.mixed_1d, C.conv2d_valid_pointwise):
        design = compiler.compile_model(save(builder(rng), tmp_path / "m.onnx"), "zcu104")
        out = compiler.write_project(design, tmp_path / builder.__name__)
        styles |= {L["style"] for L in json.loads((out / "report.json").read_text())["layers"]}
    assert {"conv_sliced", "conv_pointwise", "pool_streaming", "add", "concat", "pad", "repack",
            "transpose_buffer", "resize_nearest", "depth_to_space"} <= styles, styles


def test_conv_cost_follows_the_folding_and_the_window_generator(tmp_path, rng):
    """Whole windows per beat (SIMD = the window): II per image ~ max(padded pixels,
    windows x cycles), line buffers of (ekh-1) padded rows; sliced windows (SIMD | C_in): the
    generator's ring of real rows, taps x C_in / SIMD beats per window. Fewer multipliers
    when folded."""
    from compiler.ops._window import swg_cycles

    path = save(C.conv(rng, c_in=8, c_out=16, spatial=(16, 100), pads=[1, 1, 1, 1]), tmp_path / "m.onnx")
    costs = {}
    for rf in (1, 4, 16):
        design = compiler.compile_model(path, "zcu104", reuse_factor=rf)
        (name, _, c), = compiler.estimate(design).layers
        costs[rf] = c
        assert c.style == "conv_window" and c.detail["window"]["line_buffer_rows"] == 2
        assert c.ii == max(18 * 102, 16 * 100 * rf)
    assert costs[1].dsp > costs[4].dsp > costs[16].dsp
    design = compiler.compile_model(path, "zcu104", layers={name: {"pe": 4, "simd": 4}})
    (_, _, c), = compiler.estimate(design).layers
    win = design.graph.nodes()[0].op.window(design.graph.tensors[design.graph.inputs[0]].shape)
    assert c.style == "conv_sliced" and c.detail["cycles_per_item"] == 9 * 2 * 4
    assert c.ii == max(swg_cycles(win, 2), 16 * 100 * 72)
    assert c.detail["window"]["ring_rows"] == 4 and c.detail["window"]["buffer_words"] == 4 * 100 * 2
    assert c.dsp == 16
    small = compiler.compile_model(save(C.conv2d_basic(rng), tmp_path / "s.onnx"), "zcu104")
    (_, _, c), = compiler.estimate(small).layers
    assert c.bram_18k == 0  # rows of a few pixels live in LUTRAM


# ---- errors -----------------------------------------------------------------------------------
def _error_of(model, tmp_path):
    with pytest.raises(CompileError) as e:
        compiler.compile_model(save(model, tmp_path / "m.onnx"), "zcu104")
    return str(e.value)


@pytest.mark.parametrize("case, fragments", [
    ("conv4d", ["node 'conv' (Conv)", "1-D, 2-D and 3-D"]),
    ("bad_group", ["node 'conv' (Conv)", "group=2"]),
    ("wrap_pad", ["node 'pad' (Pad)", "mode=wrap", "supported: constant, edge, reflect"]),
    ("linear_resize", ["node 'rs' (Resize)", "mode=linear", "supported: nearest"]),
    ("avgpool_ceil", ["node 'pool' (AveragePool)", "ceil_mode=1"]),
    ("batch_transpose", ["node 't' (Transpose)", "batch dimension"]),
])
def test_unsupported_cnn_features_are_named(case, fragments, tmp_path, rng):
    if case == "conv4d":
        m = C.conv(rng, spatial=(3, 3, 3, 3), kernel=(2, 2, 2, 2))
    elif case == "bad_group":
        m = C.conv(rng, c_in=3, c_out=4, group=1)
        m.graph.node[0].attribute.append(helper.make_attribute("group", 2))
        del m.graph.node[0].attribute[[a.name for a in m.graph.node[0].attribute].index("group")]
    elif case == "wrap_pad":
        m = C.pad_constant(rng)
        m.graph.node[0].attribute[0].s = b"wrap"
    elif case == "linear_resize":
        m = C.resize_fractional_asymmetric(rng)
        m.graph.node[0].attribute[[a.name for a in m.graph.node[0].attribute].index("mode")].s = b"linear"
    elif case == "avgpool_ceil":
        m = C.pool(rng, "AveragePool", spatial=(8, 8), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    else:
        m = C.model([helper.make_node("Transpose", ["x"], ["t"], name="t", perm=[1, 0, 2]),
                     helper.make_node("Relu", ["t"], ["y"], name="r")], (3, 4), [])
    msg = _error_of(m, tmp_path)
    for f in fragments:
        assert f in msg, msg
