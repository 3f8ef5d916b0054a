"""Configuration: CLI flags > environment variables > config file > defaults.

Design choices:
- One table, ``FIELDS``, names every setting once with its environment variable, its default and
  its type; the CLI, the UI and the evals all resolve settings through ``load_settings``.
- The optional config file is TOML (``FACE_CONFIG``, else ``<data_dir>/config.toml``), flat keys
  named like the fields. Unknown keys are an error, so a typo does not silently do nothing.
- Secrets (API keys) are read from the environment only and are never part of ``Settings.public()``.

Worked example::

    >>> s = load_settings({"chunk_tokens": 64}, env={"FACE_EMBEDDER": "openai"})
    >>> (s.chunk_tokens, s.embedder)
    (64, 'openai')
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from core.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = ROOT / "seeds"


@dataclass(frozen=True)
class Field:
    env: str
    default: object
    type: type


FIELDS: dict[str, Field] = {
    "data_dir": Field("FACE_DATA_DIR", str(ROOT / "data"), str),
    "seeds_dir": Field("FACE_SEEDS_DIR", str(SEEDS_DIR), str),
    "chroma_host": Field("CHROMA_HOST", "", str),
    "chroma_port": Field("CHROMA_PORT", 8000, int),
    "collection": Field("FACE_COLLECTION", "passages", str),
    "embedder": Field("FACE_EMBEDDER", "e5-local", str),
    "embed_model": Field("FACE_EMBED_MODEL", "", str),
    "embed_base_url": Field("FACE_EMBED_BASE_URL", "", str),
    "backend": Field("FACE_BACKEND", "llamacpp", str),
    "model": Field("FACE_MODEL", "", str),
    "model_path": Field("FACE_MODEL_PATH", "", str),
    "base_url": Field("OPENAI_BASE_URL", "", str),
    "threads": Field("FACE_THREADS", 2, int),
    "context": Field("FACE_CONTEXT", 0, int),
    "timeout": Field("FACE_TIMEOUT", 60.0, float),
    "retries": Field("FACE_RETRIES", 3, int),
    "chunk_tokens": Field("FACE_CHUNK_TOKENS", 80, int),
    "chunk_overlap": Field("FACE_CHUNK_OVERLAP", 40, int),
    "judge_base_url": Field("FACE_JUDGE_BASE_URL", "", str),
    "judge_model": Field("FACE_JUDGE_MODEL", "", str),
    "verifier": Field("FACE_VERIFIER", "offline", str),
    "vector_cache": Field("FACE_VECTOR_CACHE", "", str),
    "model_class": Field("FACE_MODEL_CLASS", "auto", str),
}


@dataclass(frozen=True)
class Settings:
    data_dir: str
    seeds_dir: str
    chroma_host: str
    chroma_port: int
    collection: str
    embedder: str
    embed_model: str
    embed_base_url: str
    backend: str
    model: str
    model_path: str
    base_url: str
    threads: int
    context: int
    timeout: float
    retries: int
    chunk_tokens: int
    chunk_overlap: int
    judge_base_url: str
    judge_model: str
    verifier: str
    vector_cache: str
    model_class: str

    def public(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _coerce(name: str, value, typ: type):
    try:
        return typ(value)
    except (TypeError, ValueError):
        raise UsageError(f"setting {name} must be {typ.__name__}, got {value!r}") from None


def _config_file(env: dict, data_dir: str) -> dict:
    path = Path(env.get("FACE_CONFIG") or Path(data_dir) / "config.toml")
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise UsageError(f"config file {path}: unknown keys {sorted(unknown)}; known: {sorted(FIELDS)}")
    for name, value in data.items():   # TOML has types: a list where a number belongs is an error, not str(list)
        want = FIELDS[name].type
        ok = isinstance(value, str) if want is str else (
            isinstance(value, int) and not isinstance(value, bool) if want is int else
            isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok or (want is str and len(value) > 4096):
            raise UsageError(f"config file {path}: {name} must be {want.__name__}, got {str(value)[:60]!r}")
    return data


def settings_from(args) -> Settings:
    """Settings from parsed command-line flags (an ``argparse.Namespace``; unset flags are absent)."""
    return load_settings({name: getattr(args, name, None) for name in FIELDS})


def load_settings(overrides: dict | None = None, env: dict | None = None) -> Settings:
    """Resolve every field: explicit overrides (CLI flags, not None) > env > config file > default."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None and k in FIELDS}
    data_dir = overrides.get("data_dir") or env.get(FIELDS["data_dir"].env) or FIELDS["data_dir"].default
    from_file = _config_file(env, data_dir)
    values = {}
    for name, spec in FIELDS.items():
        if name in overrides:
            raw = overrides[name]
        elif spec.env in env and env[spec.env] != "":
            raw = env[spec.env]
        elif name in from_file:
            raw = from_file[name]
        else:
            raw = spec.default
        values[name] = _coerce(name, raw, spec.type)
    return Settings(**values)
