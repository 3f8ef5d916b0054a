"""The Chroma vector store: embedded by default, a Chroma server when a host is configured.

Design choices:
- chromadb is used directly (its API is small and the LangChain wrapper would hide the id control that
  ingest and filtered queries need). Telemetry is off, and vectors are always computed by our
  embedder and passed in, so Chroma's own default embedder (which downloads) is never touched.
- One record per chunk *and language*: ``<chunk id>#<lang>`` holds the original or one rendering,
  so a Russian question can meet the Russian rendering of a German sentence; search keys get
  records of their own (``<chunk id>#<lang>#k<n>``, role ``key``) pointing at the same chunk. The collection name
  carries a short hash of the embedder's model id, so switching embedders never mixes dimensions.
- Ingest is idempotent and crash-safe: a second small collection keeps one marker per source
  (the digest of the source, its renderings, the chunking settings and the embedder). A source
  whose marker matches is skipped; otherwise its marker is deleted first, its old records removed,
  new ones added, and the marker written last. A kill at any point leaves a source without a
  valid marker, which the next run redoes; readers see only sources whose marker is current.
- Vectors come through a disk cache by text (``retrieval/vectors.py``): a forced or repeated ingest
  embeds only texts it has never embedded.

Worked example::

    >>> store = PassageStore(load_settings({"data_dir": "/tmp/x"}))
    >>> store.ingest(load_corpus()).added          # first time: every source
    ['film_review_ru', 'novel_summary_de']
    >>> store.ingest(load_corpus()).skipped        # second time: nothing to do
    ['film_review_ru', 'novel_summary_de']
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from core.config import Settings
from core.errors import StoreError
from retrieval.chunking import Chunk, chunk_corpus
from retrieval.corpus import Corpus
from retrieval.embeddings import Embedder, get_embedder
from retrieval.vectors import VectorCache, cache_path

_BATCH = 64


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    records: int = 0


def chunk_metadata(chunk: Chunk, lang: str, role: str = "text") -> dict:
    """Flat metadata for one record (Chroma accepts only scalars)."""
    return {
        "chunk_id": chunk.id, "lang": lang, "role": role, "orig_lang": chunk.lang, "source_id": chunk.source_id,
        "source_file": chunk.source_file, "start": chunk.start, "end": chunk.end, "work": chunk.work,
        "kind": chunk.kind, "events": ",".join(chunk.events), "event_max": chunk.event_max,
        "characters": ",".join(chunk.characters),
    }


def chunk_records(chunk: Chunk):
    """(id, text, metadata) for the original, each rendering and each search key of ``chunk``."""
    yield f"{chunk.id}#{chunk.lang}", chunk.text, chunk_metadata(chunk, chunk.lang)
    for lang, text in sorted(chunk.renderings.items()):
        if text:
            yield f"{chunk.id}#{lang}", text, chunk_metadata(chunk, lang)
    for lang, keys in sorted(chunk.keys.items()):
        for i, key in enumerate(keys):
            yield f"{chunk.id}#{lang}#k{i}", key, chunk_metadata(chunk, lang, "key")


class PassageStore:
    """Chroma collections for one embedder; nothing connects until first use."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder or get_embedder(settings.embedder, settings.embed_model, settings.embed_base_url)
        self._client = None
        self._passages = None
        self._markers = None
        self.vectors = VectorCache(cache_path(settings))

    # -- connection -------------------------------------------------------------------------
    @property
    def where(self) -> str:
        s = self.settings
        return f"Chroma server {s.chroma_host}:{s.chroma_port}" if s.chroma_host else f"{Path(s.data_dir) / 'chroma'}"

    def client(self):
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            cfg = ChromaSettings(anonymized_telemetry=False)
            s = self.settings
            try:
                if s.chroma_host:
                    self._client = chromadb.HttpClient(host=s.chroma_host, port=s.chroma_port, settings=cfg)
                    self._client.heartbeat()
                else:
                    path = Path(s.data_dir) / "chroma"
                    path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=str(path), settings=cfg)
            except Exception as exc:  # chromadb raises many types; turn them into one message
                self._client = None
                raise StoreError(f"cannot open the vector store at {self.where}: {exc}. "
                                 "Check --chroma-host/CHROMA_HOST or that --data-dir is writable") from None
        return self._client

    @property
    def collection_name(self) -> str:
        tag = hashlib.sha256(self.embedder.model_id.encode()).hexdigest()[:10]
        return f"{self.settings.collection}-{tag}"

    def passages(self):
        if self._passages is None:
            self._passages = self._collection(self.collection_name, {"hnsw:space": "cosine"})
        return self._passages

    def markers(self):
        if self._markers is None:
            self._markers = self._collection(self.collection_name + "-sources", None)
        return self._markers

    def _collection(self, name: str, metadata):
        try:
            return self.client().get_or_create_collection(name=name, metadata=metadata, embedding_function=None)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open collection {name} in {self.where}: {exc}") from None

    def reset_handles(self):
        """Forget cached handles (after a server restart, for instance)."""
        self._client = self._passages = self._markers = None

    # -- state ------------------------------------------------------------------------------
    def source_key(self, corpus_digest: str) -> str:
        s = self.settings
        raw = json.dumps([corpus_digest, s.chunk_tokens, s.chunk_overlap, self.embedder.model_id])
        return hashlib.sha256(raw.encode()).hexdigest()

    def current_markers(self) -> dict[str, str]:
        got = self.markers().get(include=["metadatas"])
        return {i: m.get("key", "") for i, m in zip(got["ids"], got["metadatas"])}

    def is_current(self, corpus: Corpus) -> bool:
        want = {src.id: self.source_key(src.digest) for src in corpus.sources}
        return self.current_markers() == want

    # -- ingest -----------------------------------------------------------------------------
    def ingest(self, corpus: Corpus, progress=None, force: bool = False) -> IngestReport:
        """Bring the store in line with ``corpus``; ``progress(n)`` is called per embedded record."""
        report = IngestReport()
        markers = self.current_markers()
        chunks = chunk_corpus(corpus, self.settings.chunk_tokens, self.settings.chunk_overlap)
        for src in corpus.sources:
            key = self.source_key(src.digest)
            if not force and markers.get(src.id) == key:
                report.skipped.append(src.id)
                continue
            records = [r for c in chunks if c.source_id == src.id for r in chunk_records(c)]
            self._replace_source(src.id, key, records, progress)
            report.added.append(src.id)
            report.records += len(records)
        for gone in sorted(set(markers) - {s.id for s in corpus.sources}):
            self.markers().delete(ids=[gone])
            self.passages().delete(where={"source_id": gone})
            report.removed.append(gone)
        return report

    def _replace_source(self, source_id: str, key: str, records, progress):
        self.markers().delete(ids=[source_id])
        self.passages().delete(where={"source_id": source_id})
        for i in range(0, len(records), _BATCH):
            batch = records[i:i + _BATCH]
            vectors = self.vectors.embed_documents(self.embedder, [r[1] for r in batch])
            self.passages().upsert(ids=[r[0] for r in batch], documents=[r[1] for r in batch],
                                   metadatas=[r[2] for r in batch], embeddings=vectors.tolist())
            if progress:
                progress(len(batch))
        self.markers().upsert(ids=[source_id], embeddings=[[1.0]], metadatas=[{"key": key, "records": len(records)}])

    def add_records(self, records, vectors):
        """Bulk add pre-embedded records (benchmarks and tests of scale)."""
        for i in range(0, len(records), 5000):
            part = records[i:i + 5000]
            self.passages().upsert(ids=[r[0] for r in part], documents=[r[1] for r in part],
                                   metadatas=[r[2] for r in part], embeddings=vectors[i:i + 5000].tolist())

    # -- reads ------------------------------------------------------------------------------
    def all_records(self, page: int = 5000) -> dict:
        """Every record, read in pages (one big read hits SQLite's variable limit near 10^5)."""
        out = {"ids": [], "documents": [], "metadatas": []}
        coll = self.passages()
        while True:
            got = coll.get(include=["documents", "metadatas"], limit=page, offset=len(out["ids"]))
            for key in out:
                out[key].extend(got[key])
            if len(got["ids"]) < page:
                return out

    def query(self, vector, n: int, ids: list[str] | None = None):
        """The ``n`` records nearest ``vector``, among ``ids`` if given. A store that went away is a one-line ``StoreError``; the handles are dropped so the next
        query reconnects (a restarted Chroma server is picked up without restarting the app)."""
        try:
            return self.passages().query(query_embeddings=[list(map(float, vector))], n_results=n,
                                         ids=ids, include=["metadatas", "distances"])
        except StoreError:
            raise
        except Exception as exc:  # chromadb and httpx raise many types
            self.reset_handles()
            raise StoreError(f"the vector store at {self.where} did not answer ({type(exc).__name__}); "
                             "nothing was lost - try again once it is back") from None
