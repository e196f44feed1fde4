"""The simulator's float32 MAC path (ops/_mac.float32_exact) gives the float64 path's codes
bit for bit, and is only taken below the 2**24 bound."""
import numpy as np
import pytest

import compiler
from compiler.numerics import FixedType
from compiler.ops import _mac, conv, dense

from .conftest import model_path


def test_bound_is_the_l1_bound_below_2_24():
    x = FixedType(8, 8)                        # codes -128..127
    w = np.full((16, 3), 2 ** 11)              # 16 * 2**11 * 128 = 2**22
    assert _mac.float32_exact(w, x, np.zeros(3), 0.0)
    assert _mac.float32_exact(w, x, np.full(3, 2 ** 24 - 2 ** 22 - 2), 1.0)
    assert not _mac.float32_exact(w, x, np.full(3, 2 ** 24 - 2 ** 22), 0.0)
    assert not _mac.float32_exact(w, x, np.zeros(3), 0.5)   # a half-step offset: not integers


@pytest.mark.parametrize("model, width", [("D09_kws_dscnn_qdq_int8", 16), ("D10_mnist8_cnn_float_gold", 8),
                                          ("D07_unsw_mlp_w2a2_sparse", 16), ("D04_conv2d_bn_pool_float", 8)])
def test_float32_path_equals_float64_path(model, width, monkeypatch):
    design = compiler.compile_model(model_path(model), "zcu104", width=width, weight_width=width)
    x = np.random.default_rng(0).normal(scale=2, size=(64,) + tuple(design.graph.input_layouts[0].onnx_shape))
    taken = []
    real = _mac.float32_exact
    monkeypatch.setattr(conv, "float32_exact", lambda *a: taken.append(real(*a)) or taken[-1])
    monkeypatch.setattr(dense, "float32_exact", lambda *a: taken.append(real(*a)) or taken[-1])
    fast = compiler.simulate(design, x)
    assert any(taken)                          # the float32 path ran somewhere
    monkeypatch.setattr(conv, "float32_exact", lambda *a: False)
    monkeypatch.setattr(dense, "float32_exact", lambda *a: False)
    design._simulator = None                   # rebuild the ops' simulators
    assert np.array_equal(compiler.simulate(design, x), fast)
