"""How often a judge agrees with hand labels (``evals/judge/labels.jsonl``).

Each labelled row is an answer to a ``heldout.jsonl`` item with four human verdicts: ``supported``
(every claim rests on the item's evidence sentences), ``conveys`` (one flag per gold fact),
``violates`` (asserts a must-not claim) and ``declines``. The judge gives the same four through the
same metric calls the eval run uses, so agreement here is agreement of the run's metrics.

    >>> judge_agreement(get_judge("offline", embedder), load_corpus())["supported"]
    {'agree': 0.83, 'n': 72}
"""
from __future__ import annotations

import json
from pathlib import Path

from evals import metrics as M
from evals.dataset import DATASETS_DIR, load_items

LABELS = Path(__file__).resolve().parent / "judge" / "labels.jsonl"


def load_labels(path: Path = LABELS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def judge_verdicts(judge, item, answer: str, corpus, allowed_text: str = "") -> dict:
    """The judge's four verdicts on one labelled answer."""
    truth = M.evidence_sentences(item, corpus) + list(item.gold)
    faith = M.faithfulness(answer, truth, judge, item.language)
    violates = M.violation(answer, item, judge, allowed_text, truth)
    return {"supported": (faith is None or faith == 1.0) and not violates,
            "conveys": judge.entails(answer, list(item.gold), item.language),
            "violates": violates,
            "declines": judge.declines(answer, item.language)}


def judge_agreement(judge, corpus, path: Path = LABELS, rows: list[dict] | None = None) -> dict:
    """Share of labels the judge reproduces, per label kind (conveys counts each gold fact)."""
    items = {i.id: i for i in load_items(sorted(DATASETS_DIR.glob("*.jsonl")))}
    allowed = M.source_text(corpus)
    tally = {k: [0, 0] for k in ("supported", "conveys", "violates", "declines")}
    for row in rows if rows is not None else load_labels(path):
        got = judge_verdicts(judge, items[row["item"]], row["answer"], corpus, allowed)
        want = row["labels"]
        for key in ("supported", "violates", "declines"):
            tally[key][0] += got[key] == want[key]
            tally[key][1] += 1
        if items[row["item"]].kind not in M.ANSWERABLE + ("false_premise",):
            continue  # gold coverage is scored only where the gold holds facts
        for g, w in zip(got["conveys"], want["conveys"]):
            tally["conveys"][0] += g == w
            tally["conveys"][1] += 1
    return {k: {"agree": round(a / n, 3) if n else None, "n": n} for k, (a, n) in tally.items()}
