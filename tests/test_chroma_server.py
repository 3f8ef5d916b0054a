"""Scale-out: the same ingest and search through a real `chroma run` server on 127.0.0.1."""
from core.config import load_settings
from retrieval.corpus import load_corpus
from retrieval.search import Searcher
from retrieval.store import PassageStore

from servers import chroma_server
from test_store import small_seeds  # noqa: F401  (fixture)


def test_ingest_and_search_through_a_chroma_server(tmp_path, small_seeds):  # noqa: F811
    with chroma_server(tmp_path / "chroma-server") as port:
        settings = load_settings({"data_dir": str(tmp_path / "unused"), "seeds_dir": str(small_seeds),
                                  "chroma_host": "127.0.0.1", "chroma_port": port}, env={})
        corpus = load_corpus(small_seeds)
        store = PassageStore(settings)
        assert store.ingest(corpus).added == ["film_review_ru", "extra_de"]
        assert PassageStore(settings).ingest(corpus).skipped == ["film_review_ru", "extra_de"]
        hits = Searcher(settings, corpus=corpus).search("Who is the second heroine?", k=3)
        assert any("second_heroine" in h.chunk["events"] for h in hits)
        assert not (tmp_path / "unused" / "chroma").exists()  # nothing went to the embedded store


def test_unreachable_chroma_server_is_a_clear_error(tmp_path):
    from conftest import free_port
    import pytest
    from core.errors import StoreError

    settings = load_settings({"data_dir": str(tmp_path), "chroma_host": "127.0.0.1", "chroma_port": free_port()}, env={})
    with pytest.raises(StoreError, match="Chroma server 127.0.0.1"):
        PassageStore(settings).ingest(load_corpus())
