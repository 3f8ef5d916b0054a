"""The plan: what an answer will be, decided before any model call where it can be.

Design choices:
- A memory *answers* the question when one of its reader questions matches it (``ANSWER_MIN``,
  calibrated on half of the eval set, ``evals/calibrate_memories.py``) and, for a name or number
  question, holds a name or number; up to two answering
  memories are the answer with a small model (a bundled one), whose drafts rarely survive the guard.
- "and then?" takes the next memory in story order after the last one said; "why?", when no memory
  answers it, one told beside the last one said; a memory already said is not said again unless the
  same question is asked again.
- A false premise - a question word, number or name nothing in the character's scope grounds, read
  by the offline support check - is corrected from the memory about its topic, when that memory is
  near (``ANSWER_NEAR``) but does not answer, and no other memory answers: a memory that answers
  means the premise is only the reader's wording.
- When the draft will fail too, a near memory that cites one of the question's first passages is
  the fallback (two signals agreeing; never for a typed question); a model is never asked to draft
  in a language it does not write (``Backend.writes``).
- Scopes (all evidence units a character may know at a story point) are built once and kept.

    >>> planner = Planner(searcher, embedder)
    >>> planner.plan(state, backend)["mode"]
    'compose'
"""
from __future__ import annotations

import threading

from chat import compose as C
from chat.evidence import units_for
from chat.verify import get_verifier
from retrieval.search import Hit

ANSWER_MIN = 0.94        # question-to-question similarity at which a memory answers (evals/calibrate_memories.py:
                         # fitted on one half of the eval items, checked on the other; per-language thresholds fitted
                         # the same way, en 0.91 / ru 0.92 / de 0.94, answered unanswerable questions with neighbours)
ANSWER_NEAR = 0.90       # a memory this close answers when the draft fails and it cites the question's first passage;
                         # and corrects a false premise, unless a memory answers (then the premise is the reader's
                         # wording; on the calibration half corrections right/wrong 2/16 -> 2/9)
HIT_BONUS = 0.03         # boost for an evidence memory citing a retrieved passage (x 1/rank)
NEAR_CANDIDATES = 2      # the near fallback looks at this many closest memories for one citing
NEAR_HITS = 3            # one of the passages the question finds first
SCOPES_KEPT = 16         # (character, story point) scopes whose evidence units are kept for reading premises


class Planner:
    def __init__(self, searcher, embedder):
        self.searcher = searcher
        self.premises = get_verifier("offline", embedder)   # reads questions, no model call
        self._scopes: dict = {}
        self._lock = threading.Lock()

    def plan(self, s: dict, backend) -> dict:
        """``{"mode": generate|compose|correct|abstain, "memories": [...], "reason"?}`` for the chain's state."""
        lang, q, history = s["lang"], s["question"], s["history"]
        matches = s["evidence"]["matches"]
        if s["ooc"] or not s["use_retrieval"] or s.get("passages") is not None:
            return {"mode": "generate", "memories": []}
        said = C.said_before(history)
        fresh = [m for m in matches if C.asked_before(q, history) or not C.is_said(m.memory, lang, said)]
        kind = C.question_type(q)
        answering = [m.memory for m in fresh if max(m.answers, m.self_answers) >= ANSWER_MIN
                     and C.gives(kind, m.memory.text[lang], lang)][:2]   # a name question wants a name
        if C.followup(q) == "next":
            last = C.last_said([m.memory for m in matches], lang, history) or next(
                (m.memory for m in matches if m.answers >= ANSWER_NEAR), None)   # what the last question was about
            nxt = C.next_memory([m.memory for m in matches], last, lang, said) if last else None
            if nxt or last:
                return {"mode": "compose" if nxt else "abstain", "memories": [nxt] if nxt else [],
                        "reason": "follow-up: the next thing in story order"}
        if C.followup(q) == "why" and not answering:   # no memory answers "<last question> why?" itself
            last = C.last_said([m.memory for m in matches], lang, history)
            why = C.reason_memory([m.memory for m in matches], last, lang, said, self.searcher.corpus) if last else None
            if why:
                return {"mode": "compose", "memories": [why], "reason": "follow-up: the reason told beside it"}
        premise = "" if answering else self.premise(s)
        topic = max(fresh, key=lambda m: m.answers + m.about, default=None)
        if premise and topic and ANSWER_NEAR <= topic.answers < ANSWER_MIN:
            return {"mode": "correct", "memories": [topic.memory], "reason": f"false premise: {premise}"}
        if answering and not backend.capable:
            return {"mode": "compose", "memories": answering}
        near = [] if answering or kind else [
            m.memory for m in fresh[:NEAR_CANDIDATES]
            if m.answers >= ANSWER_NEAR and hit_rank_weight(m.memory, s["evidence"]["hits"][:NEAR_HITS])][:1]
        if not backend.writes(lang):   # a draft in a language the model cannot write would be word salad
            return {"mode": "compose" if answering or near else "abstain", "memories": answering or near}
        return {"mode": "generate", "memories": answering or near}

    def scope(self, card, flt) -> list:
        """Every passage and memory the character knows at this story point, as evidence units,
        kept (with the verifier's vocabulary and vectors of them) for the next question."""
        key = (card.id, flt)
        units = self._scopes.get(key)
        if units is None:
            hits = [Hit(c, 0.0) for c in self.searcher.chunks.values() if flt.accepts(c["meta"])]
            mems = [(m, 0.0) for m in card.memories_in(flt)]
            units = units_for(self.searcher.corpus, card, hits, mems)
            self.premises.prepare(units)                  # the vocabulary and vectors, once
            with self._lock:   # answers may be planned in several threads (a model server)
                if len(self._scopes) >= SCOPES_KEPT:
                    self._scopes.pop(next(iter(self._scopes)), None)
                self._scopes[key] = units
        return units

    def premise(self, s: dict) -> str:
        """What the question takes for granted that nothing the character knows gives ("" if
        nothing): the question, read as a statement, through the offline support check against
        every passage and memory in the character's scope at this story point."""
        units = self.scope(s["card"], s["flt"])
        f = self.premises.features([s["question"].rstrip(" ?!") + "."], units, s["lang"])[0]
        loose = [w for w, z, g, c in f["words"] if not g and not c and z < self.premises.t["info_zipf"]]
        return ", ".join([*map(str, f["numbers"]), *f["names"], *loose])


def topical(matches, hits) -> list:
    """``(memory, score)`` by how much each is about the question, boosted when it cites a passage
    the question found."""
    return sorted(((x.memory, x.about + HIT_BONUS * hit_rank_weight(x.memory, hits)) for x in matches),
                  key=lambda x: -x[1])


def hit_rank_weight(memory, hits) -> float:
    """1/rank of the best retrieved chunk containing a sentence the memory cites, else 0."""
    return max([1.0 / r for r, h in enumerate(hits, 1) for seed, start in memory.cites
                if h.chunk["source_file"] == seed and h.chunk["start"] <= start < h.chunk["end"]] or [0.0])
