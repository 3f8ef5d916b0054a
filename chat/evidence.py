"""The evidence an answer is checked against, as ``Evidence`` units for the guard and verifier.

Design choices:
- A passage counts in every language, sentence by sentence: its original, both renderings, its
  paraphrase keys (not the reader questions among them: a question asserts nothing) and the
  paraphrase lexicon of its sentences. ``sentence_texts`` lists every such sentence of the corpus,
  so their vectors can be computed once and reused for every answer. A memory counts in all three languages, with the lexicon of the sentences it cites.
  The character's names and aliases are evidence for names only.
- Only passages and memories stand for what the sources say (similarity, negation, citations);
  keys, lexicon and names only widen the words a faithful restatement may use; the question's own
  words count only for a question asked back.
- ``more_hits``: a draft may rightly say what the question's passages do not hold; each of its
  sentences is searched for within the same scope and story point, and what is found joins the
  evidence (never beyond what the character may know).

    >>> units = units_for(corpus, card, hits, memories)
    >>> sorted({u.kind for u in units})
    ['key', 'lexicon', 'memory', 'name', 'passage']
"""
from __future__ import annotations

from retrieval.corpus import LANGUAGES
from chat.support import Evidence

VERIFY_K = 3   # passages searched per draft sentence


def _segments(corpus, chunk: dict):
    src = corpus.source_by_file(chunk["source_file"])
    return [s for s in src.segments if chunk["start"] <= s.start < chunk["end"]]


def _lexicon_units(segments, ref: int, group: str) -> list[Evidence]:
    return [Evidence(" ".join(w for s in segments for w in s.lexicon.get(lang, ())), lang, ref, "lexicon", group)
            for lang in LANGUAGES if any(s.lexicon.get(lang) for s in segments)]


def units_for(corpus, card, hits: list, memories: list, question: str = "") -> list[Evidence]:
    """Evidence units for these search hits and ``(memory, score)`` pairs; ``ref`` indexes them.
    The reader's ``question`` is a unit of its own kind: a question asked back may echo its words
    ("Acid?"), a statement may not (a false premise cannot vouch for itself)."""
    units = [Evidence(question, lang, -1, "question") for lang in LANGUAGES] if question else []
    for i, h in enumerate(hits):
        c, segments = h.chunk, _segments(corpus, h.chunk)
        for lang in LANGUAGES:   # sentence by sentence: what is compared is one sentence of the source
            units += [Evidence(t, lang, i, "passage", f"p{i}") for t in (seg.in_language(lang) for seg in segments) if t]
            units += [Evidence(k, lang, i, "key", f"p{i}") for k in c["keys"].get(lang, ()) if not k.rstrip().endswith("?")]
        units += _lexicon_units(segments, i, f"p{i}")
    for j, (m, _) in enumerate(memories):
        units += [Evidence(m.text[lang], lang, j, "memory", f"m{j}") for lang in LANGUAGES if m.text.get(lang)]
        cited = [s for seed, start in m.cites for s in corpus.source_by_file(seed).segments if s.start == start]
        units += _lexicon_units(cited, j, f"m{j}")
    for lang in LANGUAGES:
        units.append(Evidence(" ".join([card.name.get(lang, ""), *card.aliases]), lang, -1, "name"))
    return units


def sentence_texts(corpus) -> list[str]:
    """Every sentence of every source in every language (what passage units are made of)."""
    return list(dict.fromkeys(t for src in corpus.sources for seg in src.segments
                              for t in (seg.in_language(lang) for lang in LANGUAGES) if t))


def more_hits(searcher, sentences: list[str], flt, lang: str, have: list) -> list:
    """Passages (within ``flt``) that each draft sentence itself finds, not already in ``have``."""
    seen = {h.chunk["id"] for h in have}
    extra = []
    for s in sentences:
        for h in searcher.search(s, k=VERIFY_K, flt=flt, lang=lang):
            if h.chunk["id"] not in seen:
                seen.add(h.chunk["id"])
                extra.append(h)
    return extra
