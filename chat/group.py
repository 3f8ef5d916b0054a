"""A group interview: one question to several characters, each answering from their own scope.

Design choices:
- A group is only a list of character ids and one story point per work. Each character's answer
  is an ordinary ``Interviewer.stream`` call with that character's card, so everything a single
  interview guarantees holds per character: their own knowledge filter, memories, guard, sources.
  Nothing one character says or retrieves is passed to another (each keeps their own history).
- The story points apply per work: an event of the novel sets the novel's characters' point and
  leaves the film's alone. An event none of the group lives in is a usage error.
- A message may be addressed to one member: ``@wife did you know?`` goes to the wife only.

    >>> g = Group(["hero", "wife"], as_of=["bus_stop"])
    >>> g.addressed("@wife did you know?")
    (['wife'], 'did you know?')
    >>> for character, event in g.stream(interviewer, "Who was the man at the bus stop?"):  # doctest: +SKIP
    ...     ...   # {"sentence": ...} events, then {"answer": Answer}, per character in turn
"""
from __future__ import annotations

import re

from characters import get_card
from core.errors import UsageError

_ADDRESS = re.compile(r"^\s*@([a-z0-9_-]+)[\s,:]+(.*)$", re.S)


class Group:
    def __init__(self, characters: list[str], as_of: list[str] | str | None = None, corpus=None):
        ids = [get_card(c, corpus).id for c in characters]   # an unknown id is one line, before anything loads
        if len(set(ids)) != len(ids):
            raise UsageError("name each character once")
        self.characters = ids
        events = [as_of] if isinstance(as_of, str) else [e for e in (as_of or []) if e]
        self.as_of = _story_points(ids, events, corpus)
        self.histories: dict[str, list[dict]] = {c: [] for c in ids}

    def addressed(self, message: str) -> tuple[list[str], str]:
        """Who a message is for (``@id question``: that member only) and the question itself."""
        m = _ADDRESS.match(message)
        if not m:
            return self.characters, message
        if m.group(1) not in self.characters:
            raise UsageError(f"@{m.group(1)} is not in this group; address one of: {', '.join(self.characters)}")
        return [m.group(1)], m.group(2)

    def stream(self, interviewer, message: str, lang: str | None = None, remember: bool = True):
        """Yield ``(character, event)`` for each member the message is for, one after the other."""
        members, question = self.addressed(message)
        for c in members:
            for event in interviewer.stream(c, question, history=self.histories[c], as_of=self.as_of, lang=lang):
                yield c, event
                if "answer" in event and remember:
                    self.histories[c] += [{"role": "user", "content": question},
                                          {"role": "assistant", "content": event["answer"].answer}]

    def answers(self, interviewer, message: str, lang: str | None = None) -> list:
        return [e["answer"] for _, e in self.stream(interviewer, message, lang) if "answer" in e]


def _story_points(ids: list[str], events: list[str], corpus) -> list[str] | str | None:
    """One character: the event as given (its own errors); a group: per work, checked."""
    if len(ids) == 1:
        if len(events) > 1:
            raise UsageError("give one --as-of for one character")
        return events[0] if events else None
    if corpus is None:
        from retrieval.corpus import load_corpus
        corpus = load_corpus()
    works = {w for c in ids for w in get_card(c, corpus).works}
    for e in events:
        ev = corpus.event(e)
        if ev.work not in works:
            raise UsageError(f"no one in this group is in the {ev.work}; choose events of: {', '.join(sorted(works))}")
    get_card(ids[0], corpus).story_points(corpus, events)   # one per work, or a one-line error
    return events
