"""Progress bars (tqdm) on stderr for the long steps: calibration, the C simulation's build
and run, verify, sweeps. Shown only when stderr is a terminal, so logs, pipes, `--json`
and tests see nothing; QCOMPILE_PROGRESS=0 turns them off, =1 on."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager


def enabled() -> bool:
    forced = os.environ.get("QCOMPILE_PROGRESS")
    if forced is not None:
        return forced not in ("", "0")
    return sys.stderr.isatty()


def slices(n: int, at_least: int = 1, parts: int = 20) -> list[slice]:
    """A batch of n split so a bar can follow it: one slice without a bar, else about
    `parts` of at least `at_least` items each."""
    if not enabled() or n <= at_least:
        return [slice(0, n)]
    step = max(at_least, -(-n // parts))
    return [slice(i, min(n, i + step)) for i in range(0, n, step)]


def bar(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it"):
    """tqdm over iterable (or a manual bar of `total` steps), or a silent stand-in."""
    if enabled():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, file=sys.stderr, dynamic_ncols=True)
    return _Silent(iterable)


class _Silent:
    def __init__(self, iterable=None):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@contextmanager
def ticking(desc: str):
    """A bar that counts seconds while a step of unknown length (a g++ build) runs."""
    if not enabled():
        yield
        return
    import threading

    from tqdm import tqdm

    done = threading.Event()
    with tqdm(desc=desc, bar_format="{desc}: {elapsed}", leave=False, file=sys.stderr) as t:
        def tick():
            while not done.wait(0.5):
                t.refresh()
        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
