"""The grounding guard: every sentence of an answer must rest on the evidence, or it goes.

Design choices:
- Evidence is what the chain gathered for this turn (``chat.support.Evidence`` units): passages in
  all three renderings with their paraphrase keys and lexicon, the card's memories in scope, and
  the passages found for the draft's own sentences within the same scope. The question itself is
  not evidence, so a false premise ("why did you burn your face with acid?") cannot vouch for itself.
- The guard owns what is the same for every verifier: repeated sentences and loops are cut first;
  a sentence that speaks as an AI, repeats the prompt or is in another language than the question
  goes whatever its content, and so does one that talks about the story from outside it ("in the
  novel", "the reviewer", "the hero" as a figure). Whether what a sentence *claims* rests on the evidence is the
  verifier's call (``chat.verify``: ``offline`` by default, ``llm`` when configured).
- The verdict keeps, per sentence, supported yes/no, the similarity score, the reasons and the
  evidence units it rests on, so answers can cite and the UI can mark what was dropped.

    >>> g = Guard(get_verifier("offline", embedder))
    >>> v = g.check("I burned my face with acid.", [Evidence("I burned my face with liquid oxygen.", "en", 0)], "en")
    >>> v[0].supported, v[0].reasons
    (False, ['says what the evidence does not: acid'])
"""
from __future__ import annotations

import re
from functools import lru_cache

from chat.claims import settings_data
from chat.support import Evidence, Verdict, Verifier
from retrieval.lexical import detect_language
from retrieval.segment import split_sentences

__all__ = ["AI_TALK", "Evidence", "Guard", "Verdict", "dedupe_sentences", "hard_reasons", "near_repeat", "words_of"]

MAX_SENTENCES = 5
LEAK_WORDS = 6   # words in a row shared with the prompt or the card's voice: the prompt repeated
AI_TALK = re.compile(r"\b(as an ai|an ai\b|language model|ai assistant|assistant|chatbot|openai|llm)\b|"
                     r"языков\w* модел|\bии\b|искусственн\w* интеллект|нейросет|"
                     r"\bki\b|sprachmodell|künstliche intelligenz|assistent", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][^\W_]*", re.UNICODE)
_SPELLED = re.compile(r"(?<!\w)\w(?:[\s.\-_·•/|*+]+\w(?!\w)){3,}")   # "S-t-a-y i-n", "O P E N A I": four letters or more


def _norm(s: str) -> str:
    return " ".join(_WORD.findall(s.lower()))


def words_of(text: str) -> set[str]:
    return set(_norm(text).split())


def near_repeat(words: set[str], seen, overlap: float = 0.8) -> bool:
    """Whether a sentence with these words nearly repeats one already seen (word-set overlap, Jaccard,
    above ``overlap``): what a looping model writes, or what a character already said."""
    return any(w and len(words & w) / len(words | w) > overlap for w in seen)


def dedupe_sentences(text: str, limit: int = MAX_SENTENCES) -> list[str]:
    """Split into sentences, drop repeats and near-repeats (a looping model), keep at most ``limit``.

    >>> dedupe_sentences("I am here. I am here. I am here! Where is she?")
    ['I am here.', 'Where is she?']
    """
    out, seen = [], []
    for span in split_sentences(text.strip()):
        words = words_of(span.text)
        if not words or near_repeat(words, seen):
            continue
        seen.append(words)
        out.append(span.text)
        if len(out) >= limit:
            break
    return out


@lru_cache(maxsize=1)
def _out_of_character() -> re.Pattern:
    return re.compile(re.sub(r"\|\s+", "|", settings_data()["out_of_character"].strip()), re.IGNORECASE)


def word_runs(text: str, n: int = LEAK_WORDS) -> set[tuple[str, ...]]:
    """Every ``n`` words in a row (lower-cased, punctuation aside)."""
    words = _norm(text).split()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def hard_reasons(sentence: str, lang: str, forbidden: tuple[str, ...] = (),
                 secret_runs: frozenset = frozenset()) -> list[str]:
    """What no verifier may let through: another language, AI talk, the prompt, narration, and text
    spelled out letter by letter (no character talks so; it is how a prompt is smuggled past the
    checks: "S-t-a-y i-n c-h-a-r-a-c-t-e-r ..." claims no word at all). The start of each
    ``forbidden`` text is looked for in the sentence's letters alone, whatever stands between them;
    ``secret_runs`` holds the ``word_runs`` of the prompt and the card's voice, none of which a
    sentence may repeat (the middle of the prompt, not only its start)."""
    reasons = []
    if _SPELLED.search(sentence):
        reasons.append("spells text out letter by letter")
    if _out_of_character().search(sentence):
        reasons.append("speaks about the story from outside it")
    if len(_WORD.findall(sentence)) >= 3 and (s_lang := detect_language(sentence)) != lang:
        reasons.append(f"language {s_lang} instead of {lang}")
    if AI_TALK.search(sentence):
        reasons.append("speaks as an AI")
    if any(_letters(f) in _letters(sentence) for f in forbidden) or word_runs(sentence) & secret_runs:
        reasons.append("repeats the prompt")
    return reasons


class Guard:
    def __init__(self, verifier: Verifier):
        self.verifier = verifier

    def check(self, answer_or_sentences, evidence: list[Evidence], lang: str,
              forbidden: tuple[str, ...] = (), secret: tuple[str, ...] = ()) -> list[Verdict]:
        """Verdicts per sentence; ``forbidden``: prompt or card text whose start must never be
        repeated; ``secret``: text none of whose ``LEAK_WORDS`` words in a row may be (the prompt
        and the card's voice; not the card's facts, which a faithful sentence may well echo, nor a
        run the evidence holds too: "not to be prejudiced against other people's faces" is the
        hero's voice and his memory)."""
        forbidden = tuple(f.lower()[:60] for f in forbidden if len(f) > 20)
        runs = frozenset().union(*map(word_runs, secret))
        told = None   # the evidence's runs, read only when a sentence shares one with the secret text
        sentences = (dedupe_sentences(answer_or_sentences) if isinstance(answer_or_sentences, str)
                     else list(answer_or_sentences))
        if not sentences:
            return []
        verdicts = self.verifier.check(sentences, evidence, lang)
        for v in verdicts:
            leaked = word_runs(v.text) & runs
            if leaked:
                told = told if told is not None else set().union(*(word_runs(u.text) for u in evidence))
                leaked -= told
            hard = hard_reasons(v.text, lang, forbidden, frozenset(leaked))
            if hard:
                v.supported, v.reasons = False, hard + v.reasons
        return verdicts
