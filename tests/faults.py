"""Fault points for tests: a model worker held mid-answer (``FACE_FAULT_HOLD``), then killed.

The worker (``backends/llama_worker.py``) checks for ``DIR/arm`` after sending the first piece of
an answer; if armed it writes ``DIR/held-<pid>`` and waits. ``Hold.kill`` waits for that file and
sends the signal, so the kill lands mid-answer every time, without sleeping on a guess.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path


class Hold:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def arm(self) -> None:
        (self.dir / "arm").write_text("")

    def wait_held(self, timeout: float = 180) -> int:
        deadline = time.time() + timeout
        while time.time() < deadline:
            held = list(self.dir.glob("held-*"))
            if held:
                return int(held[0].name.split("-", 1)[1])
            time.sleep(0.05)
        raise AssertionError("no worker reached the fault point")

    def kill(self, sig: int = signal.SIGSEGV, timeout: float = 180) -> int:
        """Wait until a worker holds mid-answer, kill it with ``sig``, return its pid."""
        pid = self.wait_held(timeout)
        os.kill(pid, sig)
        (self.dir / f"held-{pid}").unlink()
        return pid

    def release(self, timeout: float = 180) -> int:
        """Let a held worker go on (used where a test only needs to know it got there)."""
        pid = self.wait_held(timeout)
        (self.dir / f"held-{pid}").unlink()
        return pid
