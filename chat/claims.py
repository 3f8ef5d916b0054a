"""What a sentence claims, word by word: its informative words (by wordfreq frequency), the
numbers it states (digits and number words, by value), the names in it, whether it declines. The
support check (``chat.verify``) holds these against the evidence; the word lists and patterns are
data (``verifier.yaml``).

    >>> number_values("Mir war zweiundfünfzig Tage lang schlecht.", "de"), names("I met Akira in Tokyo.", "en")
    ({52}, ['Akira', 'Tokyo'])
    >>> content_words("I didn't burn it.", "en")
    ['burn']
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path

from core.yamltext import load_yaml
from retrieval.lexical import _stemmer, _stopwords

WORD = re.compile(r"[^\W\d_][^\W_]*", re.UNICODE)
_NOT = re.compile(r"n['’]t\b", re.IGNORECASE)
_CONTRACTION = re.compile(r"['’](s|re|ve|ll|d|m)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
NAME_ZIPF = 3.0          # a German capitalised word this rare is taken for a name (where a name is asked for)


@lru_cache(maxsize=1)
def settings_data() -> dict:
    return load_yaml(Path(__file__).with_name("verifier.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _number_words() -> dict[str, dict[str, int]]:
    return {lang: {w: int(v) for w, v in table.items()} for lang, table in settings_data()["numbers"].items()}


@lru_cache(maxsize=1)
def _discourse_stems() -> dict[str, frozenset]:
    return {lang: frozenset(stem(w, lang) for w in words.split()) for lang, words in settings_data()["discourse"].items()}


@lru_cache(maxsize=65536)
def conversational(word: str, lang: str) -> bool:
    """A word that carries no story fact, in any of its forms ("zugebe" as "zugeben", "admits" as "admit")."""
    return stem(word, lang) in _discourse_stems()[lang]


@lru_cache(maxsize=1)
def negations() -> dict[str, re.Pattern]:
    return {lang: re.compile(p, re.IGNORECASE) for lang, p in settings_data()["negation"].items()}


@lru_cache(maxsize=1)
def _declines() -> dict[str, re.Pattern]:
    return {lang: re.compile(re.sub(r"\|\s+", "|", p.strip()), re.IGNORECASE)
            for lang, p in settings_data()["declines"].items()}


def declines(text: str, lang: str) -> bool:
    """The sentence declines to answer ("I won't say.", "Не скажу.", "Das weiß ich nicht.")."""
    return bool(_declines()[lang].search(text))


@lru_cache(maxsize=4096)
def sentences_of(text: str) -> tuple[str, ...]:
    from retrieval.segment import split_sentences

    return tuple(sp.text for sp in split_sentences(text)) or (text,)


TOP_WORDS = 30000        # the commonest words per language whose stems get a frequency
_STEM_ZIPF: dict[str, dict[str, float]] = {}


def _count_stems(lang: str) -> dict[str, float]:
    """The Zipf frequency of each stem's most frequent form, over the language's TOP_WORDS commonest
    words: "unserem" and "fragten" count as often as "unser" and "fragen" (about 3 s a language)."""
    from wordfreq import top_n_list, zipf_frequency

    out: dict[str, float] = {}
    for w in top_n_list(lang, TOP_WORDS):
        out.setdefault(stem(w, lang), zipf_frequency(w, lang))
    return out


def _stem_file(cache_dir: Path, lang: str) -> Path:
    """One file per language and version of the word list and the stemmer that made it."""
    from importlib.metadata import version

    made_by = json.dumps([lang, TOP_WORDS, version("wordfreq"), version("snowballstemmer")])
    return cache_dir / f"stem-zipf-{lang}-{hashlib.sha256(made_by.encode()).hexdigest()[:16]}.json"


def _cached_stems(cache_dir: Path, lang: str) -> dict[str, float]:
    """The counted stems from ``cache_dir`` when there (a few ms), else counted and saved there. A
    file that cannot be read is counted again and rewritten; a read-only dir only costs the count."""
    path = _stem_file(cache_dir, lang)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(table, dict) and all(isinstance(v, float) for v in table.values()):
            return table
    except (OSError, ValueError):
        pass
    table = _count_stems(lang)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)    # whole or absent, also with several processes on one data dir
    except OSError:
        pass
    return table


def _stem_frequencies(lang: str) -> dict[str, float]:
    if lang not in _STEM_ZIPF:
        _STEM_ZIPF[lang] = _count_stems(lang)
    return _STEM_ZIPF[lang]


def load_frequencies(langs, cache_dir: str | Path | None = None) -> None:
    """Read these languages' word frequencies now, not at a reader's first question: from
    ``cache_dir`` (the data dir's cache) when given, so a new process does not count them again."""
    for lang in langs:
        if lang not in _STEM_ZIPF and cache_dir is not None:
            _STEM_ZIPF[lang] = _cached_stems(Path(cache_dir), lang)
        zipf("the", lang)


@lru_cache(maxsize=65536)
def zipf(word: str, lang: str) -> float:
    """How common a word is (wordfreq's Zipf scale), by its commonest form."""
    from wordfreq import zipf_frequency

    return max(zipf_frequency(word, lang), _stem_frequencies(lang).get(stem(word, lang), 0.0))


@lru_cache(maxsize=65536)
def stem(word: str, lang: str) -> str:
    return _stemmer(lang).stemWord(word)


def content_words(text: str, lang: str) -> list[str]:
    """Lower-cased words that are not stop words ("isn't" -> "is"): ``"I didn't burn it."`` -> ``['burn']``."""
    if lang == "en":
        text = _CONTRACTION.sub("", _NOT.sub(" not", text.replace("can't", "can not").replace("won't", "will not")))
    stop = _stopwords()[lang]
    words = (w.lower().replace("ё", "е") for w in WORD.findall(text))
    return [w for w in words if len(w) > 1 and w not in stop]


def number_values(text: str, lang: str) -> set[int]:
    """Numbers a text states, by value: digits and number words (compounds by their parts)."""
    values = {int(n) for n in _NUMBER.findall(text)}
    table = _number_words().get(lang, {})
    for w in (w.lower().replace("ё", "е") for w in WORD.findall(text)):
        if w in table:
            values.add(table[w])
        elif lang == "de" and "und" in w:  # zweiundfünfzig
            parts = w.split("und", 1)
            if parts[0] in table and parts[1] in table:
                values.add(table[parts[0]] + table[parts[1]])
    return values


def names(sentence: str, lang: str, rare_nouns: bool = False) -> list[str]:
    """Capitalised words inside an English or Russian sentence (not after . ! ? : or a dash);
    German capitalises every noun, so its names are left to the informative-word check - unless
    ``rare_nouns``: then German capitalised words rarer than ``NAME_ZIPF`` count."""
    if lang == "de":
        return [w for w in WORD.findall(sentence)[1:] if rare_nouns and w[0].isupper() and zipf(w, lang) < NAME_ZIPF]
    out = []
    for m in WORD.finditer(sentence):
        before = sentence[:m.start()].rstrip()
        w = m.group()
        if before and before[-1] not in ".!?:;—–-\"«„“" and w[0].isupper() and len(w) > 1 and w != "I":
            out.append(w)
    return out
