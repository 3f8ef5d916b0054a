import pytest

from core.errors import UsageError
from retrieval.chunking import chunk_corpus, chunk_segments, count_tokens
from retrieval.corpus import load_corpus

CORPUS = load_corpus()


@pytest.mark.parametrize("max_tokens,overlap", [(40, 0), (60, 0), (60, 20), (200, 50)])
def test_chunks_respect_sentence_boundaries_and_token_budget(max_tokens, overlap):
    chunks = chunk_corpus(CORPUS, max_tokens, overlap)
    for src in CORPUS.sources:
        text = src.text()
        starts = {s.start for s in src.segments}
        ends = {s.end for s in src.segments}
        mine = [c for c in chunks if c.source_id == src.id]
        for c in mine:
            assert c.start in starts and c.end in ends
            assert c.text == text[c.start:c.end]
            sentences = [s for s in src.segments if c.start <= s.start and s.end <= c.end]
            assert len(sentences) == 1 or count_tokens(c.text) <= max_tokens + 2 * len(sentences)
            assert len({s.kind for s in sentences}) == 1
        # every sentence is in some chunk
        for s in src.segments:
            assert any(c.start <= s.start and s.end <= c.end for c in mine)


def test_overlap_repeats_sentences_and_zero_overlap_does_not():
    plain = chunk_corpus(CORPUS, 60, 0)
    over = chunk_corpus(CORPUS, 60, 30)
    assert len(over) > len(plain)
    for a, b in zip(plain, plain[1:]):
        if a.source_id == b.source_id:
            assert b.start >= a.end


def test_chunk_keeps_provenance_renderings_and_tags():
    chunk = chunk_corpus(CORPUS, 60, 0)[0]
    assert chunk.source_file == "000_77f1739700b8fbe3.txt" and chunk.lang == "ru" and chunk.work == "film"
    assert set(chunk.renderings) == {"en", "de"} and all(chunk.renderings.values())
    assert chunk.events and chunk.event_max >= 1
    assert chunk.id == f"{chunk.source_id}:{chunk.start}-{chunk.end}"


def test_bad_chunk_settings_are_usage_errors():
    with pytest.raises(UsageError):
        chunk_segments(CORPUS.sources[0].segments, max_tokens=10, overlap=10)
