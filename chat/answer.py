"""The answer record and its citations: what every path (generated, composed, abstained) returns.

Design choices:
- ``Answer`` is one flat record, serialised as is by ``ask --json``, the transcripts and the evals:
  the text, its path (``mode``), every sentence with its support and citations, the citations
  (sentences of the sources with offsets and English), what the guard dropped, and the context.
- ``Citations`` numbers the source sentences one answer cites, each once, whether it came from a
  passage, a memory or a verification unit.

    >>> c = Citations(corpus, hits)
    >>> c.of_memory(card.memories[0])          # indices into c.items
    [0]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from chat.support import Evidence


@dataclass
class Answer:
    character: str
    question: str
    answer: str
    mode: str                       # generated | composed | abstained
    abstained: bool
    language: str
    backend: str
    model: str
    sentences: list = field(default_factory=list)   # {text, supported, score, citations}
    citations: list = field(default_factory=list)   # {source_file, start, end, text, english, ...}
    dropped: list = field(default_factory=list)     # draft sentences the guard removed, with reasons
    partial: bool = False
    reason: str = ""
    as_of: dict = field(default_factory=dict)
    draft: str = ""                 # the model's raw text before the guard ("" when no model call)
    context: list = field(default_factory=list)     # passages the answer had: {source_file, start, end, ...}
    notes: list = field(default_factory=list)       # what the user should know (e.g. a verifier fallback)
    timings: dict = field(default_factory=dict)     # seconds per stage, first shown sentence, total

    def as_json(self) -> dict:
        return asdict(self)


def context_item(c: dict) -> dict:
    return {"source_file": c["source_file"], "start": c["start"], "end": c["end"], "text": c["text"],
            "language": c["lang"], "renderings": dict(c["renderings"])}


class Citations:
    """Numbered citations for one answer: sentences of the sources, with offsets and English."""

    def __init__(self, corpus, hits):
        self.corpus, self.hits, self.items, self._index = corpus, hits, [], {}

    def _add(self, key, item) -> int:
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append(item)
        return self._index[key]

    def of_chunk(self, c) -> int:
        return self._add((c["source_file"], c["start"], c["end"]), {
            "source_file": c["source_file"], "start": c["start"], "end": c["end"], "text": c["text"],
            "english": c["renderings"]["en"], "language": c["lang"], "work": c["work"], "kind": c["kind"]})

    def of_memory(self, memory) -> list[int]:
        out = []
        for seed, start in memory.cites:
            src = self.corpus.source_by_file(seed)
            seg = next(x for x in src.segments if x.start == start)
            out.append(self._add((seed, seg.start, seg.end), {
                "source_file": seed, "start": seg.start, "end": seg.end, "text": seg.text,
                "english": seg.in_language("en"), "language": seg.lang, "work": seg.work, "kind": seg.kind}))
        return out

    def of_unit(self, unit: Evidence, mems) -> list[int]:
        if unit.kind == "memory":
            return self.of_memory(mems[unit.ref][0])
        return [self.of_chunk(self.hits[unit.ref].chunk)]
