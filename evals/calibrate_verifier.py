"""Calibrate the offline support check on one half of the labelled sentences, report the other.

    python evals/calibrate_verifier.py [--write]

Labelled sentences, each checked against the evidence the chain itself would gather (the
question's passages and memories in the character's scope, plus what each draft sentence finds):
- ``evals/replay/strong.jsonl``: strong-model answers; every ``faithful`` sentence is faithful, the
  ``tampered`` sentence at ``tampered_index`` is invented (checked inside the tampered draft);
- ``evals/replay/bundled.jsonl``: sentences the bundled SmolLM2 wrote, labelled faithful /
  invented / no_claim by a reader of the sources (a no_claim sentence may go either way).
Both carry a ``half``. The grid search keeps the thresholds that keep the most faithful sentences
on the calibration half while cutting at least ``--cut`` of the strong model's invented ones and
``--bundled-cut`` of the bundled model's; the figures for both halves are printed, and ``--write`` stores the thresholds in
``chat/verifier.yaml``. Nothing here is used at run time.
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from characters import get_card  # noqa: E402
from chat.chain import Interviewer  # noqa: E402
from chat.evidence import more_hits, units_for  # noqa: E402
from chat.guard import hard_reasons  # noqa: E402
from chat.verify import OfflineVerifier  # noqa: E402
from core.config import load_settings  # noqa: E402
from evals.dataset import DATASETS_DIR, load_items  # noqa: E402
from evals.judges import OfflineJudge  # noqa: E402
from evals.metrics import evidence_sentences  # noqa: E402
from evals.replay import REPLAY_FILE, load_replay  # noqa: E402

BUNDLED_FILE = REPLAY_FILE.with_name("bundled.jsonl")
GRID = {"common_zipf": [5.0, 5.5, 9.0], "info_zipf": [3.5, 4.0, 4.5], "max_informative": [0, 1],
        "max_ungrounded_share": [0.0, 0.15, 0.25, 0.34, 0.5], "short_sentence": [0, 2], "sim_min": [0.80, 0.84, 0.87],
        "grounded_sim_min": [0.85, 0.87],
        "negation_sim": [0.88, 0.92, 0.95, 1.1], "min_coherence": [0.0, 0.6, 0.75, 0.9, 1.0], "echo_denials": [0, 1]}


def _units(iv: Interviewer, item, draft: list[str]):
    card = get_card(item.character)
    flt = card.knowledge(iv.searcher.corpus, item.as_of)
    s = dict(card=card, question=item.question, history=[], lang=item.language, flt=flt, ooc=False,
             use_retrieval=True, passages=None, k=iv.k, query=item.question, timings={})
    ev = iv._retrieve(s)
    hits = ev["hits"] + more_hits(iv.searcher, draft, flt, item.language, ev["hits"])
    return units_for(iv.searcher.corpus, card, hits, ev["memories"], item.question)


def cases(iv: Interviewer) -> list[dict]:
    """Every labelled draft with the evidence the chain gathers for it (the slow part: searches)."""
    items = {i.id: i for i in load_items(sorted(DATASETS_DIR.glob("*.jsonl")))}
    out = []
    for r in load_replay().values():
        item = items[r["item"]]
        for variant in ("faithful", "tampered"):
            draft = r[variant]
            labels = ["faithful"] * len(draft) if variant == "faithful" else \
                [("invented" if i == r["tampered_index"] else None) for i in range(len(draft))]
            out.append({"source": "strong", "half": r["half"], "language": item.language, "kind": item.kind,
                        "item": item.id, "sentences": draft, "labels": labels, "units": _units(iv, item, draft)})
    if BUNDLED_FILE.is_file():
        for line in BUNDLED_FILE.read_text(encoding="utf-8").splitlines():
            b = json.loads(line)
            item = items[b["item"]]
            out.append({"source": "bundled", "half": b["half"], "language": item.language, "kind": item.kind,
                        "item": item.id, "sentences": [b["sentence"]], "labels": [b["label"]],
                        "units": _units(iv, item, [b["sentence"]])})
    return out


def labelled(cases: list[dict], verifier: OfflineVerifier) -> list[dict]:
    """Every labelled sentence with its features: {source, half, language, kind, label, f}."""
    rows = []
    for c in cases:
        for label, f in zip(c["labels"], verifier.features(c["sentences"], c["units"], c["language"])):
            if label:
                rows.append({**{k: c[k] for k in ("source", "half", "language", "kind", "item")}, "label": label, "f": f,
                             "hard": hard_reasons(f["sentence"], c["language"], ())})
    return rows


def passes(r: dict, verifier: OfflineVerifier) -> bool:
    """What the guard decides: its own rules (AI talk, language, out of character), then the verifier's."""
    return not r["hard"] and not verifier.decide(r["f"])


def score(rows: list[dict], verifier: OfflineVerifier) -> dict:
    def share(sel, want):
        sel = list(sel)
        return (sum(passes(r, verifier) == want for r in sel) / len(sel), len(sel)) if sel else (None, 0)

    out = {}
    for source in ("strong", "bundled"):
        rs = [r for r in rows if r["source"] == source]
        out[f"{source}: faithful kept"] = share((r for r in rs if r["label"] == "faithful"), True)
        out[f"{source}: invented cut"] = share((r for r in rs if r["label"] == "invented"), False)
    for lang in ("en", "ru", "de"):
        out[f"strong {lang}: faithful kept"] = share((r for r in rows if r["source"] == "strong" and r["language"] == lang
                                                      and r["label"] == "faithful"), True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cut", type=float, default=0.90, help="invented sentences to cut on the calibration half")
    ap.add_argument("--bundled-cut", type=float, default=0.90,
                    help="invented sentences of the bundled model to cut on the calibration half")
    ap.add_argument("--write", action="store_true", help="store the chosen thresholds in chat/verifier.yaml")
    args = ap.parse_args(argv)
    iv = Interviewer(load_settings())
    verifier = iv.guard.verifier if isinstance(iv.guard.verifier, OfflineVerifier) else OfflineVerifier(iv.searcher.store.embedder)
    rows = labelled(cases(iv), verifier)
    cal = [r for r in rows if r["half"] == "calibration"]
    best = None
    for values in itertools.product(*GRID.values()):
        verifier.t = dict(zip(GRID, values))
        s = score(cal, verifier)
        # the bundled model invents freely, so what it invents is held to a stricter bar than a strong model's slips
        ok = s["strong: invented cut"][0] >= args.cut and s["bundled: invented cut"][0] >= args.bundled_cut
        cut = min(s["strong: invented cut"][0], s["bundled: invented cut"][0])
        kept = s["strong: faithful kept"][0]
        key = (ok, kept if ok else cut, s["bundled: faithful kept"][0] or 0)
        if best is None or key > best[0]:
            best = (key, dict(verifier.t))
    verifier.t = best[1]
    print("thresholds:", json.dumps(best[1]))
    for half in ("calibration", "heldout"):
        print(f"-- {half}")
        for k, (x, n) in score([r for r in rows if r["half"] == half], verifier).items():
            print(f"  {k:<28} {'-' if x is None else f'{x:.3f}'}  (n={n})")
    judge = OfflineJudge(verifier.embedder)
    items, corpus = {i.id: i for i in load_items(sorted(DATASETS_DIR.glob("*.jsonl")))}, iv.searcher.corpus
    print("-- the same sentences: guard vs the eval's offline judge (which reads the item's evidence and gold)")
    for half in ("calibration", "heldout"):
        rs = [r for r in rows if r["half"] == half and r["label"] in ("faithful", "invented")]
        truth = {i: evidence_sentences(items[i], corpus) + list(items[i].gold) for i in {r["item"] for r in rs}}
        judged = [judge.supported([r["f"]["sentence"]], truth[r["item"]], r["language"])[0] for r in rs]
        want = [r["label"] == "faithful" for r in rs]
        guard = sum(passes(r, verifier) == w for r, w in zip(rs, want)) / len(rs)
        print(f"  {half:<12} agreement with the labels: guard {guard:.3f}, judge "
              f"{sum(j == w for j, w in zip(judged, want)) / len(rs):.3f}  (n={len(rs)})")
    if args.write:
        path = Path(__file__).resolve().parent.parent / "chat" / "verifier.yaml"
        text = path.read_text(encoding="utf-8")
        for name, value in best[1].items():
            text = re.sub(rf"(\n  {name}: )[0-9.]+", rf"\g<1>{value}", text)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
