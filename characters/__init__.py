"""Persona cards: ``characters/<id>.yaml`` (data) loaded and validated here.

Design choices:
- A card is data: name, aliases, works, voice, default story point per work (``as_of``), knowledge
  scope, cited facts, first-person memories in en/ru/de citing sentences of the sources, and
  in-character lines for abstaining, refusing and deflecting. Logic never hard-codes a character.
- A memory's events are derived from the sentences it cites, so story time and scope apply to
  memories exactly as to passages. Opinions (the critic's) can never be cited by a memory.
- ``Card.knowledge(corpus, as_of)`` turns scope + story point into one ``SearchFilter``; every
  retrieval for a character goes through it, so nothing outside it can reach the prompt.

    >>> card = get_card("k")
    >>> sorted(card.knowledge(load_corpus()).events)
    ['artificial_finger', 'meeting_k']
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.errors import CorpusError, UnknownNameError, UsageError
from retrieval.corpus import LANGUAGES, Corpus, Event, load_corpus
from retrieval.search import SearchFilter

CARDS_DIR = Path(__file__).resolve().parent
IDS = ("hero", "wife", "doctor", "k", "girl", "daughter")  # the built-in cards


@dataclass(frozen=True)
class Memory:
    text: dict                      # lang -> first-person statement
    cites: tuple[tuple[str, int], ...]  # (seed file, sentence start offset)
    events: tuple[str, ...]
    work: str
    event_max: int


@dataclass(frozen=True)
class Card:
    id: str
    name: dict
    aliases: tuple[str, ...]
    works: tuple[str, ...]
    description: dict
    voice: str
    as_of: dict                      # work -> event id (default story point)
    scope_events: frozenset
    learns_all_at: str | None
    facts: tuple[dict, ...]
    memories: tuple[Memory, ...]
    lines: dict = field(default_factory=dict)  # abstain/refuse/deflect -> lang -> [str]

    def story_points(self, corpus: Corpus, as_of: str | None = None) -> tuple[Event, ...]:
        """The default story point per work, with ``as_of`` (an event id) replacing its work's."""
        points = {w: corpus.event(e) for w, e in self.as_of.items()}
        if as_of:
            ev = corpus.event(as_of)
            if ev.work not in self.works:
                raise UsageError(f"{self.id} is not in the {ev.work}; choose an event of: {', '.join(self.works)}")
            points[ev.work] = ev
        return tuple(points[w] for w in self.works)

    def known_events(self, corpus: Corpus, points: tuple[Event, ...]) -> frozenset:
        known = set(self.scope_events)
        if self.learns_all_at:
            learn = corpus.event(self.learns_all_at)
            for p in points:
                if p.work == learn.work and p.order >= learn.order:
                    known |= {e.id for e in corpus.events_of(p.work) if e.order <= p.order}
        return frozenset(known)

    def knowledge(self, corpus: Corpus, as_of: str | None = None) -> SearchFilter:
        points = self.story_points(corpus, as_of)
        return SearchFilter(kinds=("plot",), as_of=points, events=self.known_events(corpus, points))

    def memories_in(self, flt: SearchFilter) -> list[Memory]:
        """Memories whose cited sentences the filter admits (same rule as for passages)."""
        return [m for m in self.memories
                if flt.accepts({"work": m.work, "kind": "plot", "event_max": m.event_max,
                                "events": ",".join(m.events), "characters": ""})]

    def line(self, kind: str, lang: str, seed: int = 0) -> str:
        options = self.lines[kind].get(lang) or self.lines[kind]["en"]
        return options[seed % len(options)]


def _load_card(path: Path, corpus: Corpus) -> Card:
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"cannot read card {path}: {exc}") from None
    if not isinstance(d, dict) or not re.fullmatch(r"[a-z0-9_]+", str(d.get("id", ""))) or d["id"] != path.stem:
        raise CorpusError(f"{path}: a card needs an id (lower-case letters, digits, _) equal to its file name")
    segs = {(s.source_file, s.start): s for src in corpus.sources for s in src.segments}
    orders = {e.id: e.order for e in corpus.events}

    def cites(items, where):
        out = []
        for c in items:
            seg = segs.get((c["seed"], c["start"]))
            if seg is None:
                raise CorpusError(f"{path} {where}: no sentence starts at {c['seed']}:{c['start']}")
            if seg.kind != "plot":
                raise CorpusError(f"{path} {where}: cites the critic's opinion, which is no memory")
            out.append(seg)
        return out

    memories = []
    for i, m in enumerate(d.get("memories", [])):
        cited = cites(m["cites"], f"memory {i}")
        missing = [l for l in LANGUAGES if not (m["text"].get(l) or "").strip()]
        if missing:
            raise CorpusError(f"{path} memory {i}: missing text in {missing}")
        events = tuple(dict.fromkeys(e for s in cited for e in s.events))
        memories.append(Memory(dict(m["text"]), tuple((s.source_file, s.start) for s in cited), events,
                               cited[0].work, max(orders[e] for e in events)))
    for i, f in enumerate(d.get("facts", [])):
        cites(f["cites"], f"fact {i}")
    scope = d.get("scope") or {}
    try:
        return Card(d["id"], d["name"], tuple(d.get("aliases", [])), tuple(d["works"]), d["description"],
                    d.get("voice", ""), dict(d["as_of"]), frozenset(scope.get("events", [])),
                    scope.get("learns_all_at"), tuple(d.get("facts", [])), tuple(memories),
                    {k: d[k] for k in ("abstain", "refuse", "deflect")})
    except KeyError as exc:
        raise CorpusError(f"{path}: missing field {exc}") from None


_CACHE: dict[tuple, dict] = {}


def load_cards(cards_dir: Path = CARDS_DIR, corpus: Corpus | None = None) -> dict[str, Card]:
    corpus = corpus or load_corpus()
    paths = sorted(Path(cards_dir).glob("*.yaml"))
    key = (str(cards_dir), id(corpus), tuple((str(p), p.stat().st_mtime_ns) for p in paths))
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = {c.id: c for c in (_load_card(p, corpus) for p in paths)}
    return _CACHE[key]


def get_card(character: str, corpus: Corpus | None = None) -> Card:
    cards = load_cards(corpus=corpus)
    if character not in cards:
        raise UnknownNameError("character", character, cards)
    return cards[character]
