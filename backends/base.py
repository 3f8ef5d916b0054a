"""The backend interface: stream a chat completion from a list of messages.

Design choices (after simonw/llm's ``Model.execute``): a backend is one small class with
``stream(messages, options)`` yielding text deltas, ``context_window`` and ``count_tokens``. It is
cheap to construct; weights or connections are opened on first use. A stream that breaks after
some text raises ``StreamCut`` carrying that text, so callers can keep it, marked as partial.

    >>> opts = GenerationOptions(max_tokens=40, seed=7)
    >>> "".join(backend.stream([{"role": "user", "content": "Hi"}], opts))   # doctest: +SKIP
    'Hello! How can I help?'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from core.errors import BackendError


@dataclass(frozen=True)
class GenerationOptions:
    temperature: float = 0.2
    max_tokens: int = 120
    stop: tuple[str, ...] = ()
    seed: int | None = 42
    repeat_penalty: float | None = 1.15  # llama.cpp and OpenAI-compatible local servers only


class StreamCut(BackendError):
    """The stream stopped after some text; ``partial`` holds what arrived."""

    def __init__(self, message: str, partial: str):
        super().__init__(message)
        self.partial = partial


MODEL_CLASSES = {"auto": None, "small": False, "capable": True}   # None: the backend judges by its model


class Backend:
    name = "base"
    in_process = False   # True: generation uses this machine's cores (answers are then taken one at a time)
    model_class = "auto"   # the `model_class` setting: auto, small or capable (get_backend sets it)

    @property
    def capable(self) -> bool:
        """False for a small model that copies and stitches (a bundled one, wherever it runs, or one
        declared ``small``): its drafts get the strict support check and yield to answering memories."""
        declared = MODEL_CLASSES.get(self.model_class)
        return self.capable_by_default() if declared is None else declared

    def capable_by_default(self) -> bool:
        return True

    @property
    def model(self) -> str:
        raise NotImplementedError

    @property
    def context_window(self) -> int:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def stream(self, messages: list[dict], options: GenerationOptions = GenerationOptions()) -> Iterator[str]:
        raise NotImplementedError

    def complete(self, messages: list[dict], options: GenerationOptions = GenerationOptions()) -> str:
        return "".join(self.stream(messages, options))

    def writes(self, lang: str) -> bool:
        """Whether the model writes ``lang`` well enough to draft an answer in it (a server's
        model is taken to; a bundled model says)."""
        return True

    def load(self) -> None:
        """Load the weights now, so that a file that cannot be loaded is an error before the first
        question (in-process backends); a model server has nothing to load."""

    def describe(self) -> str:
        return f"{self.name}:{self.model}"
