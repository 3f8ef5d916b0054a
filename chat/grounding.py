"""What a list of evidence units grounds: the words a sentence may use without claiming anything new.

Design choices:
- Per language, the stems and six-letter word starts of every unit's content words (a stem match
  takes "healed" for "heal"; a word start takes "Verbände" for "Verbänden"), the numbers the units
  state, and their raw text (names are looked up in it).
- Per *group* (a passage with its keys and lexicon, a memory) the stems too, so that ``coherence``
  can tell a restatement of one passage (1.0) from a sentence stitched from words of several.
- A German compound counts as grounded when its tail is grounded and its head is grounded or a
  common word ("Hotel|zimmer").

Worked example::

    >>> v = Vocabulary([Evidence("I burned my face with liquid oxygen.", "en", 0, group="p0")])
    >>> v.grounds("burning", "en"), v.grounds("acid", "en")
    (True, False)
"""
from __future__ import annotations

from functools import lru_cache

from chat.claims import content_words, conversational, number_values, stem, zipf
from retrieval.corpus import LANGUAGES


@lru_cache(maxsize=32768)
def _read(text: str, lang: str) -> tuple[frozenset, frozenset, frozenset]:
    """One unit's content-word stems, six-letter word starts and numbers (a scope's vocabulary
    reads the same passages and memories answer after answer)."""
    words = content_words(text, lang)
    return (frozenset(stem(w, lang) for w in words), frozenset(w[:6] for w in words),
            frozenset(number_values(text, lang)))


class Vocabulary:
    """What the evidence grounds, per language: stems, word starts, raw text, numbers; and per group
    (a passage with its keys and lexicon, a memory) the stems, to see which group grounds what."""

    def __init__(self, units: list):   # of chat.support.Evidence (text, lang, group)
        self.stems = {lg: set() for lg in LANGUAGES}
        self.starts = {lg: set() for lg in LANGUAGES}
        self.groups: dict[str, dict[str, set]] = {}
        self.numbers: set[int] = set()
        texts = []
        for u in units:
            if u.lang not in self.stems:
                continue
            texts.append(u.text.lower())
            stems, starts, numbers = _read(u.text, u.lang)
            self.stems[u.lang] |= stems
            self.starts[u.lang] |= starts
            self.numbers |= numbers
            if u.group:
                self.groups.setdefault(u.group, {lg: set() for lg in LANGUAGES})[u.lang] |= stems
        self.text = " ".join(texts)

    def coherence(self, words: list[str], lang: str) -> float:
        """Share of these (grounded) words that one group grounds on its own: a restatement of one
        passage scores 1.0; a sentence stitched from words of different passages scores less."""
        if len(words) < 2 or not self.groups:
            return 1.0
        stems = [stem(w, lang) for w in words]
        return max(sum(s in g[lang] for s in stems) for g in self.groups.values()) / len(stems)

    def _known(self, word: str, lang: str) -> bool:
        return stem(word, lang) in self.stems[lang] or (len(word) >= 6 and word[:6] in self.starts[lang])

    def grounds(self, word: str, lang: str) -> bool:
        if conversational(word, lang) or self._known(word, lang):
            return True
        if lang == "de" and len(word) >= 8:  # a compound of grounded (or common) parts: Hotel|zimmer
            for i in range(3, len(word) - 3):
                head, tail = word[:i], word[i:]
                head = head[:-1] if head.endswith("s") and len(head) > 4 else head
                if self._known(tail, lang) and (self._known(head, lang) or zipf(head, lang) >= 4.0):
                    return True
        return False
