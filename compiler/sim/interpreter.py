"""Runs a typed graph on int64 codes, vectorized over the batch, exactly as the C++ does."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from ..ir import Graph

CHUNK = 1 << 13  # samples per step at most: bounds memory, and keeps each layer's arrays in cache
CHUNK_ELEMENTS = 1 << 20  # and at most this many elements in the largest tensor (images: fewer samples)


class Simulator:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.steps = []
        for node in graph.nodes():
            fn = node.op.simulator([t.type for t in graph.in_tensors(node)], [t.type for t in graph.out_tensors(node)])
            self.steps.append((node.inputs, node.outputs, fn))
        self.input_types = [graph.tensors[n].type for n in graph.inputs]
        largest = max((int(np.prod(t.shape)) for t in graph.tensors.values()), default=1)
        self.chunk = max(1, min(CHUNK, CHUNK_ELEMENTS // max(largest, 1)))
        self.output_types = [graph.tensors[n].type for n in graph.outputs]

    def quantize_inputs(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """Real inputs -> input codes: the model's own input quantizer where it has one (the
        host applies it), else ap_fixed(double) conversion to the input type."""
        out = []
        for name, t, x in zip(self.graph.inputs, self.input_types, xs):
            q = self.graph.input_quantizers.get(name)
            out.append(q.host_codes(x) if q is not None else t.quantize(x, np.float64))
        return out

    def run_codes(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        return self._chunked(self._run_chunk, codes)

    def _chunked(self, fn, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """fn over batch chunks of self.chunk samples, concatenated. The chunks run on every core
        (numpy releases the GIL), each with a single-threaded BLAS: faster than BLAS's own
        threads on these small matrix products."""
        n, step = arrays[0].shape[0], self.chunk
        if n <= step:
            return fn(arrays)
        starts = range(0, n, step)
        workers = min(len(starts), os.cpu_count() or 1)

        def chunk(i):
            return fn([a[i:i + step] for a in arrays])

        if workers > 1:
            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(chunk, starts))
        else:
            parts = [chunk(i) for i in starts]
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]

    def _run_chunk(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        values = dict(zip(self.graph.inputs, codes))
        for ins, outs, fn in self.steps:
            values.update(zip(outs, fn([values[t] for t in ins])))
        return [values[t] for t in self.graph.outputs]

    def trace(self, xs: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Real values of every tensor (for debugging and layer-by-layer comparisons)."""
        values = dict(zip(self.graph.inputs, self.quantize_inputs(xs)))
        for ins, outs, fn in self.steps:
            values.update(zip(outs, fn([values[t] for t in ins])))
        return {k: self.graph.tensors[k].type.to_float(v) * self.graph.tensors[k].scale for k, v in values.items()}

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """Real inputs -> real outputs (code * 2**-frac * the tensor's real scale)."""
        return self._chunked(self._run_real, xs)

    def _run_real(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        outs = self._run_chunk(self.quantize_inputs(xs))
        return [t.to_float(c) * self.graph.tensors[name].scale
                for t, c, name in zip(self.output_types, outs, self.graph.outputs)]
