"""The seeds, their renderings and the timeline are consistent with each other and the files."""
import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from core.config import SEEDS_DIR
from core.errors import CorpusError
from retrieval.corpus import KINDS, LANGUAGES, load_corpus
from retrieval.segment import split_sentences

SHARED = SEEDS_DIR.parent.parent / "shared" / "seeds"
CORPUS = load_corpus()


@pytest.mark.parametrize("src", CORPUS.sources, ids=lambda s: s.id)
def test_seed_is_byte_identical_to_shared_copy(src):
    manifest = yaml.safe_load((SEEDS_DIR / "manifest.yaml").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["sources"] if e["id"] == src.id)
    data = src.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    if SHARED.is_dir():  # present in the workplace and in CI
        assert data == (SHARED / src.file).read_bytes()


def test_manifest_describes_both_sources():
    by_work = {s.work: s for s in CORPUS.sources}
    assert by_work["film"].language == "ru" and by_work["film"].type == "review"
    assert by_work["novel"].language == "de" and by_work["novel"].type == "summary"


@pytest.mark.parametrize("src", CORPUS.sources, ids=lambda s: s.id)
def test_renderings_tile_the_original_sentence_by_sentence(src):
    text = src.text()
    assert [(s.start, s.end) for s in src.segments] == [(p.start, p.end) for p in split_sentences(text)]
    covered = "".join(text[s.start:s.end] for s in src.segments)
    assert "".join(covered.split()) == "".join(text.split())


@pytest.mark.parametrize("src", CORPUS.sources, ids=lambda s: s.id)
def test_every_segment_has_both_translations_kind_and_events(src):
    events = {e.id for e in CORPUS.events_of(src.work)}
    for seg in src.segments:
        assert seg.kind in KINDS
        assert seg.events and set(seg.events) <= events, seg
        for lang in LANGUAGES:
            assert seg.in_language(lang).strip(), (lang, seg.start)


def test_review_marks_the_verdict_as_opinion_not_plot():
    review = next(s for s in CORPUS.sources if s.work == "film")
    verdict = next(s for s in review.segments if s.text == "10 из 10")
    assert verdict.kind == "opinion"
    prologue = review.segments[0]
    assert prologue.kind == "plot" and "doctor_prologue" in prologue.events


def test_every_event_is_covered_by_a_passage_and_passages_follow_story_order():
    for src in CORPUS.sources:
        orders = {e.id: e.order for e in CORPUS.events_of(src.work)}
        tagged = [e for seg in src.segments for e in seg.events]
        assert set(tagged) == set(orders), set(orders) - set(tagged)
        if src.work == "novel":  # the summary retells the novel in order
            firsts = [min(orders[e] for e in seg.events) for seg in src.segments]
            assert firsts == sorted(firsts)


def test_unknown_event_is_a_usage_error():
    from core.errors import UsageError

    with pytest.raises(UsageError, match="unknown event"):
        CORPUS.event("no_such_event")


def test_reader_questions_join_the_search_keys_of_their_sentence():
    """seeds/questions: questions written with the story in view are more ways into the sentence."""
    seg = next(s for s in CORPUS.sources[1].segments if "Geheimnisse" in s.text and "Sorgen" in s.text)
    assert any("erkannt" in k for k in seg.keys["de"])            # what the girl's line implies
    assert all(k.rstrip().endswith("?") for k in seg.keys["en"][-5:])   # questions: the verifier never reads them


@pytest.mark.parametrize("body, needle", [
    ("segments: [1, 2]", "must map a sentence start"),
    ("segments:\n  0:\n    en: [1, 2]", "list of question strings"),
    ("segments:\n  0:\n    en: Why?", "list of question strings"),
    ("segments:\n  7:\n    en: ['Why?']", "no sentence starts at"),
])
def test_a_bad_questions_file_names_itself(tmp_path, body, needle):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    (seeds / "questions" / "001_9c1f4272b3d58b6c.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(CorpusError, match=needle) as err:
        load_corpus(seeds)
    assert "questions/001_9c1f4272b3d58b6c.yaml" in str(err.value)
