"""Loading a GGUF with llama.cpp so that it runs on every x86-64 CPU, and says why when it cannot.

Design choices:
- ``SAFE_MODEL_PARAMS``: no extra buffer types (``use_extra_bufts = False``), so no AMX and no CPU
  weight repacking. On CPUs with Intel AMX (Sapphire Rapids and later Xeons) llama.cpp's AMX
  repacking segfaults at the first decode (upstream llama.cpp #20824); measured here on such a CPU,
  the bundled SmolLM2 and Gemma 3 270M both die with SIGSEGV with the default parameters and answer
  with these. The cost elsewhere is small for our models (benchmarks/generation.py), so it is off
  everywhere: one setting, the same on every machine, tested on the parameters actually passed.
- ``llama_cpp.Llama`` has no argument for it, so ``safe_model_params()`` wraps
  ``llama_model_default_params`` for the process: it is called only in processes that exist to run
  a model (the in-process backend's worker, ``python app.py model-server``, the benchmark).
- llama.cpp logs why a file did not load (bad magic, truncated tensor data, unknown architecture)
  and Python gets only "Failed to load model from file". ``load_llama`` captures the log while
  loading and raises ``ModelFileError`` with the reason: one line, exit code 2.

    >>> llm = load_llama("/models/SmolLM2-135M-Instruct.Q4_1.gguf", n_ctx=2048)   # doctest: +SKIP
    >>> llm.model_params.use_extra_bufts
    False
    >>> load_llama("/tmp/half.gguf")                                                 # doctest: +SKIP
    ModelFileError: cannot load /tmp/half.gguf with llama.cpp: tensor 'blk.15.attn_output.weight' data
    is not within the file bounds, model is corrupted or incomplete; ...
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import re

from core.errors import ModelFileError

SAFE_MODEL_PARAMS = {"use_extra_bufts": False}
_GENERIC = re.compile(r"failed to load model|^\s*$", re.IGNORECASE)


def safe_model_params() -> None:
    """From now on every model this process loads gets ``SAFE_MODEL_PARAMS`` (idempotent)."""
    import llama_cpp.llama_cpp as C

    if getattr(C.llama_model_default_params, "_face_safe", False):
        return
    default = C.llama_model_default_params

    def safe():
        params = default()
        for name, value in SAFE_MODEL_PARAMS.items():
            setattr(params, name, value)
        return params

    safe._face_safe = True
    C.llama_model_default_params = safe


def model_params_of(llm) -> dict:
    """The parameters a loaded model was actually given (what the tests assert on)."""
    return {name: getattr(llm.model_params, name) for name in SAFE_MODEL_PARAMS}


@contextlib.contextmanager
def captured_log(lines: list[str]):
    """Collect llama.cpp's warnings and errors into ``lines`` instead of printing them."""
    import llama_cpp.llama_cpp as C

    @C.llama_log_callback
    def keep(level, text, _user):
        if level >= 3:  # warn and error (info and debug are below); the numbering moved between versions
            lines.append(text.decode("utf-8", "replace").strip())

    C.llama_log_set(keep, ctypes.c_void_p(0))
    try:
        yield
    finally:
        C.llama_log_set(_quiet(), ctypes.c_void_p(0))


@functools.lru_cache(maxsize=1)
def _quiet():
    """A log callback that drops everything (kept alive here: llama.cpp holds only a pointer)."""
    import llama_cpp.llama_cpp as C

    return C.llama_log_callback(lambda level, text, user: None)


def _reason(lines: list[str]) -> str:
    """The last specific line of llama.cpp's log (the error, after any warnings), without its
    function-name prefixes: "gguf_init_from_reader: invalid magic ..." -> "invalid magic ..."."""
    for line in reversed(lines):
        text = re.sub(r"^(\w+: )+", "", line.replace("error loading model: ", ""))
        if not _GENERIC.search(text):
            return text
    return "llama.cpp could not read it"


def load_llama(path: str, **kwargs):
    """``llama_cpp.Llama(path, **kwargs)`` with the safe parameters; ``ModelFileError`` with the
    reason llama.cpp logged when the file cannot be loaded."""
    import llama_cpp

    safe_model_params()
    lines: list[str] = []
    try:
        with captured_log(lines):
            return llama_cpp.Llama(model_path=str(path), verbose=False, **kwargs)
    except (ValueError, RuntimeError, OSError) as exc:
        raise load_error(path, lines, exc) from None


def load_error(path, lines: list[str], exc: Exception) -> ModelFileError:
    """One line: the file, llama.cpp's reason (from its captured log), what to do."""
    reason = _reason(lines) if lines else str(exc)
    return ModelFileError(f"cannot load {path} with llama.cpp: {reason}; pass --model-path with a GGUF "
                          "model file that llama.cpp supports")
