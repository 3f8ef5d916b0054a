"""Eval metrics: each one public scoring call, built from the judge's four calls and small steps.

Design choices:
- A metric scores one answer to one item and returns a number, a flag, or ``None`` when it does not
  apply (gold coverage of a decline, recall of an item without evidence); summaries average what
  applies, so a metric never punishes an item it cannot judge.
- The context an answer is judged against is what it had (retrieved passages and the sentences it
  cites) plus the item's evidence sentences, each in every rendering (original, en, ru, de) - so a
  no-retrieval baseline is judged against the truth, not against nothing.
- Timeline leaks and the violations of unanswerable items add the checks a similarity judge cannot
  make: a leak is a claim the later passage supports; an invented name or number (found nowhere in the
  sources or the card) is a violation of "do not invent".

    >>> faithfulness("I burned my face with liquid oxygen. I was in Osaka.", passages, judge, "en")
    0.5
    >>> abstention_correct("unanswerable", declined=True, violated=False)
    True
"""
from __future__ import annotations

import re
from functools import lru_cache

from chat.claims import sentences_of
from chat.guard import AI_TALK, word_runs
from evals.dataset import Item, evidence_spans
from evals.judges import Judge
from evals.reading import has_number, novel_words, number_words, specifics, text_starts
from evals.recall import is_hit
from retrieval.corpus import LANGUAGES
from retrieval.lexical import detect_language

ANSWERABLE = ("fact", "inference")
METRICS = ("recall_at_k", "faithfulness", "gold_coverage", "gold_hit", "violation_rate", "abstention_accuracy",
           "wrongly_declined", "on_topic", "timeline_leak_rate", "persona_adherence")
LOWER_IS_BETTER = ("violation_rate", "timeline_leak_rate", "wrongly_declined")


def recall_at_k(context: list[dict], item: Item) -> bool | None:
    """The item's evidence is among the passages the answer had (``None`` without evidence)."""
    if not item.evidence or item.kind not in (*ANSWERABLE, "false_premise"):
        return None
    return is_hit(context, item)


def faithfulness(answer: str, passages: list[str], judge: Judge, lang: str) -> float | None:
    """Share of the answer's claims the passages support (``None``: the answer makes no claim)."""
    claims = judge.claims(answer, lang)
    if not claims:
        return None
    verdicts = judge.supported(claims, passages, lang)
    return round(sum(verdicts) / len(verdicts), 4)


def gold_coverage(answer: str, item: Item, judge: Judge) -> float | None:
    """Share of the item's gold facts the answer conveys (answerable and false-premise items)."""
    if item.kind not in (*ANSWERABLE, "false_premise") or not item.gold:
        return None
    verdicts = judge.entails(answer, list(item.gold), item.language)
    return round(sum(verdicts) / len(verdicts), 4)


def violation(answer: str, item: Item, judge: Judge, allowed_text: str, truth: list[str] = (), known=None) -> bool:
    """The answer asserts a ``must_not`` claim, or (texts silent) invents a name or number.
    ``truth``: what the sources say (the item's evidence sentences and gold facts). An answer that
    opens by rejecting a false premise ("Nein, so war es nicht. Ich heile Komplexe mit künstlichen
    Dingen.") does not accept it, however close its next sentence comes to "Accepts that he treats
    complexes with hypnosis" (a cross-lingual similarity judge reads the topic, not the pills); nor
    does one that states the correction (a gold fact) and takes up nothing of the false premise
    (``premise_words``): "Sein Gesicht war anders, aber das konnte mich nicht reinlegen. Ich wusste,
    es ist derselbe Mann." accepts nothing however near e5 puts it to "Accepts that she did not
    recognise him"; "Ich heile Komplexe mit Hypnose und Tabletten" takes up the premise's pills.
    ``known``: what the character may say, when not the truth (a timeline item's gold)."""
    must_not = list(item.must_not)
    if item.kind == "false_premise" and corrects(answer, item, judge) and (
            opens_with_no(answer) or not _uses(answer, premise_words(item.question, truth))):
        must_not = [m for m in must_not if not _ACCEPTS.match(m)]
    specific = [m for m in must_not if _SPECIFIC.search(m)]
    if judge.violates(answer, [m for m in must_not if m not in specific], list(truth), item.language, known):
        return True
    if not specific and item.kind != "unanswerable":
        return False
    # read from the claims: a decline naming what it will not give ("Eine Zahl kann ich nicht nennen.") invents nothing
    claims = " ".join(judge.claims(answer, item.language))
    return any(states_specific(m, claims, allowed_text) for m in specific) or (
        item.kind == "unanswerable" and bool(invented_specifics(claims, allowed_text)))


def premise_words(question: str, truth: list[str]) -> list[str]:
    """What a false-premise question brings in that the sources never say (the false element, read as
    the judge reads a claim's new words, names and numbers): "In Ihrem Prolog erzählen Sie, dass Sie
    Komplexe mit Hypnose und Tabletten heilen." -> ``['hypnose', 'tabletten']``."""
    text = " ".join(truth).lower()
    return list(dict.fromkeys(novel_words(question, text_starts(text), text) + [
        w for w in specifics(question) if w not in text] + [w for w in number_words(question) if w[:4] not in text]))


def _uses(answer: str, words: list[str]) -> list[str]:
    """Which of ``words`` the answer uses: the word itself, or a word of the answer that starts with
    its first five letters ("wiedererkannt" is used by "wiedererkennen")."""
    text = answer.lower()
    starts = text_starts(text)
    return [w for w in words if w[:5] in starts or w in text]


def states_specific(must_not: str, claims: str, allowed_text: str) -> bool:
    """A must-not about a specific ("States a specific age as fact", "Names a specific hospital") is
    read from the claims' specifics, not their topic: a number for an age, year, sum or count; a name
    found nowhere in the sources for a name, place or institution. ``"Mein Alter tut nichts zur Sache;
    ich heile Komplexe."`` states no age however near "age" it comes (the similarity judge read
    such declines and topic sentences as the must-not)."""
    if _NUMBERISH.search(must_not):
        return has_number(claims)
    return bool(invented_specifics(claims, allowed_text))


def abstention_correct(kind: str, declined: bool, violated: bool, corrects: bool = False) -> bool | None:
    """What a reader sees: an unanswerable question is rightly handled only by a decline that asserts
    nothing it must not (a neighbouring memory is not a refusal); a false premise by a correction or a
    decline; a timeline question by a decline, or by keeping to what the character may say at that
    point (``corrects``: ``keeps_to_now``); an answerable question only by not declining."""
    if kind == "unanswerable":
        return declined and not violated
    if kind in ("false_premise", "timeline"):
        return (declined or corrects) and not violated
    if kind in ANSWERABLE:
        return not declined
    return None


def corrects(answer: str, item: Item, judge: Judge) -> bool:
    """The answer rejects the premise: it opens with a no, or it states the item's correction (gold)."""
    return opens_with_no(answer) or any(judge.entails(answer, list(item.gold), item.language))


def keeps_to_now(answer: str, item: Item, judge: Judge, leaked: bool | None) -> bool:
    """A timeline answer that tells what the character may say at the story point (the item's gold)
    and reveals nothing later (``leaked``: ``timeline_leak``): "The man promised to buy me a new
    toy." to "Did he ever bring you the toy?" keeps to what she knows, as a reader counts it
    (``judge/refusal_reads.jsonl``: agreement with the readers, calibration half 84 -> 85 of 88,
    held-out 68 -> 70 of 78)."""
    return leaked is False and any(judge.entails(answer, list(item.gold), item.language))


def gold_hit(answer: str, item: Item, judge: Judge) -> bool | None:
    """Answerable items: the answer conveys at least one gold fact."""
    if item.kind not in ANSWERABLE or not item.gold:
        return None
    return any(judge.entails(answer, list(item.gold), item.language))


def on_topic(answer: str, item: Item, judge: Judge, evidence: list[str]) -> bool | None:
    """Answerable items answered (not declined): the answer conveys a gold fact or one of its claims
    rests on the item's own evidence sentences - it answers this question, not a neighbouring one."""
    if item.kind not in ANSWERABLE:
        return None
    claims = judge.claims(answer, item.language)
    return bool(gold_hit(answer, item, judge)) or (bool(claims) and any(judge.supported(claims, evidence, item.language)))


def timeline_leak(answer: str, item: Item, later: list[str], judge: Judge, told: list[str] = ()) -> bool | None:
    """A ``timeline`` item's answer reveals the later event: a must-not claim, or a claim the later
    passage (``later``: its renderings) supports - unless it restates what the character may say at
    the story point (the item's gold, and ``told``: what the texts have told by then, ``told_by``):
    "The man promised to buy me a new toy." is the promise, not "Der Held gibt dem Mädchen ein
    Spielzeug."; "... and wrote where the mask was" is his notes, not "the mask was still in the
    cupboard"."""
    if item.kind != "timeline":
        return None
    now = list(item.gold) + list(told)
    if judge.violates(answer, list(item.must_not), [], item.language, now):
        return True
    claims = judge.claims(answer, item.language)
    if now and claims:
        claims = [c for c, same in zip(claims, judge.restates(claims, now, item.language)) if not same]
    return bool(claims) and any(judge.supported(claims, later, item.language))


def told_by(item: Item, corpus) -> list[str]:
    """Every rendering of each sentence of the story point's work whose events all come at or before
    it (``seeds/events.yaml``): what the texts have told by the time the item is asked at."""
    if not item.as_of:
        return []
    point = corpus.event(item.as_of)
    order = {e.id: e.order for e in corpus.events_of(point.work)}
    return _renderings(seg for src in corpus.sources for seg in src.segments if seg.work == point.work and seg.events
                       and all(order.get(e, point.order + 1) <= point.order for e in seg.events))


def persona_adherence(answer: str, lang: str, forbidden: list[str], first_person, own: list[str] = ()) -> dict:
    """First-person voice, no AI talk, no prompt or card leak (``own``: what the character's memories
    say, which is no leak), the question's language.

    >>> persona_adherence("As an AI model I cannot say.", "en", [], cues)["checks"]["no_ai"]
    False
    """
    words = answer.split()
    checks = {
        "first_person": len(words) < 4 or bool(first_person[lang].search(answer.lower())),
        "no_ai": not AI_TALK.search(answer),
        "no_leak": not _leaks(answer, forbidden, own),
        "language": len(words) < 3 or detect_language(answer) == lang,
    }
    return {"ok": all(checks.values()), "checks": checks}


def replay_shown(shown: list[str], mode: str, served: dict, variant: str) -> dict:
    """What of a replayed strong-model answer reached the reader (``served``: a row of
    ``evals/replay/strong.jsonl``; ``shown``: the answer's sentences). A served sentence is kept
    when its words all appear, in order, in what was shown as the model's own answer.

    >>> replay_shown(["I burned my face."], "generated", {"faithful": ["I burned my face."],
    ...              "tampered": ["I burned my face.", "In 1962."], "tampered_index": 1}, "tampered")
    {'faithful': 1, 'faithful_kept': 1, 'invented': 1, 'invented_shown': 0, 'generated': True}
    """
    text = " ".join(_WORD.findall(" ".join(shown).lower())) if mode == "generated" else ""
    sentences = served[variant]
    bad = served["tampered_index"] if variant == "tampered" else None
    kept = [bool(text) and " ".join(_WORD.findall(s.lower())) in text for s in sentences]
    return {"faithful": sum(1 for i in range(len(sentences)) if i != bad),
            "faithful_kept": sum(k for i, k in enumerate(kept) if i != bad),
            "invented": int(bad is not None), "invented_shown": int(bad is not None and kept[bad]),
            "generated": mode == "generated"}


def answer_paths(modes: list[str]) -> dict:
    """Shares of generated / composed / abstained answers: ``["composed", "abstained"]`` ->
    ``{"generated": 0.0, "composed": 0.5, "abstained": 0.5}``."""
    n = max(1, len(modes))
    return {m: round(modes.count(m) / n, 4) for m in ("generated", "composed", "abstained")}


# -- small steps ------------------------------------------------------------------------------
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NO = {"no", "nope", "not", "нет", "неправда", "nein", "falsch"}
_ACCEPTS = re.compile(r"(Accepts|Agrees|Goes along with)\b")   # a must-not that is the premise itself
# a must-not that forbids a specific (not a cause, outcome or story): "States a specific age as fact",
# "Any invented name for the wife", "Names a specific hospital or institution", "Gives K. a full name"
_SPECIFIC = re.compile(r"^(states|names|gives|any)\b(?!.*\b(cause|outcome|ending|backstory|story)\b)"
                       r".*\b(specific|invented|named|name)\b", re.IGNORECASE)
_NUMBERISH = re.compile(r"\b(age|number|year|years|date|salary|sum|fee|amount|figure|days|weeks|months)\b", re.IGNORECASE)


def opens_with_no(answer: str) -> bool:
    """``"Nein, so war es nicht. ..."`` -> True: the first word rejects what was asked."""
    first = answer.strip().split(" ")[0].lower().strip(",.!—-:") if answer.strip() else ""
    return first in _NO


def source_text(corpus) -> str:
    """Every original and rendering, lower-cased: what an answer may name."""
    return " ".join([src.text() for src in corpus.sources] + [
        seg.in_language(lg) for src in corpus.sources for seg in src.segments for lg in ("en", "ru", "de")]).lower()


def invented_specifics(answer: str, allowed_text: str) -> list[str]:
    """Names and numbers in ``answer`` found nowhere in ``allowed_text`` (lower-cased sources + card),
    read sentence by sentence: the word that opens a later sentence is no name ("...«Мы играем в
    секреты». Однажды дядя..." invents nothing)."""
    return [w for s in sentences_of(answer) for w in specifics(s) if w not in allowed_text and w[:5] not in allowed_text]


def _leaks(answer: str, forbidden: list[str], own: list[str] = ()) -> bool:
    """Six words in a row shared with the system prompt or the card's hidden text, less those the
    character's own memories say (the voice may quote a line the character does say: "Revenge? It is
    not about revenge."), as the guard lets through what its evidence says."""
    mine = word_runs(answer) - _runs_of(tuple(own))   # chat.guard.LEAK_WORDS in a row
    return any(mine & word_runs(f) for f in forbidden)


@lru_cache(maxsize=16)
def _runs_of(texts: tuple[str, ...]) -> frozenset:
    """The word runs of a card's memories, read once per card, not once per scored answer."""
    return frozenset().union(*map(word_runs, texts))


def evidence_sentences(item: Item, corpus) -> list[str]:
    """Every rendering of each source sentence that holds one of the item's evidence quotes."""
    return _renderings(seg for seed, start, end in evidence_spans(item)
                       for seg in corpus.source_by_file(seed).segments if seg.start < end and seg.end > start)


def _renderings(segments) -> list[str]:
    """Each segment's original and its renderings, each text once, in order."""
    return list(dict.fromkeys(t for seg in segments for t in (seg.text, *map(seg.in_language, LANGUAGES)) if t))
