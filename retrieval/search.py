"""Hybrid cross-lingual search: dense over every language of every chunk + BM25 in the query's
language, fused by reciprocal rank, with filters for work, kind, story time and scope.

Design choices:
- Dense: the query is embedded once and matched against the original, both renderings and the
  search keys of every chunk; a chunk scores its best record. BM25 runs over the chunks' text in
  the query's language (the original where the languages agree, the rendering otherwise) plus
  that language's keys.
- Fusion: reciprocal rank fusion, ``sum(w / (60 + rank))``, reported as a 0..1 score (1 = ranked
  first by both). RRF needs no score calibration between cosine and BM25.
- Filters are one ``SearchFilter``, a predicate on a chunk's metadata. It picks the chunks here
  (a hundred or so), and the dense query runs over their records only (Chroma's ``ids``): a nested
  ``where`` on work, kind and story time cost Chroma 60-80 ms a query against 10-15 ms for ids,
  and ranked farther from the exact nearest records. ``as_of`` keeps only passages whose latest
  event is not after the story point of their work.
- The searcher reads every record once (documents and metadata) to build the BM25 indexes and the
  chunk table used to assemble results; ``refresh()`` rebuilds after an ingest. On first use an
  empty or stale store is ingested automatically.

Worked example::

    >>> hits = Searcher(load_settings()).search("Who showed the hero an artificial finger?", k=1)
    >>> hits[0].chunk["source_file"], hits[0].chunk["work"]
    ('001_9c1f4272b3d58b6c.txt', 'novel')
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.config import Settings
from core.errors import UsageError
from retrieval.corpus import KINDS, LANGUAGES, WORKS, Corpus, Event, load_corpus
from retrieval.lexical import BM25, detect_language, tokenize
from retrieval.store import PassageStore

RRF_K = 60
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class SearchFilter:
    """Which chunks may be returned.

    ``as_of``: events, at most one per work; only those works, and in each only chunks whose latest
    event is not after it. ``events``: a knowledge scope; every event of a chunk must be in it.
    ``characters``: only chunks mentioning one of them. ``portraits_of``: a ``portrait`` chunk (the
    critic on a character's state and doings) only if it is about one of them: a character knows
    what is said of their own inner state, not of another's.
    """

    work: str | None = None
    kinds: tuple[str, ...] | None = None
    as_of: tuple[Event, ...] = ()
    events: frozenset | None = None
    characters: frozenset | None = None
    portraits_of: frozenset | None = None

    def __post_init__(self):
        if self.work is not None and self.work not in WORKS:
            raise UsageError(f"unknown work {self.work!r}; choose one of: {', '.join(WORKS)}")
        if self.kinds and set(self.kinds) - set(KINDS):
            raise UsageError(f"unknown kind in {self.kinds}; choose from: {', '.join(KINDS)}")
        works = [e.work for e in self.as_of]
        if len(works) != len(set(works)):
            raise UsageError("give at most one story point per work")
        for ev in self.as_of:
            if self.work and ev.work != self.work:
                raise UsageError(f"event {ev.id!r} belongs to the {ev.work}, not the {self.work}")

    def accepts(self, meta: dict) -> bool:
        if self.work and meta["work"] != self.work:
            return False
        if self.kinds and meta["kind"] not in self.kinds:
            return False
        if self.as_of and not any(e.work == meta["work"] and 1 <= meta["event_max"] <= e.order for e in self.as_of):
            return False
        if self.events is not None and not set(filter(None, meta["events"].split(","))) <= self.events:
            return False
        about = set(filter(None, meta["characters"].split(",")))
        if self.characters is not None and not about & self.characters:
            return False
        if self.portraits_of is not None and meta["kind"] == "portrait" and not about & self.portraits_of:
            return False
        return True


@dataclass
class Hit:
    chunk: dict          # source_file, start, end, text, renderings, work, kind, events, characters, ...
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        c = self.chunk
        return {"id": c["id"], "source_file": c["source_file"], "start": c["start"], "end": c["end"],
                "text": c["text"], "language": c["lang"], "english": c["renderings"]["en"],
                "renderings": c["renderings"], "work": c["work"], "kind": c["kind"],
                "events": c["events"], "characters": c["characters"], "score": round(self.score, 4)}


class Searcher:
    """Hybrid search over one store. Cheap to build; connects and loads on first search."""

    def __init__(self, settings: Settings, corpus: Corpus | None = None, store: PassageStore | None = None,
                 auto_ingest: bool = True, dense_weight: float = 1.0, lexical_weight: float = 1.0):
        self.settings = settings
        self.corpus = corpus or load_corpus(settings.seeds_dir)
        self.store = store or PassageStore(settings)
        self.auto_ingest = auto_ingest
        self.weights = (dense_weight, lexical_weight)
        self._chunks: dict[str, dict] | None = None
        self._order: list[str] = []
        self._bm25: dict[str, BM25] = {}
        self._n_records = 0

    # -- loading ----------------------------------------------------------------------------
    def refresh(self):
        got = self.store.all_records()
        chunks: dict[str, dict] = {}
        for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
            c = chunks.setdefault(meta["chunk_id"], {
                "id": meta["chunk_id"], "source_id": meta["source_id"], "source_file": meta["source_file"],
                "start": meta["start"], "end": meta["end"], "lang": meta["orig_lang"], "work": meta["work"],
                "kind": meta["kind"], "events": [e for e in meta["events"].split(",") if e],
                "characters": [e for e in meta["characters"].split(",") if e],
                "meta": meta, "renderings": {}, "keys": {}, "records": []})
            c["records"].append(rid)
            if meta.get("role") == "key":
                c["keys"].setdefault(meta["lang"], []).append(doc)
            else:
                c["renderings"][meta["lang"]] = doc
        for c in chunks.values():
            c["text"] = c["renderings"][c["lang"]]
            for lang in LANGUAGES:
                c["renderings"].setdefault(lang, "")
        self._chunks, self._order = chunks, sorted(chunks)
        self._n_records = len(got["ids"])
        self._bm25 = {lang: BM25([tokenize(self._lexical_text(chunks[cid], lang), lang) for cid in self._order])
                      for lang in LANGUAGES}

    @staticmethod
    def _lexical_text(chunk: dict, lang: str) -> str:
        return " ".join([chunk["renderings"][lang] or chunk["text"], *chunk["keys"].get(lang, [])])

    def ensure_ready(self):
        if self._chunks is None:
            if self.auto_ingest and not self.store.is_current(self.corpus):
                self.store.ingest(self.corpus)
            self.refresh()

    @property
    def chunks(self) -> dict[str, dict]:
        self.ensure_ready()
        return self._chunks

    # -- search -----------------------------------------------------------------------------
    def _dense(self, query: str, flt: SearchFilter, depth: int) -> list[str]:
        allowed = [cid for cid in self._order if flt.accepts(self._chunks[cid]["meta"])]
        if not allowed:
            return []
        ids = None if len(allowed) == len(self._order) else [r for cid in allowed for r in self._chunks[cid]["records"]]
        vec = self.store.embedder.embed_query(query)
        got = self.store.query(vec, min(depth * len(LANGUAGES), len(ids) if ids else self._n_records), ids)
        best: dict[str, float] = {}
        for meta, dist in zip(got["metadatas"][0], got["distances"][0]):
            cid = meta["chunk_id"]
            best[cid] = max(best.get(cid, -1.0), 1.0 - dist)
        return sorted(best, key=best.get, reverse=True)

    def _lexical(self, query: str, lang: str, flt: SearchFilter, depth: int) -> list[str]:
        scores = self._bm25[lang].scores(tokenize(query, lang))
        out = []
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] <= 0 or len(out) >= depth:
                break
            cid = self._order[i]
            if flt.accepts(self._chunks[cid]["meta"]):
                out.append(cid)
        return out

    def search(self, query: str, k: int = 5, flt: SearchFilter | None = None, lang: str | None = None) -> list[Hit]:
        query = (query or "").strip()
        if not query:
            raise UsageError("the query is empty; type a question, e.g. \"What did K. show you?\"")
        if len(query) > MAX_QUERY_CHARS:
            raise UsageError(f"the query is {len(query)} characters; keep it under {MAX_QUERY_CHARS}")
        if k < 1:
            raise UsageError("--k must be at least 1")
        flt = flt or SearchFilter()
        self.ensure_ready()
        if not self._chunks:
            return []
        lang = lang or detect_language(query)
        depth = max(4 * k, 20)
        ranked = {"dense": self._dense(query, flt, depth), "lexical": self._lexical(query, lang, flt, depth)}
        fused: dict[str, float] = {}
        for (name, ids), w in zip(ranked.items(), self.weights):
            for rank, cid in enumerate(ids, start=1):
                fused[cid] = fused.get(cid, 0.0) + w / (RRF_K + rank)
        top = sorted(fused, key=lambda c: (-fused[c], c))[:k]
        best = sum(self.weights) / (RRF_K + 1)
        pos = {name: {cid: i for i, cid in enumerate(ids, start=1)} for name, ids in ranked.items()}
        return [Hit(self._chunks[c], fused[c] / best, pos["dense"].get(c), pos["lexical"].get(c)) for c in top]
