"""A disk cache of passage vectors by text, so an ingest embeds only what it has not embedded before.

Design choices:
- Keyed by (embedder model id, sha256 of the text): the same sentence, rendering or search key gets
  the same vector whichever source, chunking or store it lands in. A forced re-ingest, a new data
  dir pointed at the same cache, or an edit of one questions file re-embeds only the new texts.
- One SQLite file (``vector_cache`` setting, env ``FACE_VECTOR_CACHE``; default
  ``<data_dir>/vectors.sqlite``). SQLite gives atomic batches, so a kill mid-ingest leaves whole rows
  only, and several processes may share the file. Vectors are float32 bytes.
- A cache that cannot be opened or read is a one-line ``StoreError`` naming the file and the fix (it
  can be deleted: everything in it is rebuilt on the next ingest); it is never skipped silently.

Worked example::

    >>> cache = VectorCache("/tmp/v.sqlite")
    >>> vecs = cache.embed_documents(get_embedder("e5-local"), ["Der Held", "The hero"])   # embeds 2
    >>> vecs = cache.embed_documents(get_embedder("e5-local"), ["The hero"])               # embeds 0
"""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np

from core.errors import StoreError

_SQL_VARS = 500   # keys per SELECT, well under SQLite's variable limit


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache:
    """Vectors of texts already embedded, per embedder model; nothing is opened until first use."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _fail(self, exc: Exception) -> StoreError:
        return StoreError(f"the vector cache {self.path} cannot be used ({type(exc).__name__}: {exc}); "
                          "delete it (it is rebuilt on the next ingest) or set FACE_VECTOR_CACHE elsewhere")

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30)
            con.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, digest TEXT, vec BLOB, "
                        "PRIMARY KEY (model, digest))")
            return con
        except (OSError, sqlite3.Error) as exc:
            raise self._fail(exc) from None

    def embed_documents(self, embedder, texts: list[str]) -> np.ndarray:
        """Rows for ``texts`` in order: cached ones read, the others embedded by ``embedder`` and stored."""
        if not texts:
            return embedder.embed_documents([])
        model, keys = embedder.model_id, [_digest(t) for t in texts]
        con = self._connect()
        try:
            found = self._read(con, model, sorted(set(keys)))
            missing = sorted({k: t for k, t in zip(keys, texts) if k not in found}.items())
            if missing:
                vecs = np.asarray(embedder.embed_documents([t for _, t in missing]), dtype=np.float32)
                rows = [(model, k, v.tobytes()) for (k, _), v in zip(missing, vecs)]
                with con:
                    con.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
                found.update({k: v for (k, _), v in zip(missing, vecs)})
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        finally:
            con.close()
        try:
            return np.stack([found[k] for k in keys])
        except ValueError as exc:   # rows of another length: a file written by something else
            raise self._fail(exc) from None

    @staticmethod
    def _read(con: sqlite3.Connection, model: str, keys: list[str]) -> dict[str, np.ndarray]:
        out = {}
        for i in range(0, len(keys), _SQL_VARS):
            part = keys[i:i + _SQL_VARS]
            marks = ",".join("?" * len(part))
            for digest, blob in con.execute(f"SELECT digest, vec FROM vectors WHERE model = ? AND digest IN ({marks})",
                                            [model, *part]):
                out[digest] = np.frombuffer(blob, dtype=np.float32)
        return out


def cache_path(settings) -> Path:
    """Where ``settings`` keep the cache: the configured file, else ``<data_dir>/vectors.sqlite``."""
    return Path(settings.vector_cache) if settings.vector_cache else Path(settings.data_dir) / "vectors.sqlite"
