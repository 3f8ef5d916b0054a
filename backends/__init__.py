"""Model backends, picked by name from a registry that fails loudly on an unknown name.

    >>> get_backend(load_settings({"backend": "llamacpp"})).describe()
    'llamacpp:smollm2'
    >>> get_backend(load_settings({"backend": "gpt9"}))
    Traceback (most recent call last):
    core.errors.UnknownNameError: unknown backend 'gpt9'; choose one of: llamacpp, openai
"""
from __future__ import annotations

from dataclasses import replace

from backends.base import MODEL_CLASSES, Backend, GenerationOptions, StreamCut
from backends.llamacpp import LlamaCppBackend
from backends.openai_compat import OpenAIBackend
from core.errors import UnknownNameError

BACKENDS: dict[str, type[Backend]] = {cls.name: cls for cls in (LlamaCppBackend, OpenAIBackend)}

__all__ = ["BACKENDS", "Backend", "GenerationOptions", "StreamCut", "get_backend", "judge_backend"]


def get_backend(settings) -> Backend:
    """Build the configured backend (cheap: nothing loads or connects until first use)."""
    if settings.backend not in BACKENDS:
        raise UnknownNameError("backend", settings.backend, BACKENDS)
    if settings.model_class not in MODEL_CLASSES:
        raise UnknownNameError("model class", settings.model_class, MODEL_CLASSES)
    backend = BACKENDS[settings.backend](
        model=settings.model, model_path=settings.model_path, base_url=settings.base_url,
        threads=settings.threads, context=settings.context, timeout=settings.timeout,
        retries=settings.retries, data_dir=settings.data_dir)
    backend.model_class = settings.model_class
    return backend


def judge_backend(settings) -> Backend:
    """The model that judges answers (the LLM verifier, the LLM eval judge): ``--judge-base-url`` /
    ``--judge-model`` (env ``FACE_JUDGE_BASE_URL``/``FACE_JUDGE_MODEL``), else the chat's own endpoint."""
    return get_backend(replace(settings, backend="openai", base_url=settings.judge_base_url or settings.base_url,
                               model=settings.judge_model or settings.model))
