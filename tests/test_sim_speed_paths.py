"""The simulator's fast paths give the plain int64 arithmetic's codes bit for bit:
- Conv's blocked float32/float64 paths (pointwise, im2col, depthwise tap loop, grouped), with
  float32 ("narrow") outputs handed between layers;
- Quant's blocked requantizer (tiled per-channel parameters, a zero point taken out of the
  rounding where it commutes with it);
- FixedType.cast's one-pass AP_TRN / AP_SAT forms and shift_round's AP_RND form;
- the interpreter's narrow hand-over and buffer recycling (numerics/buffers.py);
- the compiled loops (numerics/jit.py, with numba): every test above that takes the `paths`
  fixture runs once on numpy alone (QCOMPILE_JIT=0) and once with every array, however
  small, sent through the compiled kernels (and checks that they ran)."""
import numpy as np
import pytest

import compiler
from compiler.numerics import FixedType, buffers, grid_codes, jit
from compiler.numerics.fixed import round_increment, shift_round
from compiler.numerics.requant import round_shift
from compiler.ops import conv as conv_mod
from compiler.ops.conv import Conv
from compiler.ops.dense import Dense
from compiler.ops import quant as quant_mod
from compiler.ops.quant import Quant
from compiler.sim import interpreter

from .conftest import model_path


def _conv(rng, c_in, c_out, k, groups, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), relu=False,
          w_bits=8, bias=True):
    taps = k[0] * k[1]
    w = rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), size=(taps * (c_in // groups), c_out)).astype(float)
    b = rng.integers(-2000, 2000, size=c_out).astype(float) if bias else None
    return Conv(weight=w, bias=b, activation="relu" if relu else None, weight_type=FixedType(w_bits, w_bits),
                kernel_shape=k, strides=strides, dilations=dilations, pads=pads, groups=groups)


def _int64_reference(op, x_codes, x_type, y_type):
    """The same layer in int64: exact sums, ReLU, then the ap_fixed cast."""
    acc_type = op.accum_type
    wq = op.weight_type.quantize(op.weight)
    bq = np.zeros(op.n_out, dtype=np.int64) if op.bias is None else grid_codes(op.bias, acc_type.frac_bits)
    acc = op._run(x_codes.astype(np.int64), wq, bq, dtype=np.int64)
    if op.activation == "relu":
        acc = np.maximum(acc, 0)
    return y_type.cast(acc, acc_type).astype(np.float64)


CONVS = [  # (c_in, c_out, kernel, groups, strides, dilations, pads)
    (16, 24, (1, 1), 1, (1, 1), (1, 1), (0, 0, 0, 0)),       # pointwise
    (3, 8, (3, 3), 1, (1, 1), (1, 1), (1, 1, 1, 1)),         # im2col
    (4, 6, (3, 2), 1, (2, 1), (1, 2), (1, 0, 2, 1)),         # strided, dilated, uneven pads
    (8, 8, (3, 3), 8, (1, 1), (1, 1), (1, 1, 1, 1)),         # depthwise
    (8, 8, (3, 3), 8, (2, 2), (1, 1), (0, 1, 1, 0)),         # depthwise, strided
    (8, 8, (5, 1), 8, (1, 1), (2, 1), (4, 0, 4, 0)),         # depthwise, dilated
    (8, 4, (3, 3), 2, (1, 1), (1, 1), (1, 1, 1, 1)),         # grouped
]


@pytest.fixture(params=[False, True], ids=["blocks", "small-blocks"])
def small_blocks(request, monkeypatch):
    if request.param:   # several blocks and chunks per call, and a remainder
        monkeypatch.setattr(conv_mod._ConvSim, "BLOCK", 1 << 9)
        monkeypatch.setattr(conv_mod._ConvSim, "DW_BUDGET", 1 << 11)
        monkeypatch.setattr(conv_mod._ConvSim, "IM2COL_BUDGET", 1 << 13)
    return request.param


class _CountingKernels:
    def __init__(self, kernels):
        self.kernels, self.calls = kernels, 0

    def __getattr__(self, name):
        self.calls += 1
        return getattr(self.kernels, name)


@pytest.fixture(params=["numpy", "compiled"])
def paths(request, monkeypatch):
    """None (numpy only), or the counting kernels every array goes through."""
    if request.param == "numpy":
        monkeypatch.setenv("QCOMPILE_JIT", "0")
        return None
    monkeypatch.delenv("QCOMPILE_JIT", raising=False)
    if jit.kernels() is None:
        pytest.skip("numba is not installed (the [fast] extra)")
    counting = _CountingKernels(jit.kernels())
    monkeypatch.setattr(jit, "kernels", lambda: counting)
    monkeypatch.setattr(jit, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(jit._local, "on", True, raising=False)   # as in a simulator batch run
    return counting


@pytest.mark.parametrize("spec", CONVS)
@pytest.mark.parametrize("x_bits, w_bits, y_type", [
    (8, 8, FixedType(8, 8, False, "AP_TRN", "AP_SAT")),        # float32, exact cast, saturating
    (8, 8, FixedType(10, 4, True, "AP_RND", "AP_SAT")),        # float32, floor after offset
    (8, 8, FixedType(12, 2, True, "AP_RND_CONV", "AP_WRAP")),  # float32 sums, rint, wrap (float64 finish)
    (16, 12, FixedType(16, 6, True, "AP_RND", "AP_SAT")),      # float64 sums
])
@pytest.mark.parametrize("relu", [False, True])
def test_conv_paths_equal_int64(spec, x_bits, w_bits, y_type, relu, small_blocks, paths, rng):
    c_in, c_out, k, groups, strides, dilations, pads = spec
    op = _conv(rng, c_in, c_out, k, groups, strides, dilations, pads, relu, w_bits)
    x_type = FixedType(x_bits, x_bits - 2, False)
    op.accum_type = FixedType(40, 40 - x_type.frac_bits, True)
    shape = (9, 7, c_in)
    n = 37
    x = rng.integers(0, 1 << x_bits, size=(n,) + shape).astype(np.float64)
    x[:, 2] = 0                          # zero rows: sums that are exactly zero
    want = _int64_reference(op, x, x_type, y_type)
    run = op.simulator([x_type], [y_type])
    got = run([x])[0]
    assert got.dtype == np.float64
    assert np.array_equal(got, want)
    assert not np.any(np.signbit(got) & (got == 0))   # no -0.0 (the old sums started from +0.0)
    if getattr(run, "narrow_output", False):
        narrow = run([x.astype(np.float32)], narrow=True)[0]
        assert narrow.dtype == np.float32 and np.array_equal(narrow.astype(np.float64), want)
    assert np.array_equal(run([x[:1]])[0], want[:1])
    if paths is not None and y_type.overflow == "AP_SAT":
        assert paths.calls > 0          # the compiled finish (and depthwise loop) ran


@pytest.mark.parametrize("x_bits, w_bits, y_type", [
    (8, 8, FixedType(10, 4, True, "AP_RND", "AP_SAT")),          # float32 products
    (16, 12, FixedType(16, 6, True, "AP_RND_CONV", "AP_SAT")),   # float64 products, rint
    (16, 12, FixedType(16, 6, True, "AP_TRN", "AP_WRAP")),       # wrapping: numpy's finish
])
@pytest.mark.parametrize("relu", [False, True])
def test_dense_equal_int64(x_bits, w_bits, y_type, relu, paths, rng):
    w = rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), size=(24, 7)).astype(float)
    op = Dense(weight=w, bias=rng.integers(-5000, 5000, size=7).astype(float), activation="relu" if relu else None,
               weight_type=FixedType(w_bits, w_bits))
    x_type = FixedType(x_bits, x_bits - 2, False)
    op.accum_type = FixedType(40, 40 - x_type.frac_bits, True)
    x = rng.integers(0, 1 << x_bits, size=(301, 24)).astype(np.float64)
    x[0] = 0
    wq = op.weight_type.quantize(op.weight)
    acc = x.astype(np.int64) @ wq + grid_codes(op.bias, op.accum_type.frac_bits)
    want = y_type.cast(np.maximum(acc, 0) if relu else acc, op.accum_type).astype(np.float64)
    got = op.simulator([x_type], [y_type])([x])[0]
    assert got.dtype == np.float64 and np.array_equal(got, want)
    assert not np.any(np.signbit(got) & (got == 0))
    if paths is not None and y_type.overflow == "AP_SAT":
        assert paths.calls > 0


@pytest.mark.parametrize("slope", [0.1015625, 0.3, "per-channel"])
@pytest.mark.parametrize("y_type", [FixedType(8, 4, True, "AP_RND_CONV", "AP_SAT"),
                                    FixedType(6, 3, True, "AP_TRN", "AP_SAT"), FixedType(8, 2, True, "AP_RND", "AP_WRAP")])
def test_prelu_equal_int64(slope, y_type, paths, rng):
    from compiler.ops.prelu import PRelu

    c = 6
    slope = rng.uniform(-1, 1, size=c) if slope == "per-channel" else np.array([slope])
    x_type = FixedType(10, 5, True)
    op = PRelu(slope=slope)
    op.slope_type = FixedType(12, 2, True)
    sq = op.slope_type.quantize(slope)
    prods = [x_type.min_code * int(sq.min()), x_type.min_code * int(sq.max()), x_type.max_code << 10]
    op.accum_type = compiler.numerics.exact_type(min(prods + [0]), max(prods), x_type.frac_bits + 10)
    x = rng.integers(x_type.min_code, x_type.max_code + 1, size=(301, 4, c)).astype(np.float64)
    x[0] = 0
    v = np.where(x < 0, x.astype(np.int64) * sq, x.astype(np.int64) << 10)
    want = y_type.cast(v, op.accum_type).astype(np.float64)
    got = op.simulator([x_type], [y_type])([x])[0]
    assert got.dtype == np.float64 and np.array_equal(got, want)
    assert not np.any(np.signbit(got) & (got == 0))
    if paths is not None and y_type.overflow == "AP_SAT":
        assert paths.calls > 0


@pytest.mark.parametrize("rounding", ["AP_RND_CONV", "AP_TRN", "AP_RND"])
@pytest.mark.parametrize("int_bits", [6, 0, -2])
def test_quantize_inputs_equal(rounding, int_bits, paths, rng):
    """FixedType.quantize's compiled loop (the simulator's inputs) against the numpy steps."""
    t = FixedType(16, int_bits, True, rounding, "AP_SAT")
    x = np.concatenate([rng.normal(scale=2.0 ** int_bits, size=(200, 9)),
                        np.array([[1e300, -1e300, 0.0, -0.0, 2.0 ** (int_bits - 1), -(2.0 ** (int_bits - 1)),
                                   2.0 ** (int_bits - 17), -(2.0 ** (int_bits - 17)), 3 * 2.0 ** (int_bits - 17)]])])
    got = t.quantize(x, np.float64)
    want = t.quantize(x, np.int64).astype(np.float64)   # int64 codes: numpy's steps
    assert np.array_equal(got, want)
    if paths is not None and rounding != "AP_RND":
        assert paths.calls > 0
    with pytest.raises(ValueError, match="NaN"):
        t.quantize(np.array([[1.0, np.nan]]), np.float64)


def _quant(rng, channels, z, mode, shift_lo=18):
    mult = rng.integers(1 << 20, 1 << 24, size=channels) * rng.choice([-1, 1], size=channels)
    shift = rng.integers(shift_lo, shift_lo + 6, size=channels)
    offset = rng.integers(-(1 << 30), 1 << 30, size=channels)
    q = Quant(scale=0.1, zero_point=z, qmin=-128, qmax=127, rounding=mode)
    q.mult, q.shift, q.offset = mult.astype(np.int64), shift.astype(np.int64), offset.astype(np.int64)
    return q


def _quant_reference(q, x):
    prod = x.astype(np.int64) * q.mult + q.offset
    v = round_shift(prod, q.shift, q.rounding).astype(np.float64)
    z_after = q._zero_after()
    if z_after is not None:
        v = v + z_after
    return np.clip(v, q.qmin, q.qmax) - np.asarray(q.zero_point, dtype=np.float64)


@pytest.mark.parametrize("z", [0, -128, -127, 5, "per-channel"])
@pytest.mark.parametrize("mode", ["AP_RND_CONV", "AP_TRN", "AP_RND", "AP_RND_INF"])
@pytest.mark.parametrize("shape", [(5, 3, 64), (7,), (40, 3), (2, 2, 1)])
@pytest.mark.parametrize("block", [None, 1 << 10])
def test_quant_blocks_equal_int64(z, mode, shape, block, paths, rng, monkeypatch):
    if block:   # small blocks: several per call, tiled ones and a remainder
        monkeypatch.setattr(quant_mod, "QUANT_BLOCK", block)
    c = shape[-1]
    if z == "per-channel":
        z = rng.integers(-128, 0, size=c).astype(np.float64)
    q = _quant(rng, c, z, mode)
    x_type = FixedType(20, 20)
    for n in (3, 301):                                   # one block, and blocks with a remainder
        x = rng.integers(-(1 << 19), 1 << 19, size=(n,) + shape).astype(np.float64)
        x[0] = 0
        want = _quant_reference(q, x)
        run = q.simulator([x_type], [None])
        got = run([x])[0]
        assert got.dtype == np.float64 and np.array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))       # zeros of the same sign
        if run.narrow_output:
            narrow = run([x.astype(np.float32)], narrow=True)[0]
            assert narrow.dtype == np.float32 and np.array_equal(narrow.astype(np.float64), want)
    if paths is not None and mode in jit.ROUNDING and len(shape) > 1:
        assert paths.calls > 0


def _shift_round_reference(codes, shift, rounding):
    """shift_round's general form (every mode through round_increment)."""
    floor = codes >> shift
    rest = codes & ((1 << shift) - 1)
    first = (rest >> (shift - 1)) & 1 == 1
    sticky = (rest & ((1 << (shift - 1)) - 1)) != 0
    return floor + round_increment(rounding, first, sticky, codes < 0, floor)


@pytest.mark.parametrize("rounding", ["AP_TRN", "AP_RND", "AP_RND_CONV", "AP_TRN_ZERO", "AP_RND_ZERO"])
@pytest.mark.parametrize("overflow", ["AP_SAT", "AP_WRAP", "AP_SAT_SYM"])
def test_cast_and_shift_round_fast_forms(rounding, overflow, rng):
    src = FixedType(40, 20, True)
    codes = rng.integers(src.min_code, src.max_code, size=5000, dtype=np.int64)
    codes[:4] = [src.min_code, src.max_code, 0, -1]
    for shift in (1, 7, 23, 39):
        assert np.array_equal(shift_round(codes, shift, rounding), _shift_round_reference(codes, shift, rounding))
    dst = FixedType(12, 20 - 14, True, rounding, overflow)     # shift 14
    value = _shift_round_reference(codes, 14, rounding)
    want = dst._overflow(value, value > dst.max_code, value < dst.min_code)
    assert np.array_equal(dst.cast(codes, src), want)
    assert np.array_equal(dst.cast(codes[:1].reshape(()), src), want[0])    # 0-d codes


def test_buffers_recycle_only_unreferenced_owners():
    assert buffers.empty((4, 4), np.float32).dtype == np.float32          # no scope: plain np.empty
    with buffers.scope():
        a = buffers.empty((300, 300), np.float64)
        view = a[:10]
        buffers.recycle(view)                                                # a view: never kept
        assert buffers.empty((10, 300), np.float64) is not view
        buffers.recycle(a)
        assert buffers.empty((300, 300), np.float64) is a                  # the same shape gets it back
        b = np.empty((7, 7))
        buffers.recycle(b)                                                   # a size nobody asked for
        assert buffers.empty((7, 7)) is not b
    with buffers.scope():
        assert buffers.empty((300, 300), np.float64) is not a              # scopes start empty


@pytest.mark.parametrize("model", ["D09_kws_dscnn_qdq_int8", "D10_mnist8_cnn_float_gold", "D04_conv2d_bn_pool_float",
                                   "D08_sepconv_qonnx_w4a4_chlast", "D01_jet_mlp_float"])
def test_narrow_and_recycling_change_nothing(model, monkeypatch):
    design = compiler.compile_model(model_path(model), "zcu104")
    shape = tuple(design.graph.input_layouts[0].onnx_shape)
    n, every = (3, 2) if model.startswith("D08") else (300, 37)   # D08: 512x512 images, one per chunk
    x = np.random.default_rng(1).normal(scale=30 if model.startswith("D09") else 1, size=(n,) + shape)
    if not model.startswith("D09"):
        x = np.abs(x)
    sim = design.simulator()
    assert any(isinstance(fn, interpreter.functools.partial) for _, _, fn in sim.steps) or not model.startswith("D09")
    if model.startswith("D09") and jit.kernels() is not None:   # its 9 Conv -> requantizer pairs fused
        assert len(sim.batch_steps) == len(sim.steps) - 9
    fast = compiler.simulate(design, x)                      # several chunks on both cores
    one = np.concatenate([compiler.simulate(design, x[i:i + 1]) for i in range(0, n, every)])
    assert np.array_equal(one, fast[::every])
    # every step on float64 codes, nothing dropped or recycled, numpy only (no compiled
    # loops): the previous simulator's way
    monkeypatch.setenv("QCOMPILE_JIT", "0")
    monkeypatch.setattr(interpreter, "_narrow_steps", lambda steps, outputs: steps)
    monkeypatch.setattr(buffers, "recycle", lambda arr: None)
    design._simulator = None
    plain = compiler.simulate(design, x)
    assert np.array_equal(plain, fast)
    assert np.array_equal(np.signbit(plain), np.signbit(fast))
    # trace (every tensor kept) sees the same values
    tr = design.simulator().trace(design.graph.inputs_to_ir(x[:20]))
    out = design.graph.outputs[0]
    assert np.array_equal(design.graph.output_to_onnx(tr[out]), fast[:20])


@pytest.mark.parametrize("dtype, bits", [(np.float64, 24), (np.float32, 9)])   # 24 terms: sums below 2**53, 2**24
def test_products_through_onnxruntime_equal_numpy(dtype, bits, monkeypatch, rng):
    """numerics/matmul.Product: onnxruntime's MatMul on a large batch gives numpy's exact
    products (integer codes whose sums are exact: float64 up to 2**53, float32 up to 2**24);
    it pickles without its session and opens a new one."""
    import pickle

    from compiler.numerics import matmul

    monkeypatch.delenv("QCOMPILE_JIT", raising=False)
    k, m = 24, 7
    w = rng.integers(-(1 << bits), 1 << bits, size=(k, m)).astype(dtype)
    x = rng.integers(-(1 << bits), 1 << bits, size=(matmul.MIN_ROWS + 5, k)).astype(dtype)
    want = (x.astype(np.int64) @ w.astype(np.int64)).astype(np.float64)
    p = matmul.Product(w)
    got = p(x)
    assert p._session, "onnxruntime's session was not used"
    assert got.dtype == dtype and np.array_equal(got.astype(np.float64), want)
    again = pickle.loads(pickle.dumps(p))
    assert again._session is None and np.array_equal(again(x), got)
    assert np.array_equal(p(x[:10]), got[:10])                     # small: numpy's product


@pytest.mark.parametrize("x_type", [FixedType(18, 6, True, "AP_RND", "AP_WRAP"), FixedType(27, 15, True),
                                    FixedType(8, 8, True), FixedType(10, -2, True)])
@pytest.mark.parametrize("y_type", [FixedType(16, 1, False, "AP_RND", "AP_SAT"),
                                    FixedType(8, 1, False, "AP_TRN", "AP_SAT"),
                                    FixedType(12, 2, True, "AP_RND_CONV", "AP_SAT"),
                                    FixedType(18, 0, False, "AP_RND_ZERO", "AP_SAT")])
@pytest.mark.parametrize("n", [1, 5, 33])
def test_softmax_compiled_equals_numpy(x_type, y_type, n, monkeypatch, rng):
    from compiler.ops.softmax import Softmax

    if jit.kernels() is None:
        pytest.skip("numba is not installed (the [fast] extra)")
    x = rng.integers(x_type.min_code, x_type.max_code + 1, size=(300, n)).astype(np.float64)
    x[:5] = x[:5, :1]                                               # ties: several maxima
    monkeypatch.setenv("QCOMPILE_JIT", "0")
    want = Softmax().simulator([x_type], [y_type])([x])[0]
    monkeypatch.delenv("QCOMPILE_JIT")
    counting = _CountingKernels(jit.kernels())
    monkeypatch.setattr(jit, "kernels", lambda: counting)
    monkeypatch.setattr(jit, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(jit._local, "on", True, raising=False)
    got = Softmax().simulator([x_type], [y_type])([x])[0]
    assert counting.calls > 0
    assert got.dtype == np.float64 and np.array_equal(got, want)


@pytest.mark.parametrize("spec", CONVS)
@pytest.mark.parametrize("z", [0, -128, "per-channel"])
def test_conv_requantizer_fusion_equals_two_steps(spec, z, small_blocks, paths, rng):
    """Conv.fuse_requantizer with Quant.requant_kwargs (interpreter._fuse_requantizers): one
    step, the values of the Conv's exact output requantized; every conv path, per-channel and
    scalar zero points."""
    if paths is None:
        pytest.skip("a fusion of compiled steps")
    c_in, c_out, k, groups, strides, dilations, pads = spec
    op = _conv(rng, c_in, c_out, k, groups, strides, dilations, pads)
    x_type = FixedType(8, 8, False)
    op.accum_type = FixedType(24, 24, True)
    exact = FixedType(24, 24, True)                      # the Conv's output: its exact sums
    x = rng.integers(0, 1 << 8, size=(37, 9, 7, c_in)).astype(np.float64)
    conv = op.simulator([x_type], [exact])
    q = _quant(rng, c_out, rng.integers(-128, 0, size=c_out).astype(np.float64) if z == "per-channel" else z,
               "AP_RND_CONV")
    quant = q.simulator([exact], [None])
    fused = conv.fuse_requantizer(quant.requant_kwargs, np.float32 if conv.narrow_output else np.float64)
    assert fused is not None
    narrow = conv.narrow_output
    want = quant([conv([x.astype(np.float32)], narrow=True)[0]] if narrow else conv([x]))[0]
    got = fused([x.astype(np.float32) if narrow else x])[0]
    assert np.array_equal(got.astype(np.float64), want)
