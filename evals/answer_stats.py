"""Answer statistics over a labelled dataset: the figures issue #5 asks for, computed offline.

    python -m evals.answer_stats [--dataset evals/datasets/heldout.jsonl ...] [--limit N] [--backend ...]

Per item it asks the character (with the item's ``as_of``) and scores, with no LLM judge:
- invented specific: the answer names a capitalised word or number found neither in the source
  texts (any language) nor in the character's own card lines;
- correct abstention: ``unanswerable`` items abstain or assert nothing invented; ``false_premise``
  items do not repeat the false premise's key claim (``must_not``) and do not answer it as asked;
- right fact: an answerable item (fact/inference) is not declined and cites a passage that covers
  the evidence quote;
- language: the answer is in the question's language;
- paths: shares of generated / composed / abstained.
This is the seed of the full eval suite; its per-item rows are printed as JSON lines with --jsonl.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from characters import get_card  # noqa: E402
from chat.chain import Interviewer  # noqa: E402
from core.config import load_settings  # noqa: E402
from evals.dataset import DATASETS_DIR, evidence_spans, load_items  # noqa: E402
from retrieval.lexical import detect_language  # noqa: E402

_WORD = re.compile(r"[^\W\d_][^\W_]*", re.UNICODE)


def source_text(corpus) -> str:
    """Every original and rendering, lower-cased: what an answer may name."""
    parts = []
    for src in corpus.sources:
        parts.append(src.text())
        parts += [seg.in_language(l) for seg in src.segments for l in ("en", "ru", "de")]
    return " ".join(parts).lower()


def invented_specifics(answer: str, allowed: str) -> list[str]:
    words = _WORD.findall(answer)
    found = [w for w in words[1:] if w[0].isupper()] + re.findall(r"\d+", answer)
    return [w for w in found if w.lower() not in allowed]


def _covers(citations, spans) -> bool:
    return any(c["source_file"] == f and c["start"] < e and c["end"] > b for c in citations for f, b, e in spans)


def score_item(item, ans, allowed_text) -> dict:
    card = get_card(item.character)
    lines = " ".join(x for kind in card.lines.values() for xs in kind.values() for x in xs).lower()
    invented = invented_specifics(ans.answer, allowed_text + " " + lines)
    row = {"id": item.id, "kind": item.kind, "language": item.language, "character": item.character,
           "mode": ans.mode, "abstained": ans.abstained, "answer": ans.answer, "invented": invented,
           "in_language": detect_language(ans.answer) == item.language or len(ans.answer.split()) < 3}
    if item.kind in ("fact", "inference"):
        row["right_fact"] = (not ans.abstained) and _covers(ans.citations, evidence_spans(item))
    if item.kind == "unanswerable":
        row["correct_abstention"] = ans.abstained or not invented
    if item.kind == "false_premise":
        low = ans.answer.lower()
        keys = [w for m in item.must_not for w in re.findall(r"[a-zа-яäöüß]{5,}", m.lower())]
        row["correct_abstention"] = ans.abstained or not any(k in low for k in keys[:3])
    return row


def summarize(rows: list[dict]) -> dict:
    def share(flags):
        flags = list(flags)
        return round(sum(flags) / len(flags), 3) if flags else None
    modes = Counter(r["mode"] for r in rows)
    return {
        "items": len(rows),
        "invented_specific": share(bool(r["invented"]) for r in rows),
        "correct_abstention": share(r["correct_abstention"] for r in rows if "correct_abstention" in r),
        "right_fact": share(r["right_fact"] for r in rows if "right_fact" in r),
        "answerable_declined": share(r["abstained"] for r in rows if "right_fact" in r),
        "in_question_language": share(r["in_language"] for r in rows),
        "paths": {m: round(modes[m] / len(rows), 3) for m in ("generated", "composed", "abstained")},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="answer statistics over eval datasets")
    ap.add_argument("--dataset", action="append")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--backend")
    ap.add_argument("--model")
    ap.add_argument("--jsonl", help="write per-item rows here")
    args = ap.parse_args(argv)
    paths = args.dataset or [str(DATASETS_DIR / "heldout.jsonl")]
    settings = load_settings({"backend": args.backend, "model": args.model})
    iv = Interviewer(settings)
    allowed = source_text(iv.searcher.corpus)
    items = [i for i in load_items(paths) if i.kind != "persona"]
    items = items[: args.limit] if args.limit else items
    rows, t0 = [], time.time()
    for n, item in enumerate(items, 1):
        rows.append(score_item(item, iv.answer(item.character, item.question, as_of=item.as_of), allowed))
        print(f"\r{n}/{len(items)} {time.time() - t0:.0f}s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if args.jsonl:
        Path(args.jsonl).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(json.dumps({"backend": iv.backend.describe(), **summarize(rows),
                      "seconds_per_answer": round((time.time() - t0) / max(1, len(rows)), 2)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
