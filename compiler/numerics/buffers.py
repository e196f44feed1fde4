"""Recycled output buffers for the simulator (a simulation helper; no semantics of its own).

Fresh large arrays cost page faults on first touch (the allocator hands memory back to the
system between batch chunks), a third of a CNN's simulation time. While a thread runs
simulation chunks (sim/interpreter.py enables it per thread), an op may take its output
array from `empty` (an np.empty of that shape and dtype, possibly a recycled one: contents
undefined, as np.empty's), and the interpreter hands back, through `recycle`, arrays no one
can reach any more (their last reader has run and nothing else refers to them)."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np

_local = threading.local()
MAX_KEPT = 4   # buffers kept per shape and dtype


def empty(shape, dtype=np.float64) -> np.ndarray:
    """np.empty(shape, dtype), from this thread's recycled buffers where one fits."""
    free = getattr(_local, "free", None)
    if free is not None:
        key = (tuple(shape), np.dtype(dtype))
        stack = free.get(key)
        if stack:
            return stack.pop()
        free.setdefault(key, [])   # a size asked for: worth keeping from now on
    return np.empty(shape, dtype)


def recycle(arr) -> None:
    """Keep arr for reuse by `empty` in this thread. The caller guarantees that nothing else
    refers to arr; only arrays owning their (contiguous, writeable) memory are kept."""
    free = getattr(_local, "free", None)
    if free is None or not isinstance(arr, np.ndarray) or arr.base is not None:
        return
    stack = free.get((arr.shape, arr.dtype))   # only sizes `empty` is asked for
    flags = arr.flags
    if stack is None or len(stack) >= MAX_KEPT or not (flags.owndata and flags.c_contiguous and flags.writeable):
        return
    stack.append(arr)


def enable() -> None:
    """Start recycling in this thread (a worker's initializer: its buffers go with it)."""
    _local.free = {}


@contextmanager
def scope():
    """Recycling in this thread for the block; its buffers are dropped at the end."""
    prev = getattr(_local, "free", None)
    _local.free = {}
    try:
        yield
    finally:
        _local.free = prev
