"""ONNX models for the convolutional tests (tests/test_cnn_*.py): each CNN op alone with odd
sizes, strides, borders, dilations and groups, a few layout situations (NHWC inputs wrapped
in Transposes, Flatten of CHW data into a Dense, a transpose that really moves data), and
mixed graphs that put many kernels into one C-simulation build."""
from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from .onnx_builders import make_model


def _w(rng, *shape, scale=0.5):
    return rng.normal(scale=scale, size=shape)


def model(nodes, in_shape, out_shape, inits=(), opset=13, domains=()):
    """One input x (N, *in_shape), one output y (its shape left to inference when empty)."""
    m = make_model(nodes, [("x", list(in_shape))], [("y", list(out_shape))], inits, opset=opset)
    if not out_shape:
        m.graph.output[0].type.tensor_type.ClearField("shape")
    for d in domains:
        m.opset_import.append(helper.make_opsetid(d, 1))
    return m


def conv(rng, c_in=3, c_out=4, spatial=(9, 7), kernel=(3, 3), group=1, bias=True, opset=13, **attrs):
    """One Conv on an (N, C, *spatial) input; attrs: strides, dilations, pads, auto_pad."""
    w = _w(rng, c_out, c_in // group, *kernel)
    ins, inits = ["x", "W"], [("W", w)]
    if bias:
        ins.append("B")
        inits.append(("B", rng.normal(size=c_out)))
    node = helper.make_node("Conv", ins, ["y"], name="conv", group=group, kernel_shape=list(kernel), **attrs)
    return model([node], (c_in,) + tuple(spatial), [], inits, opset=opset)


# ---- convolution variants (name -> builder) -------------------------------------------------
def conv2d_basic(rng):
    return conv(rng, pads=[1, 1, 1, 1])


def conv2d_strided_odd(rng):
    """Odd sizes, stride 2x3, a 3x5 kernel, asymmetric pads at the borders."""
    return conv(rng, c_in=2, c_out=5, spatial=(11, 13), kernel=(3, 5), strides=[2, 3], pads=[0, 2, 1, 1])


def conv2d_dilated(rng):
    return conv(rng, c_in=3, c_out=2, spatial=(10, 9), kernel=(3, 2), dilations=[2, 3], pads=[2, 1, 1, 2])


def conv2d_depthwise_multiplier(rng):
    """Depthwise with channel multiplier 2 (group = C_in, C_out = 2 C_in), no bias."""
    return conv(rng, c_in=3, c_out=6, spatial=(8, 7), group=3, bias=False, pads=[1, 1, 1, 1], strides=[2, 1])


def conv2d_grouped(rng):
    return conv(rng, c_in=4, c_out=6, spatial=(7, 6), group=2, pads=[1, 0, 1, 0])


def conv2d_same_upper(rng):
    return conv(rng, c_in=2, c_out=3, spatial=(8, 9), kernel=(4, 3), strides=[2, 2], auto_pad="SAME_UPPER")


def conv2d_same_lower(rng):
    return conv(rng, c_in=2, c_out=3, spatial=(7, 6), kernel=(2, 4), auto_pad="SAME_LOWER")


def conv2d_valid_pointwise(rng):
    return conv(rng, c_in=5, c_out=3, spatial=(4, 6), kernel=(1, 1), auto_pad="VALID")


def conv1d(rng):
    return conv(rng, c_in=3, c_out=4, spatial=(17,), kernel=(3,), strides=[2], dilations=[2], pads=[2, 1])


def conv1d_depthwise_same(rng):
    return conv(rng, c_in=4, c_out=4, spatial=(9,), kernel=(4,), group=4, auto_pad="SAME_UPPER")


def separable_conv(rng, c=3, m=8):
    """Depthwise 3x3 then pointwise 1x1: separable convolution as two Conv nodes."""
    nodes = [helper.make_node("Conv", ["x", "Wd"], ["d"], name="dw", group=c, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["d", "Wp", "Bp"], ["y"], name="pw", kernel_shape=[1, 1])]
    return model(nodes, (c, 6, 7), [], [("Wd", _w(rng, c, 1, 3, 3)), ("Wp", _w(rng, m, c, 1, 1)),
                                        ("Bp", rng.normal(size=m))])


def conv_chlast(rng, c_in=3, c_out=4, group=1):
    """QONNX's channels_last Conv: NHWC input, (C_out, kh, kw, C_in/g) weights."""
    w = _w(rng, c_out, 3, 3, c_in // group)
    node = helper.make_node("Conv", ["x", "W", "B"], ["y"], name="conv", domain="qonnx.custom_op.channels_last",
                            group=group, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 2], dilations=[1, 1])
    return model([node], (7, 8, c_in), [], [("W", w), ("B", rng.normal(size=c_out))],
                 domains=["qonnx.custom_op.channels_last"])


def conv_chlast_depthwise(rng):
    return conv_chlast(rng, c_in=3, c_out=3, group=3)


# ---- pooling --------------------------------------------------------------------------------
def pool(rng, op="MaxPool", c=3, spatial=(9, 8), opset=13, **attrs):
    node = helper.make_node(op, ["x"], ["y"], name="pool", **attrs)
    return model([node], (c,) + tuple(spatial), [], opset=opset)


def maxpool_padded_strided(rng):
    return pool(rng, kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1])


def maxpool_ceil_dilated(rng):
    return pool(rng, spatial=(10, 9), kernel_shape=[2, 3], strides=[3, 2], dilations=[2, 1], ceil_mode=1)


def avgpool_exclude_pad(rng):
    return pool(rng, "AveragePool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)


def avgpool_include_pad(rng):
    return pool(rng, "AveragePool", spatial=(7, 10), kernel_shape=[2, 3], strides=[1, 3], pads=[1, 0, 0, 2],
                count_include_pad=1)


def avgpool_same(rng):
    return pool(rng, "AveragePool", spatial=(5, 6), kernel_shape=[3, 3], auto_pad="SAME_UPPER")


def pool1d(rng):
    return pool(rng, "MaxPool", spatial=(13,), kernel_shape=[3], strides=[2], pads=[1, 1])


def avgpool1d(rng):
    return pool(rng, "AveragePool", spatial=(12,), kernel_shape=[4], strides=[4])


def global_avgpool(rng):
    return pool(rng, "GlobalAveragePool", c=5, spatial=(6, 7))


def global_maxpool(rng):
    return pool(rng, "GlobalMaxPool", c=5, spatial=(5, 3))


# ---- data movement --------------------------------------------------------------------------
def pad_constant(rng):
    pads = np.array([0, 0, 1, 2, 0, 1, 0, 3], dtype=np.int64)  # (N, C, H, W): channels and borders
    node = helper.make_node("Pad", ["x", "p", "v"], ["y"], name="pad", mode="constant")
    m = model([node], (3, 5, 4), [], [("v", np.float32(0.5))])
    m.graph.initializer.append(numpy_helper.from_array(pads, "p"))
    return m


def resize_nearest_2x(rng):
    """Resize (opset 13) by 2 x 3, half_pixel + round_prefer_floor (the defaults)."""
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="up", mode="nearest")
    return model([node], (2, 4, 5), [], [("s", np.array([1, 1, 2, 3], dtype=np.float32))])


def resize_fractional_asymmetric(rng):
    """Non-integer factors, asymmetric + floor (down in H, up in W)."""
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="rs", mode="nearest",
                            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return model([node], (3, 7, 5), [], [("s", np.array([1, 1, 0.6, 1.7], dtype=np.float32))])


def resize_align_corners_ceil(rng):
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="rs", mode="nearest",
                            coordinate_transformation_mode="align_corners", nearest_mode="round_prefer_ceil")
    return model([node], (2, 4, 6), [], [("s", np.array([1, 1, 2.5, 1.5], dtype=np.float32))])


def upsample_1d(rng):
    node = helper.make_node("Upsample", ["x", "s"], ["y"], name="up", mode="nearest")
    return model([node], (3, 6), [], [("s", np.array([1, 1, 3], dtype=np.float32))], opset=9)


def depth_to_space(rng, mode="DCR"):
    node = helper.make_node("DepthToSpace", ["x"], ["y"], name="d2s", blocksize=2, mode=mode)
    return model([node], (8, 3, 4), [])


def depth_to_space_crd(rng):
    return depth_to_space(rng, "CRD")


def nhwc_transposes(rng):
    """Keras style: NHWC input, Transpose to NCHW, Conv, Transpose back to NHWC output: the
    transposes cost nothing."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="to_nchw", perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "W", "B"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Transpose", ["r"], ["y"], name="to_nhwc", perm=[0, 2, 3, 1])]
    return model(nodes, (6, 5, 2), [], [("W", _w(rng, 3, 2, 3, 3)), ("B", rng.normal(size=3))])


def flatten_chw_dense(rng):
    """Flatten of CHW data into a Gemm: the weight rows are permuted, no data moves."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv", kernel_shape=[2, 2]),
             helper.make_node("Flatten", ["c"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G", "C"], ["y"], name="fc")]
    return model(nodes, (2, 4, 5), [], [("W", _w(rng, 3, 2, 2, 2)), ("G", _w(rng, 3 * 3 * 4, 6, scale=0.3)),
                                        ("C", rng.normal(size=6))])


def transpose_moves_data(rng):
    """Swapping H and W between two convolutions needs a real Transpose stage."""
    nodes = [helper.make_node("Conv", ["x", "W1"], ["a"], name="c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", ["a"], ["t"], name="swap", perm=[0, 1, 3, 2]),
             helper.make_node("Conv", ["t", "W2"], ["y"], name="c2", kernel_shape=[2, 3])]
    return model(nodes, (2, 5, 4), [], [("W1", _w(rng, 3, 2, 3, 3)), ("W2", _w(rng, 2, 3, 2, 3))])


# ---- joins ---------------------------------------------------------------------------------
def residual_add(rng, c=4):
    """conv-relu-conv on one path, the identity on the other, added: a shortcut FIFO."""
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["a"], name="c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "W2", "B2"], ["b"], name="c2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["b", "x"], ["y"], name="add")]
    return model(nodes, (c, 7, 6), [], [("W1", _w(rng, c, c, 3, 3, scale=0.3)), ("B1", rng.normal(size=c)),
                                        ("W2", _w(rng, c, c, 3, 3, scale=0.3)), ("B2", rng.normal(size=c))])


def sub_two_branches(rng):
    nodes = [helper.make_node("Conv", ["x", "W1"], ["a"], name="c1", kernel_shape=[1, 1]),
             helper.make_node("MaxPool", ["x"], ["p"], name="mp", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Sub", ["a", "p"], ["y"], name="sub")]
    return model(nodes, (3, 5, 5), [], [("W1", _w(rng, 3, 3, 1, 1))])


def concat_mixed_formats(rng):
    """Channel concat of a wide-range branch (x * 40) and a narrow one (pooled): different
    fixed-point formats meet; a third branch is a convolution."""
    nodes = [helper.make_node("Mul", ["x", "k"], ["big"], name="scale"),
             helper.make_node("AveragePool", ["x"], ["small"], name="ap", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                              count_include_pad=1),
             helper.make_node("Conv", ["x", "W"], ["cv"], name="cv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Concat", ["big", "small", "cv"], ["y"], name="cat", axis=1)]
    return model(nodes, (2, 6, 5), [], [("k", np.float32(40.0)), ("W", _w(rng, 3, 2, 3, 3))])


def concat_nhwc_last_axis(rng):
    """Concat along the last axis of NHWC data (axis=-1): that is the IR's channel axis."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Mul", ["x", "m"], ["n"], name="neg"),
             helper.make_node("Concat", ["r", "n"], ["y"], name="cat", axis=-1)]
    return model(nodes, (4, 5, 3), [], [("m", np.float32(-1.0))])


# ---- mixed graphs for single C-simulation builds ------------------------------------------------
def mixed_2d(rng):
    """Convolution and pooling kernels of every kind in one graph."""
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="c1", kernel_shape=[3, 5], strides=[2, 1],
                              dilations=[1, 2], pads=[1, 2, 0, 3]),
             helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], name="p1", kernel_shape=[2, 3], strides=[1, 2], pads=[1, 1, 0, 1],
                              ceil_mode=1),
             helper.make_node("Conv", ["p1", "W2"], ["c2"], name="dw", kernel_shape=[3, 3], group=4, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c2", "W3", "B3"], ["c3"], name="grp", kernel_shape=[2, 2], group=2, strides=[1, 2],
                              auto_pad="SAME_LOWER"),
             helper.make_node("AveragePool", ["c3"], ["p2"], name="p2", kernel_shape=[3, 2], pads=[1, 0, 1, 1],
                              count_include_pad=0),
             helper.make_node("GlobalMaxPool", ["p2"], ["g1"], name="gmax"),
             helper.make_node("GlobalAveragePool", ["p2"], ["g2"], name="gavg"),
             helper.make_node("Concat", ["g1", "g2"], ["g"], name="cat", axis=1),
             helper.make_node("Flatten", ["g"], ["y"], name="flat")]
    inits = [("W1", _w(rng, 4, 3, 3, 5)), ("B1", rng.normal(size=4)), ("W2", _w(rng, 8, 1, 3, 3)),
             ("W3", _w(rng, 6, 4, 2, 2)), ("B3", rng.normal(size=6))]
    return model(nodes, (3, 13, 12), [], inits)


def mixed_graph(rng):
    """Layout and join kernels in one graph: Pad, residual Add with a shortcut FIFO, Sub,
    Concat of mixed formats, Resize, DepthToSpace, a data-moving Transpose, and a Flatten of
    CHW data into a Gemm."""
    c = 4
    nodes = [helper.make_node("Pad", ["x", "pads"], ["xp"], name="pad"),
             helper.make_node("Conv", ["xp", "W1", "B1"], ["a"], name="c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["ar"], name="relu"),
             helper.make_node("Conv", ["ar", "W2"], ["b"], name="c2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["b", "xp"], ["res"], name="res"),
             helper.make_node("Mul", ["res", "k"], ["big"], name="scale"),
             helper.make_node("MaxPool", ["res"], ["mp"], name="mp", kernel_shape=[2, 2], strides=[1, 1],
                              pads=[0, 0, 1, 1]),
             helper.make_node("Sub", ["big", "mp"], ["d"], name="sub"),
             helper.make_node("Concat", ["d", "mp"], ["cat"], name="cat", axis=1),
             helper.make_node("Resize", ["cat", "", "s"], ["up"], name="up", mode="nearest"),
             helper.make_node("DepthToSpace", ["up"], ["ds"], name="d2s", blocksize=2),
             helper.make_node("Transpose", ["ds"], ["tr"], name="swap", perm=[0, 1, 3, 2]),
             helper.make_node("Conv", ["tr", "W3"], ["c3"], name="c3", kernel_shape=[3, 3], strides=[2, 2]),
             helper.make_node("Flatten", ["c3"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G"], ["y"], name="fc")]
    pads = numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 2], dtype=np.int64), "pads")
    inits = [("W1", _w(rng, c, c, 3, 3, scale=0.3)), ("B1", rng.normal(size=c)), ("W2", _w(rng, c, c, 3, 3, scale=0.3)),
             ("k", np.float32(3.0)), ("s", np.array([1, 1, 2, 1], dtype=np.float32)), ("W3", _w(rng, 2, 2, 3, 3)),
             ("G", _w(rng, 2 * 5 * 11, 3, scale=0.3))]
    m = model(nodes, (c, 5, 4), [], inits)
    m.graph.initializer.append(pads)
    return m


def ternary_cnn(rng):
    """Float convolutions whose weights take the values {-a, 0, +a} per output channel (a
    3x3 with zero padding, then a pointwise): multiplier-free MAC arrays."""
    def ternary(*shape):
        a = rng.uniform(0.1, 0.6, shape[0]).reshape(-1, *[1] * (len(shape) - 1))
        return rng.integers(-1, 2, size=shape) * a

    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="t1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
             helper.make_node("Conv", ["r1", "W2"], ["y"], name="t2", kernel_shape=[1, 1])]
    inits = [("W1", ternary(6, 3, 3, 3)), ("B1", rng.normal(size=6)), ("W2", ternary(4, 6, 1, 1))]
    return model(nodes, (3, 7, 6), [], inits)


def mixed_1d(rng):
    """1-D kernels: NWC input with Transposes, strided dilated Conv1D, MaxPool1D, AvgPool1D,
    Upsample, depthwise Conv1D, folded (reuse factor) Gemm."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="to_ncw", perm=[0, 2, 1]),
             helper.make_node("Conv", ["t", "W1", "B1"], ["c1"], name="c1", kernel_shape=[3], strides=[2], dilations=[2],
                              pads=[1, 2]),
             helper.make_node("MaxPool", ["c1"], ["p1"], name="p1", kernel_shape=[2], strides=[1], pads=[0, 1]),
             helper.make_node("Resize", ["p1", "", "s"], ["u"], name="up", mode="nearest"),
             helper.make_node("Conv", ["u", "W2"], ["c2"], name="dw", kernel_shape=[3], group=4, pads=[1, 1]),
             helper.make_node("AveragePool", ["c2"], ["p2"], name="p2", kernel_shape=[3], strides=[2], pads=[1, 1],
                              count_include_pad=0),
             helper.make_node("Flatten", ["p2"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G", "C"], ["y"], name="fc")]
    inits = [("W1", _w(rng, 4, 3, 3)), ("B1", rng.normal(size=4)), ("W2", _w(rng, 8, 1, 3)),
             ("s", np.array([1, 1, 2], dtype=np.float32)), ("G", _w(rng, 8 * 9, 5, scale=0.3)),
             ("C", rng.normal(size=5))]
    return model(nodes, (19, 3), [], inits)


ALL = [conv2d_basic, conv2d_strided_odd, conv2d_dilated, conv2d_depthwise_multiplier, conv2d_grouped,
       conv2d_same_upper, conv2d_same_lower, conv2d_valid_pointwise, conv1d, conv1d_depthwise_same, separable_conv,
       conv_chlast, conv_chlast_depthwise, maxpool_padded_strided, maxpool_ceil_dilated, avgpool_exclude_pad,
       avgpool_include_pad, avgpool_same, pool1d, avgpool1d, global_avgpool, global_maxpool, pad_constant,
       resize_nearest_2x, resize_fractional_asymmetric, resize_align_corners_ceil, upsample_1d, depth_to_space, depth_to_space_crd, nhwc_transposes,
       flatten_chw_dense, transpose_moves_data, residual_add, sub_two_branches, concat_mixed_formats,
       concat_nhwc_last_axis, ternary_cnn]


def quantized_residual_concat(rng, c=3):
    """QONNX: quantized input, a quantized-weight Conv requantized on one path, the input on
    the other; their sum and their concatenation. Different power-of-two scales meet, and
    every value is exact (the binary points are aligned, nothing is rounded)."""
    from .onnx_builders import QONNX, quant_node

    qx, ix = quant_node("qx", "x", "xq", 2.0 ** -2, 5)
    qw, iw = quant_node("qw", "Wf", "Wq", 2.0 ** -3, 4)
    qa, ia = quant_node("qa", "conv", "a", 2.0 ** -4, 8)
    nodes = [qx, qw, helper.make_node("Conv", ["xq", "Wq"], ["conv"], name="conv", kernel_shape=[3, 3],
                                      pads=[1, 1, 1, 1]),
             qa, helper.make_node("Add", ["a", "xq"], ["s"], name="add"),
             helper.make_node("Concat", ["s", "a", "xq"], ["y"], name="cat", axis=1)]
    m = model(nodes, (c, 6, 5), [], [("Wf", _w(rng, c, c, 3, 3))] + ix + iw + ia)
    m.opset_import.append(helper.make_opsetid(QONNX, 1))
    return m


def concat_five(rng):
    """Five inputs along the channel axis: chained Concat stages (each takes up to four)."""
    nodes = [helper.make_node("Mul", ["x", f"k{i}"], [f"m{i}"], name=f"m{i}") for i in range(5)]
    nodes.append(helper.make_node("Concat", [f"m{i}" for i in range(5)], ["y"], name="cat", axis=1))
    return model(nodes, (2, 3, 4), [], [(f"k{i}", np.float32(i + 1)) for i in range(5)])
