"""Language detection and BM25 over the text in the query's language.

Design choices:
- Language identification is a cheap rule (Cyrillic share, then German cue words and letters):
  the product knows only en / ru / de, and queries are short.
- Tokens are lower-cased words, Snowball-stemmed per language (``snowballstemmer``, pure Python),
  with a short stop-word list per language kept in ``stopwords.yaml``.
- BM25 (Okapi, k1=1.5, b=0.75) with the per-document term weights precomputed into numpy posting
  arrays, so a query costs O(postings of its terms), which stays fast at 10^5 chunks.

Worked example::

    >>> detect_language("Почему вы купили пистолет?"), detect_language("Was hast du gesehen?")
    ('ru', 'de')
    >>> tokenize("The masks were changing", "en")
    ['mask', 'chang']
"""
from __future__ import annotations

import math
import re
import threading
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.yamltext import load_yaml

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYR = re.compile(r"[а-яё]", re.IGNORECASE)
_LAT = re.compile(r"[a-zäöüß]", re.IGNORECASE)
_STEMMER_NAMES = {"en": "english", "ru": "russian", "de": "german"}


@lru_cache(maxsize=1)
def _stopwords() -> dict[str, frozenset]:
    data = load_yaml((Path(__file__).with_name("stopwords.yaml")).read_text(encoding="utf-8"))
    return {lang: frozenset(words.split()) for lang, words in data.items()}


def detect_language(text: str) -> str:
    """'ru' if mostly Cyrillic, 'de' if German cue words/letters outweigh English ones, else 'en'."""
    cyr, lat = len(_CYR.findall(text)), len(_LAT.findall(text))
    if cyr > lat:
        return "ru"
    words = [w.lower() for w in _WORD.findall(text)]
    cues = _stopwords()
    de = sum(w in cues["de_cues"] for w in words) + 2 * len(re.findall(r"[äöüß]", text.lower()))
    en = sum(w in cues["en_cues"] for w in words)
    return "de" if de > en else "en"


_PER_THREAD = threading.local()


def _stemmer(lang: str):
    """One Snowball stemmer per language and thread (a stemmer object keeps state while it works)."""
    import snowballstemmer

    mine = _PER_THREAD.__dict__.setdefault("stemmers", {})
    if lang not in mine:
        mine[lang] = snowballstemmer.stemmer(_STEMMER_NAMES[lang])
    return mine[lang]


def tokenize(text: str, lang: str) -> list[str]:
    stop = _stopwords()[lang]
    words = [w for w in (m.lower().replace("ё", "е") for m in _WORD.findall(text)) if w not in stop]
    return _stemmer(lang).stemWords(words) if words else []


class BM25:
    """A small Okapi BM25 index over ``docs`` (already tokenized)."""

    def __init__(self, docs: list[list[str]], k1: float = 1.5, b: float = 0.75):
        self.n = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if self.n else 1.0
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                postings[term].append((i, tf))
        self._index: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, plist in postings.items():
            idx = np.fromiter((p[0] for p in plist), dtype=np.int64, count=len(plist))
            tf = np.fromiter((p[1] for p in plist), dtype=np.float32, count=len(plist))
            idf = math.log(1 + (self.n - len(plist) + 0.5) / (len(plist) + 0.5))
            norm = k1 * (1 - b + b * lengths[idx] / max(avg, 1e-9))
            self._index[term] = (idx, idf * tf * (k1 + 1) / (tf + norm))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        for term in set(query_tokens):
            hit = self._index.get(term)
            if hit is not None:
                out[hit[0]] += hit[1]
        return out
