"""Fault points: named places where a test can kill the process, so a crash lands exactly there.

Design choice: ``fault_point("name")`` does nothing unless ``FACE_FAULT_POINT`` names it; then the
process dies at once by SIGKILL, as a power cut or the OOM killer would end it. Tests put the point
between two writes they fear to see split (a transcript turn's question and answer), so a
non-atomic write fails the test every time instead of now and then.

    FACE_FAULT_POINT=add_turn:between python -c "..."     # dies between the two inserts
"""
from __future__ import annotations

import os
import signal


def fault_point(name: str) -> None:
    if os.environ.get("FACE_FAULT_POINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
