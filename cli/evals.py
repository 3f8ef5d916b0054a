"""``python app.py evals run|compare|agreement``: the eval suite's command line.

Design choices: the sub-commands live with the other commands (the top floor), drive ``evals``, and
plug into the main parser
(``add_evals_parser``); gates (``--fail-under``/``--fail-over``) are checked against the
``pipeline`` variant's overall figures after the report is written, so a failing CI run still
leaves its report. Metric names are checked before anything runs.

    python app.py evals run --per-kind 2 --baseline oracle --fail-under faithfulness=0.8
    python app.py evals compare data/evals/run-A data/evals/run-B
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import FaceError, UsageError

DATASETS_DEFAULT = ("heldout.jsonl", "validation.jsonl", "abstention.jsonl", "timeline.jsonl", "injection.jsonl")


def _gates(specs, lower_is_better: bool) -> list[tuple[str, float]]:
    from evals.metrics import LOWER_IS_BETTER, METRICS

    flag = "--fail-over" if lower_is_better else "--fail-under"
    out = []
    for spec in specs or ():
        name, _, value = spec.partition("=")
        if name not in METRICS:
            raise UsageError(f"{flag} {spec!r}: unknown metric; choose one of {', '.join(METRICS)}")
        if (name in LOWER_IS_BETTER) != lower_is_better:
            other = "--fail-under" if lower_is_better else "--fail-over"
            raise UsageError(f"{flag} {spec!r}: {name} is {'higher' if lower_is_better else 'lower'} is better; use {other}")
        try:
            out.append((name, float(value)))
        except ValueError:
            raise UsageError(f"{flag} {spec!r}: expected METRIC=NUMBER, e.g. faithfulness=0.8") from None
    return out


def cmd_run(args) -> int:
    from core.config import settings_from
    from evals.dataset import DATASETS_DIR, load_items
    from evals.runner import run_evals, select_items
    from retrieval.corpus import load_corpus

    under, over = _gates(args.fail_under, False), _gates(args.fail_over, True)
    settings = settings_from(args)
    paths = args.dataset or [str(DATASETS_DIR / name) for name in DATASETS_DEFAULT]
    corpus = load_corpus(settings.seeds_dir)
    items = select_items(load_items(paths, {e.id for e in corpus.events}), args.character, args.kind,
                         args.language, args.per_kind)
    if not items:
        raise UsageError("no items match the given --dataset/--character/--kind/--language")
    summary = run_evals(settings, items, args.judge, tuple(args.baseline or ()), args.out, k=args.k,
                        progress=not args.quiet, datasets=paths)
    print(_overview(summary))
    if summary["meta"]["errors"]:
        print(f"{summary['meta']['errors']} answers failed and were counted as errors (see summary.json, "
              "meta.error_items)", file=sys.stderr)
    if "pipeline" not in summary["variants"]:
        raise FaceError("every answer failed; nothing was scored (see summary.json, meta.error_items)")
    overall = summary["variants"]["pipeline"]["overall"]
    failed = [f"{m} was not measured in this run (no item it applies to)" for m, _ in under + over if overall[m] is None]
    failed += [f"{m} {overall[m]} < {v}" for m, v in under if overall[m] is not None and overall[m] < v]
    failed += [f"{m} {overall[m]} > {v}" for m, v in over if overall[m] is not None and overall[m] > v]
    for line in failed:
        print(f"FAILED gate: {line}", file=sys.stderr)
    return 1 if failed else 0


def _overview(summary: dict) -> str:
    from evals.metrics import METRICS

    variants = summary["variants"]
    lines = [f"{'metric':<22}" + "".join(f"{v:>16}" for v in variants)]
    for m in (*METRICS, "invented_specific"):
        lines.append(f"{m:<22}" + "".join(f"{_num(b['overall'][m]):>16}" for b in variants.values()))
    for p in ("generated", "composed", "abstained"):
        lines.append(f"{'answers ' + p:<22}" + "".join(f"{_num(b['overall']['paths'][p]):>16}" for b in variants.values()))
    meta = summary["meta"]
    lines.append(f"{meta['items']} items, judge {meta['judge']}, backend {meta['backend']}, "
                 f"{meta['errors']} errors, {meta['wall_seconds']} s; wrote {meta['out_dir']}/results.jsonl, summary.json, report.html")
    return "\n".join(lines)


def _num(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def cmd_compare(args) -> int:
    from evals.compare import compare
    print(compare(Path(args.a), Path(args.b), args.variant))
    return 0


def cmd_agreement(args) -> int:
    from core.config import settings_from
    from evals.agreement import judge_agreement
    from evals.judges import get_judge
    from retrieval.corpus import load_corpus
    from retrieval.embeddings import get_embedder

    settings = settings_from(args)
    judge = get_judge(args.judge, get_embedder(settings.embedder, settings.embed_model, settings.embed_base_url), settings)
    print(json.dumps({"judge": judge.name, **judge_agreement(judge, load_corpus(settings.seeds_dir))}, indent=2))
    return 0


def add_evals_parser(sub, parser_class, flag_groups) -> None:
    from evals.judges import JUDGES
    from evals.runner import BASELINES

    p = sub.add_parser("evals", help="faithfulness evals: run, compare runs, check the judge")
    evals = p.add_subparsers(dest="action", required=True, parser_class=parser_class)
    r = evals.add_parser("run", help="ask every item, score it, write results.jsonl, summary.json, report.html")
    r.add_argument("--dataset", action="append", help="JSONL file in the evals schema (repeatable; default: "
                   + ", ".join(DATASETS_DEFAULT) + ")")
    r.add_argument("--character", action="append", help="only this character (repeatable)")
    r.add_argument("--kind", action="append", help="only this item kind (repeatable)")
    r.add_argument("--language", action="append", choices=["en", "ru", "de"], help="only this question language")
    r.add_argument("--per-kind", type=int, default=0, help="at most N items of each kind (a quick subset)")
    r.add_argument("--judge", default="offline", choices=sorted(JUDGES),
                   help="offline (default, no LLM) or llm (an OpenAI-compatible model, see --judge-base-url)")
    r.add_argument("--judge-base-url", default=argparse.SUPPRESS,
                   help="OpenAI-compatible URL of the judge model (env FACE_JUDGE_BASE_URL; default: --base-url)")
    r.add_argument("--judge-model", default=argparse.SUPPRESS, help="judge model name (env FACE_JUDGE_MODEL)")
    r.add_argument("--baseline", action="append", choices=BASELINES, help="also run this baseline (repeatable)")
    r.add_argument("--out", help="output folder (default: <data dir>/evals/run-<time>)")
    r.add_argument("--k", type=int, default=5, help="passages retrieved per question (default 5)")
    r.add_argument("--fail-under", action="append", metavar="METRIC=VALUE",
                   help="exit 1 if the pipeline's METRIC is below VALUE (repeatable)")
    r.add_argument("--fail-over", action="append", metavar="METRIC=VALUE",
                   help="exit 1 if a lower-is-better METRIC (violation_rate, timeline_leak_rate) is above VALUE")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    for add in flag_groups:
        add(r)
    r.set_defaults(func=cmd_run)

    c = evals.add_parser("compare", help="per-metric deltas between two runs and the items that changed")
    c.add_argument("a", help="run folder (or its summary.json)")
    c.add_argument("b", help="run folder (or its summary.json)")
    c.add_argument("--variant", default="pipeline", help="which variant to compare (default pipeline)")
    c.set_defaults(func=cmd_compare)

    a = evals.add_parser("agreement", help="agreement of a judge with the hand-labelled answers")
    a.add_argument("--judge", default="offline", choices=sorted(JUDGES))
    a.add_argument("--judge-base-url", default=argparse.SUPPRESS)
    a.add_argument("--judge-model", default=argparse.SUPPRESS)
    for add in flag_groups:
        add(a)
    a.set_defaults(func=cmd_agreement)
