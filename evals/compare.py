"""Compare two eval runs: per-metric deltas, then the items whose verdicts changed.

    >>> print(compare(Path("data/evals/run-A"), Path("data/evals/run-B")))
    metric                         A          B      delta
    faithfulness               0.912      0.950     +0.038
    ...
    changed items (pipeline): 3
      h012 fact en: gold_coverage 0.0 -> 1.0; mode composed -> generated
"""
from __future__ import annotations

import json
from pathlib import Path

from core.errors import UsageError
from evals.metrics import LOWER_IS_BETTER, METRICS

MAX_LISTED = 60


def _load(path: Path) -> tuple[dict, dict]:
    folder = path.parent if path.name == "summary.json" else path
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        rows = [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines() if line]
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{folder} is not an eval run folder (summary.json + results.jsonl): {exc}") from None
    return summary, rows


def _fmt(v) -> str:
    return "-" if v is None else f"{float(v):.3f}"


def _delta_lines(a: dict, b: dict) -> list[str]:
    lines = [f"{'metric':<24}{'A':>10}{'B':>10}{'delta':>10}"]
    for m in (*METRICS, "invented_specific"):
        va, vb = a.get(m), b.get(m)
        d = "" if va is None or vb is None else f"{vb - va:+.3f}"
        better = "" if not d or vb == va else (" better" if (vb < va) == (m in (*LOWER_IS_BETTER, "invented_specific")) else " worse")
        lines.append(f"{m:<24}{_fmt(va):>10}{_fmt(vb):>10}{d:>10}{better}")
    for p in ("generated", "composed", "abstained"):
        va, vb = a["paths"][p], b["paths"][p]
        lines.append(f"{'answers ' + p:<24}{_fmt(va):>10}{_fmt(vb):>10}{vb - va:>+10.3f}")
    return lines


def _changes(ra: dict, rb: dict) -> list[str]:
    out = []
    for m in METRICS:
        va, vb = ra["metrics"].get(m), rb["metrics"].get(m)
        if va != vb and not (va is None and vb is None):
            out.append(f"{m} {va} -> {vb}")
    if ra["mode"] != rb["mode"]:
        out.append(f"mode {ra['mode']} -> {rb['mode']}")
    return out


def compare(a: Path, b: Path, variant: str = "pipeline") -> str:
    (sa, rows_a), (sb, rows_b) = _load(a), _load(b)
    if variant not in sa["variants"] or variant not in sb["variants"]:
        raise UsageError(f"variant {variant!r} is not in both runs; A has {sorted(sa['variants'])}, B has {sorted(sb['variants'])}")
    lines = [f"A: {a} ({sa['meta']['backend']}, judge {sa['meta']['judge']}, {sa['meta']['items']} items)",
             f"B: {b} ({sb['meta']['backend']}, judge {sb['meta']['judge']}, {sb['meta']['items']} items)", ""]
    lines += _delta_lines(sa["variants"][variant]["overall"], sb["variants"][variant]["overall"])
    by_a = {r["id"]: r for r in rows_a if r["variant"] == variant}
    by_b = {r["id"]: r for r in rows_b if r["variant"] == variant}
    changed = [(i, _changes(by_a[i], by_b[i])) for i in by_a if i in by_b]
    changed = [(i, c) for i, c in changed if c]
    lines += ["", f"changed items ({variant}): {len(changed)}; only in A: {len(set(by_a) - set(by_b))}, "
                  f"only in B: {len(set(by_b) - set(by_a))}"]
    for i, c in changed[:MAX_LISTED]:
        r = by_b[i]
        lines.append(f"  {i} {r['kind']} {r['language']}: " + "; ".join(c))
    if len(changed) > MAX_LISTED:
        lines.append(f"  … and {len(changed) - MAX_LISTED} more (see results.jsonl)")
    return "\n".join(lines)
