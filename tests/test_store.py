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


EXTRA = "Die Maske liegt im Schrank. Er nimmt die Windpistole. Seine Frau kommt nicht zurück."


@pytest.fixture
def small_seeds(tmp_path):
    """The film review plus a new, untranslated source: real data, a quarter of the embedding work."""
    seeds = tmp_path / "seeds"
    (seeds / "renderings").mkdir(parents=True)
    for name in ("000_77f1739700b8fbe3.txt", "events.yaml", "renderings/000_77f1739700b8fbe3.yaml"):
        shutil.copy(SEEDS_DIR / name, seeds / name)
    (seeds / "extra.txt").write_text(EXTRA, encoding="utf-8")
    (seeds / "manifest.yaml").write_text(textwrap.dedent("""
        events: events.yaml
        sources:
          - {id: film_review_ru, file: 000_77f1739700b8fbe3.txt, language: ru, work: film, type: review,
             renderings: renderings/000_77f1739700b8fbe3.yaml}
          - {id: extra_de, file: extra.txt, language: de, work: novel, type: note, default_kind: plot}
    """), encoding="utf-8")
    return seeds


def settings_for(seeds, data_dir):
    return load_settings({"data_dir": str(data_dir), "seeds_dir": str(seeds)}, env={})


def expected_ids(corpus, settings):
    return {r[0] for c in chunk_corpus(corpus, settings.chunk_tokens, settings.chunk_overlap) for r in chunk_records(c)}


def test_ingest_is_idempotent_and_complete(small_seeds, tmp_path):
    fresh_settings = settings_for(small_seeds, tmp_path / "data")
    corpus = load_corpus(small_seeds)
    store = PassageStore(fresh_settings)
    first = store.ingest(corpus)
    assert sorted(first.added) == sorted(s.id for s in corpus.sources)
    assert set(store.passages().get()["ids"]) == expected_ids(corpus, fresh_settings)
    second = PassageStore(fresh_settings).ingest(corpus)  # a new process would see the same
    assert second.added == [] and sorted(second.skipped) == sorted(first.added) and second.records == 0
    assert store.is_current(corpus)


def test_changed_source_is_replaced_and_removed_source_is_dropped(small_seeds, tmp_path):
    seeds = small_seeds
    settings = settings_for(seeds, tmp_path / "data")
    store = PassageStore(settings)
    store.ingest(load_corpus(seeds))
    # edit one translation: only that source is re-embedded
    path = seeds / "renderings" / "000_77f1739700b8fbe3.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("10 out of 10", "ten out of ten"), encoding="utf-8")
    changed = load_corpus(seeds)
    report = store.ingest(changed)
    assert report.added == ["film_review_ru"] and report.skipped == ["extra_de"]
    docs = store.passages().get(where={"source_id": "film_review_ru"}, include=["documents"])["documents"]
    assert any("ten out of ten" in d for d in docs) and not any("10 out of 10" in d for d in docs)
    assert set(store.passages().get()["ids"]) == expected_ids(changed, settings)
    # drop the review from the manifest: its records and marker go
    manifest = seeds / "manifest.yaml"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    keep = [l for l in lines if "film_review_ru" not in l and "renderings/000" not in l]
    manifest.write_text("".join(keep), encoding="utf-8")
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
    settings = load_settings({{"data_dir": {data!r}, "seeds_dir": {seeds!r}}}, env={{}})
    PassageStore(settings).ingest(load_corpus({seeds!r}), progress=progress)
""")


def test_kill_9_during_ingest_then_rerun_leaves_a_complete_consistent_store(small_seeds, tmp_path):
    fresh_settings = settings_for(small_seeds, tmp_path / "data")
    code = KILLED_INGEST.format(root=str(ROOT), data=fresh_settings.data_dir, seeds=str(small_seeds))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "batch"  # one batch is written, the rest is not
    finally:
        proc.kill()
        proc.wait(timeout=30)
    corpus = load_corpus(small_seeds)
    store = PassageStore(fresh_settings)
    assert not store.is_current(corpus)  # the partial source has no valid marker
    report = store.ingest(corpus)
    assert report.added  # the interrupted source is redone
    assert store.is_current(corpus)
    got = store.passages().get()["ids"]
    assert len(got) == len(set(got)) and set(got) == expected_ids(corpus, fresh_settings)


def test_new_untranslated_source_is_searchable(small_seeds, tmp_path):
    from retrieval.search import Searcher

    searcher = Searcher(settings_for(small_seeds, tmp_path / "data"), corpus=load_corpus(small_seeds))
    hit = searcher.search("Windpistole", k=1)[0].chunk  # first use ingests automatically
    assert hit["source_file"] == "extra.txt" and "Windpistole" in hit["text"]
    assert hit["renderings"]["en"] == ""  # no rendering yet: only the original is indexed


def test_unwritable_data_dir_is_a_clear_store_error(tmp_path):
    from core.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = PassageStore(load_settings({"data_dir": str(blocker / "sub")}, env={}))
    with pytest.raises(StoreError, match="cannot open the vector store"):
        store.ingest(load_corpus())


class _Counting:
    """Fault-injection spy: the real e5 embedder, counting the texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.texts = inner, 0
        self.model_id = inner.model_id

    def embed_documents(self, texts):
        self.texts += len(texts)
        return self.inner.embed_documents(texts)


def test_a_store_on_a_shared_vector_cache_embeds_only_new_texts(small_seeds, tmp_path):
    from retrieval.embeddings import get_embedder

    corpus = load_corpus(small_seeds)
    cache = str(tmp_path / "cache" / "vectors.sqlite")
    first_settings = load_settings({"data_dir": str(tmp_path / "a"), "seeds_dir": str(small_seeds),
                                    "vector_cache": cache}, env={})
    first = _Counting(get_embedder())
    PassageStore(first_settings, embedder=first).ingest(corpus)
    n_texts = len({r[1] for c in chunk_corpus(corpus, 80, 40) for r in chunk_records(c)})
    assert first.texts == n_texts                  # each distinct text once

    second = _Counting(get_embedder())
    other = load_settings({"data_dir": str(tmp_path / "b"), "seeds_dir": str(small_seeds), "vector_cache": cache}, env={})
    store = PassageStore(other, embedder=second)
    store.ingest(corpus, force=True)
    assert second.texts == 0 and store.is_current(corpus)
    some = sorted(store.passages().get()["ids"])[::50]
    a = PassageStore(first_settings).passages().get(ids=some, include=["embeddings"])
    b = store.passages().get(ids=some, include=["embeddings"])
    assert len(some) > 3 and a["ids"] == b["ids"] and (a["embeddings"] == b["embeddings"]).all()

    (small_seeds / "extra.txt").write_text(EXTRA + " Er schweigt.", encoding="utf-8")
    store.ingest(load_corpus(small_seeds))
    assert 0 < second.texts < 10                   # only the changed chunks' texts


def test_a_broken_vector_cache_is_one_clear_line(small_seeds, tmp_path):
    from core.errors import StoreError

    cache = tmp_path / "vectors.sqlite"
    cache.write_bytes(b"not a database at all" * 100)
    settings = load_settings({"data_dir": str(tmp_path / "d"), "seeds_dir": str(small_seeds),
                              "vector_cache": str(cache)}, env={})
    with pytest.raises(StoreError, match="vector cache .* delete it") as err:
        PassageStore(settings).ingest(load_corpus(small_seeds))
    assert "\n" not in str(err.value)
