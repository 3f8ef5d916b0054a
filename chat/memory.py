"""Memory search: which of the card's first-person memories *answer* a question, not just share its topic.

Design choices:
- Each memory carries the reader questions it answers, in en/ru/de (``questions`` in the card, as
  the search keys do for passages). A question is matched question to question (both embedded as
  e5 queries): ``answers`` is the best similarity to any of them. ``about`` is the old topical
  similarity of the question to the memory text (best language), kept for ranking evidence.
- A memory answers when its reader questions *agree* with the question: ``agree``, the mean
  similarity of its three nearest, ``>= ANSWER_MIN`` (calibrated in ``chat/plan.py``); one phrasing
  near by chance does not make an answer. Otherwise it is evidence at most, never the answer.
- What readers ask that the texts never tell ("Where did you go after house S?") is in the card too
  (``untold``), phrased the same way, and scored the same way (``MemoryIndex.untold``): a question
  that agrees with one of those more than with any memory is not answered by a neighbouring memory.
- Questions about the character themself ("Tell me about yourself", "Чем вы занимаетесь?") are
  answered by the card's identity memory - the one whose reader questions include "Who are you?"
  (or "Кто вы?", "Wer sind Sie?") - which also carries every phrasing in
  ``chat/self_questions.yaml`` (written by a helper who saw neither this code nor the evals). Those
  phrasings only say that it answers (``self_answers``); they do not make it nearer to other
  questions ("In welcher Stadt wohnt ihr?" is not a question about who one is).
- Vectors are cached on disk in the data directory, keyed by a hash of the texts and the embedder,
  so only the first run pays.

    >>> idx = MemoryIndex(embedder, data_dir)
    >>> m = idx.top(get_card("k"), "What did you show him?", k=1)[0]      # doctest: +SKIP
    >>> m.memory.text["en"], round(m.answers, 2)
    ('I showed him an artificial finger. But a face is another matter entirely.', 0.93)
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.yamltext import load_yaml
from retrieval.corpus import LANGUAGES

AGREE = 3   # reader questions averaged for ``agree``: one phrasing near by chance is not an answer


@lru_cache(maxsize=1)
def self_questions() -> dict[str, list[str]]:
    """Phrasings of "who are you / what do you do" per language (the first of each marks the
    identity memory in a card)."""
    path = Path(__file__).with_name("self_questions.yaml")
    data = load_yaml(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {lang: [str(q) for q in data.get(lang, [])] for lang in LANGUAGES}


def is_identity(memory) -> bool:
    """Whether a memory says who its speaker is: its reader questions hold the first self-question of
    a language ("Who are you?", "Кто вы?", "Wer sind Sie?"); a card may have one per work."""
    firsts = {qs[0] for qs in self_questions().values() if qs}
    return any(q in firsts for qs in memory.questions.values() for q in qs)


@dataclass(frozen=True)
class Match:
    memory: object
    answers: float   # best question-to-question similarity (how near its nearest reader question is)
    about: float     # question-to-text similarity (is it on this topic?)
    self_answers: float = 0.0   # best similarity to the self-question phrasings (the identity memory only)
    agree: float = 0.0   # mean similarity of its AGREE nearest reader questions (does it answer this?)


class MemoryIndex:
    def __init__(self, embedder, data_dir: str):
        self.embedder = embedder
        self.cache_dir = Path(data_dir) / "cache"
        self._vectors: dict[str, np.ndarray] = {}

    def cached(self, name: str, texts: list[str], embed) -> np.ndarray:
        """Vectors of ``texts``, from the disk cache when the texts and the embedder are unchanged."""
        key = hashlib.sha256(json.dumps([self.embedder.model_id, name, texts]).encode()).hexdigest()[:16]
        if key not in self._vectors:
            path = self.cache_dir / f"{name}-{key}.npy"
            try:
                vecs = np.load(path)
            except (OSError, ValueError):
                vecs = embed(texts)
                try:
                    self.cache_dir.mkdir(parents=True, exist_ok=True)
                    np.save(path, vecs)
                except OSError:
                    pass  # a read-only data dir only costs a re-embed next time
            self._vectors[key] = vecs
        return self._vectors[key]

    def vectors(self, card) -> np.ndarray:
        texts = [m.text[lang] for m in card.memories for lang in LANGUAGES]
        vecs = self.cached(f"memories-{card.id}", texts, self.embedder.embed_documents)
        return vecs.reshape(len(card.memories), len(LANGUAGES), -1)

    def _questions(self, card) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All reader questions of all memories as query vectors, which memory each belongs to, and
        whether it is one of the self-question phrasings (those only say "this answers", they do not
        make the identity memory nearer to other questions)."""
        owner, texts, selfish = [], [], []
        selves = self_questions()
        for i, m in enumerate(card.memories):
            asked = [q for lang in LANGUAGES for q in m.questions.get(lang, ())]
            extra = [q for qs in selves.values() for q in qs if q not in asked] if is_identity(m) else []
            owner += [i] * (len(asked) + len(extra))
            texts += asked + extra
            selfish += [False] * len(asked) + [True] * len(extra)
        vecs = self.cached(f"questions-{card.id}", texts, self.embedder.embed_queries)
        return vecs, np.array(owner, dtype=int), np.array(selfish, dtype=bool)

    def untold(self, card, query: str) -> tuple[float, str]:
        """How well the question agrees with the nearest of what readers ask that the texts never tell
        (the card's ``untold`` questions): for each, the mean similarity of its ``AGREE`` nearest
        phrasings, as ``agree`` is for a memory; the best of them with its nearest phrasing
        (``(0.0, "")`` for a card with none)."""
        owner, texts = [], []
        for i, group in enumerate(card.untold):
            asked = [q for lang in LANGUAGES for q in group.get(lang, ())]
            owner += [i] * len(asked)
            texts += asked
        if not texts:
            return 0.0, ""
        sims = self.cached(f"untold-{card.id}", texts, self.embedder.embed_queries) @ self.embedder.embed_query(query)
        owner = np.array(owner, dtype=int)
        best = []
        for i in set(owner.tolist()):
            own = np.flatnonzero(owner == i)
            best.append((_agree(sims[own]), texts[own[np.argmax(sims[own])]]))
        return max(best)

    def top(self, card, query: str, k: int = 3, allowed=None) -> list[Match]:
        """Best ``k`` memories (those in ``allowed`` if given), best answer first."""
        return ranked(self.scored(card, query), k, allowed)

    def scored(self, card, query: str) -> list[Match]:
        """Every memory of the card scored against the question, in card order (``ranked`` and
        ``ahead`` read the same list: the question is scored once)."""
        if not card.memories:
            return []
        q = self.embedder.embed_query(query)
        about = (self.vectors(card) @ q).max(axis=1)
        answers, selfish = np.zeros(len(card.memories)), np.zeros(len(card.memories))
        agree = np.zeros(len(card.memories))
        qv, owner, is_self = self._questions(card)
        if len(owner):
            sims = qv @ q
            np.maximum.at(answers, owner[~is_self], sims[~is_self])
            np.maximum.at(selfish, owner[is_self], sims[is_self])
            for i in range(len(card.memories)):
                agree[i] = _agree(sims[(owner == i) & ~is_self])
        return [Match(m, float(answers[i]), float(about[i]), float(selfish[i]), float(agree[i]))
                for i, m in enumerate(card.memories)]


def _agree(sims: np.ndarray) -> float:
    """The mean similarity of the ``AGREE`` nearest of one memory's (or untold question's) phrasings."""
    return float(np.sort(sims)[::-1][:AGREE].mean()) if len(sims) else 0.0


def ranked(found: list[Match], k: int, allowed=None) -> list[Match]:
    """The best ``k`` of scored memories (those in ``allowed`` if given), best answer first."""
    ok = set(map(id, allowed)) if allowed is not None else None
    order = np.lexsort(([-m.about for m in found], [-max(m.answers, m.self_answers) for m in found]))
    return [found[i] for i in order if ok is None or id(found[i].memory) in ok][:k]


def ahead(found: list[Match], allowed, works) -> Match | None:
    """Of the scored memories of ``works`` outside ``allowed`` (those later than their story point),
    the one whose reader questions agree best with the question; None when there is none."""
    ok = set(map(id, allowed))
    return max((m for m in found if id(m.memory) not in ok and m.memory.work in works), key=lambda m: m.agree, default=None)
