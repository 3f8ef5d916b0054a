"""``python app.py model-server``: a local model over the OpenAI-compatible API, with safe settings.

Design choices:
- Built on llama-cpp-python's own server (``llama_cpp.server.app.create_app`` + uvicorn), so the
  API is exactly what its users know; the model is loaded with the same safe parameters as the
  in-process backend (``backends.llama_load``: no AMX / CPU repacking), which plain
  ``python -m llama_cpp.server`` does not do and so segfaults on AMX CPUs.
- A bundled model by name (``--model smollm2``) or any GGUF by path; the served model name is the
  bundled name or the file's stem, printed with the flags that use it.
- 127.0.0.1 by default; any other host prints a warning (the server has no login).
- A file that cannot be loaded is one line naming it and llama.cpp's reason (exit 2).

    python app.py model-server --model smollm2 --port 8080
    python app.py ask --backend openai --base-url http://127.0.0.1:8080/v1 --model smollm2 --character hero "..."
"""
from __future__ import annotations

import sys
from pathlib import Path

from backends.llama_load import captured_log, load_error, safe_model_params
from core.errors import ModelFileError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def build_app(path: str, alias: str, n_ctx: int = 2048, n_threads: int = 2):
    """The FastAPI app of llama-cpp-python's server with the model loaded (safely)."""
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    safe_model_params()
    lines: list[str] = []
    try:
        with captured_log(lines):
            return create_app(server_settings=ServerSettings(),
                              model_settings=[ModelSettings(model=str(path), model_alias=alias, n_ctx=n_ctx,
                                                            n_threads=n_threads, verbose=False)])
    except (ValueError, RuntimeError, OSError) as exc:
        raise load_error(path, lines, exc) from None


def serve(path: str, alias: str, host: str = "127.0.0.1", port: int = 8000, n_ctx: int = 2048,
          n_threads: int = 2) -> int:
    import uvicorn

    if not Path(path).is_file():
        raise ModelFileError(f"model file {path} not found; pass --model-path with an existing .gguf file")
    if host not in LOCAL_HOSTS:
        print(f"warning: --host {host} serves the model to your network without a login; bind 127.0.0.1 "
              "unless that is what you want", file=sys.stderr)
    app = build_app(path, alias, n_ctx, n_threads)
    url = f"http://{host}:{port}/v1"
    print(f"serving {alias} ({path}) at {url} (OpenAI-compatible); use it with: "
          f"--backend openai --base-url {url} --model {alias}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
