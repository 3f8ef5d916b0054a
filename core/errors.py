"""Domain errors. The CLI and the UI turn these into one-line messages; nothing else should leak.

Design choices: a small hierarchy, each error carrying a message that already says what to do.
``UsageError`` is for bad input from the user (exit code 2); ``FaceError`` subclasses cover things
that went wrong while working (exit code 1).

    >>> str(UnknownNameError("backend", "gpt9", ["llamacpp", "openai"]))
    "unknown backend 'gpt9'; choose one of: llamacpp, openai"
"""
from __future__ import annotations


class FaceError(Exception):
    """Base of every error this product reports to a user."""

    exit_code = 1


class UsageError(FaceError):
    """Bad input from the user: a flag, a name, an empty or too long message."""

    exit_code = 2


class UnknownNameError(UsageError):
    def __init__(self, what: str, name: str, known):
        super().__init__(f"unknown {what} {name!r}; choose one of: {', '.join(sorted(known))}")


class CorpusError(FaceError):
    """The seeds, renderings or events on disk are inconsistent."""


class StoreError(FaceError):
    """The vector store cannot be reached or written."""


class EmbeddingError(FaceError):
    """The embedder failed (missing package, unreachable endpoint)."""


class BackendError(FaceError):
    """A model backend failed (missing weights, unreachable server, bad answer)."""


class ModelFileError(UsageError):
    """The model file the user named cannot be loaded (not a GGUF, truncated, unknown architecture)."""


class ModelCrashed(BackendError):
    """The model's process died mid-answer (a native crash); a fresh one has been started."""

    def __init__(self, detail: str = ""):
        super().__init__("the model stopped unexpectedly; it has been restarted - ask again")
        self.detail = detail
