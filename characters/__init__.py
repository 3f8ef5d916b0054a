"""Persona cards: ``characters/<id>.yaml`` (data) loaded and validated here.

Design choices:
- A card is data: name, aliases, works, voice, default story point per work (``as_of``), knowledge
  scope, cited facts, first-person memories in en/ru/de citing sentences of the sources,
  in-character lines for abstaining, refusing and deflecting, and what readers ask of the character
  that the texts never tell (``untold``: reader questions per language, answered "I don't know" or
  the character's own line for it, never with a neighbouring memory). Logic never hard-codes a character.
- A memory's events are derived from the sentences it cites, so story time and scope apply to
  memories exactly as to passages. Opinions (the critic's) can never be cited by a memory.
- ``Card.knowledge(corpus, as_of)`` turns scope + story point into one ``SearchFilter``; every
  retrieval for a character goes through it, so nothing outside it can reach the prompt.

    >>> card = get_card("k")
    >>> sorted(card.knowledge(load_corpus()).events)
    ['artificial_finger', 'meeting_k']
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from characters.schema import CardError, validate
from core.errors import UnknownNameError, UsageError
from core.yamltext import load_yaml
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
    questions: dict = field(default_factory=dict)   # lang -> reader questions this memory answers
    known: str = "present"          # how the speaker knows it: present | told by <id> | witnessed | from the notebooks
    after: int = 0                  # story order from which the speaker knows it (0: as soon as it happened)
    order: int = 0                  # its place in the card: memories told from one sentence follow in this order


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
    untold: tuple[dict, ...] = ()    # what readers ask that the texts never tell: per question, lang -> phrasings,
    #                                  and "says": lang -> the character's own lines for it (optional)

    def story_points(self, corpus: Corpus, as_of=None) -> tuple[Event, ...]:
        """The story point per work the character speaks from: the card's default one per work, or,
        given ``as_of`` (one event id, or several, one per work, as a group interview sets them),
        those of this character's works it names, and only those works: the hero asked at the
        novel's bus stop does not know yet how the film ends (a character none of whose works is
        named keeps the defaults)."""
        points = {w: corpus.event(e) for w, e in self.as_of.items()}
        if isinstance(as_of, str) and as_of:
            ev = corpus.event(as_of)
            if ev.work not in self.works:
                raise UsageError(f"{self.id} is not in the {ev.work}; choose an event of: {', '.join(self.works)}")
            return (ev,)
        if as_of:
            events = [corpus.event(e) for e in as_of if e]
            if len({e.work for e in events}) != len(events):
                raise UsageError("give at most one story point per work")
            named = {e.work: e for e in events if e.work in self.works}
            if named:
                return tuple(named[w] for w in self.works if w in named)
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
        return SearchFilter(kinds=("plot", "portrait"), as_of=points, events=self.known_events(corpus, points),
                            portraits_of=frozenset({self.id}))

    def memories_in(self, flt: SearchFilter) -> list[Memory]:
        """Memories whose cited sentences the filter admits (same rule as for passages), and that the
        speaker has learned by the story point (what she read in the notebooks, only once she has)."""
        return [m for m in self.memories
                if flt.accepts({"work": m.work, "kind": "plot", "event_max": max(m.event_max, m.after),
                                "events": ",".join(m.events), "characters": ""})]

    def untold_lines(self, asked: str, lang: str) -> list[str]:
        """The character's own lines for the untold question phrased ``asked`` (none when that
        entry has no ``says``, or none in ``lang``)."""
        group = next((g for g in self.untold if any(asked in qs for k, qs in g.items() if k != "says")), {})
        return list(group.get("says", {}).get(lang, ()))

    def options(self, kind: str, lang: str) -> list[str]:
        """Every wording of a line kind in ``lang`` (English where the card has none)."""
        return self.lines[kind].get(lang) or self.lines[kind]["en"]


def _load_card(path: Path, corpus: Corpus) -> Card:
    """A card file, validated field by field (``characters.schema``) before anything uses it."""
    try:
        d = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CardError(f"cannot read it: {' '.join(str(exc).split())[:200]}") from None
    validate(d, corpus)
    if d["id"] != path.stem:
        raise CardError(f"card field id: {d['id']!r} differs from the file name {path.name}")
    segs = {(s.source_file, s.start): s for src in corpus.sources for s in src.segments}
    orders = {e.id: e.order for e in corpus.events}
    scope = d["scope"]
    memories = []
    for no, m in enumerate(d.get("memories", [])):
        cited = [segs[(c["seed"], c["start"])] for c in m["cites"]]
        events = tuple(dict.fromkeys(e for s in cited for e in s.events))
        known = m.get("known", "present")
        after = orders[scope["learns_all_at"]] if known == "from the notebooks" else 0
        memories.append(Memory(dict(m["text"]), tuple((s.source_file, s.start) for s in cited), events,
                               cited[0].work, max(orders[e] for e in events),
                               {lang: tuple(q) for lang, q in (m.get("questions") or {}).items()}, known, after, no))
    return Card(d["id"], d["name"], tuple(d.get("aliases", [])), tuple(d["works"]), d["description"],
                d.get("voice", ""), dict(d["as_of"]), frozenset(scope.get("events", [])),
                scope.get("learns_all_at"), tuple(d.get("facts", [])), tuple(memories),
                {k: d[k] for k in ("abstain", "refuse", "deflect")},
                tuple({k: ({lang: tuple(xs) for lang, xs in v.items()} if k == "says" else tuple(v))
                       for k, v in g.items()} for g in d.get("untold") or ()))


_CACHE: dict[tuple, tuple[dict, list]] = {}
_REPORTED: set[tuple] = set()


def _load_all(cards_dir: Path, corpus: Corpus) -> tuple[dict, list]:
    paths = sorted(Path(cards_dir).glob("*.yaml"))
    key = (str(cards_dir), id(corpus), tuple((str(p), p.stat().st_mtime_ns) for p in paths))
    if key not in _CACHE:
        _CACHE.clear()
        cards, problems = {}, []
        for p in paths:
            try:
                card = _load_card(p, corpus)
                cards[card.id] = card
            except CardError as exc:   # one bad card never takes the others down
                problems.append(f"{p.name} was left out: {' '.join(str(exc).split())}")
        _CACHE[key] = (cards, problems)
    return _CACHE[key]


def load_cards(cards_dir: Path = CARDS_DIR, corpus: Corpus | None = None) -> dict[str, Card]:
    """Every card that passes validation; each one that does not is reported once, on stderr."""
    cards, problems = _load_all(Path(cards_dir), corpus or load_corpus())
    for line in problems:
        if (str(cards_dir), line) not in _REPORTED:
            _REPORTED.add((str(cards_dir), line))
            print(f"warning: {line}", file=sys.stderr)
    return cards


def card_problems(cards_dir: Path = CARDS_DIR, corpus: Corpus | None = None) -> list[str]:
    """One line per card file that was left out, and why."""
    return list(_load_all(Path(cards_dir), corpus or load_corpus())[1])


def get_card(character: str, corpus: Corpus | None = None) -> Card:
    cards = load_cards(corpus=corpus)
    if character not in cards:
        raise UnknownNameError("character", character, cards)
    return cards[character]
