"""What a character says when the model's draft is not the answer: memories that answer the
question, a correction of a false premise, the next thing after the last answer, or an
"I don't know" that fits what was asked. All in the question's language, cited, in character.

Design choices:
- Patterns and lines are data (``prompts.yaml``: ``followups``, ``question_types``,
  ``abstain_by_type``, ``correction``, ``neutral_lines``); these are small functions around them.
- The card's own lines come in as ``lines``, those the character may say at the story point
  (``chat.plan.Planner.sayable``: the wife's "I only know ... what he wrote in his notebooks" is not
  said before she has them); when none may be, a neutral line (``neutral``).
- A memory already said in this conversation is not said again unless the same question is asked
  again, nor the same "I don't know" while the character has another wording of it. "And then?"
  takes the next memory in story order after the last one said (within the story point: the
  candidates are the memories in scope); "why?" takes a memory told from the same sentence as the
  last one or right beside it in its source (where the texts give reasons).
- ``without_draft`` builds that answer (an ``Answer`` with per-sentence citations); ``gives``
  tells whether a sentence holds the name or number a question asks for.
- A false premise is a question whose informative words, numbers or names the evidence does not
  ground while a memory is about its topic: the answer is a correction line and that memory.

    >>> question_type("How old are you?"), followup("А потом?")
    ('number', 'next')
    >>> echoes("A letter?", "What did your wife write in the letter?", "en")
    True
    >>> typed_abstain(card, "en", "What is your name?", seed=1)
    'A name? That is not something I will give you.'
"""
from __future__ import annotations

import re
from functools import lru_cache

from chat.answer import Answer
from chat.inputs import folded_regex, prompts
from chat.claims import declines  # noqa: F401  (a decline answers a question the texts cannot)
from chat.claims import content_words, names, number_values, stem
from chat.guard import near_repeat, words_of
from chat.memory import is_identity
from retrieval.segment import split_sentences

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
ECHO_WORDS = 3          # "A letter?", "Моё лицо?": longer questions back say something of their own
_INITIAL = re.compile(r"(?<=\s)[A-ZА-ЯЁ]\.(?=[\s,;:)–—-]|$)")   # "Man nennt mich K., und dabei bleibt es."


@lru_cache(maxsize=1)
def _patterns() -> dict[str, dict[str, re.Pattern]]:
    p = prompts()
    return {"followups": {k: folded_regex(v) for k, v in p["followups"].items()},
            "types": {k: folded_regex(v) for k, v in p["question_types"].items()},
            "own_name": {"any": folded_regex(p["own_name"])},
            "first_person": {k: folded_regex(v) for k, v in p["first_person"].items()}}


def followup(question: str) -> str | None:
    """``next`` ("and then?"), ``why`` or ``detail`` ("what did she say?"), or None."""
    return next((k for k, rx in _patterns()["followups"].items() if rx.search(question.strip())), None)


def question_type(question: str) -> str | None:
    """What kind of fact is asked for: name, number, place, time, feeling (or None)."""
    return next((k for k, rx in _patterns()["types"].items() if rx.search(question)), None)


def asks_own_name(question: str) -> bool:
    """``"What is your name?"``, ``"Как тебя зовут?"``, ``"Wie heißen Sie?"``: the name of the one asked."""
    return bool(_patterns()["own_name"]["any"].search(question))


def gives(kind: str | None, text: str, lang: str) -> bool:
    """Whether a sentence holds what a name or number question asks for ("The mask is my wife's
    first name." does not; "Man nennt mich K." does: an initial is a name); other questions: True."""
    if kind == "number":
        return bool(number_values(text, lang))
    if kind == "name":
        return bool(names(text, lang, rare_nouns=True) or _INITIAL.search(text))
    return True


def echoes(text: str, question: str, lang: str) -> bool:
    """A short question that only gives the question back ("A letter?", "Plaster?", "My name?"):
    it claims nothing and commits the answer to nothing, so it may be shown before the answer is
    decided, and reads well before whatever follows (the draft, a memory, a correction, "I won't say")."""
    if not text.rstrip().endswith("?") or len(_WORD.findall(text)) > ECHO_WORDS or number_values(text, lang):
        return False
    asked = {stem(w, lang) for w in content_words(question, lang)}
    return all(stem(w, lang) in asked for w in content_words(text, lang))


def first_person(text: str, lang: str) -> bool:
    return bool(_patterns()["first_person"][lang].search(text))


def typed_abstain(card, lang: str, question: str, seed: int, history=(), lines=None, like: str = "") -> str:
    """An in-character "I don't know / I won't say" that fits the question, and, while another
    wording is left, not the one the character already gave in this conversation (``lines``: the
    card's abstain lines that may be said now; all of them by default). ``like``: a question of the
    same kind, for one whose own words show none (the card's untold question it matched: "Где вы
    служили на войне?" makes "... и где именно служили?" a place question); where the card gives
    its own lines for that untold question (``says``), one of those: the girl would rather not talk about
    how her face was scarred: she does not forget it."""
    own = card.untold_lines(like, lang) if like else []
    if own:
        return _unsaid(own, seed, history)
    kind = question_type(question) or (question_type(like) if like else None)
    typed = prompts()["abstain_by_type"].get(kind, {}).get(lang) if kind else None
    return _unsaid(typed or _own(card, "abstain", lang, lines), seed, history)


def not_known(card, lang: str, seed: int, history=(), lines=None) -> str:
    """Honest ignorance of what has not happened yet for the character, in the card's own words
    and without a hint that it will (not fitted to the question: "When exactly?" would be one)."""
    return _unsaid(_own(card, "abstain", lang, lines), seed, history)


def neutral(kind: str, lang: str) -> list[str]:
    """What any character says for ``kind`` (abstain, refuse, deflect) when none of its own lines may be."""
    by = prompts()["neutral_lines"][kind]
    return list(by.get(lang) or by["en"])


def _own(card, kind: str, lang: str, lines) -> list[str]:
    return (card.options(kind, lang) if lines is None else list(lines)) or neutral(kind, lang)


def _unsaid(options: list[str], seed: int, history) -> str:
    said = said_before(history)
    order = [options[(seed + i) % len(options)] for i in range(len(options))]
    return next((x for x in order if _norm(x) not in said), order[0])


def correction(lang: str, seed: int) -> str:
    lines = prompts()["correction"][lang]
    return lines[seed % len(lines)]


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def said_before(history: list[dict]) -> str:
    """Everything the character has said in this conversation, normalised for lookups."""
    return " | ".join(_norm(m["content"]) for m in history if m["role"] == "assistant")


def asked_before(question: str, history: list[dict]) -> bool:
    return any(m["role"] == "user" and _norm(m["content"]) == _norm(question) for m in history)


def is_said(memory, lang: str, said: str) -> bool:
    return is_said_text(memory.text[lang], said)


def is_said_text(text: str, said: str) -> bool:
    return bool(said) and bool(_norm(text)) and _norm(text) in said


def repeats(text: str, history: list[dict], overlap: float = 0.6) -> bool:
    """Whether a sentence nearly repeats one the character already said in this conversation (most
    of their words shared: "They made me a mask, but..." after "They made me a scarred face, but...")."""
    words = words_of(text)
    said = (words_of(sp.text) for m in history if m["role"] == "assistant" for sp in split_sentences(m["content"]))
    return bool(words) and near_repeat(words, said, overlap)


def last_said(memories, lang: str, history: list[dict]):
    """The memory the character's last answer used, if any."""
    last = next((_norm(m["content"]) for m in reversed(history) if m["role"] == "assistant"), "")
    return next((m for m in memories if last and _norm(m.text[lang]) in last), None)


def story_key(memory) -> tuple:
    """Story order: the memory's latest event, then where in the source the last thing it tells is told
    (its latest cited sentence: "he gave me the toy, as he had promised" comes when he gives it, not
    when he promised), then its place in the card (two memories told from one sentence: "I tried to
    help him" before "he would not let me")."""
    return (memory.work, memory.event_max, max(start for _, start in memory.cites), memory.order)


def next_memory(memories, last, lang: str, said: str):
    """The first memory after ``last`` in story order (same work) not said yet; who the character is
    happens nowhere in the story, so it never comes next ("I am his wife" cites the sentence of her help)."""
    later = sorted((m for m in memories if m.work == last.work and story_key(m) > story_key(last)
                    and not is_said(m, lang, said) and not is_identity(m)), key=story_key)
    return later[0] if later else None


REASON_SPAN = 2   # "why?", "what did you say?": told at most this many sentences from what it belongs to


@lru_cache(maxsize=4)
def _sentence_index(corpus) -> dict:
    """(seed file, sentence start) -> the sentence's place in its source."""
    return {(src.file, seg.start): i for src in corpus.sources for i, seg in enumerate(src.segments)}


def reason_memory(memories, last, lang: str, said: str, corpus):
    """For "why?" and "what did you say?": a memory not said yet that the source tells from the same
    sentence as the last one or right beside it (a text gives its reasons, and the reply, next to what
    they belong to), the nearest first, one told after before one told before (in the source, then in
    the card); None if there is none."""
    index = _sentence_index(corpus)
    here = [(seed, index[(seed, start)]) for seed, start in last.cites if (seed, start) in index]

    def distance(m):
        gaps = [index[(seed, start)] - i for seed, start in m.cites if (seed, start) in index
                for s2, i in here if s2 == seed]
        return min(gaps, key=lambda g: (abs(g), g < 0), default=None)

    near = [(d, m) for m in memories if m is not last and not is_said(m, lang, said)
            and (d := distance(m)) is not None and abs(d) <= REASON_SPAN]
    return min(near, key=lambda x: (abs(x[0]), x[0] < 0, x[1].order < last.order, abs(x[1].order - last.order)))[1] \
        if near else None


def open_with(answer: Answer, opened: list[dict]) -> Answer:
    """``answer`` after an opener already shown ("My name?"): the opener leads, and the answer's
    own opening question goes ("My name? That is not something I will give you.", not "My name? A
    name? ...")."""
    if opened and answer.sentences:
        first = answer.sentences[0]
        spans = split_sentences(first["text"])
        if len(spans) > 1 and spans[0].text.rstrip().endswith("?"):
            first["text"] = first["text"][spans[1].start:]
    answer.sentences[:0] = opened
    answer.answer = " ".join(x["text"] for x in answer.sentences)
    return answer


def said_item(text: str, score: float, citations: list) -> dict:
    return {"text": text, "supported": True, "score": round(float(score), 4), "citations": citations}


def without_draft(s, plan: dict, cites, base: dict) -> Answer:
    """Composed from memories (a correction first, for a false premise), or an "I don't know"
    that fits the question; for the narrator, the best passage."""
    card, lang, hits = s["card"], s["lang"], s["evidence"]["hits"]
    if plan["memories"] and plan["mode"] in ("compose", "correct", "generate"):
        said = [said_item(m.text[lang], 1.0, cites.of_memory(m)) for m in plan["memories"]]
        if plan["mode"] == "correct":
            said.insert(0, said_item(correction(lang, s["seed"]), 1.0, []))
        return Answer(answer=" ".join(x["text"] for x in said), mode="composed", abstained=False,
                      sentences=said, citations=cites.items, reason=plan.get("reason", ""), **base)
    if s["ooc"] and hits and hits[0].score >= 0.5:
        c = hits[0].chunk
        text = c["renderings"].get(lang) or c["text"]
        return Answer(answer=text, mode="composed", abstained=False, citations=cites.items,
                      sentences=[said_item(text, hits[0].score, [cites.of_chunk(c)])], **base)
    lines = s["sayable"]("abstain")
    text = not_known(card, lang, s["seed"], s["history"], lines) if plan.get("unknown") else \
        typed_abstain(card, lang, s["question"], s["seed"], s["history"], lines, plan.get("like", ""))
    return Answer(answer=text, mode="abstained", abstained=True, reason=plan.get("reason") or "nothing answers it",
                  sentences=[said_item(text, 0.0, [])], **base)
