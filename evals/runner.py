"""Run the eval suite: ask every item's character, score every variant, write the results.

Design choices:
- One model call per item and configuration. The ``pipeline`` variant is the product as users see
  it (retrieval, memories, guard); ``no_guard`` is the same call's raw draft, so the guard's effect
  costs nothing extra. Baselines run the same backend again: ``no-retrieval`` (no passages, no
  memories: the bare model in character) and ``oracle`` (the evidence passages handed over instead
  of searching), each reported raw and, for the oracle, also through the guard.
- Probes (kind ``persona``) are deflected before any model call in every variant that has the
  pipeline; the baselines see them raw.
- Rows are appended to ``results.jsonl`` as they are scored, so a run cut short keeps what it did;
  ``summary.json`` and ``report.html`` are written at the end.
- An item whose answer fails (the model crashed, a server refused) is an error row and a count in
  ``summary.json`` (``meta.errors``); the run goes on with the next item.
- With a model server, ``workers`` answers are asked for at once (``SERVER_WORKERS`` by default); an
  in-process model answers one at a time (it already uses every core). Scoring stays in order, in
  one thread, so rows and figures do not depend on the number of workers.

    >>> summary = run_evals(settings, items[:3], "offline", baselines=(), out_dir=Path("/tmp/ev"))
    >>> sorted(summary["variants"])
    ['no_guard', 'pipeline']
"""
from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from characters import get_card
from core.errors import FaceError, UsageError
from chat.chain import Interviewer
from chat.inputs import prompts
from evals import metrics as M
from evals.agreement import judge_agreement
from evals.dataset import Item, evidence_spans
from evals.judges import JudgeError, get_judge
from evals.reading import cues
from evals.metrics import evidence_sentences
from evals.report import write_report
from retrieval.search import Hit

BASELINES = ("no-retrieval", "oracle")
SERVER_WORKERS = 4   # answers asked of a model server at once
RAW_VARIANTS = {"no-retrieval": ("no_retrieval",), "oracle": ("oracle", "oracle_guarded")}


def select_items(items: list[Item], characters=(), kinds=(), languages=(), per_kind: int = 0) -> list[Item]:
    """Filter; ``per_kind`` N keeps the first N items of each kind (the CI subset)."""
    out = [i for i in items if (not characters or i.character in characters)
           and (not kinds or i.kind in kinds) and (not languages or i.language in languages)]
    if not per_kind:
        return out
    taken, kept = defaultdict(int), []
    for item in out:
        if taken[item.kind] < per_kind:
            taken[item.kind] += 1
            kept.append(item)
    return kept


def oracle_hits(searcher, item: Item) -> list[Hit]:
    """The chunk that best covers each evidence quote: the passages a perfect retriever returns."""
    hits = []
    for seed, start, end in evidence_spans(item):
        over = [(min(end, c["end"]) - max(start, c["start"]), -(c["end"] - c["start"]), cid)
                for cid, c in searcher.chunks.items() if c["source_file"] == seed and c["start"] < end and c["end"] > start]
        if over:
            cid = max(over)[2]
            if all(h.chunk["id"] != cid for h in hits):
                hits.append(Hit(searcher.chunks[cid], 1.0))
    return hits


class _Scorer:
    def __init__(self, judge, corpus):
        self.judge, self.corpus = judge, corpus
        self.allowed = M.source_text(corpus)
        p = prompts()
        # the prompts' fixed wording, cut at the placeholders: any six words of it in a row is a leak
        self.prompt_text = [part for key in ("persona_system", "narrator_system") for line in p[key].split("\n")
                            for part in re.split(r"\{[^}]*\}", line) if len(part.split()) >= 6]

    def score(self, item: Item, variant: str, text: str, mode: str, context: list[dict], citations: list[dict]) -> dict:
        card = get_card(item.character)
        lines = " ".join(x for kind in card.lines.values() for xs in kind.values() for x in xs).lower()
        passages = [t for c in [*context, *citations] for t in (c["text"], *c.get("renderings", {}).values(),
                                                                  c.get("english", "")) if t]
        truth = evidence_sentences(item, self.corpus) + list(item.gold)
        passages = list(dict.fromkeys(passages + truth))
        row = {"id": item.id, "variant": variant, "character": item.character, "kind": item.kind,
               "language": item.language, "question": item.question, "answer": text, "mode": mode,
               "citations": [{k: c[k] for k in ("source_file", "start", "end")} for c in citations],
               "invented": M.invented_specifics(text, self.allowed + " " + lines), "judge_errors": []}
        m = {}

        def safe(name, fn):
            try:
                m[name] = fn()
            except JudgeError as exc:
                m[name] = None
                row["judge_errors"].append(f"{name}: {exc}")

        m["recall_at_k"] = M.recall_at_k(context, item) if variant in ("pipeline", "no_guard") else None
        safe("declined", lambda: mode == "abstained" or self.judge.declines(text, item.language))
        safe("faithfulness", lambda: M.faithfulness(text, passages, self.judge, item.language))
        safe("gold_coverage", lambda: M.gold_coverage(text, item, self.judge))
        timeline = item.kind == "timeline"   # its evidence is the later event; its gold, what may be said now
        safe("violation_rate", lambda: M.violation(text, item, self.judge, self.allowed + " " + lines,
                                                   [] if timeline else truth, list(item.gold) if timeline else None))
        safe("gold_hit", lambda: M.gold_hit(text, item, self.judge))
        later, told = (evidence_sentences(item, self.corpus), M.told_by(item, self.corpus)) if timeline else ([], [])
        safe("timeline_leak_rate", lambda: M.timeline_leak(text, item, later, self.judge, told))
        if m["declined"] is not None and m["violation_rate"] is not None:
            fixes = ((item.kind == "false_premise" and M.corrects(text, item, self.judge)) or
                     (timeline and M.keeps_to_now(text, item, self.judge, m["timeline_leak_rate"])))
            m["abstention_accuracy"] = M.abstention_correct(item.kind, m["declined"], m["violation_rate"], fixes)
            m["wrongly_declined"] = m["declined"] if item.kind in M.ANSWERABLE else None
        safe("on_topic", lambda: None if m["declined"] else M.on_topic(text, item, self.judge, truth))
        persona = M.persona_adherence(text, item.language, self.prompt_text + [card.voice], cues()["first_person"],
                                        [t for m in card.memories for t in m.text.values()])
        m["persona_adherence"] = persona["ok"]
        row["persona_checks"] = persona["checks"]
        row["metrics"] = m
        return row



def run_evals(settings, items: list[Item], judge_name: str = "offline", baselines=(), out_dir: Path | None = None,
              k: int = 5, progress: bool = True, interviewer: Interviewer | None = None, datasets=(),
              replay: tuple[str, dict] | None = None, workers: int = 0) -> dict:
    """``replay``: (variant, rows of ``evals/replay/strong.jsonl`` by item) when the backend is the
    replay server; each pipeline row then records what of the served answer was shown. ``workers``:
    answers asked for at once (0: ``SERVER_WORKERS`` for a model server, 1 in process)."""
    from tqdm import tqdm

    iv = interviewer or Interviewer(settings, k=k)
    judge = get_judge(judge_name, iv.searcher.store.embedder, settings)
    scorer = _Scorer(judge, iv.searcher.corpus)
    out_dir = Path(out_dir or Path(settings.data_dir) / "evals" / datetime.now().strftime("run-%Y%m%d-%H%M%S"))
    results = out_dir / "results.jsonl"
    if results.exists():
        raise UsageError(f"{out_dir} already holds an eval run; choose another --out (nothing was overwritten)")
    out_dir.mkdir(parents=True, exist_ok=True)
    results.write_text("", encoding="utf-8")
    configs = [None, *baselines]
    started, t0, calls = datetime.now(timezone.utc), time.time(), 0
    rows, errors = [], []
    workers = workers or (1 if iv.backend.in_process else SERVER_WORKERS)
    if workers > 1:
        iv.warm(i.character for i in items)
    jobs = [(item, config) for item in items for config in configs]
    with tqdm(total=len(jobs), desc="evals", unit="answer", disable=not progress) as bar, \
            results.open("a", encoding="utf-8") as fh, ThreadPoolExecutor(workers) as pool:
        def ask(job):
            return _timed_ask(iv, *job)

        answers = pool.map(ask, jobs) if workers > 1 else map(ask, jobs)   # in order, ahead of the scoring
        for (item, config), (a, scored, seconds) in zip(jobs, answers):
            if isinstance(a, FaceError):  # a crashed model or a refused request: counted, and the run goes on
                errors.append({"id": item.id, "config": config or "pipeline", "error": str(a)})
                fh.write(json.dumps({"id": item.id, "variant": config or "pipeline", "error": str(a)},
                                    ensure_ascii=False) + "\n")
                bar.update(1)
                continue
            calls += bool(a.draft)
            for variant, text, mode, cites in scored:
                row = scorer.score(item, variant, text, mode, a.context, cites)
                row["seconds"] = seconds
                if variant == "pipeline":
                    row["dropped"] = a.dropped
                if replay and variant == "pipeline" and item.id in replay[1] and a.draft:  # the model was asked
                    row["replay"] = M.replay_shown([x["text"] for x in a.sentences], a.mode,
                                                   replay[1][item.id], replay[0])
                rows.append(row)
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            bar.update(1)
    wall = time.time() - t0
    summary = summarize(rows)
    if replay:
        summary["replay"] = summarize_replay(rows, replay[0])
    summary["meta"] = {
        "backend": iv.backend.describe(), "judge": judge.name, "datasets": [str(d) for d in datasets],
        "items": len(items), "baselines": list(baselines), "k": k, "started": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 1), "seconds_per_item": round(wall / max(1, len(items) * len(configs)), 2),
        "workers": workers,
        "model_calls": calls, "errors": len(errors), "error_items": errors,
        "judge_agreement": judge_agreement(judge, iv.searcher.corpus) if judge.name == "offline" else None,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    write_report(out_dir / "report.html", summary, rows)
    summary["meta"]["out_dir"] = str(out_dir)
    return summary


def _timed_ask(iv: Interviewer, item: Item, config: str | None):
    """``_ask`` with its seconds; a failed answer comes back as the error in the answer's place."""
    t = time.time()
    try:
        a, scored = _ask(iv, item, config)
    except FaceError as exc:
        return exc, [], 0.0
    return a, scored, round(time.time() - t, 2)


def _ask(iv: Interviewer, item: Item, config: str | None):
    """One model call for one item and configuration: the answer and the variants scored from it."""
    if config is None:
        a = iv.answer(item.character, item.question, as_of=item.as_of, lang=item.language)
        return a, [("pipeline", a.answer, a.mode, a.citations),
                   ("no_guard", a.draft or a.answer, "generated" if a.draft else a.mode, [])]
    if config == "no-retrieval":
        a = iv.answer(item.character, item.question, as_of=item.as_of, lang=item.language, use_retrieval=False)
        return a, [("no_retrieval", a.draft or a.answer, "generated" if a.draft else a.mode, [])]
    a = iv.answer(item.character, item.question, as_of=item.as_of, lang=item.language,
                  passages=oracle_hits(iv.searcher, item))
    return a, [("oracle", a.draft or a.answer, "generated" if a.draft else a.mode, []),
               ("oracle_guarded", a.answer, a.mode, a.citations)]


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def _block(rows: list[dict]) -> dict:
    out = {name: _mean(r["metrics"].get(name) for r in rows) for name in M.METRICS}
    out["n"] = len(rows)
    out["paths"] = M.answer_paths([r["mode"] for r in rows])
    out["invented_specific"] = _mean(bool(r["invented"]) for r in rows)
    out["judge_errors"] = sum(len(r["judge_errors"]) for r in rows)
    return out


def _replay_block(rows: list[dict]) -> dict:
    r = [x["replay"] for x in rows]
    answerable = [x["replay"]["generated"] for x in rows if x["kind"] in M.ANSWERABLE]
    faithful, invented = sum(x["faithful"] for x in r), sum(x["invented"] for x in r)
    return {"n": len(r),
            "faithful_kept": round(sum(x["faithful_kept"] for x in r) / faithful, 4) if faithful else None,
            "shown_as_generated": round(sum(answerable) / len(answerable), 4) if answerable else None,
            "invented_cut": round(1 - sum(x["invented_shown"] for x in r) / invented, 4) if invented else None,
            "violations_shown": sum(bool(x["metrics"].get("violation_rate")) for x in rows)}


def summarize_replay(rows: list[dict], variant: str) -> dict:
    """Replayed answers: faithful sentences kept, fact/inference answers shown as generated, invented
    sentences cut, must-not violations shown; overall, per language and per kind."""
    rs = [r for r in rows if "replay" in r]
    out = {"variant": variant, "overall": _replay_block(rs)}
    for key in ("language", "kind"):
        groups = defaultdict(list)
        for r in rs:
            groups[r[key]].append(r)
        out[f"by_{key}"] = {g: _replay_block(x) for g, x in sorted(groups.items())}
    return out


def summarize(rows: list[dict]) -> dict:
    """Per variant: every metric overall, per character, per kind and per language."""
    variants: dict[str, dict] = {}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        vr = [r for r in rows if r["variant"] == variant]
        variants[variant] = {"overall": _block(vr)}
        for key in ("character", "kind", "language"):
            groups = defaultdict(list)
            for r in vr:
                groups[r[key]].append(r)
            variants[variant][f"by_{key}"] = {g: _block(rs) for g, rs in sorted(groups.items())}
    return {"variants": variants}
