"""Retrieval recall@k: is the evidence passage among the top k retrieved?

Design choices: a hit needs the retrieved passages from the evidence's file to cover, together, at
least half of the evidence quote's characters (a quote may straddle two chunks). The report breaks recall down
by question language and by (question language -> evidence language), which is what shows
whether cross-lingual retrieval works.

Worked example::

    >>> rep = recall_at_k(searcher, items, k=5)
    >>> round(rep.overall, 3), rep.by_pair[("en", "de")]      # heldout + validation, defaults
    (0.891, (1.0, 41))
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from evals.dataset import Item, evidence_spans

SEED_LANG = {"000_77f1739700b8fbe3.txt": "ru", "001_9c1f4272b3d58b6c.txt": "de"}


@dataclass
class RecallReport:
    k: int
    overall: float
    n: int
    by_language: dict = field(default_factory=dict)
    by_pair: dict = field(default_factory=dict)
    misses: list = field(default_factory=list)
    share_of_corpus: float = 0.0


def _covered(hits: list[dict], span: tuple[str, int, int]) -> float:
    """Share of the span's characters inside the union of the hits from its file."""
    seed, start, end = span
    inside = set()
    for h in hits:
        if h["source_file"] == seed:
            inside.update(range(max(start, h["start"]), min(end, h["end"])))
    return len(inside) / max(1, end - start)


def is_hit(hits: list[dict], item: Item) -> bool:
    return any(_covered(hits, s) >= 0.5 for s in evidence_spans(item))


def _rate(flags: list[bool]) -> tuple[float, int]:
    return (sum(flags) / len(flags) if flags else 0.0, len(flags))


def recall_at_k(searcher, items: list[Item], k: int = 5) -> RecallReport:
    """Search each item's question (no filters) and score whether its evidence is in the top k."""
    scored = [i for i in items if i.evidence]
    by_lang, by_pair, misses, flags, covered = defaultdict(list), defaultdict(list), [], [], 0
    for item in scored:
        hits = [h.as_json() for h in searcher.search(item.question, k=k)]
        covered += sum(h["end"] - h["start"] for h in hits)
        ok = is_hit(hits, item)
        flags.append(ok)
        by_lang[item.language].append(ok)
        by_pair[(item.language, SEED_LANG.get(item.evidence[0]["seed"], "?"))].append(ok)
        if not ok:
            misses.append(item.id)
    total_chars = sum(len(s.text()) for s in searcher.corpus.sources)
    return RecallReport(k, _rate(flags)[0], len(flags), {l: _rate(v) for l, v in sorted(by_lang.items())},
                        {p: _rate(v) for p, v in sorted(by_pair.items())}, misses,
                        covered / max(1, len(flags)) / total_chars)
