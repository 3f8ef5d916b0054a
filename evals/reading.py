"""Reading an answer's text for the judges: declines, negations, numbers, names and places, the
clauses of a long sentence, and the words a claim brings in that the passages never start.

Design choices:
- Plain text rules and cue lists (``judge/judge.yaml``), no embeddings: ``evals/judges.py`` builds its
  offline judge from these and e5 similarity; the chat's guard reads claims its own way
  (``chat/claims.py``), so that the eval does not share the guard's blind spots. A word is novel when
  neither its first five letters nor those of its dictionary form (simplemma) start a passage word or
  its dictionary form: another reading of word forms than the guard's stems and lexicon.
- Every helper is one small function on strings, tested on its own (``tests/test_evals.py``).

    >>> specifics("Dann fuhr ich nach Hokkaido.")
    ['hokkaido']
    >>> clauses("She tries to help; I don't let her, I cannot look at myself.")[:3]
    ['She tries to help', "I don't let her", 'I cannot look at myself.']
    >>> novel_words("Ich habe ihre Haare ins Feuer geworfen.", text_starts("Er warf die falschen Haare ins Feuer."))
    []
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from characters import load_cards
from chat.inputs import folded_regex
from core.yamltext import load_yaml
from retrieval.lexical import _stopwords, detect_language

NOVEL_ZIPF = 4.5     # "informative": rarer than this on wordfreq's Zipf scale
INFLECTED, INFIX = ("ru", "de"), 4   # (j001-j036: supported 0.778 -> 0.806; 5 letters changed nothing)
NOUN_ZIPF = 4.0      # a capitalised German word this common is a noun, not a name (j001-j036 hold no German:
                     # set by reading, not fitted; k001-k048 agree as before with it, supported 0.833); a rarer
                     # one only when English text uses it too (names do, German nouns never: "Lazarett",
                     # "Luftpistole", "Hautmaterialien" were 6 of the bundled model's 8 "invented specifics" in
                     # the full eval). Labels, second halves: violates 0.762 -> 0.775, supported 0.725 -> 0.713
                     # (l040's later event had been caught only by reading "Ungeheuer" as a name)
NUM = re.compile(r"\d+")
# A gold fact that answers a false premise opens with the "No" to it ("No - she guessed everything from
# the very first minute"): that "No" rejects the question, it does not negate the fact.
REPLY_NO = re.compile(r"^(no|nein|нет)\s*[-–—:;,]\s*", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_][^\W_]*", re.UNICODE)
_CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
LEMMA_MARK = "~"   # a dictionary form's start, kept apart from the word starts it sits beside


@lru_cache(maxsize=1)
def judge_data() -> dict:
    data = load_yaml(Path(__file__).with_name("judge").joinpath("judge.yaml").read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)
def cues() -> dict:
    c = judge_data()["cues"]
    return {"decline": folded_regex(c["decline"]), "number": folded_regex(c["number"]),
            "negation": {lg: folded_regex(p) for lg, p in c["negation"].items()},
            "privative": {lg: folded_regex(p) for lg, p in c["privative"].items()},
            "first_person": {lg: folded_regex(p) for lg, p in c["first_person"].items()}}


@lru_cache(maxsize=1)
def _card_declines() -> tuple[str, ...]:
    """Every card's in-character abstain/refuse/deflect line, and its own lines for what the texts
    never tell (``untold``), lower-cased."""
    cards = load_cards().values()
    return tuple(x.lower() for card in cards for kind in card.lines.values() for xs in kind.values() for x in xs) + \
        tuple(x.lower() for card in cards for g in card.untold for xs in g.get("says", {}).values() for x in xs)


def is_decline(sentence: str) -> bool:
    """A sentence that declines: a cue, or one of the cards' own lines.

    >>> is_decline("Ich weiß nicht, wovon Sie sprechen."), is_decline("K. showed me a finger.")
    (True, False)
    """
    low = sentence.lower().strip()
    return bool(cues()["decline"].search(low)) or any(low and low in line for line in _card_declines())


def has_number(text: str) -> bool:
    """Digits or a number word in any of the three languages: ``"Ich bin zweiundfünfzig."`` -> True."""
    return bool(NUM.search(text) or cues()["number"].search(text))


def number_words(text: str) -> list[str]:
    """Numbers said in words, lower-cased: ``"Пять тетрадей."`` -> ``['пять']``."""
    return [m.group(0).lower() for m in cues()["number"].finditer(text)]


def negated(text: str, lang: str | None = None, privative: bool = True) -> bool:
    """``privative=False``: "without", "без", "ohne" do not count ("Without it I'm shut away.")."""
    lang = lang or detect_language(text)
    low = text.lower()
    if not privative:
        low = cues()["privative"][lang].sub(" ", low)
    return bool(cues()["negation"][lang].search(low))


def novel_words(claim: str, starts: set[str], text: str = "") -> list[str]:
    """Informative words of a claim whose first five letters no passage word shares (a different
    method from the chat's guard, which grounds stems against a lexicon: the judge must not share
    the guard's blind spots), nor the first five of their dictionary form (``starts`` from
    ``text_starts``: "geworfen" is "warf", "несёт" is "нести"). In Russian and German, whose words
    take prefixes and join into compounds, a word whose first ``INFIX`` letters stand anywhere in
    the passages' ``text`` is not novel ("бинты" in "забинтованное")."""
    from wordfreq import zipf_frequency

    lang = detect_language(claim)
    stop = _stopwords()[lang]
    return [w for w in (x.lower() for x in WORD.findall(claim))
            if len(w) > 3 and w not in stop and w[:5] not in starts and zipf_frequency(w, lang) < NOVEL_ZIPF
            and not (lang in INFLECTED and len(w) >= INFIX + 2 and w[:INFIX] in text)
            and _lemma_start(w) not in starts]


@lru_cache(maxsize=65536)
def _lemma_start(word: str) -> str:
    """The first five letters of a word's dictionary form (simplemma's lists, read by the word's
    script: Cyrillic as Russian, else German or English), marked so no word start equals it."""
    import simplemma

    langs = "ru" if _CYRILLIC.search(word) else ("de", "en")
    return LEMMA_MARK + simplemma.lemmatize(word.lower(), lang=langs).lower()[:5]


def text_starts(text: str) -> set[str]:
    """The passages' word starts and the starts of their words' dictionary forms (``novel_words``).
    Labels, supported: first halves 0.788 both, second halves 0.713 -> 0.750 (German strong verbs:
    "ins Feuer geworfen" for the summary's "abzog und ins Feuer warf")."""
    words = WORD.findall(text.lower())
    return {w[:5] for w in words} | {_lemma_start(w) for w in set(words) if len(w) > 3}


CLAUSE_WORDS = 3   # a clause this long or longer is read on its own
VERDICT_WORDS = 6   # "She did not burn them:", "Corrects the premise:": a verdict before the fact it rests on
# ... split at a semicolon, colon, comma or dash; with three or more, each two neighbours are read together
# too ("...as if from a week-long trip, and I met him as if nothing had happened"). Labels: conveys, first
# halves 0.796 -> 0.850 (0.844 without the pairs), second halves 0.790 -> 0.832; the other three unchanged.
# (Before ENTAIL_CROSS_MIN, splitting at commas had gained nothing on the second halves.) A statement is
# entailed when any sentence or clause is close enough and negated as it is (not only the closest one:
# "my whole face is scarred" beat the sentence that says "no car crash"): conveys 0.857 / 0.839.
# Must-nots are read at ; : and dashes only: at commas, "wrote where the mask was" became "the mask
# was still in the cupboard" (four faithful answers of the full eval read as violations).
_CLAUSE = {True: re.compile(r"\s*[;:,]\s+|\s+[-–—]\s+"), False: re.compile(r"\s*[;:]\s+|\s+[-–—]\s+")}


def readings_of(statement: str) -> list[str]:
    """What an answer may state to convey an English statement: the statement, less the "No" to a
    premise, and, when it opens with a short verdict before a colon, the fact alone ("She did not burn
    them: she went to house S and read them" -> also "she went to house S and read them"): a
    correction that tells the true fact in its place need not say the verdict's "not" (readers count
    it right, judge/refusal_reads.jsonl). Not the fact without a closing contrast ("..., not acid"):
    "The acid splashed over my face" would then convey "it was liquid oxygen" (label j024)."""
    st = REPLY_NO.sub("", statement) or statement
    out = [st]
    head, colon, fact = st.partition(": ")
    if colon and len(WORD.findall(head)) <= VERDICT_WORDS and len(WORD.findall(fact)) >= CLAUSE_WORDS:
        out.append(fact)
    return out


def clauses(sentence: str, commas: bool = True) -> list[str]:
    """The clauses of a sentence, when it has several of three words or more, and each two
    neighbours when it has three or more: "She tries to help; I don't let her, I cannot look at
    myself." -> the three and the two pairs (``commas=False``: split at ; : and dashes only)."""
    parts = [p.strip() for p in _CLAUSE[commas].split(sentence) if len(WORD.findall(p)) >= CLAUSE_WORDS]
    if len(parts) < 2:
        return []
    return parts + ([f"{a}, {b}" for a, b in zip(parts, parts[1:])] if len(parts) > 2 else [])


def specifics(sentence: str) -> list[str]:
    """Numbers and capitalised non-initial words (names, places), lower-cased: ``"Then K. came at
    9."`` -> ``['k', '9']``. In German every noun is capitalised: there a capitalised word is a
    specific only when it is rare (``NOUN_ZIPF``) and English text uses it too: a name keeps its form
    across languages ("Hokkaido", "Yokohama", "Sapporo" all occur in English), a German noun does not
    ("Lazarett", "Tabakladen" never do). So "Gefühl" or "Lazarett" in a paraphrase is a word like
    any other (held to the novel-word rule) and "Hokkaido" stays a name."""
    from wordfreq import zipf_frequency

    words = WORD.findall(sentence)
    german = detect_language(sentence) == "de"
    return [w.lower() for w in words[1:] if w[0].isupper() and len(w) > 1 and w.lower() != "i"
            and not (german and (zipf_frequency(w.lower(), "de") >= NOUN_ZIPF
                                 or zipf_frequency(w.lower(), "en") == 0))] + NUM.findall(sentence)
