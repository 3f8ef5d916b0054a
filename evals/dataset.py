"""Eval datasets: JSONL, one item per line, in the schema documented in ``evals/README.md``.

Design choices:
- Loading validates every line and reports the file and line number of the first bad one, so a
  tool feeding its own file gets a message it can act on.
- Evidence is located in its seed file by exact substring; ``evidence_spans`` turns each quote into
  ``(file, start, end)`` offsets, the same offsets search results carry.

Worked example::

    >>> item = load_items(["evals/datasets/heldout.jsonl"])[0]
    >>> evidence_spans(item)[0][0]
    '001_9c1f4272b3d58b6c.txt'
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.config import SEEDS_DIR
from core.errors import UsageError

KINDS = ("fact", "inference", "unanswerable", "false_premise", "timeline", "persona")
LANGS = ("en", "ru", "de")
CHARACTERS = ("hero", "wife", "doctor", "k", "girl", "daughter")
REQUIRED = ("id", "character", "language", "question", "kind", "gold", "must_not", "evidence")
DATASETS_DIR = Path(__file__).resolve().parent / "datasets"


@dataclass(frozen=True)
class Item:
    id: str
    character: str
    language: str
    question: str
    kind: str
    gold: tuple
    must_not: tuple
    evidence: tuple  # of {"seed", "quote"}
    as_of: str | None = None


def _strings(v, where: str, field: str, limit: int = 50) -> tuple:
    if not isinstance(v, list) or len(v) > limit or not all(isinstance(x, str) and x.strip() and len(x) <= 1000 for x in v):
        raise UsageError(f"{where}: {field} must be a list of at most {limit} non-empty strings, got {str(v)[:60]!r}")
    return tuple(v)


def check_item(obj, where: str, event_ids: set | None) -> Item:
    """One dataset line, every field checked: a wrong one is a one-line error naming file, line and field."""
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected a JSON object")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise UsageError(f"{where}: missing keys {missing}")
    if not isinstance(obj["id"], str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", obj["id"]):
        raise UsageError(f"{where}: id must be 1-64 letters, digits, '.', '_' or '-', got {str(obj['id'])[:60]!r}")
    for key, allowed in (("kind", KINDS), ("language", LANGS), ("character", CHARACTERS)):
        if obj[key] not in allowed:
            raise UsageError(f"{where}: {key} must be one of {allowed}, got {str(obj[key])[:60]!r}")
    if not isinstance(obj["question"], str) or not obj["question"].strip() or len(obj["question"]) > 2000:
        raise UsageError(f"{where}: question must be a non-empty string of at most 2000 characters")
    gold, must_not = _strings(obj["gold"], where, "gold"), _strings(obj["must_not"], where, "must_not")
    if not isinstance(obj["evidence"], list) or len(obj["evidence"]) > 20:
        raise UsageError(f"{where}: evidence must be a list (at most 20) of {{seed, quote}}")
    for ev in obj["evidence"]:
        if not isinstance(ev, dict) or set(ev) != {"seed", "quote"} or not all(isinstance(ev[k], str) for k in ev):
            raise UsageError(f"{where}: each evidence needs a seed file name and a quote (strings)")
        if ev["seed"] not in seed_files():
            raise UsageError(f"{where}: evidence seed {ev['seed'][:60]!r} is not a source; use one of {sorted(seed_files())}")
    as_of = obj.get("as_of") or None
    if as_of is not None and not isinstance(as_of, str):
        raise UsageError(f"{where}: as_of must be an event id or null")
    if as_of and event_ids is not None and as_of not in event_ids:
        raise UsageError(f"{where}: unknown as_of event {as_of[:60]!r}")
    return Item(obj["id"], obj["character"], obj["language"], obj["question"], obj["kind"],
                gold, must_not, tuple(obj["evidence"]), as_of)


@lru_cache(maxsize=1)
def seed_files() -> frozenset:
    """The source files an evidence quote may name."""
    return frozenset(p.name for p in Path(SEEDS_DIR).glob("*.txt"))


def load_items(paths, event_ids: set | None = None) -> list[Item]:
    items, seen = [], set()
    for path in map(Path, paths):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read dataset {path}: {exc}") from None
        for no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise UsageError(f"{path}:{no}: not valid JSON ({getattr(exc, 'msg', 'nested too deeply')})") from None
            item = check_item(obj, f"{path}:{no}", event_ids)
            if item.id in seen:
                raise UsageError(f"{path}:{no}: duplicate id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    return items


def evidence_spans(item: Item, seeds_dir: Path = SEEDS_DIR) -> list[tuple[str, int, int]]:
    out = []
    for ev in item.evidence:
        text = (Path(seeds_dir) / ev["seed"]).read_text(encoding="utf-8")
        at = text.find(ev["quote"])
        if at < 0:
            raise UsageError(f"item {item.id}: quote not found in {ev['seed']}: {ev['quote'][:40]!r}")
        out.append((ev["seed"], at, at + len(ev["quote"])))
    return out
