"""``report.html``: one self-contained page a person wants to read after an eval run.

Design choices: no plotting dependency and no network - the chart is inline SVG (grouped bars,
one group per metric, one bar per variant); tables are plain HTML; every answer is escaped. The
page opens with what was run (backend, judge, items, time) and the judge's agreement with hand
labels, then the variants side by side, then the pipeline per kind, language and character, then
every answer.

    >>> _bar_chart({"pipeline": {"faithfulness": 0.9}}, ["faithfulness"]).startswith("<svg")
    True
"""
from __future__ import annotations

import html
from pathlib import Path

from evals.metrics import LOWER_IS_BETTER, METRICS

_COLOURS = ("#3b6ea8", "#c0504d", "#9bbb59", "#8064a2", "#f79646", "#4bacc6")
_STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.4em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}td.t{text-align:left;max-width:420px}caption{text-align:left;font-weight:600}
.bad{color:#a00}.muted{color:#777}details{margin:.3em 0}"""


def _fmt(v) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else html.escape(str(v)))


def _table(caption: str, header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, str) and c.startswith('<') else _fmt(c)}</td>"
                                    for c in r) + "</tr>" for r in rows)
    return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"


def _bar_chart(blocks: dict[str, dict], metrics: list[str]) -> str:
    """Grouped bars: x = metric, one bar per variant, y = 0..1."""
    names = list(blocks)
    gw, bw, h, top = 30 + 18 * len(names), 16, 220, 20
    width = 60 + gw * len(metrics)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 120}" role="img">',
             f'<line x1="50" y1="{top + h}" x2="{width}" y2="{top + h}" stroke="#888"/>']
    for t in (0, 0.5, 1):
        y = top + h - t * h
        parts.append(f'<text x="44" y="{y + 4}" font-size="11" text-anchor="end">{t:g}</text>'
                     f'<line x1="50" y1="{y}" x2="{width}" y2="{y}" stroke="#eee"/>')
    for m_i, metric in enumerate(metrics):
        x0 = 60 + m_i * gw
        for v_i, name in enumerate(names):
            value = blocks[name].get(metric)
            if value is None:
                continue
            bh = max(1.0, value * h)
            parts.append(f'<rect x="{x0 + v_i * 18}" y="{top + h - bh:.1f}" width="{bw}" height="{bh:.1f}" '
                         f'fill="{_COLOURS[v_i % len(_COLOURS)]}"><title>{name} {metric}: {value:.3f}</title></rect>')
        label = metric.replace("_", " ") + (" ↓" if metric in LOWER_IS_BETTER else "")
        parts.append(f'<text x="{x0}" y="{top + h + 14}" font-size="11" transform="rotate(25 {x0} {top + h + 14})">'
                     f'{html.escape(label)}</text>')
    for v_i, name in enumerate(names):
        parts.append(f'<rect x="{60 + v_i * 130}" y="{h + 100}" width="12" height="12" fill="{_COLOURS[v_i % len(_COLOURS)]}"/>'
                     f'<text x="{76 + v_i * 130}" y="{h + 110}" font-size="12">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _metric_rows(blocks: dict[str, dict]) -> list[list]:
    keys = [*METRICS, "invented_specific"]
    rows = [[k + (" (lower is better)" if k in (*LOWER_IS_BETTER, "invented_specific") else "")]
            + [b.get(k) for b in blocks.values()] for k in keys]
    for path in ("generated", "composed", "abstained"):
        rows.append([f"answers {path}"] + [b["paths"][path] for b in blocks.values()])
    rows.append(["items"] + [b["n"] for b in blocks.values()])
    rows.append(["judge errors"] + [b["judge_errors"] for b in blocks.values()])
    return rows


def write_report(path: Path, summary: dict, rows: list[dict]) -> None:
    meta, variants = summary["meta"], summary["variants"]
    overall = {name: v["overall"] for name, v in variants.items()}
    out = [f"<!doctype html><meta charset='utf-8'><title>Faithfulness evals</title><style>{_STYLE}</style>",
           "<h1>Faithfulness evals: The Face of Another</h1>",
           f"<p>Backend <b>{html.escape(meta['backend'])}</b>, judge <b>{html.escape(meta['judge'])}</b>, "
           f"{meta['items']} items from {html.escape(', '.join(Path(d).name for d in meta['datasets']) or 'the given items')}, "
           f"baselines: {html.escape(', '.join(meta['baselines']) or 'none')}. Started {html.escape(meta['started'])}, "
           f"{meta['wall_seconds']} s ({meta['seconds_per_item']} s per answer), k = {meta['k']}.</p>",
           "<p class='muted'>pipeline = the product (retrieval, memories, guard); no_guard = the same model call's raw "
           "draft; no_retrieval = the bare model in character; oracle = the model given the evidence passages "
           "(raw, and through the guard).</p>"]
    if meta.get("judge_agreement"):
        out.append(_table(f"Agreement of the {meta['judge']} judge with hand labels (evals/judge/labels.jsonl)",
                          ["label", "agreement", "n"],
                          [[k, v["agree"], v["n"]] for k, v in meta["judge_agreement"].items()]))
    out.append("<h2>Variants</h2>" + _bar_chart(overall, list(METRICS)))
    out.append(_table("All metrics per variant", ["metric", *overall], _metric_rows(overall)))
    main = variants.get("pipeline") or next(iter(variants.values()))
    for key in ("kind", "language", "character"):
        groups = main[f"by_{key}"]
        out.append(_table(f"pipeline by {key}", [key, "n", *METRICS, "generated", "composed", "abstained"],
                          [[g, b["n"], *(b[m] for m in METRICS), *(b["paths"][p] for p in ("generated", "composed", "abstained"))]
                           for g, b in groups.items()]))
    out.append("<h2>Answers</h2>")
    for item_id in dict.fromkeys(r["id"] for r in rows):
        mine = [r for r in rows if r["id"] == item_id]
        first = mine[0]
        body = _table("", ["variant", "answer", "mode", *METRICS],
                      [[r["variant"], f"<span>{html.escape(r['answer'])}</span>", r["mode"],
                        *(r["metrics"].get(m) for m in METRICS)] for r in mine])
        out.append(f"<details><summary>{html.escape(item_id)} · {first['kind']} · {first['language']} · "
                   f"{html.escape(first['character'])}: {html.escape(first['question'])}</summary>{body}</details>")
    path.write_text("\n".join(out), encoding="utf-8")
