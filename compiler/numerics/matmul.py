"""The simulator's matrix products with a fixed weight (Dense): x @ w on exact integer codes
held as float32 or float64 (the caller proves every partial sum exact: float32_exact, or
below 2**53), so any summation order gives the same result.

Large batches go through onnxruntime's MatMul, one single-threaded session per weight (the
simulator runs its batch chunks on every core itself): its MLAS kernels took D01's float64
products (16-bit codes: no float32) in ~2/3 of the time of numpy's OpenBLAS here, D01 as a
whole ~10% faster (benchmarks/bench_spine.py). onnxruntime is a core dependency already.
Convolutions gained nothing (measured on D09, D10) and keep numpy. Small batches, and all
with QCOMPILE_JIT=0, use numpy.
"""
from __future__ import annotations

import os

import numpy as np

MIN_ROWS = 1024   # below this a session call's overhead (~7 us) is not worth it


class Product:
    def __init__(self, w: np.ndarray):
        self.w = np.ascontiguousarray(w)
        self._session = None

    def __getstate__(self):          # sessions do not pickle (designs go to Dask workers)
        return {"w": self.w, "_session": None}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x (rows, K) @ w in w's dtype (x converted exactly first): a new array."""
        x = np.ascontiguousarray(x, dtype=self.w.dtype)
        if len(x) >= MIN_ROWS and os.environ.get("QCOMPILE_JIT", "1") != "0":
            session = self._session if self._session is not None else self._open()
            if session:
                return session.run(None, {"x": x})[0]
        return x @ self.w

    def _open(self):
        """The MatMul session, or False where onnxruntime cannot make one (numpy then)."""
        try:
            import onnxruntime as ort
            from onnx import TensorProto, helper, numpy_helper

            elem = TensorProto.FLOAT if self.w.dtype == np.float32 else TensorProto.DOUBLE
            k, m = self.w.shape
            graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "product",
                                      [helper.make_tensor_value_info("x", elem, ["n", k])],
                                      [helper.make_tensor_value_info("y", elem, ["n", m])],
                                      [numpy_helper.from_array(self.w, "w")])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            opts.log_severity_level = 4
            self._session = ort.InferenceSession(model.SerializeToString(), opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception:   # noqa: BLE001 - any failure: numpy's product is always right
            self._session = False
        return self._session
