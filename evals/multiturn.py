"""Evals over several turns or several characters: conversations (follow-ups, self-questions,
repeats) and perspectives (one question to two characters who know different things).

Design choices:
- ``multiturn/conversations.jsonl``: each line a conversation of 3-5 turns with the dataset
  fields per turn (``kind``: self, fact, followup_next/why/detail, repeat_topic, unanswerable,
  false_premise). Each turn is asked with the conversation so far, as the chat does. Figures:
  sentences repeated from an earlier turn (target 0), follow-ups answered on point (a gold fact
  conveyed, or a claim resting on the turn's evidence), self-questions answered, gold per turn.
- ``multiturn/perspectives.jsonl``: one question, two characters, a story point per work; for
  each character the gold and ``private`` claims only the *other* can know. A scope leak is an
  answer that states one of the other's private claims (the offline judge's entailment).
- Rows are written to ``conversations.jsonl`` / ``perspectives.jsonl`` in the output folder, the
  figures to ``summary.json`` beside them.

    python app.py evals conversations --out data/evals/conv
    python app.py evals perspectives --out data/evals/persp
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from chat.group import Group
from core.errors import UsageError
from evals import metrics as M
from evals.dataset import Item, check_item

MULTI_DIR = Path(__file__).resolve().parent / "multiturn"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _norm(s: str) -> str:
    return " ".join(_WORD.findall(s.lower()))


def _read(path: Path) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [json.loads(x) for x in lines if x.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {' '.join(str(exc).split())[:160]}") from None


def load_conversations(path: Path = MULTI_DIR / "conversations.jsonl", event_ids=None) -> list[tuple[dict, list[Item]]]:
    out = []
    for no, conv in enumerate(_read(path), 1):
        if not isinstance(conv, dict) or not isinstance(conv.get("turns"), list) or not conv["turns"]:
            raise UsageError(f"{path}:{no}: a conversation needs id, character, language and a list of turns")
        kinds = {"self": "fact", "repeat_topic": "fact", "followup_next": "fact", "followup_why": "inference",
                 "followup_detail": "fact"}
        items = [check_item({"id": f"{conv.get('id')}.{i}", "character": conv.get("character"),
                         "language": conv.get("language"), "as_of": conv.get("as_of"),
                         **{k: t.get(k) for k in ("question", "gold", "must_not", "evidence")},
                         "kind": kinds.get(t.get("kind"), t.get("kind"))}, f"{path}:{no} turn {i}", event_ids)
                 for i, t in enumerate(conv["turns"])]
        out.append((conv, items))
    return out


def run_conversations(iv, judge, path: Path = MULTI_DIR / "conversations.jsonl") -> tuple[list[dict], dict]:
    corpus = iv.searcher.corpus
    rows = []
    for conv, items in load_conversations(path, {e.id for e in corpus.events}):
        history, said = [], []
        for turn, item in zip(conv["turns"], items):
            a = iv.answer(item.character, item.question, history=history, as_of=item.as_of, lang=item.language)
            repeated = [x["text"] for x in a.sentences if _norm(x["text"]) in said and not a.abstained]
            truth = M.evidence_sentences(item, corpus) + list(item.gold)
            hit = M.gold_hit(a.answer, item, judge) if item.kind in M.ANSWERABLE else None
            rows.append({"conversation": conv["id"], "turn": len(history) // 2, "kind": turn.get("kind"),
                         "question": item.question, "answer": a.answer, "mode": a.mode, "repeated": repeated,
                         "gold_hit": hit, "on_point": (not a.abstained and M.on_topic(a.answer, item, judge, truth))
                         if item.kind in M.ANSWERABLE else None,
                         "declined": a.abstained or judge.declines(a.answer, item.language)})
            said += [_norm(x["text"]) for x in a.sentences]
            history += [{"role": "user", "content": item.question}, {"role": "assistant", "content": a.answer}]
    follow = [r for r in rows if str(r["kind"]).startswith("followup")]
    selfq = [r for r in rows if r["kind"] == "self"]
    summary = {"conversations": len({r["conversation"] for r in rows}), "turns": len(rows),
               "repeated_sentences": sum(len(r["repeated"]) for r in rows),
               "followups_on_point": _share(r["on_point"] for r in follow), "followups": len(follow),
               "self_questions_answered": _share(bool(r["gold_hit"]) or bool(r["on_point"]) for r in selfq),
               "gold_hit": _share(r["gold_hit"] for r in rows if r["gold_hit"] is not None)}
    return rows, summary


def run_perspectives(iv, judge, path: Path = MULTI_DIR / "perspectives.jsonl") -> tuple[list[dict], dict]:
    rows = []
    for no, p in enumerate(_read(path), 1):
        if not isinstance(p, dict) or not isinstance(p.get("characters"), list) or len(p["characters"]) < 2:
            raise UsageError(f"{path}:{no}: a perspectives item needs a question and two characters")
        points = [e for e in (p.get("as_of") or {}).values() if e]
        group = Group(p["characters"], points, corpus=iv.searcher.corpus)   # the group interview's own path
        answers = {a.character: a for a in group.answers(iv, p["question"], lang=p["language"])}
        for c, a in answers.items():
            others = [o for o in p["characters"] if o != c]
            private = [claim for o in others for claim in p.get("private", {}).get(o, [])]
            leaks = [x for x, hit in zip(private, judge.entails(a.answer, private, p["language"])) if hit] if private else []
            gold = p["answers"][c].get("gold", [])
            rows.append({"id": p["id"], "character": c, "question": p["question"], "answer": a.answer, "mode": a.mode,
                         "leaks": leaks, "gold_hit": any(judge.entails(a.answer, gold, p["language"])) if gold else None})
    summary = {"items": len({r["id"] for r in rows}), "answers": len(rows), "scope_leaks": sum(len(r["leaks"]) for r in rows),
               "gold_hit": _share(r["gold_hit"] for r in rows if r["gold_hit"] is not None)}
    return rows, summary


def _share(values) -> float | None:
    vals = [bool(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def write(out_dir: Path, name: str, rows: list[dict], summary: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
