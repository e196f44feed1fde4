"""Runs a typed graph on int64 codes, vectorized over the batch, exactly as the C++ does."""
from __future__ import annotations

import contextlib
import functools
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from ..ir import Graph
from ..numerics import buffers, jit

CHUNK = 1 << 14  # samples per step at most: bounds memory (D01: 16,384 best, 4,096 1.7x slower, 2026-12-03)
CHUNK_ELEMENTS = 1 << 20  # and at most this many elements in the largest tensor (images: fewer samples)


class Simulator:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.steps = []
        for node in graph.nodes():
            fn = node.op.simulator([t.type for t in graph.in_tensors(node)], [t.type for t in graph.out_tensors(node)])
            self.steps.append((node.inputs, node.outputs, fn))
        self.steps = _narrow_steps(self.steps, graph.outputs)
        # batch runs: requantizers fused into the layers they read; per step, the tensors it
        # reads for the last time (graph outputs are never dropped): batch runs let go of
        # them there, and recycle their buffers (numerics/buffers.py)
        self.batch_steps = _fuse_requantizers(self.steps, graph)
        last: dict[str, int] = {}
        for k, (ins, _, _) in enumerate(self.batch_steps):
            for t in ins:
                last[t] = k
        keep = set(graph.outputs)
        self.drops = [[] for _ in self.batch_steps]
        for t, k in last.items():
            if t not in keep:
                self.drops[k].append(t)
        self.input_types = [graph.tensors[n].type for n in graph.inputs]
        largest = max((int(np.prod(t.shape)) for t in graph.tensors.values()), default=1)
        self.chunk = max(1, min(CHUNK, CHUNK_ELEMENTS // max(largest, 1)))
        self.output_types = [graph.tensors[n].type for n in graph.outputs]
        # real value per output code: 2**-frac times the tensor's scale, one exact number, so
        # code * unit is the same rounding of the same product as to_float(code) * scale
        self.output_units = [np.ldexp(np.asarray(graph.tensors[n].scale, dtype=np.float64), -t.frac_bits)
                             for n, t in zip(graph.outputs, self.output_types)]

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
        """fn over batch chunks of at most self.chunk samples, concatenated. The chunks run on
        every core (numpy releases the GIL), each with a single-threaded BLAS: faster than
        BLAS's own threads on these small matrix products. Their count is a multiple of the
        workers and their sizes equal, so no core waits for a last chunk (D01's 200,000
        samples: 14 chunks of 14,286, not 12 of 16,384 and one of 3,392)."""
        n = arrays[0].shape[0]
        if n <= self.chunk:
            with _batch():
                return fn(arrays)
        count = -(-n // self.chunk)
        workers = min(count, os.cpu_count() or 1)
        count = -(-count // workers) * workers
        step = -(-n // count)
        starts = range(0, n, step)

        def chunk(i):
            return fn([a[i:i + step] for a in arrays])

        if workers > 1:
            # each worker recycles its own buffers (numerics/buffers.py); they go with it
            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers, initializer=_worker) as pool:
                parts = list(pool.map(chunk, starts))
        else:
            with _batch():
                parts = [chunk(i) for i in starts]
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]

    def _run_chunk(self, codes: list[np.ndarray]) -> list[np.ndarray]:
        values = dict(zip(self.graph.inputs, codes))
        del codes
        for (ins, outs, fn), drops in zip(self.batch_steps, self.drops):
            values.update(zip(outs, fn([values[t] for t in ins])))
            for t in drops:
                arr = values.pop(t)
                if sys.getrefcount(arr) == 2:   # this name alone: no view, no other tensor, no caller
                    buffers.recycle(arr)
                del arr
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
        return [np.multiply(c, unit, dtype=np.float64) for c, unit in zip(outs, self.output_units)]


@contextlib.contextmanager
def _batch():
    """A batch run on this thread: recycled buffers and the compiled loops while in it."""
    with buffers.scope(), jit.batch_run():
        yield


def _worker() -> None:
    """A batch worker thread: _batch for its life."""
    buffers.enable()
    jit.enable()


def _narrow_steps(steps, graph_outputs) -> list:
    """Let a step hand its outputs on as float32 codes ("narrow": run(ins, narrow=True)) where
    it offers that (run.narrow_output: its codes are exact float32 values) and every reader
    of each output takes float32 codes (run.narrow_inputs) and none is a graph output. Other
    steps keep float64 codes, as ever; the values are the same either way."""
    readers: dict[str, list] = {}
    for ins, _, fn in steps:
        for t in ins:
            readers.setdefault(t, []).append(fn)
    outputs = set(graph_outputs)
    out = []
    for ins, outs, fn in steps:
        if getattr(fn, "narrow_output", False) and all(
                t not in outputs and readers.get(t) and all(getattr(r, "narrow_inputs", False) for r in readers[t])
                for t in outs):
            fn = functools.partial(fn, narrow=True)
        out.append((ins, outs, fn))
    return out


def _step_attr(fn, name):
    """An attribute of a step's function, through a narrow partial."""
    return getattr(fn.func if isinstance(fn, functools.partial) else fn, name, None)


def _fuse_requantizers(steps, graph) -> list:
    """A MAC layer whose exact output only the next step, a requantizer, reads: both as one
    step (the layer's fuse_requantizer, given the requantizer's requant_kwargs), one pass
    over the tensor fewer. Small batches run the two steps (the compiled loops are for large
    ones). Batch runs only: trace keeps every tensor."""
    readers: dict[str, int] = {}
    for ins, _, _ in steps:
        for t in ins:
            readers[t] = readers.get(t, 0) + 1
    outputs, out, k = set(graph.outputs), [], 0
    while k < len(steps):
        ins, outs, fn = steps[k]
        if k + 1 < len(steps):
            q_ins, q_outs, q_fn = steps[k + 1]
            fuse, kwargs = _step_attr(fn, "fuse_requantizer"), _step_attr(q_fn, "requant_kwargs")
            if (fuse and kwargs and len(outs) == 1 and list(q_ins) == [outs[0]] and readers[outs[0]] == 1
                    and outs[0] not in outputs):
                narrow = isinstance(q_fn, functools.partial) and q_fn.keywords.get("narrow")
                fused = fuse(kwargs, np.float32 if narrow else np.float64)
                if fused is not None:
                    per_sample = int(np.prod(graph.tensors[outs[0]].shape))
                    out.append((ins, q_outs, _large_or_apart(fused, fn, q_fn, per_sample)))
                    k += 2
                    continue
        out.append(steps[k])
        k += 1
    return out


def _large_or_apart(fused, first, second, per_sample: int):
    def run(ins):
        if jit.worth(len(ins[0]) * per_sample):
            return fused(ins)
        return second(first(ins))
    return run
