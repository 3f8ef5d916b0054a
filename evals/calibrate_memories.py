"""Calibrate when a memory *answers* a question (``chat.plan.ANSWER_MIN``, held against a memory's
``agree``: the mean similarity of its three nearest reader questions) on one half of the eval set,
report the other.

    python evals/calibrate_memories.py

Items are split into halves by a hash of their id (the same split for every run). For each item,
the character's memories in scope at its story point are ranked by question-to-question
similarity (``chat.memory.MemoryIndex``); as in the planner, a memory that lacks the name or number
a name or number question asks for never answers. A threshold is right for an item when:
- fact / inference: the best memory passes it and conveys one of the item's gold facts (the eval's
  offline judge, on the memory's English rendering: the gold facts are English, and e5 across
  languages misses a third of what a Russian or German memory says), or no memory passes and none
  would have conveyed one;
- unanswerable / timeline: no memory passes it (a neighbouring memory is not an answer);
- false premise: left out here (they are corrected, see ``chat.plan.Planner.unknown``).
The threshold with the most right items on the calibration half is printed with both halves'
figures, per kind, as the planner decides (the nearest memory also answers when it is *anchored*:
it agrees ``ANCHOR_MIN`` and holds the question's informative words; those three constants were
fitted on the calibration half the same way) and without the anchor rule. Nothing here is used at
run time.
"""
from __future__ import annotations

import hashlib
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from characters import get_card  # noqa: E402
from chat.compose import gives, question_type  # noqa: E402
from chat.memory import MemoryIndex  # noqa: E402
from chat.plan import anchored  # noqa: E402
from core.config import load_settings  # noqa: E402
from evals.dataset import DATASETS_DIR, load_items  # noqa: E402
from evals.judges import OfflineJudge  # noqa: E402
from retrieval.corpus import load_corpus  # noqa: E402
from retrieval.embeddings import get_embedder  # noqa: E402

KINDS = ("fact", "inference", "unanswerable", "timeline")
GRID = [0.86, 0.87, 0.88, 0.89, 0.90, 0.91, 0.92, 0.93, 0.94]


def half(item_id: str) -> str:
    return "calibration" if int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 2 == 0 else "heldout"


def cases() -> list[dict]:
    settings = load_settings()
    corpus, embedder = load_corpus(settings.seeds_dir), get_embedder(settings.embedder)
    index, judge = MemoryIndex(embedder, settings.data_dir), OfflineJudge(embedder)
    out = []
    for item in load_items(sorted(DATASETS_DIR.glob("*.jsonl"))):
        if item.kind not in KINDS:
            continue
        card = get_card(item.character)
        top = index.top(card, item.question, k=3, allowed=card.memories_in(card.knowledge(corpus, item.as_of)))
        conveys = [any(judge.entails(m.memory.text["en"], list(item.gold), "en")) for m in top] \
            if item.kind in ("fact", "inference") else [False] * len(top)
        typed = question_type(item.question)
        scores = [m.agree if gives(typed, m.memory.text[item.language], item.language) else 0.0 for m in top]
        anchor = bool(top) and scores[0] > 0 and anchored(top[0], item.question, item.language)
        out.append({"item": item, "half": half(item.id), "scores": scores, "conveys": conveys, "anchored": anchor})
    return out


def right(case: dict, t: float, anchor: bool = True) -> bool:
    passes = [s >= t or (n == 0 and anchor and case["anchored"]) for n, s in enumerate(case["scores"])]
    if case["item"].kind in ("unanswerable", "timeline"):
        return not any(passes)
    if passes and passes[0]:
        return case["conveys"][0]
    return not any(case["conveys"])


def main():
    rows = cases()
    cal = [c for c in rows if c["half"] == "calibration"]
    best = max(GRID, key=lambda t: (sum(right(c, t) for c in cal), -t))
    print(f"ANSWER_MIN = {best}")
    for name in ("calibration", "heldout"):
        rs = [c for c in rows if c["half"] == name]
        by = Counter((c["item"].kind, right(c, best)) for c in rs)
        print(f"-- {name}: {sum(right(c, best) for c in rs)}/{len(rs)} right; " +
              ", ".join(f"{k} {by[(k, True)]}/{by[(k, True)] + by[(k, False)]}" for k in KINDS) +
              f" (without the anchor rule, chat.plan.anchored: {sum(right(c, best, False) for c in rs)})")


if __name__ == "__main__":
    main()
