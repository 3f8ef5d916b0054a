"""The corpus on disk: the manifest, the story timeline and the aligned renderings.

Design choices:
- The seed ``.txt`` files are never edited; what the project adds lives beside them as data:
  ``manifest.yaml`` (one entry per source), ``events.yaml`` (the story timeline per work) and
  ``renderings/<stem>.yaml`` (per sentence of the original: offsets, the two translations made in
  this project, kind, events, characters, and optional search ``keys``: short plain-words
  paraphrases, first-person statements and reader questions per language, which retrieval
  indexes as extra entry points to the passage but never shows or cites); and
  ``lexicon/<stem>.yaml``, the words a faithful restatement of each sentence may use, which only
  the support check reads; and ``questions/<stem>.yaml``, reader questions per sentence written with
  the whole story in view (what the sentence answers or implies), indexed as more search keys.
- Loading validates everything a later layer relies on (offsets match the file, event ids exist,
  kinds are known) and raises ``CorpusError`` naming the file and the entry, so a bad edit to a
  data file fails at ``ingest`` with a message, not deep inside search.
- A source without a renderings file still works: it is split into sentences here, with the
  manifest's ``default_kind``, no events and no translations.

Worked example (the first sentence of the German summary)::

    >>> seg = load_corpus().sources[1].segments[0]
    >>> (seg.start, seg.end, seg.lang, seg.work, seg.events)
    (0, 192, 'de', 'novel', ('accident',))
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from core.config import SEEDS_DIR
from core.errors import CorpusError, UsageError
from core.yamltext import load_yaml
from retrieval.segment import split_sentences

LANGUAGES = ("en", "ru", "de")
KINDS = ("plot", "portrait", "opinion")   # what happens; the critic on a character's state and doings (known to
                                          # that character only); the critic's own view of the film
WORKS = ("novel", "film")


@dataclass(frozen=True)
class Event:
    id: str
    work: str
    order: int
    description: str


@dataclass(frozen=True)
class Segment:
    """One sentence of an original text with its renderings and tags."""

    source_id: str
    source_file: str
    start: int
    end: int
    lang: str
    text: str
    work: str
    kind: str
    events: tuple[str, ...]
    characters: tuple[str, ...]
    renderings: dict = field(hash=False, compare=False)
    keys: dict = field(default_factory=dict, hash=False, compare=False)  # lang -> search keys
    lexicon: dict = field(default_factory=dict, hash=False, compare=False)  # lang -> paraphrase words

    def in_language(self, lang: str) -> str:
        return self.text if lang == self.lang else self.renderings.get(lang, "")


@dataclass(frozen=True)
class Source:
    id: str
    file: str
    path: Path
    language: str
    work: str
    type: str
    description: str
    segments: tuple[Segment, ...]
    digest: str  # sha256 of the original and its renderings file: changes trigger re-ingest

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Corpus:
    sources: tuple[Source, ...]
    events: tuple[Event, ...]

    def event(self, event_id: str) -> Event:
        for ev in self.events:
            if ev.id == event_id:
                return ev
        raise UsageError(f"unknown event {event_id!r}; see `python app.py events` for the ids")

    def events_of(self, work: str | None = None) -> list[Event]:
        return [e for e in self.events if work is None or e.work == work]

    def source_by_file(self, name: str) -> Source:
        for s in self.sources:
            if s.file == name:
                return s
        raise UsageError(f"unknown source file {name!r}; known: {[s.file for s in self.sources]}")


def _read_yaml(path: Path):
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from None


def load_events(path: Path) -> tuple[Event, ...]:
    data = _read_yaml(path) or {}
    events, seen = [], set()
    for work, items in data.items():
        if work not in WORKS:
            raise CorpusError(f"{path}: unknown work {work!r}; expected one of {WORKS}")
        for order, item in enumerate(items, start=1):
            if item["id"] in seen:
                raise CorpusError(f"{path}: duplicate event id {item['id']!r}")
            seen.add(item["id"])
            events.append(Event(item["id"], work, order, item["description"]))
    return tuple(events)


def _lexicon(path: Path) -> dict[int, dict]:
    """``seeds/lexicon/<stem>.yaml``: per sentence start, per language, the words a faithful
    restatement may use (synonyms, word forms; never new facts). Used by the support check only."""
    if not path.is_file():
        return {}
    data = _read_yaml(path) or {}
    return {int(start): {lang: tuple(str(words).split()) for lang, words in entry.items() if lang in LANGUAGES}
            for start, entry in (data.get("segments") or {}).items()}


def _questions(path: Path) -> dict[int, dict]:
    """``seeds/questions/<stem>.yaml``: per sentence start, per language, reader questions the
    sentence answers; retrieval indexes them with the sentence's search keys."""
    if not path.is_file():
        return {}
    segments = (_read_yaml(path) or {}).get("segments") or {}
    if not isinstance(segments, dict):
        raise CorpusError(f"{path}: `segments` must map a sentence start to questions per language")
    out = {}
    for start, entry in segments.items():
        if not isinstance(start, int) or not isinstance(entry, dict) or not all(
                isinstance(qs, list) and all(isinstance(q, str) for q in qs) for qs in entry.values()):
            raise CorpusError(f"{path}: segment {start!r} needs a list of question strings per language")
        out[start] = {lang: tuple(qs) for lang, qs in entry.items() if lang in LANGUAGES}
    return out


def _segments_from_renderings(entry: dict, text: str, path: Path, event_ids: set) -> list[Segment]:
    data = _read_yaml(path)
    lexicon = _lexicon(path.parent.parent / "lexicon" / path.name)
    questions = _questions(path.parent.parent / "questions" / path.name)
    starts = {s["start"] for s in data.get("segments", [])}
    if set(questions) - starts:
        raise CorpusError(f"{path.parent.parent / 'questions' / path.name}: no sentence starts at "
                          f"{sorted(set(questions) - starts)[:5]}")
    out = []
    for i, s in enumerate(data.get("segments", [])):
        where = f"{path} segment {i}"
        if text[s["start"]:s["end"]] != s["original"]:
            raise CorpusError(f"{where}: offsets {s['start']}:{s['end']} do not match the original text")
        if s.get("kind") not in KINDS:
            raise CorpusError(f"{where}: kind must be one of {KINDS}")
        unknown = set(s.get("events", [])) - event_ids
        if unknown:
            raise CorpusError(f"{where}: unknown event ids {sorted(unknown)}")
        renderings = {lang: s[lang] for lang in LANGUAGES if lang != entry["language"] and s.get(lang)}
        keys = {lang: tuple(k) for lang, k in (s.get("keys") or {}).items() if lang in LANGUAGES}
        for lang, qs in questions.get(s["start"], {}).items():
            keys[lang] = keys.get(lang, ()) + qs
        out.append(Segment(entry["id"], entry["file"], s["start"], s["end"], entry["language"],
                           s["original"], entry["work"], s["kind"], tuple(s.get("events", [])),
                           tuple(s.get("characters", [])), renderings, keys, lexicon.get(s["start"], {})))
    return out


def _plain_segments(entry: dict, text: str) -> list[Segment]:
    return [Segment(entry["id"], entry["file"], sp.start, sp.end, entry["language"], sp.text,
                    entry["work"], entry.get("default_kind", "plot"), (), (), {})
            for sp in split_sentences(text)]


def load_corpus(seeds_dir: str | Path = SEEDS_DIR) -> Corpus:
    """Load (and cache until a file under ``seeds_dir`` changes) the corpus."""
    root = Path(seeds_dir).resolve()
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*")) if p.is_file())
    return _load_corpus(str(root), stamp)


@lru_cache(maxsize=4)
def _load_corpus(seeds_dir: str, _stamp: tuple) -> Corpus:
    root = Path(seeds_dir)
    manifest = _read_yaml(root / "manifest.yaml")
    events = load_events(root / manifest.get("events", "events.yaml"))
    event_ids = {e.id for e in events}
    sources = []
    for entry in manifest["sources"]:
        path = root / entry["file"]
        if entry.get("work") not in WORKS or entry.get("language") not in LANGUAGES:
            raise CorpusError(f"{root / 'manifest.yaml'}: source {entry.get('id')!r} needs work in "
                              f"{WORKS} and language in {LANGUAGES}")
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CorpusError(f"cannot read source {path}: {exc}") from None
        digest = hashlib.sha256(raw)
        rpath = root / entry["renderings"] if entry.get("renderings") else None
        if rpath and rpath.is_file():
            digest.update(rpath.read_bytes())
            qpath = rpath.parent.parent / "questions" / rpath.name
            digest.update(qpath.read_bytes() if qpath.is_file() else b"")
            segments = _segments_from_renderings(entry, text, rpath, event_ids)
        else:
            segments = _plain_segments(entry, text)
        sources.append(Source(entry["id"], entry["file"], path, entry["language"], entry["work"],
                              entry.get("type", "text"), entry.get("description", ""),
                              tuple(segments), digest.hexdigest()))
    return Corpus(tuple(sources), events)
