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
  hand-labelled answers (``evals/judge/labels.jsonl``). Its text rules (declines, negations, names,
  clauses, novel words) are plain functions in ``evals/reading.py``.
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

import numpy as np

from chat.guard import dedupe_sentences
from core.errors import FaceError, UnknownNameError
from evals.reading import (NUM, WORD, clauses, is_decline, judge_data, negated, novel_words, number_words, readings_of,
                           specifics, text_starts)
from retrieval.lexical import detect_language

# Calibrated on the first half of evals/judge/labels.jsonl (j001-j036), checked on the second half
# (j037-j072) and on k001-k048, written later by a helper who saw neither this code nor the other labels.
# l001-l048 (40 kept: the persona rows labelled an out-of-character "I am an AI" as supported were left
# out), written by another such helper as a GPT-4o-class model paraphrases, agree far less: supported
# 0.55 - the judge reads synonyms ("поступки" for "действия") as new words. Tried and not kept: letting a
# claim as close as a paraphrase bring in three more (chosen on j001-j036 before these were seen):
# unchanged on them.
SUPPORT_MIN = 0.80   # claim vs passage rendering (or gold fact), e5 cosine
NOVEL_MAX = 1        # informative words a claim may bring in that the passages never start
ENTAIL_MIN = 0.84    # answer sentence vs English statement, both English
ENTAIL_CROSS_MIN = 0.83   # ... a Russian or German sentence vs the English statement: e5 puts a faithful
                     # rendering a little further off across languages ("Я спокойно сказала ему, что муж сейчас в
                     # командировке." / "That her husband was away on a business trip" 0.836). Fitted on the
                     # first halves of the labels (j001-j036, k001-k024, l001-l024; conveys 0.782 -> 0.796 at 0.81-0.83,
                     # the highest kept), checked on the second (0.762 -> 0.790), ENTAIL_MIN kept
NEGATION_SIM = 0.86  # a negation the closest passage lacks vetoes a claim this close to it (0.88 scored one
                     # label better on j001-j036 but lets "I did not buy an artificial finger" through)


class JudgeError(FaceError):
    """The judge's reply could not be read; the item's metric stays empty."""


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

    def restates(self, claims: list[str], texts: list[str], lang: str) -> list[bool]:
        """Which claims say only what ``texts`` say (and so assert nothing else)."""
        return self.supported(claims, texts, lang)

    def violates(self, answer: str, must_not: list[str], truth: list[str], lang: str, known=None) -> bool:
        """The answer asserts one of the ``must_not`` claims (``truth``: what the sources do say;
        ``known``: what the character may say, by default the truth)."""
        return any(self.entails(answer, must_not, lang))


class OfflineJudge(Judge):
    name = "offline"

    def __init__(self, embedder, support_min: float = SUPPORT_MIN, entail_min: float = ENTAIL_MIN,
                 novel_max: int = NOVEL_MAX, entail_cross_min: float = ENTAIL_CROSS_MIN):
        self.embedder = embedder
        self.support_min, self.entail_min, self.novel_max = support_min, entail_min, novel_max
        self.entail_cross_min = entail_cross_min
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
        return [s for s in dedupe_sentences(answer, limit=8)
                if not is_decline(s) and WORD.search(s) and not s.rstrip().endswith("?")]   # a question asserts nothing

    def supported(self, claims, passages, lang):
        """A claim is supported when a passage (any rendering) is close to it and it brings in at
        most ``novel_max`` informative words (rarer than ``NOVEL_ZIPF``) whose first five letters
        appear nowhere in the passages, no unknown name or number, and no negation its closest
        same-language passage lacks."""
        return self._supported(claims, passages, self.novel_max)

    def _supported(self, claims, passages, novel_max: int, same_negation: bool = False) -> list[bool]:
        """``same_negation``: negated exactly as the closest same-language passage, however near."""
        if not claims:
            return []
        if not passages:
            return [False] * len(claims)
        sims = self._vectors(list(claims)) @ self._vectors(list(passages)).T
        text = " ".join(passages).lower()
        starts = text_starts(text)
        out = []
        for i, claim in enumerate(claims):
            ok = float(sims[i].max()) >= self.support_min
            ok = ok and all(s in text or s[:5] in text for s in specifics(claim))
            ok = ok and all(w[:4] in text for w in number_words(claim))
            ok = ok and len(novel_words(claim, starts, text)) <= novel_max
            c_lang = detect_language(claim)
            same = [j for j, p in enumerate(passages) if detect_language(p) == c_lang] or [int(np.argmax(sims[i]))]
            closest = max(same, key=lambda j: sims[i, j])
            neg, passage_neg = negated(claim, c_lang, privative=False), negated(passages[closest], c_lang, privative=False)
            if same_negation:
                ok = ok and neg == passage_neg
            else:
                ok = ok and not (neg and not passage_neg and sims[i, closest] >= NEGATION_SIM)
            out.append(bool(ok))
        return out

    def entails(self, answer, statements, lang, commas: bool = True):
        """Which statements some sentence of the answer, or one of its clauses, states (``commas``:
        clauses split at commas too - a fact may be one of them; a must-not is not read from such
        fragments: "wrote where the mask was" is not "the mask was still in the cupboard")."""
        sentences = self.claims(answer, lang)
        if not statements:
            return []
        if not sentences:
            return [False] * len(statements)
        sentences = sentences + [c for x in sentences for c in clauses(x, commas)]   # a fact may be one clause of a long sentence
        readings = [[(n, r) for r in readings_of(st)] for n, st in enumerate(statements)]
        flat = [x for rs in readings for x in rs]
        sims = self._vectors([r for _, r in flat]) @ self._vectors(sentences).T
        low = answer.lower()
        floor, neg = [self._entail_min(x) for x in sentences], [negated(x) for x in sentences]
        out = [False] * len(statements)
        for i, (n, st) in enumerate(flat):   # some sentence or clause close enough, and negated as the reading is
            st_neg = negated(st, "en")
            out[n] = out[n] or (all(x in low for x in NUM.findall(st)) and any(
                sims[i, j] >= floor[j] and st_neg == neg[j] for j in range(len(sentences))))
        return out

    def _entail_min(self, sentence: str) -> float:
        """The similarity at which a sentence states an English statement: lower across languages."""
        return self.entail_min if detect_language(sentence) == "en" else self.entail_cross_min

    def declines(self, answer, lang):
        sentences = dedupe_sentences(answer, limit=8)
        return bool(sentences) and sum(map(is_decline, sentences)) * 2 >= len(sentences)

    def restates(self, claims, texts, lang):
        """A claim restates ``texts`` when it is supported by them with no informative word of its
        own and negated as its closest same-language text is: "The man promised to buy me a new
        toy." restates "...and he promised to buy her a new toy", however near e5 puts it to "Says
        he gave her the toy"; "Я сказала ему, что мужа у меня нет." does not restate "She said her
        husband was away" (labels, calibration half: violates 0.8625 -> 0.875, held-out 0.775 both;
        one new informative word allowed, as ``supported`` does, lost two true violations)."""
        return self._supported(claims, texts, novel_max=0, same_negation=True)

    def violates(self, answer, must_not, truth, lang, known=None):
        """A must-not claim entailed by an answer sentence that is closer to it than to anything the
        sources say (a faithful correction of a false premise resembles the premise too; for a timeline
        item, whose sources are the later event, than to what the character may say then) and does
        not merely restate what the character may say (``known``, by default ``truth``)."""
        sentences = self.claims(answer, lang)
        known = list(truth if known is None else known)
        if known and sentences:
            sentences = [x for x, same in zip(sentences, self.restates(sentences, known, lang)) if not same]
        if not must_not or not sentences:
            return False
        hits = self.entails(" ".join(sentences), must_not, lang, commas=False)
        told = list(truth) or known   # what the sources say; for a timeline item, what may be said now
        if not any(hits) or not told:
            return any(hits)
        s = self._vectors(sentences)
        bad = (s @ self._vectors([m for m, h in zip(must_not, hits) if h]).T).max(axis=1)
        good = (s @ self._vectors(told).T).max(axis=1)
        floor = np.array([self._entail_min(x) for x in sentences])
        return bool(((bad > good) & (bad >= floor)).any())


class LLMJudge(Judge):
    """Claim extraction and verdicts by any OpenAI-compatible model (a ``Backend``)."""
    name = "llm"

    def __init__(self, backend):
        self.backend = backend

    @classmethod
    def build(cls, embedder, settings):
        from backends import judge_backend
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
