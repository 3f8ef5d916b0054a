"""What a character card may hold: every field checked before anything uses it or writes it.

Design choices:
- Cards are files people share, so they are untrusted input. ``validate(doc, corpus)`` checks every
  field - types, lengths, allowed values, event ids that exist in the card's own works, citations
  that point at a plot sentence of a seed - and raises ``CardError`` naming the first bad field in
  one line (``memories[3].cites[0].start: no sentence of 001_….txt starts at 99999``).
- The id becomes a file name only after it matches ``ID_PATTERN`` (lower-case letters, digits,
  ``-`` and ``_``, at most 32 characters): ``../x``, ``/tmp/x`` or ``a.yaml`` never reach a path.
- Plain functions over dicts (no schema library): the rules are few, and each message says what to do.

    >>> validate({"id": "../../tmp/x", ...}, corpus)
    CardError: card field id: '../../tmp/x' is not allowed; use 1-32 lower-case letters, digits, - or _
"""
from __future__ import annotations

import re

from core.errors import UsageError
from retrieval.corpus import LANGUAGES, WORKS

ID_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
MAX_TEXT = 2000
MAX_ITEMS = 500
LINE_KINDS = ("abstain", "refuse", "deflect")
KNOWN = ("present", "witnessed", "from the notebooks")   # or "told by <character id>"


class CardError(UsageError):
    """A card that does not follow the schema; the message names the field."""


def _fail(where: str, what: str):
    raise CardError(f"card field {where}: {what}")


def _text(v, where: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(v, str) or not v.strip():
        _fail(where, "must be a non-empty string")
    if len(v) > limit:
        _fail(where, f"is {len(v)} characters; at most {limit}")
    return v


def _list(v, where: str, limit: int = MAX_ITEMS) -> list:
    if not isinstance(v, list):
        _fail(where, f"must be a list, got {type(v).__name__}")
    if len(v) > limit:
        _fail(where, f"has {len(v)} entries; at most {limit}")
    return v


def _by_lang(v, where: str, required=("en",), each=_text) -> dict:
    if not isinstance(v, dict):
        _fail(where, f"must be a mapping of languages ({', '.join(LANGUAGES)}), got {type(v).__name__}")
    unknown = set(v) - set(LANGUAGES)
    if unknown:
        _fail(where, f"unknown language {sorted(unknown)[0]!r}; use {', '.join(LANGUAGES)}")
    for lang in required:
        if lang not in v:
            _fail(f"{where}.{lang}", "is missing")
    return {lang: each(x, f"{where}.{lang}") for lang, x in v.items()}


def check_id(value) -> str:
    """The card id as a safe file name, or ``CardError``."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        _fail("id", f"{str(value)[:60]!r} is not allowed; use 1-32 lower-case letters, digits, - or _ "
                    "(starting with a letter)")
    return value


def _cites(v, where: str, segments: dict, speaker: str = "") -> list:
    for i, c in enumerate(_list(v, where, 20)):
        here = f"{where}[{i}]"
        if not isinstance(c, dict) or set(c) != {"seed", "start"}:
            _fail(here, "must be {seed: <source file>, start: <sentence offset>}")
        if not isinstance(c["seed"], str) or not isinstance(c["start"], int) or isinstance(c["start"], bool):
            _fail(here, "seed must be a file name and start a whole number")
        seg = segments.get((c["seed"], c["start"]))
        if seg is None:
            _fail(f"{here}.start", f"no sentence of {c['seed'][:60]} starts at {c['start']}")
        if seg.kind == "opinion":
            _fail(here, "cites the critic's opinion, which is no memory")
        if seg.kind == "portrait" and speaker not in seg.characters:
            _fail(here, "cites the critic on another character's inner state, which this one cannot know")
    if not v:
        _fail(where, "needs at least one citation")
    return v


def _event(v, where: str, events: dict, works=None) -> str:
    if not isinstance(v, str) or v not in events:
        _fail(where, f"unknown event {str(v)[:60]!r}; see `python app.py events`")
    if works is not None and events[v].work not in works:
        _fail(where, f"event {v!r} belongs to the {events[v].work}, not to the card's works")
    return v


def validate(doc, corpus) -> dict:
    """``doc`` checked field by field against the schema and the corpus; returns it unchanged."""
    if not isinstance(doc, dict):
        raise CardError("a card must be a mapping of fields (id, name, works, ...)")
    events = {e.id: e for e in corpus.events}
    segments = {(s.source_file, s.start): s for src in corpus.sources for s in src.segments}
    check_id(doc.get("id"))
    for field in ("name", "works", "description", "as_of", "scope", *LINE_KINDS):
        if field not in doc:
            _fail(field, "is missing")
    _by_lang(doc["name"], "name", each=lambda x, w: _text(x, w, 120))
    works = _list(doc["works"], "works", 2)
    if not works or any(w not in WORKS for w in works) or len(set(works)) != len(works):
        _fail("works", f"must list one or both of {', '.join(WORKS)}")
    _by_lang(doc["description"], "description")
    if "voice" in doc and doc["voice"] != "":
        _text(doc["voice"], "voice")
    for i, a in enumerate(_list(doc.get("aliases", []), "aliases", 50)):
        _text(a, f"aliases[{i}]", 80)
    if not isinstance(doc["as_of"], dict) or set(doc["as_of"]) != set(works):
        _fail("as_of", f"must give one story point (an event id) for each work: {', '.join(works)}")
    for work, ev in doc["as_of"].items():
        _event(ev, f"as_of.{work}", events, (work,))
    scope = doc["scope"]
    if not isinstance(scope, dict) or not set(scope) <= {"events", "learns_all_at"}:
        _fail("scope", "must be {events: [event ids], learns_all_at: <event id or null>}")
    for i, ev in enumerate(_list(scope.get("events", []), "scope.events", 100)):
        _event(ev, f"scope.events[{i}]", events, works)
    if scope.get("learns_all_at") is not None:
        _event(scope["learns_all_at"], "scope.learns_all_at", events, works)
    for i, f in enumerate(_list(doc.get("facts", []), "facts")):
        if not isinstance(f, dict):
            _fail(f"facts[{i}]", "must be {text, cites}")
        _text(f.get("text"), f"facts[{i}].text")
        _cites(f.get("cites"), f"facts[{i}].cites", segments, doc["id"])
    for i, m in enumerate(_list(doc.get("memories", []), "memories")):
        where = f"memories[{i}]"
        if not isinstance(m, dict) or not set(m) <= {"text", "cites", "questions", "known"}:
            _fail(where, "must be {text, cites, questions, known}")
        _by_lang(m.get("text"), f"{where}.text", required=LANGUAGES)
        _cites(m.get("cites"), f"{where}.cites", segments, doc["id"])
        _by_lang(m.get("questions", {}), f"{where}.questions", required=(),
                 each=lambda qs, w: [_text(q, f"{w}[{j}]", 300) for j, q in enumerate(_list(qs, w, 20))])
        known = m.get("known", "present")
        if not isinstance(known, str) or (known not in KNOWN and not re.fullmatch(r"told by [a-z][a-z0-9_-]{0,31}", known)):
            _fail(f"{where}.known", f"must be one of {', '.join(KNOWN)} or 'told by <character id>'")
        if known == "from the notebooks" and not scope.get("learns_all_at"):
            _fail(f"{where}.known", "needs scope.learns_all_at (when the notebooks are read)")
    for i, group in enumerate(_list(doc.get("untold", []), "untold", 100)):
        where = f"untold[{i}]"
        if isinstance(group, dict) and "says" in group:   # the character's own "I won't say" for it (optional)
            _by_lang(group["says"], f"{where}.says", required=(),
                     each=lambda xs, w: [_text(x, f"{w}[{j}]", 300) for j, x in enumerate(_list(xs, w, 5))]
                     if _list(xs, w, 5) else _fail(w, "needs at least one line"))
            group = {k: v for k, v in group.items() if k != "says"}
        asked = _by_lang(group, where, required=(),
                         each=lambda qs, w: [_text(q, f"{w}[{j}]", 300) for j, q in enumerate(_list(qs, w, 20))])
        if not any(asked.values()):
            _fail(where, "needs at least one reader question")
    for kind in LINE_KINDS:
        _by_lang(doc[kind], kind, each=lambda xs, w: [_text(x, f"{w}[{j}]", 500) for j, x in enumerate(_list(xs, w, 20))]
                 if _list(xs, w, 20) else _fail(w, "needs at least one line"))
    return doc
