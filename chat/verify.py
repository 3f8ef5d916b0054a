"""The support check: does what a sentence *claims* rest on the evidence? Verifiers by name
(their interface, the evidence units and verdicts, is ``chat.support``).

Design choices:
- A faithful paraphrase uses other words; an invention brings in facts. So the offline verifier
  checks the *informative* words of a sentence - rarer than ``info_zipf`` in the language's word
  frequencies (``wordfreq``), so "funny", "shape", "choice" are not claims and "Hokkaido", "acid",
  "corporal" are - and lets them through only when the evidence grounds them: the same stem or word
  start in any rendering of the evidence in the sentence's language, a German compound of grounded
  parts, or the paraphrase lexicon of the evidence sentences (``seeds/lexicon``: synonyms and word
  forms a restatement may use, never new facts). Conversational words (``verifier.yaml``) never count,
  in any of their forms (matched by stem: "zugebe" as the listed "zugeben").
- The words, numbers and names a sentence claims are read by ``chat.claims``; this module holds
  them against the evidence.
- A short sentence (``short_sentence`` such words at most) may leave one common word ungrounded, a
  capable model's wording ("Нет, далеко не только.", "Man nennt mich K., und dabei bleibt es."),
  unless the word is the reader's own: "Were you scared?" - "I wasn't scared of him." is a claim.
- Specifics are held to more: every number (digits or number words, "eleven", "zweiundfünfzig",
  "восемь", compared by value) and every name (a capitalised word inside an English or Russian
  sentence) must occur in the evidence or the character's own names, or the sentence goes.
- A claim the evidence contradicts by negation ("I was never scared" where it says she was)
  differs in negation from its closest evidence unit in the same language; that sentence goes.
- A correction may use the reader's own words ("Acid? No - it was liquid oxygen."): in a clause
  with a negation, or one asked back, the question's words count as grounded, provided the sentence
  also puts something of the evidence in their place (a bare "No, I wasn't scared." is a claim like
  any other: the replay set's invented denials look just like that). Only for a capable model
  (``echo_denials``): a small one negates the question back whatever the truth.
- Words someone is quoted as saying (in quotation marks) claim to be those words: none of their
  less common words may be missing from the evidence, as one ungrounded word elsewhere may.
- A sentence must also be about the evidence at all (e5 similarity ``sim_min`` to some unit).
- Thresholds live in ``verifier.yaml``, calibrated on the ``calibration`` half of the strong-model
  replay set and reported on the ``heldout`` half (``evals/calibrate_verifier.py``).
- ``llm`` asks a capable model for a verdict per sentence (claims against numbered evidence, as
  RAGAS does); a reply it cannot read falls back to ``offline`` with a visible note.

    >>> v = get_verifier("offline", embedder)
    >>> [x.supported for x in v.check(["I burned my face with acid."], units, "en")]
    [False]
"""
from __future__ import annotations

import json
import re
import threading

import numpy as np

from chat.claims import (WORD, content_words, conversational, declines, names, negations, number_values,
                         sentences_of, settings_data, zipf)
from chat.grounding import Vocabulary
from chat.support import SIMILAR_KINDS, Evidence, Verdict, Verifier
from core.errors import FaceError, UnknownNameError
from retrieval.lexical import detect_language

_QUOTE = re.compile(r'"([^"]+)"|«([^»]+)»|„([^“”"]+)[“”"]|“([^”]+)”')   # words someone is quoted as saying
_CLAUSE = re.compile(r"(?<=\?)|\s[-–—:;]\s|,\s")   # "Acid? | No - | it was liquid oxygen."


def _distinct(order: list, pieces: list) -> list:
    """Indices in ``order`` less those whose text an earlier one has (one sentence in two
    overlapping passages is one piece of support, so the next-best unit may count too)."""
    seen, out = set(), []
    for j in order:
        if pieces[j][1] not in seen:
            seen.add(pieces[j][1])
            out.append(j)
    return out


class OfflineVerifier(Verifier):
    """No model call: informative words grounded, specifics present, negation agreeing, on topic."""
    name = "offline"

    @classmethod
    def build(cls, embedder, backend=None, small_model: bool = False) -> "OfflineVerifier":
        return cls(embedder, settings_data()["small_model"] if small_model else None)

    def __init__(self, embedder, thresholds: dict | None = None):
        self.embedder = embedder
        self.t = {**settings_data()["thresholds"], **(thresholds or {})}
        self._cache: dict[str, np.ndarray] = {}
        self._remembered: dict[str, np.ndarray] = {}
        self._prepared_for: dict[int, tuple] = {}
        self._lock = threading.RLock()

    def remember(self, texts: list[str], vectors: np.ndarray) -> None:
        """Vectors computed elsewhere (the corpus sentences, the memories): never embedded again."""
        self._remembered.update(zip(texts, vectors))

    def prepare(self, units):
        self._prepared(units)

    def _vectors(self, texts: list[str]) -> np.ndarray:
        with self._lock:   # answers may be checked in several threads (a model server)
            todo = [t for t in dict.fromkeys(texts) if t not in self._remembered and t not in self._cache]
            if todo:
                if len(self._cache) > 8192:
                    self._cache.clear()
                self._cache.update(zip(todo, self.embedder.embed_documents(todo)))
            return np.stack([self._remembered[t] if t in self._remembered else self._cache[t] for t in texts])

    def _prepared(self, units: list[Evidence]):
        """The evidence's vocabularies and sentence vectors, kept for the last few unit lists (one
        answer checks each draft sentence against the same list; premises read a whole scope's)."""
        key = id(units)
        with self._lock:
            kept = self._prepared_for.get(key)
        if kept and kept[0] is units and len(units) == kept[1]:
            return kept[2]
        vocab = Vocabulary([u for u in units if u.kind != "question"])
        echo = Vocabulary(units)   # a question asked back may use the reader's words
        similar = [i for i, u in enumerate(units) if u.kind in SIMILAR_KINDS]
        pieces = [(i, p) for i in similar for p in sentences_of(units[i].text)]   # units are mostly single sentences
        matrix = self._vectors([p for _, p in pieces]) if pieces else np.zeros((0, 0))
        with self._lock:
            if len(self._prepared_for) >= 16:
                self._prepared_for.pop(next(iter(self._prepared_for)))
            self._prepared_for[key] = (units, len(units), (vocab, echo, pieces, matrix))   # holds units: the id stays theirs
        return vocab, echo, pieces, matrix

    def features(self, sentences: list[str], units: list[Evidence], lang: str) -> list[dict]:
        """What the decision looks at, per sentence (also what calibration fits thresholds on)."""
        vocab, echo, pieces, matrix = self._prepared(units)
        sims = (self._vectors(sentences) @ matrix.T if pieces and sentences else np.zeros((len(sentences), 0)))
        out = []
        for n, s in enumerate(sentences):  # with no evidence at all, only what claims nothing can stand
            s_lang = detect_language(s) if len(WORD.findall(s)) >= 3 else lang
            neg = negations()[s_lang]
            known = echo if s.rstrip().endswith("?") else vocab
            denied = {w for c in _CLAUSE.split(s) if c.strip().endswith("?") or neg.search(c) for w in content_words(c, s_lang)}
            words = [(w, round(zipf(w, s_lang), 2), known.grounds(w, s_lang), conversational(w, s_lang))
                     for w in dict.fromkeys(content_words(s, s_lang))]
            asked = [w for w, _, g, _ in words if not g and echo.grounds(w, s_lang)]   # the reader's words
            order = list(np.argsort(-sims[n])) if pieces else []
            same = [j for j in order if units[pieces[j][0]].lang == s_lang][:1]
            rests_on = list(dict.fromkeys(pieces[j][0] for j in _distinct(order, pieces)[:4]
                                          if sims[n][j] >= self.t["sim_min"]))[:2]
            out.append({
                "sentence": s, "lang": s_lang, "sim": float(sims[n].max()) if pieces else 0.0,
                "words": words,   # (word, zipf, grounded, conversational) for every content word
                "numbers": sorted(number_values(s, s_lang) - known.numbers),
                "names": [w for w in names(s, s_lang) if w.lower() not in known.text],
                "coherence": vocab.coherence([w for w, z, g, c in words if g and not c and z < self.t["common_zipf"]
                                              and vocab.grounds(w, s_lang)], s_lang),
                "declines": declines(s, s_lang),
                "quoted": [w for q in _QUOTE.findall(s) for w in content_words("".join(q), s_lang)
                           if not known.grounds(w, s_lang) and not conversational(w, s_lang)
                           and zipf(w, s_lang) < self.t["common_zipf"]],
                "question": s.rstrip().endswith("?"),
                "asked": asked,
                "echoed": [w for w in asked if w in denied],   # ... that it denies
                "negation": bool(same) and bool(neg.search(s)) != bool(neg.search(pieces[same[0]][1])),
                "negation_sim": float(sims[n][same[0]]) if same else 0.0,
                "rests_on": rests_on,
            })
        return out

    def decide(self, f: dict) -> list[str]:
        """Reasons a sentence is not supported ([] = supported)."""
        t, reasons = self.t, []
        rare = [(w, z, g) for w, z, g, conversational in f["words"] if z < t["common_zipf"] and not conversational]
        if t["echo_denials"] > 0 and any(g for w, z, g in rare):   # "Acid? No - liquid oxygen.": the reader's
            rare = [(w, z, g or w in f["echoed"]) for w, z, g in rare]   # word denied, the evidence's put instead
        loose = [w for w, z, g in rare if not g]
        informative = [w for w, z, g in rare if not g and z < t["info_zipf"]]
        if f["numbers"]:
            reasons.append("a number the evidence does not give: " + ", ".join(map(str, f["numbers"])))
        if f["names"]:
            reasons.append("a name the evidence does not give: " + ", ".join(f["names"]))
        if f["quoted"]:
            reasons.append("quotes words the evidence does not give: " + ", ".join(f["quoted"]))
        if not rare or ((f["declines"] or f["question"]) and len(informative) <= t["max_informative"]):
            return reasons   # "I won't say.", "Yes.", "Acid?": claims nothing, unless it slips in a specific
        if len(informative) > t["max_informative"]:
            reasons.append("says what the evidence does not: " + ", ".join(informative))
        elif len(loose) > (1 if _short(rare, loose, informative, f, t) else t["max_ungrounded_share"] * len(rare)):
            reasons.append("too little of it is in the evidence: " + ", ".join(loose))
        if f["coherence"] < t["min_coherence"]:
            reasons.append(f"stitched from different passages (coherence {f['coherence']:.2f})")
        if f["negation"] and f["negation_sim"] >= t["negation_sim"]:
            reasons.append("contradicts the evidence (negation)")
        floor = t["grounded_sim_min"] if _wholly_grounded(rare, f) else t["sim_min"]
        if f["sim"] < floor:
            reasons.append(f"not about the evidence (similarity {f['sim']:.2f} < {floor})")
        return reasons

    def check(self, sentences, units, lang):
        out = []
        for f in self.features(list(sentences), units, lang):
            reasons = self.decide(f)
            out.append(Verdict(f["sentence"], not reasons, round(f["sim"], 4), f["rests_on"], reasons))
        return out


def _wholly_grounded(rare: list, f: dict) -> bool:
    """Every less common word grounded, two at least, all by one passage or memory: the sentence
    restates that unit in other words ("Let's just say I'm the doctor, the one who treats complexes
    with artificial things."), however far e5 puts the wording."""
    return len(rare) >= 2 and all(g for w, z, g in rare) and f["coherence"] >= 1.0


def _short(rare: list, loose: list, informative: list, f: dict, t: dict) -> bool:
    """A short statement whose one ungrounded word is common wording, not a claim ("Нет, далеко не
    только."): at most ``short_sentence`` rare words, none informative left ungrounded, and not the
    reader's own word, affirmed or denied ("Were you scared?" - "I wasn't scared of him at all." is a claim)."""
    return (len(rare) <= t["short_sentence"] and not informative and not f["question"]
            and not set(loose) & set(f["asked"]))


class VerifierError(FaceError):
    """The LLM verifier's reply could not be read."""


class LLMVerifier(Verifier):
    """A capable model judges each sentence against the numbered evidence (one call per answer)."""
    name = "llm"

    @classmethod
    def build(cls, embedder, backend=None, small_model: bool = False) -> "LLMVerifier":
        return cls(backend, OfflineVerifier.build(embedder, small_model=small_model))

    def __init__(self, backend, fallback: Verifier):
        self.backend, self.fallback = backend, fallback
        self._notes: list[str] = []

    def notes(self):
        return list(self._notes)

    def remember(self, texts, vectors):
        self.fallback.remember(texts, vectors)

    def prepare(self, units):
        self.fallback.prepare(units)

    def _ask(self, sentences: list[str], units: list[Evidence]) -> list[bool]:
        from backends import GenerationOptions

        p = settings_data()["llm"]
        evidence = "\n".join(f"{n}. {u.text}" for n, u in enumerate(
            (u for u in units if u.kind in SIMILAR_KINDS), 1)) or "-"
        claims = "\n".join(f"{n}. {s}" for n, s in enumerate(sentences, 1))
        reply = self.backend.complete([{"role": "system", "content": p["system"]},
                                       {"role": "user", "content": p["user"].format(evidence=evidence, sentences=claims)}],
                                      GenerationOptions(temperature=0.0, max_tokens=300, repeat_penalty=1.0))
        found = re.search(r"\[.*\]", reply, re.DOTALL)
        try:
            items = json.loads(found.group(0)) if found else None
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list) or len(items) != len(sentences):
            raise VerifierError(f"expected a JSON list of {len(sentences)} verdicts, got {reply[:60]!r}")
        return [str(x).strip().lower().startswith(("yes", "true", "supported")) for x in items]

    def check(self, sentences, units, lang):
        self._notes = []
        offline = self.fallback.check(sentences, units, lang)   # specifics, evidence and scores for citing
        if not sentences or not any(u.kind in SIMILAR_KINDS for u in units):
            return offline   # nothing to judge against: only what claims nothing stands
        try:
            verdicts = self._ask(list(sentences), units)
        except FaceError as exc:
            self._notes = [f"the llm verifier's reply could not be read ({' '.join(str(exc).split())[:120]}); "
                           "the answer was checked offline"]
            return offline
        return [Verdict(v.text, ok, v.score, v.evidence, [] if ok else ["the verifier model found it unsupported"])
                for v, ok in zip(offline, verdicts)]


VERIFIERS: dict[str, type[Verifier]] = {cls.name: cls for cls in (OfflineVerifier, LLMVerifier)}


def get_verifier(name: str, embedder, backend=None, small_model: bool = False) -> Verifier:
    """``offline`` (default, no model call) or ``llm`` (``backend`` judges, offline as fallback).
    ``small_model``: the drafts come from a small model (a bundled one, in process or served): stricter thresholds."""
    if name not in VERIFIERS:
        raise UnknownNameError("verifier", name, VERIFIERS)
    return VERIFIERS[name].build(embedder, backend, small_model)
