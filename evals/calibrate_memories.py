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
- false premise: right when declined, corrected, or answered by a memory that conveys the correction.
Questions with a premise word (one nothing in scope grounds, ``chat.plan.Planner.unknown``) and no
answering memory are corrected from the memory on their topic when its nearest reader question is
``CORRECT_MIN`` near (told without the "No" when the whole story grounds the word, ``Planner.false``:
the character only does not know it), declined below it; that line is fitted on the calibration half
over the questions with a premise word, where a correction is right only for a false premise ("No" in front
of a true answer is wrong) and a decline for a false premise, an unanswerable or a timeline item.
The threshold with the most right items on the calibration half is printed, and both halves'
figures, per kind, as the planner decides (the nearest memory also answers when it is *anchored*:
it agrees ``ANCHOR_MIN`` and holds the question's informative words; those three constants were
fitted on the calibration half the same way; and a question is declined as "not yet" when a memory
later than its story point answers it, ``AHEAD_MARGIN``, fitted with ``ANSWER_MIN`` kept), without
the anchor rule and without the later-memory rule. Nothing here is used at run time.
"""
from __future__ import annotations

import hashlib
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from characters import get_card  # noqa: E402
from chat.compose import gives, question_type  # noqa: E402
from chat.memory import ahead, ranked  # noqa: E402
from chat.chain import Interviewer  # noqa: E402
from chat.plan import AHEAD_MARGIN, ANSWER_MIN, CORRECT_MIN, anchored, told_later  # noqa: E402
from core.config import load_settings  # noqa: E402
from evals.dataset import DATASETS_DIR, load_items  # noqa: E402
from evals.judges import OfflineJudge  # noqa: E402

KINDS = ("fact", "inference", "unanswerable", "timeline", "false_premise")
MARGINS = [0.0, 0.005, 0.01, 0.02, 0.03, 0.05]
GRID = [0.86, 0.87, 0.88, 0.89, 0.90, 0.91, 0.92, 0.93, 0.94]
CORRECT_GRID = [0.88, 0.89, 0.90, 0.91, 0.92, 0.93, 0.94, 0.96, 1.01]   # 1.01: never corrected


def half(item_id: str) -> str:
    return "calibration" if int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 2 == 0 else "heldout"


def cases() -> list[dict]:
    iv = Interviewer(load_settings())   # its corpus, memory index and planner (which reads premise words)
    corpus, index, planner = iv.searcher.corpus, iv.memories, iv.planner
    judge = OfflineJudge(iv.searcher.store.embedder)
    out = []
    for item in load_items(sorted(DATASETS_DIR.glob("*.jsonl"))):
        if item.kind not in KINDS:
            continue
        card = get_card(item.character)
        flt = card.knowledge(corpus, item.as_of)
        in_scope = card.memories_in(flt)
        found = index.scored(card, item.question)
        nearest = ranked(found, 40, in_scope)
        later = ahead(found, in_scope, {p.work for p in flt.as_of})
        top = nearest[:3]
        conveys = [any(judge.entails(m.memory.text["en"], list(item.gold), "en")) for m in top] \
            if item.kind in ("fact", "inference", "false_premise") else [False] * len(top)
        typed = question_type(item.question)
        scores = [m.agree if gives(typed, m.memory.text[item.language], item.language) else 0.0 for m in top]
        anchor = bool(top) and scores[0] > 0 and anchored(top[0], item.question, item.language)
        s = {"card": card, "question": item.question, "lang": item.language}
        whole = card.knowledge(corpus, None)
        unknown = planner.unknown(s, flt)
        false = planner.false(s, unknown) if unknown else []   # what nothing in the whole story grounds
        out.append({"item": item, "half": half(item.id), "scores": scores, "conveys": conveys, "anchored": anchor,
                    "later": later, "nearest": nearest, "unknown": unknown, "false": false,
                    "later_words": planner.later({**s, "flt": flt}, unknown, whole),
                    "topic": max(nearest, key=lambda m: m.answers + m.about).answers if nearest else 0.0})
    return out


def right(case: dict, t: float, anchor: bool = True, margin: float | None = AHEAD_MARGIN) -> bool:
    if margin is not None and told_later(case["later"], case["nearest"], margin):   # declined: not yet
        return case["item"].kind in ("unanswerable", "timeline") or not any(case["conveys"])
    passes = [s >= t or (n == 0 and anchor and case["anchored"]) for n, s in enumerate(case["scores"])]
    if case["item"].kind in ("unanswerable", "timeline"):
        return not any(passes)
    if passes and passes[0]:
        return case["conveys"][0]
    return not any(case["conveys"])


def premise_right(case: dict, correct_min: float) -> bool | None:
    """As the planner decides a question with a premise word (None: it has none, or a memory answers it,
    which makes the word the reader's wording): corrected or declined, and whether that is right."""
    answered = bool(case["scores"]) and (case["scores"][0] >= ANSWER_MIN or case["anchored"])
    if not case["unknown"] or answered or told_later(case["later"], case["nearest"]):
        return None
    kind = case["item"].kind
    if case["later_words"] or case["topic"] < correct_min:   # declined
        return kind in ("false_premise", "unanswerable", "timeline")
    if not case["false"]:   # the story grounds it, the character does not know it: the memory told, no "No"
        return bool(case["conveys"]) and case["conveys"][0]
    return kind == "false_premise"                           # corrected: "No" in front of a true answer is wrong


def main():
    rows = cases()
    kept = [c for c in rows if c["item"].kind != "false_premise"]   # corrected or declined, see premise_right
    cal = [c for c in kept if c["half"] == "calibration"]
    best = max(GRID, key=lambda t: (sum(right(c, t) for c in cal), -t))
    margin = max(MARGINS, key=lambda m: (sum(right(c, ANSWER_MIN, margin=m) for c in cal), m))
    print(f"ANSWER_MIN = {best} on the calibration half (the planner keeps {ANSWER_MIN}, fitted before the "
          f"later-memory rule: held-out {sum(right(c, best) for c in kept if c['half'] == 'heldout')} right at {best})")
    print(f"AHEAD_MARGIN = {margin} (with ANSWER_MIN {ANSWER_MIN} kept; the planner uses {AHEAD_MARGIN})")
    premised = [c for c in rows if c["half"] == "calibration" and premise_right(c, 1.01) is not None]
    correct = max(CORRECT_GRID, key=lambda t: (sum(premise_right(c, t) for c in premised), -t))
    print(f"CORRECT_MIN = {correct} on the calibration half (the planner uses {CORRECT_MIN})")
    for name in ("calibration", "heldout"):
        rs = [c for c in rows if c["half"] == name and premise_right(c, 1.01) is not None]
        print(f"-- {name}, questions with a premise word no memory answers: " + ", ".join(
            f"{t}: {sum(premise_right(c, t) for c in rs)}/{len(rs)}" for t in CORRECT_GRID))
    for name in ("calibration", "heldout"):
        rs = [c for c in kept if c["half"] == name]
        by = Counter((c["item"].kind, right(c, ANSWER_MIN)) for c in rs)
        print(f"-- {name}: {sum(right(c, ANSWER_MIN) for c in rs)}/{len(rs)} right; " +
              ", ".join(f"{k} {by[(k, True)]}/{by[(k, True)] + by[(k, False)]}" for k in KINDS[:4]) +
              f" (without the anchor rule, chat.plan.anchored: {sum(right(c, ANSWER_MIN, False) for c in rs)};"
              f" without the later-memory rule, chat.plan.told_later: {sum(right(c, ANSWER_MIN, margin=None) for c in rs)})")


if __name__ == "__main__":
    main()
