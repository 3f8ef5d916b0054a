"""The model's draft, checked sentence by sentence while it is written: what passes is shown at
once and never taken back; the generation stops as soon as the answer is decided.

Design choices:
- ``sentences(deltas)`` turns streamed text into complete sentences (the last one is only
  complete when the stream ends, and a fragment cut by the token limit is dropped).
- ``Draft`` holds the decision. A sentence that passes the guard waits until the draft has
  *committed*: at least one waiting sentence answers the question (it rests on a passage retrieved
  for the question or on a memory that answers it, or it declines) and one speaks in the first
  person. From then on each passing sentence is shown as soon as it is checked. Failed sentences
  are dropped and listed. ``max_fails`` failures in a row (two by default; the chain allows a
  capable model's draft three) abandon the draft before it commits (the character's memories or an
  "I don't know" answer instead) and end it after.
- An *opener* that passes ("A letter?": the question given back, claiming nothing) is shown at once,
  before the draft commits: whatever follows it (the draft, or the memories or "I don't know" that
  replace an abandoned draft) reads on from it, so it is never taken back either.

    >>> d = Draft(check=guard_one, on_point=lambda v: True, first_person=lambda s: True)
    >>> [v.text for v in d.feed("I burned my face with liquid oxygen. ")]
    ['I burned my face with liquid oxygen.']
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator

from chat.guard import MAX_SENTENCES, near_repeat, words_of
from retrieval.segment import split_sentences

_END = re.compile(r"[.!?…][\"'»“”)]*$")
MAX_FAILS = 2


def sentences(deltas: Iterable[str]) -> Iterator[str]:
    """Complete sentences of a streamed text, in order; repeats and near-repeats (a looping model)
    are dropped, as ``dedupe_sentences`` does for a whole text."""
    buf, seen = "", []

    def fresh(text: str) -> bool:
        words = words_of(text)
        if not words or near_repeat(words, seen):
            return False
        seen.append(words)
        return True

    for delta in deltas:
        buf += delta
        spans = split_sentences(buf)
        if len(spans) > 1:          # everything but the last span is a finished sentence
            for sp in spans[:-1]:
                if fresh(sp.text):
                    yield sp.text
            buf = buf[spans[-2].end:]
    tail = buf.strip()
    if tail and _END.search(tail) and fresh(tail):   # a fragment cut by the token limit is no sentence
        yield tail


class Draft:
    def __init__(self, check: Callable, on_point: Callable, first_person: Callable[[str], bool],
                 max_fails: int = MAX_FAILS, opener: Callable[[str], bool] = lambda text: False):
        self.check, self.on_point, self.first_person, self.opener = check, on_point, first_person, opener
        self.max_fails = max_fails
        self.units: list = []       # the evidence of the last check (verdicts index into it)
        self.shown: list = []       # verdicts shown, in order
        self.waiting: list = []     # passed, not shown until the draft commits
        self.dropped: list = []
        self.committed = False
        self.done = False
        self._fails = 0

    def _commits(self) -> bool:
        return any(map(self.on_point, self.waiting)) and any(self.first_person(v.text) for v in self.waiting)

    def take(self, sentence: str) -> list:
        """Check one sentence; return the verdicts that may be shown now (possibly none)."""
        if self.done:
            return []
        v = self.check(sentence)
        if not v.supported:
            self.dropped.append(v)
            self._fails += 1
            self.done = self._fails >= self.max_fails
            return []
        self._fails = 0 if self.committed else self._fails
        if not (self.committed or self.shown or self.waiting) and self.opener(v.text):
            self.shown.append(v)
            return [v]
        self.waiting.append(v)
        if not self.committed and not self._commits():
            return []
        self.committed = True
        out, self.waiting = self.waiting, []
        self.shown += out
        self.done = len(self.shown) >= MAX_SENTENCES
        return out

    def feed(self, text: str) -> list:
        """All of ``text`` at once (tests, non-streaming callers)."""
        return [v for s in sentences([text]) for v in self.take(s)]
