"""Memory search: the card's first-person memories, embedded once, matched against a question.

Design choices: each memory is embedded in all three languages and scores its best language, so a
Russian question finds a memory however it was first written. Vectors are cached on disk in the
data directory, keyed by a hash of the memory texts and the embedder, so only the first run pays.

    >>> idx = MemoryIndex(embedder, data_dir)
    >>> [round(s, 2) for _, s in idx.top(get_card("k"), "What did you show him?", k=1)]   # doctest: +SKIP
    [0.88]
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from retrieval.corpus import LANGUAGES


class MemoryIndex:
    def __init__(self, embedder, data_dir: str):
        self.embedder = embedder
        self.cache_dir = Path(data_dir) / "cache"
        self._vectors: dict[str, np.ndarray] = {}

    def _texts(self, card) -> list[str]:
        return [m.text[lang] for m in card.memories for lang in LANGUAGES]

    def vectors(self, card) -> np.ndarray:
        texts = self._texts(card)
        key = hashlib.sha256(json.dumps([self.embedder.model_id, texts]).encode()).hexdigest()[:16]
        if key not in self._vectors:
            path = self.cache_dir / f"memories-{card.id}-{key}.npy"
            try:
                vecs = np.load(path)
            except (OSError, ValueError):
                vecs = self.embedder.embed_documents(texts)
                try:
                    self.cache_dir.mkdir(parents=True, exist_ok=True)
                    np.save(path, vecs)
                except OSError:
                    pass  # a read-only data dir only costs a re-embed next time
            self._vectors[key] = vecs.reshape(len(card.memories), len(LANGUAGES), -1)
        return self._vectors[key]

    def top(self, card, query: str, k: int = 3, allowed=None) -> list[tuple[object, float]]:
        """Best ``k`` memories (those in ``allowed`` if given) with their similarity to ``query``."""
        if not card.memories:
            return []
        q = self.embedder.embed_query(query)
        scores = (self.vectors(card) @ q).max(axis=1)
        ok = set(map(id, allowed)) if allowed is not None else None
        ranked = [(card.memories[i], float(scores[i])) for i in np.argsort(-scores)
                  if ok is None or id(card.memories[i]) in ok]
        return ranked[:k]
