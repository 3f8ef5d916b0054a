"""The grounding guard: every sentence of an answer must rest on the evidence, or it goes.

Design choices:
- Evidence is what the chain retrieved for this turn: passages (in the question's language, the
  original and English) and the card's memories in scope. The question itself is not evidence,
  so a false premise ("why did you burn your face with acid?") cannot vouch for itself.
- A sentence is supported when (1) its best embedding similarity to an evidence unit reaches
  ``SIM_MIN``, (2) most of its content words (Snowball stems) occur in the evidence, (3) every
  specific it asserts - numbers, capitalised names and places - occurs in the
  evidence, (4) it is in the question's language and (5) it does not speak as an AI or leak the
  prompt. Repeated sentences and loops are cut first.
- The verdict keeps, per sentence, supported yes/no, the similarity score, the reasons and the
  evidence units it rests on, so answers can cite and the UI can mark what was dropped.

    >>> g = Guard(embedder)
    >>> v = g.check("I burned my face with acid.", [Evidence("I burned my face with liquid oxygen.", "en", 0)], "en")
    >>> v[0].supported, v[0].reasons
    (False, ['words not in the evidence: acid'])
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from retrieval.lexical import detect_language, tokenize
from retrieval.segment import split_sentences

SIM_MIN = 0.86        # e5-small cosine, passage vs passage; calibrated on the eval set (see evals)
COVERAGE_MIN = 0.8    # share of a sentence's content stems found in the evidence (short: all of them)
MAX_SENTENCES = 5
AI_TALK = re.compile(r"\b(as an ai|an ai\b|language model|ai assistant|assistant|chatbot|openai|llm)\b|"
                 r"языков\w* модел|\bии\b|искусственн\w* интеллект|нейросет|"
                 r"\bki\b|sprachmodell|künstliche intelligenz|assistent", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
_WORD = re.compile(r"[^\W\d_][^\W_]*", re.UNICODE)


@dataclass(frozen=True)
class Evidence:
    text: str
    lang: str
    ref: int          # index of the passage or memory it came from (the chain maps it to citations)
    kind: str = "passage"


@dataclass
class SentenceVerdict:
    text: str
    supported: bool
    score: float
    evidence: list[int] = field(default_factory=list)   # indices into the evidence list
    reasons: list[str] = field(default_factory=list)


def _norm(s: str) -> str:
    return " ".join(_WORD.findall(s.lower()))


def dedupe_sentences(text: str, limit: int = MAX_SENTENCES) -> list[str]:
    """Split into sentences, drop repeats and near-repeats (a looping model), keep at most ``limit``.

    >>> dedupe_sentences("I am here. I am here. I am here! Where is she?")
    ['I am here.', 'Where is she?']
    """
    out, seen = [], []
    for span in split_sentences(text.strip()):
        words = set(_norm(span.text).split())
        if not words:
            continue
        if any(len(words & w) / len(words | w) > 0.8 for w in seen):
            continue
        seen.append(words)
        out.append(span.text)
        if len(out) >= limit:
            break
    return out


def _specifics(sentence: str) -> list[str]:
    """Numbers and capitalised words that are not the first word (names, places; German nouns)."""
    words = _WORD.findall(sentence)
    caps = [w for w in words[1:] if w[0].isupper() and len(w) > 1]
    nums = re.findall(r"\d+", sentence)
    return caps + nums


class Guard:
    def __init__(self, embedder, sim_min: float = SIM_MIN, coverage_min: float = COVERAGE_MIN):
        self.embedder = embedder
        self.sim_min = sim_min
        self.coverage_min = coverage_min
        self._cache: dict[str, np.ndarray] = {}

    def _embed_evidence(self, texts: list[str]) -> np.ndarray:
        """Evidence texts recur from turn to turn (the same passages and memories): embed each once."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache.update(zip(todo, self.embedder.embed_documents(todo)))
        return np.stack([self._cache[t] for t in texts])

    def check(self, answer_or_sentences, evidence: list[Evidence], lang: str,
              forbidden: tuple[str, ...] = ()) -> list[SentenceVerdict]:
        """Verdicts per sentence; ``forbidden``: prompt or card text that must never be repeated."""
        forbidden = tuple(f.lower()[:60] for f in forbidden if len(f) > 20)
        sentences = (dedupe_sentences(answer_or_sentences) if isinstance(answer_or_sentences, str)
                     else list(answer_or_sentences))
        if not sentences:
            return []
        if not evidence:
            return [SentenceVerdict(s, False, 0.0, [], ["no evidence"]) for s in sentences]
        sims = self.embedder.embed_documents(sentences) @ self._embed_evidence([e.text for e in evidence]).T
        stems = {lg: set() for lg in ("en", "ru", "de")}
        lowered = " ".join(e.text for e in evidence).lower()
        for e in evidence:
            stems[e.lang].update(tokenize(e.text, e.lang))
        return [self._verdict(s, sims[i], stems, lowered, lang, forbidden) for i, s in enumerate(sentences)]

    def _verdict(self, sentence, sims, stems, lowered, lang, forbidden) -> SentenceVerdict:
        reasons = []
        best = float(np.max(sims))
        if best < self.sim_min:
            reasons.append(f"similarity {best:.2f} < {self.sim_min}")
        s_lang = detect_language(sentence)
        content = tokenize(sentence, s_lang)
        unknown = [t for t in dict.fromkeys(content) if t not in stems[s_lang]]
        if len(unknown) > int(len(content) * (1 - self.coverage_min)):
            reasons.append("words not in the evidence: " + ", ".join(unknown))
        missing = [w for w in _specifics(sentence) if w.lower() not in lowered
                   and not set(tokenize(w, s_lang)) <= stems[s_lang]]
        if missing:
            reasons.append("unsupported specifics: " + ", ".join(missing))
        if len(_WORD.findall(sentence)) >= 3 and s_lang != lang:
            reasons.append(f"language {s_lang} instead of {lang}")
        if AI_TALK.search(sentence):
            reasons.append("speaks as an AI")
        if any(f in sentence.lower() for f in forbidden):
            reasons.append("repeats the prompt")
        order = np.argsort(-sims)
        rests_on = [int(i) for i in order[:2] if sims[i] >= self.sim_min - 0.02]
        return SentenceVerdict(sentence, not reasons, round(best, 4), rests_on, reasons)
