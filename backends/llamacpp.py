"""In-process llama.cpp (llama-cpp-python): the default backend, no key and no server.

Design choices:
- Weights load on the first ``stream``/``count_tokens`` call, once per process per (path, context,
  threads): a module-level cache shared by every backend object, guarded by a lock because
  llama.cpp contexts are not re-entrant (concurrent UI sessions take turns on the one model).
- The chat template comes from the GGUF (llama-cpp-python's ``create_chat_completion``).
- ``--model-path`` takes any GGUF; otherwise a bundled model by name (``smollm2`` by default).

    >>> b = LlamaCppBackend(model="smollm2")
    >>> b.count_tokens("Hello")                                            # doctest: +SKIP
    1
"""
from __future__ import annotations

import atexit
import threading
from pathlib import Path

from backends.base import Backend, GenerationOptions
from backends.bundled import DEFAULT_BUNDLED, bundled
from core.errors import BackendError

_MODELS: dict[tuple, object] = {}
_LOAD_LOCK = threading.Lock()
_RUN_LOCKS: dict[tuple, threading.Lock] = {}


@atexit.register
def _close_all():
    """Free models before interpreter teardown (llama.cpp's __del__ fails once modules are gone)."""
    while _MODELS:
        _, llm = _MODELS.popitem()
        llm.close()


class LlamaCppBackend(Backend):
    name = "llamacpp"
    in_process = True

    def __init__(self, model: str = "", model_path: str = "", threads: int = 2, context: int = 0,
                 data_dir: str = "data", **_):
        self._name = model or DEFAULT_BUNDLED
        self._path = model_path
        self.threads = threads
        self.context = context or 2048
        self.data_dir = data_dir

    @property
    def model(self) -> str:
        return Path(self._path).name if self._path else self._name

    def model_file(self) -> Path:
        if self._path:
            path = Path(self._path)
            if not path.is_file():
                raise BackendError(f"model file {path} not found; pass --model-path with an existing .gguf file")
            return path
        return bundled(self._name).path(self.data_dir)

    @property
    def _key(self) -> tuple:
        return (str(self.model_file()), self.context, self.threads)

    def _llm(self):
        key = self._key
        if key not in _MODELS:
            with _LOAD_LOCK:
                if key not in _MODELS:
                    try:
                        from llama_cpp import Llama
                    except ImportError:
                        raise BackendError("the llamacpp backend needs llama-cpp-python: pip install -r requirements.txt") from None
                    try:
                        _MODELS[key] = Llama(model_path=key[0], n_ctx=self.context, n_threads=self.threads, verbose=False)
                    except (ValueError, RuntimeError, OSError) as exc:
                        raise BackendError(f"cannot load {key[0]} with llama.cpp: {exc}; is it a valid GGUF file?") from None
                    _RUN_LOCKS[key] = threading.Lock()
        return _MODELS[key], _RUN_LOCKS[key]

    @property
    def context_window(self) -> int:
        return self.context

    def count_tokens(self, text: str) -> int:
        llm, _ = self._llm()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages, options: GenerationOptions = GenerationOptions()):
        llm, lock = self._llm()
        kwargs = dict(messages=messages, temperature=options.temperature, max_tokens=options.max_tokens,
                      stop=list(options.stop) or None, stream=True)
        if options.seed is not None:
            kwargs["seed"] = options.seed
        if options.repeat_penalty is not None:
            kwargs["repeat_penalty"] = options.repeat_penalty
        with lock:
            try:
                for chunk in llm.create_chat_completion(**kwargs):
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        yield delta
            except ValueError as exc:  # e.g. the prompt does not fit the context
                raise BackendError(f"llama.cpp refused the request: {exc}") from None
