"""Shared fixtures: an ingested store in a temp data dir (real Chroma, real e5 embeddings).

The store is built once per test session and shared read-only; tests that change a store make
their own (``fresh_settings``). Every store of the session, in process or in an app started by a test,
shares one vector cache (``FACE_VECTOR_CACHE``), so only the first ingest of the seeds embeds them.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from core.config import load_settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def vector_cache(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("vectors") / "vectors.sqlite")
    os.environ["FACE_VECTOR_CACHE"] = path      # apps the tests start inherit it
    yield path
    os.environ.pop("FACE_VECTOR_CACHE", None)


@pytest.fixture(scope="session")
def shared_settings(tmp_path_factory, vector_cache):
    return load_settings({"data_dir": str(tmp_path_factory.mktemp("data")), "vector_cache": vector_cache}, env={})


@pytest.fixture(scope="session")
def searcher(shared_settings):
    from retrieval.search import Searcher

    s = Searcher(shared_settings)
    s.ensure_ready()
    return s


@pytest.fixture
def fresh_settings(tmp_path, vector_cache):
    return load_settings({"data_dir": str(tmp_path / "data"), "vector_cache": vector_cache}, env={})
