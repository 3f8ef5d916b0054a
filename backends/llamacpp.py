"""In-process llama.cpp (llama-cpp-python): the default backend, no key and no server.

Design choices:
- "In process" means on this machine, without a server: the model itself runs in a worker
  process (``backends.llama_worker``), one per (path, context, threads) and per app process, shared
  by every backend object. A native crash in llama.cpp then ends one answer with one line and a
  fresh worker, never the app or an eval run. Weights load on the first ``stream``/``count_tokens``.
- Models load with the safe parameters of ``backends.llama_load`` (no AMX / CPU weight repacking,
  which segfaults on AMX CPUs); the chat template comes from the GGUF.
- ``--model-path`` takes any GGUF; otherwise a bundled model by name (``smollm2`` by default). A file
  llama.cpp cannot load is one line naming it and llama.cpp's reason (exit 2).

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
from backends.llama_worker import Worker
from core.errors import BackendError

_WORKERS: dict[tuple, Worker] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _close_all():
    while _WORKERS:
        _, worker = _WORKERS.popitem()
        worker.close()


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

    def worker(self) -> Worker:
        """The worker running this model (started on first use, restarted after a crash)."""
        key = (str(self.model_file()), self.context, self.threads)
        with _LOAD_LOCK:
            if key not in _WORKERS:
                _WORKERS[key] = Worker(*key)
            return _WORKERS[key]

    def load(self) -> None:
        self.worker().load()

    def capable_by_default(self) -> bool:
        return False      # the bundled models, or a GGUF of your own on this machine's cores

    def writes(self, lang: str) -> bool:
        return bool(self._path) or lang in bundled(self._name).languages   # a GGUF of your own: every language

    @property
    def context_window(self) -> int:
        return self.context

    def count_tokens(self, text: str) -> int:
        return self.worker().call("tokenize", text=text)["n"]

    def stream(self, messages, options: GenerationOptions = GenerationOptions()):
        kwargs = dict(temperature=options.temperature, max_tokens=options.max_tokens, stop=list(options.stop) or None)
        if options.seed is not None:
            kwargs["seed"] = options.seed
        if options.repeat_penalty is not None:
            kwargs["repeat_penalty"] = options.repeat_penalty
        yield from self.worker().stream(messages, kwargs)
