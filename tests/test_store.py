"""Ingest into a real embedded Chroma: idempotent, change-detecting, crash-safe."""
import shutil
import subprocess
import sys
import textwrap

import pytest

from core.config import SEEDS_DIR, load_settings
from retrieval.chunking import chunk_corpus
from retrieval.corpus import load_corpus
from retrieval.store import PassageStore, chunk_records

from conftest import ROOT


def expected_ids(corpus, settings):
    return {r[0] for c in chunk_corpus(corpus, settings.chunk_tokens, settings.chunk_overlap) for r in chunk_records(c)}


def test_ingest_is_idempotent_and_complete(fresh_settings):
    corpus = load_corpus()
    store = PassageStore(fresh_settings)
    first = store.ingest(corpus)
    assert sorted(first.added) == sorted(s.id for s in corpus.sources)
    assert set(store.passages().get()["ids"]) == expected_ids(corpus, fresh_settings)
    second = PassageStore(fresh_settings).ingest(corpus)  # a new process would see the same
    assert second.added == [] and sorted(second.skipped) == sorted(first.added) and second.records == 0
    assert store.is_current(corpus)


def test_changed_source_is_replaced_and_removed_source_is_dropped(tmp_path, fresh_settings):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)
    settings = load_settings({"data_dir": fresh_settings.data_dir, "seeds_dir": str(seeds)}, env={})
    store = PassageStore(settings)
    store.ingest(load_corpus(seeds))
    # edit one translation: only that source is re-embedded
    path = seeds / "renderings" / "000_77f1739700b8fbe3.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("10 out of 10", "ten out of ten"), encoding="utf-8")
    changed = load_corpus(seeds)
    report = store.ingest(changed)
    assert report.added == ["film_review_ru"] and report.skipped == ["novel_summary_de"]
    docs = store.passages().get(where={"source_id": "film_review_ru"}, include=["documents"])["documents"]
    assert any("ten out of ten" in d for d in docs) and not any("10 out of 10" in d for d in docs)
    assert set(store.passages().get()["ids"]) == expected_ids(changed, settings)
    # drop the review from the manifest: its records and marker go
    manifest = seeds / "manifest.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text[:text.index("  - id: film_review_ru")] + text[text.index("  - id: novel_summary_de"):],
                        encoding="utf-8")
    smaller = load_corpus(seeds)
    report = store.ingest(smaller)
    assert report.removed == ["film_review_ru"]
    assert not store.passages().get(where={"source_id": "film_review_ru"})["ids"]
    assert store.is_current(smaller)


KILLED_INGEST = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from core.config import load_settings
    from retrieval.corpus import load_corpus
    from retrieval.store import PassageStore
    def progress(n):
        print("batch", flush=True)
        time.sleep(30)  # the test kills us here, mid-ingest
    PassageStore(load_settings({{"data_dir": {data!r}}}, env={{}})).ingest(load_corpus(), progress=progress)
""")


def test_kill_9_during_ingest_then_rerun_leaves_a_complete_consistent_store(fresh_settings):
    code = KILLED_INGEST.format(root=str(ROOT), data=fresh_settings.data_dir)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "batch"  # one batch is written, the rest is not
    finally:
        proc.kill()
        proc.wait(timeout=30)
    corpus = load_corpus()
    store = PassageStore(fresh_settings)
    assert not store.is_current(corpus)  # the partial source has no valid marker
    report = store.ingest(corpus)
    assert report.added  # the interrupted source is redone
    assert store.is_current(corpus)
    got = store.passages().get()["ids"]
    assert len(got) == len(set(got)) and set(got) == expected_ids(corpus, fresh_settings)


def test_unwritable_data_dir_is_a_clear_store_error(tmp_path):
    from core.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = PassageStore(load_settings({"data_dir": str(blocker / "sub")}, env={}))
    with pytest.raises(StoreError, match="cannot open the vector store"):
        store.ingest(load_corpus())
