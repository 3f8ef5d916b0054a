"""Seconds per step, added up in a dict the caller keeps (an answer's ``timings``).

    >>> t = {}
    >>> with timer(t, "retrieve"):
    ...     pass
    >>> sorted(t)
    ['retrieve']
"""
from __future__ import annotations

import contextlib
import time


@contextlib.contextmanager
def timer(timings: dict, name: str):
    """Add the seconds spent in the block to ``timings[name]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - t0, 4)


def timed(name: str, step):
    """A chain step that records its seconds in the state's ``timings``."""
    def run(s):
        with timer(s["timings"], name):
            return step(s)
    return run
