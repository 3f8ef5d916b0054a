"""Sentence segmentation with character offsets into the original text.

Design choices:
- Offsets are Python string indices of the file read as UTF-8, so ``text[start:end]`` is the
  sentence exactly; every other layer (renderings, chunks, citations) speaks in these offsets.
- A rule-based splitter, not a model: the sources are a Russian review and a German summary
  whose punctuation is irregular (sentences glued without a space, ``?После``). A sentence ends at
  ``.``, ``!``, ``?`` or ``…`` (plus closing quotes) when the next non-space character opens a new
  sentence (an upper-case letter, a quote, a dash, a digit) or at a blank line / end of text.
  A single capital letter before the dot is an initial (``K.``, ``P.S.``), not a sentence end.

Worked example::

    >>> [(s.start, s.end) for s in split_sentences("Er geht. Sie bleibt!Ende")]
    [(0, 8), (9, 20), (20, 24)]
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_END = re.compile(r"[.!?…]+[\"'»“”„)]*")
_PUNCT_ONLY = re.compile(r"[\W_]+", re.UNICODE)
_OPENER = re.compile(r"[\"'«„“(\-–—\d]|[^\W\d_]", re.UNICODE)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def _is_initial(text: str, dot: int) -> bool:
    """True when the '.' at ``dot`` follows a lone capital letter (``K.``, ``P.S.``)."""
    if text[dot] != "." or dot == 0 or not text[dot - 1].isupper():
        return False
    return dot == 1 or not text[dot - 2].isalpha()


def _boundaries(text: str) -> list[int]:
    cuts: list[int] = []
    for m in _END.finditer(text):
        end = m.end()
        if _is_initial(text, m.start()) and m.end() - m.start() == 1:
            continue
        rest = text[end:]
        stripped = rest.lstrip()
        if not stripped:
            cuts.append(end)
            continue
        nxt = stripped[0]
        if nxt.isupper() or (_OPENER.match(nxt) and not nxt.islower()):
            cuts.append(end)
    return cuts


def split_sentences(text: str) -> list[Span]:
    """Split ``text`` into sentences; also cut at line breaks. Whitespace between spans is dropped.

    A piece made only of punctuation (``“`` after ``passiert. ``) joins the sentence before it.
    """
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        base, chunk = line.start(), line.group()
        prev = 0
        for cut in _boundaries(chunk) + [len(chunk)]:
            piece = chunk[prev:cut]
            lead = len(piece) - len(piece.lstrip())
            body = piece.strip()
            if body and spans and _PUNCT_ONLY.fullmatch(body):  # a stray closing quote
                last = spans.pop()
                end = base + prev + lead + len(body)
                spans.append(Span(last.start, end, text[last.start:end]))
            elif body:
                s = base + prev + lead
                spans.append(Span(s, s + len(body), body))
            prev = cut
    return spans
