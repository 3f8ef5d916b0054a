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

import json
import sys
from pathlib import Path

from dataclasses import replace

from core.config import settings_from

from core.errors import FaceError, UsageError
from evals.replay import HALVES, REPLAY_FILE, VARIANTS, load_replay

DATASETS_DEFAULT = ("heldout.jsonl", "validation.jsonl", "abstention.jsonl", "timeline.jsonl", "injection.jsonl")
EXTRA_DATASETS = ("blind.jsonl",)


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
    paths = args.dataset or [str(DATASETS_DIR / name) for name in DATASETS_DEFAULT + EXTRA_DATASETS]
    corpus = load_corpus(settings.seeds_dir)
    items = load_items(paths, {e.id for e in corpus.events})
    replay = None
    if args.workers < 0:
        raise UsageError("--workers must be 0 (the default for the backend) or more")
    if args.replay:
        rows = {i: r for i, r in load_replay(args.replay_file).items() if not args.half or r["half"] == args.half}
        items = [i for i in items if i.id in rows]
        settings = replace(settings, model=f"replay-{args.replay}")
        replay = (args.replay, rows)
    items = select_items(items, args.character, args.kind, args.language, args.per_kind)
    if not items:
        raise UsageError("no items match the given --dataset/--character/--kind/--language/--replay/--half")
    summary = run_evals(settings, items, args.judge, tuple(args.baseline or ()), args.out, k=args.k,
                        progress=not args.quiet, datasets=paths, replay=replay, workers=args.workers)
    print(_overview(summary))
    if replay:
        print(_replay_overview(summary["replay"]))
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


def _replay_overview(block: dict) -> str:
    cols = ("faithful_kept", "shown_as_generated", "invented_cut", "violations_shown")
    lines = [f"replayed answers ({block['variant']}):", f"{'':<16}" + "".join(f"{c:>20}" for c in cols)]
    for name, b in [("overall", block["overall"]), *block["by_language"].items(), *block["by_kind"].items()]:
        lines.append(f"{name:<16}" + "".join(f"{_num(b[c]) if c != 'violations_shown' else b[c]:>20}" for c in cols))
    return "\n".join(lines)


def _num(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def cmd_multiturn(args) -> int:
    from datetime import datetime

    from chat.chain import Interviewer
    from evals.judges import get_judge
    from evals.multiturn import run_conversations, run_perspectives, write

    settings = settings_from(args)
    iv = Interviewer(settings)
    judge = get_judge("offline", iv.searcher.store.embedder, settings)
    run = run_conversations if args.which == "conversations" else run_perspectives
    rows, summary = run(iv, judge)
    out = Path(args.out or Path(settings.data_dir) / "evals" / datetime.now().strftime(f"{args.which}-%Y%m%d-%H%M%S"))
    write(out, args.which, rows, summary)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    print(f"wrote {out}/{args.which}.jsonl and summary.json")
    return 0


def cmd_replay_server(args) -> int:
    from evals.replay import serve
    return serve(args.port, args.file, args.delay)


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
    r.add_argument("--baseline", action="append", choices=BASELINES, help="also run this baseline (repeatable)")
    r.add_argument("--out", help="output folder (default: <data dir>/evals/run-<time>)")
    r.add_argument("--k", type=int, default=5, help="passages retrieved per question (default 5)")
    r.add_argument("--fail-under", action="append", metavar="METRIC=VALUE",
                   help="exit 1 if the pipeline's METRIC is below VALUE (repeatable)")
    r.add_argument("--fail-over", action="append", metavar="METRIC=VALUE",
                   help="exit 1 if a lower-is-better METRIC (violation_rate, timeline_leak_rate) is above VALUE")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--workers", type=int, default=0, help="answers asked for at once (default: 4 with a model "
                   "server, 1 with the in-process model)")
    r.add_argument("--replay", choices=VARIANTS, help="the backend is the replay server (evals replay-server): ask "
                   "for this variant of its strong-model answers and report what of them was shown")
    r.add_argument("--replay-file", default=str(REPLAY_FILE), help="replay answers (default evals/replay/strong.jsonl)")
    r.add_argument("--half", choices=HALVES, help="with --replay: only items of this half (calibration or heldout)")
    for add in flag_groups:
        add(r)
    r.set_defaults(func=cmd_run)

    s = evals.add_parser("replay-server", help="serve strong-model replay answers over the OpenAI-compatible API")
    s.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (default 8090)")
    s.add_argument("--file", default=str(REPLAY_FILE), help="replay answers (default evals/replay/strong.jsonl)")
    s.add_argument("--delay", type=float, default=0.0, help="seconds per streamed word (imitates decoding)")
    s.set_defaults(func=cmd_replay_server)

    for name, helptext in (("conversations", "multi-turn conversations: repeats, follow-ups, self-questions"),
                           ("perspectives", "one question to two characters: scope leaks between their answers")):
        m = evals.add_parser(name, help=helptext)
        m.add_argument("--out", help="output folder (default: <data dir>/evals/<name>-<time>)")
        for add in flag_groups:
            add(m)
        m.set_defaults(func=cmd_multiturn, which=name)

    c = evals.add_parser("compare", help="per-metric deltas between two runs and the items that changed")
    c.add_argument("a", help="run folder (or its summary.json)")
    c.add_argument("b", help="run folder (or its summary.json)")
    c.add_argument("--variant", default="pipeline", help="which variant to compare (default pipeline)")
    c.set_defaults(func=cmd_compare)

    a = evals.add_parser("agreement", help="agreement of a judge with the hand-labelled answers")
    a.add_argument("--judge", default="offline", choices=sorted(JUDGES))
    for add in flag_groups:
        add(a)
    a.set_defaults(func=cmd_agreement)
