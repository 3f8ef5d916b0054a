"""Judges: decide, for one answer, which claims the passages support, which statements it makes,
and whether it declines. Two judges behind one interface, picked by name (``get_judge``).

Design choices:
- The interface is four calls (``claims``, ``supported``, ``entails``, ``declines``); every metric in
  ``evals/metrics.py`` is built from them, so a metric never knows which judge it runs on.
- ``offline`` needs no LLM: multilingual e5 similarity between a claim and every rendering of the
  passages (original, English, the claim's language), with hard vetoes - a number or name in the
  claim that no rendering contains, or a negation the closest passage lacks. Statements in English
  (gold facts, must-not claims) are compared with the answer's sentences the same way. It shares
  the embedder with the chat's guard but not its rules, and ``evals agreement`` measures it against
  hand-labelled answers (``evals/judge/labels.jsonl``).
- ``llm`` asks any OpenAI-compatible model (RAGAS-style: claim extraction, then one verdict per
  claim). Prompts live in ``evals/judge/judge.yaml``. A reply that is not the JSON asked for is
  never guessed at: the call raises ``JudgeError`` and the metric for that item is left empty.

    >>> j = get_judge("offline", embedder)
    >>> j.supported(["I burned my face with liquid oxygen."], ["Er verbrannte sein Gesicht mit flüssigem Sauerstoff.",
    ...             "He burned his face with liquid oxygen."], "en")
    [True]
    >>> j.declines("I don't remember that.", "en")
    True
"""
from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from characters import load_cards
from chat.chain import folded_regex
from chat.guard import dedupe_sentences
from core.errors import FaceError, UnknownNameError
from retrieval.lexical import detect_language, tokenize

# Calibrated on the first half of evals/judge/labels.jsonl (j001-j036), checked on the second half.
SUPPORT_MIN = 0.85   # claim vs passage rendering, e5 cosine
UNKNOWN_MAX = 0.4    # share of a claim's content stems absent from the same-language evidence
ENTAIL_MIN = 0.84    # answer sentence vs English statement (cross-lingual)
_NUM = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_][^\W_]*", re.UNICODE)


class JudgeError(FaceError):
    """The judge's reply could not be read; the item's metric stays empty."""


@lru_cache(maxsize=1)
def judge_data() -> dict:
    data = yaml.safe_load(Path(__file__).with_name("judge").joinpath("judge.yaml").read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)
def cues() -> dict:
    c = judge_data()["cues"]
    return {"decline": folded_regex(c["decline"]),
            "negation": {lg: folded_regex(p) for lg, p in c["negation"].items()},
            "first_person": {lg: folded_regex(p) for lg, p in c["first_person"].items()}}


@lru_cache(maxsize=1)
def _card_declines() -> tuple[str, ...]:
    """Every card's in-character abstain/refuse/deflect line, lower-cased."""
    return tuple(x.lower() for card in load_cards().values() for kind in card.lines.values()
                 for xs in kind.values() for x in xs)


def is_decline(sentence: str) -> bool:
    """A sentence that declines: a cue, or one of the cards' own lines.

    >>> is_decline("Ich weiß nicht, wovon Sie sprechen."), is_decline("K. showed me a finger.")
    (True, False)
    """
    low = sentence.lower().strip()
    return bool(cues()["decline"].search(low)) or any(low and low in line for line in _card_declines())


def negated(text: str, lang: str | None = None) -> bool:
    lang = lang or detect_language(text)
    return bool(cues()["negation"][lang].search(text.lower()))


def specifics(sentence: str) -> list[str]:
    """Numbers and capitalised non-initial words (names, places; German nouns are let through by
    the rendering check), lower-cased: ``"Then K. came at 9."`` -> ``['k', '9']``."""
    words = _WORD.findall(sentence)
    return [w.lower() for w in words[1:] if w[0].isupper() and len(w) > 1 and w.lower() != "i"] + _NUM.findall(sentence)


class Judge:
    name = ""

    @classmethod
    def build(cls, embedder, settings) -> "Judge":
        raise NotImplementedError

    def claims(self, answer: str, lang: str) -> list[str]:
        raise NotImplementedError

    def supported(self, claims: list[str], passages: list[str], lang: str) -> list[bool]:
        raise NotImplementedError

    def entails(self, answer: str, statements: list[str], lang: str) -> list[bool]:
        raise NotImplementedError

    def declines(self, answer: str, lang: str) -> bool:
        raise NotImplementedError


class OfflineJudge(Judge):
    name = "offline"

    def __init__(self, embedder, support_min: float = SUPPORT_MIN, entail_min: float = ENTAIL_MIN,
                 unknown_max: float = UNKNOWN_MAX):
        self.embedder = embedder
        self.support_min, self.entail_min, self.unknown_max = support_min, entail_min, unknown_max
        self._cache: dict[str, np.ndarray] = {}

    @classmethod
    def build(cls, embedder, settings):
        return cls(embedder)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            self._cache.update(zip(todo, self.embedder.embed_documents(todo)))
        return np.stack([self._cache[t] for t in texts])

    def claims(self, answer: str, lang: str) -> list[str]:
        """Sentences that assert something: ``"I don't remember. K. made a finger."`` -> the second."""
        return [s for s in dedupe_sentences(answer, limit=8) if not is_decline(s) and _WORD.search(s)]

    def supported(self, claims, passages, lang):
        if not claims:
            return []
        if not passages:
            return [False] * len(claims)
        sims = self._vectors(list(claims)) @ self._vectors(list(passages)).T
        text = " ".join(passages).lower()
        out = []
        for i, claim in enumerate(claims):
            best = int(np.argmax(sims[i]))
            ok = sims[i, best] >= self.support_min
            ok = ok and all(s in text or s[:5] in text for s in specifics(claim))
            c_lang = detect_language(claim)
            same = [j for j, p in enumerate(passages) if detect_language(p) == c_lang] or [best]
            ok = ok and self._known(claim, c_lang, [passages[j] for j in same])
            closest = max(same, key=lambda j: sims[i, j])
            ok = ok and not (negated(claim, c_lang) and not negated(passages[closest], c_lang))
            out.append(bool(ok))
        return out

    def _known(self, claim: str, lang: str, passages: list[str]) -> bool:
        """Most content words of the claim occur in the evidence. A claim of three content words with
        one swapped ("burn face acid" vs "... liquid oxygen") still passes: a known blind spot."""
        stems = {t for p in passages for t in tokenize(p, lang)}
        words = list(dict.fromkeys(tokenize(claim, lang)))
        unknown = [w for w in words if w not in stems]
        return len(unknown) <= self.unknown_max * len(words)

    def entails(self, answer, statements, lang):
        sentences = self.claims(answer, lang)
        if not statements:
            return []
        if not sentences:
            return [False] * len(statements)
        sims = self._vectors(list(statements)) @ self._vectors(sentences).T
        low = answer.lower()
        out = []
        for i, st in enumerate(statements):
            j = int(np.argmax(sims[i]))
            ok = sims[i, j] >= self.entail_min and all(n in low for n in _NUM.findall(st))
            ok = ok and negated(st, "en") == negated(sentences[j])
            out.append(bool(ok))
        return out

    def declines(self, answer, lang):
        sentences = dedupe_sentences(answer, limit=8)
        return bool(sentences) and sum(map(is_decline, sentences)) * 2 >= len(sentences)


class LLMJudge(Judge):
    """Claim extraction and verdicts by any OpenAI-compatible model (a ``Backend``)."""
    name = "llm"

    def __init__(self, backend):
        self.backend = backend

    @classmethod
    def build(cls, embedder, settings):
        return cls(judge_backend(settings))

    def _ask(self, key: str, n: int | None, **values) -> list:
        from backends import GenerationOptions
        p = judge_data()["llm"]
        messages = [{"role": "system", "content": p["system"]},
                    {"role": "user", "content": p[key].format(**values)}]
        reply = self.backend.complete(messages, GenerationOptions(temperature=0.0, max_tokens=400, repeat_penalty=1.0))
        found = re.search(r"\[.*\]", reply, re.DOTALL)
        try:
            items = json.loads(found.group(0)) if found else None
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list) or (n is not None and len(items) != n):
            raise JudgeError(f"the judge model did not answer the {key} step with a JSON list"
                             + (f" of {n}" if n is not None else "") + f": {reply[:80]!r}")
        return items

    @staticmethod
    def _yes(items) -> list[bool]:
        return [str(x).strip().lower().startswith(("yes", "true")) for x in items]

    @staticmethod
    def _numbered(xs) -> str:
        return "\n".join(f"{n}. {x}" for n, x in enumerate(xs, 1))

    def claims(self, answer, lang):
        return [str(c) for c in self._ask("claims", None, answer=answer) if str(c).strip()]

    def supported(self, claims, passages, lang):
        if not claims:
            return []
        return self._yes(self._ask("supported", len(claims), passages=self._numbered(passages) or "-",
                                   claims=self._numbered(claims)))

    def entails(self, answer, statements, lang):
        if not statements:
            return []
        return self._yes(self._ask("entails", len(statements), answer=answer, statements=self._numbered(statements)))

    def declines(self, answer, lang):
        return self._yes(self._ask("declines", 1, answer=answer))[0]


JUDGES: dict[str, type[Judge]] = {cls.name: cls for cls in (OfflineJudge, LLMJudge)}


def get_judge(name: str, embedder, settings=None) -> Judge:
    """Build a judge by name; ``offline`` uses the embedder, ``llm`` the judge endpoint in ``settings``."""
    if name not in JUDGES:
        raise UnknownNameError("judge", name, JUDGES)
    return JUDGES[name].build(embedder, settings)


def judge_backend(settings):
    """The LLM judge's model: ``--judge-base-url``/``--judge-model``, else the chat's own endpoint."""
    from backends import get_backend
    return get_backend(replace(settings, backend="openai", base_url=settings.judge_base_url or settings.base_url,
                               model=settings.judge_model or settings.model))
