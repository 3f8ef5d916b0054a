"""The interview chain: condense -> retrieve in scope -> plan -> (generate, checked as it streams) -> answer.

Design choices:
- LangChain runnables wire the preparation (``RunnablePassthrough.assign`` per step: condense,
  retrieve, plan, prompt); the prompt is built by ``chat.prompt`` from ``prompts.yaml``;
  generation goes through ``BackendChatModel``, so any backend plugs in.
- The model is never the only author. Its draft is checked sentence by sentence while it streams
  (``chat.draft``): what passes is shown at once and never withdrawn; generation stops as soon as
  the answer is decided. A small model's draft is shown from its first sentence in the first person
  on (it copies passages in the third person); a capable model's from its first that answers ("Так,
  будто ничего не случилось." need not wait for the "я" of the next). A draft that does not answer
  the question, or not in character, is abandoned for the character's memories or an "I don't
  know" that fits the question.
- The plan is made before any model call (``chat.plan``): memories that answer the question, a
  false premise corrected, "and then?", or a draft; with a small model (``Backend.capable`` is False:
  a bundled one, in process or behind ``app.py model-server``) an answering memory is the answer, no
  draft is waited for, and what it drafts is held to the strict support check; no model is asked to
  draft in a language it does not write (``Backend.writes``: SmolLM2 writes English only). ``chat.compose`` words what is not drafted.
- Probes that try to break character are answered by the card's deflections before any model call;
  ``/ooc`` asks the narrator. Everything a character sees goes through ``Card.knowledge``.
- With an in-process model, answers are computed one at a time per process (llama.cpp's threads
  spin while they wait); a model server keeps concurrent answers.
"""
from __future__ import annotations

import contextlib
import threading
import time
import zlib

from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from backends import GenerationOptions, StreamCut, get_backend, judge_backend
from backends.langchain_chat import BackendChatModel, to_openai_messages
from characters import get_card
from chat import compose as C
from chat.answer import Answer, Citations, context_item
from chat.claims import load_frequencies
from chat.draft import MAX_FAILS, Draft, sentences
from chat.evidence import more_hits, sentence_texts, units_for
from chat.guard import Guard
from chat.inputs import clean_message, probe, prompts
from chat.memory import MemoryIndex, ahead, ranked
from chat.plan import Planner, topical
from chat.prompt import build_prompt
from chat.verify import get_verifier
from core.timing import timed, timer
from retrieval.corpus import LANGUAGES
from retrieval.lexical import detect_language
from retrieval.search import Searcher, SearchFilter

HISTORY_TURNS = 4        # at most this many past turns, fewer if the context window is short
ON_POINT_PASSAGES = 3    # a sentence resting on one of the question's first passages answers it
NEAR_CANDIDATES = 2      # the near fallback looks at this many closest memories for one citing
NEAR_HITS = 3            # one of the passages the question finds first
ANSWER_TOKENS = 80       # "one to three short sentences"; every token costs time on 2 cores (in process)
SERVER_ANSWER_TOKENS = 200   # a model server: room for a capable model's three or four sentences
SERVER_MAX_FAILS = 3     # failed sentences in a row a server model's draft may have (the bundled model's: 2)


class Interviewer:
    """One per process: holds the searcher, the backend and the memory index (all lazy)."""

    def __init__(self, settings, searcher: Searcher | None = None, backend=None, k: int = 5,
                 options: GenerationOptions | None = None):
        self.settings = settings
        self.searcher = searcher or Searcher(settings)
        self.backend = backend or get_backend(settings)
        self.k = k
        self.options = options or GenerationOptions(
            max_tokens=ANSWER_TOKENS if self.backend.in_process else SERVER_ANSWER_TOKENS)
        self.memories = MemoryIndex(self.searcher.store.embedder, settings.data_dir)
        self._one_at_a_time = threading.Lock() if self.backend.in_process else contextlib.nullcontext()
        self.guard = Guard(get_verifier(settings.verifier, self.searcher.store.embedder,
                                        judge_backend(settings) if settings.judge_base_url else self.backend,
                                        small_model=not self.backend.capable))
        self.planner = Planner(self.searcher, self.searcher.store.embedder)
        self._warmed, self._warm_cards = False, set()
        self.last_prompt: list[dict] = []
        self.prepare = (RunnablePassthrough.assign(query=RunnableLambda(timed("condense", self._condense)))
                        | RunnablePassthrough.assign(evidence=RunnableLambda(self._retrieve))
                        | RunnablePassthrough.assign(plan=RunnableLambda(timed("plan", self._plan)))
                        | RunnablePassthrough.assign(messages=RunnableLambda(timed("prompt", self._prompt))))

    # -- public -----------------------------------------------------------------------------
    def answer(self, character: str, question: str, **kw) -> Answer:
        """The whole answer (``stream`` without the sentence events)."""
        return next(e["answer"] for e in self.stream(character, question, **kw) if "answer" in e)

    def stream(self, character: str, question: str, history=(), as_of: str | None = None,
               lang: str | None = None, use_retrieval: bool = True, k: int | None = None,
               temperature: float | None = None, passages: list | None = None):
        """Yield ``{"sentence": text}`` for each sentence as soon as it may be shown (never taken
        back), then ``{"answer": Answer}``. ``use_retrieval=False``: no passages and no memories
        (the no-retrieval baseline); ``passages``: these hits instead of searching (the oracle)."""
        question = clean_message(question)
        ooc = question.lower().startswith(prompts()["ooc_prefix"])
        if ooc:
            question = clean_message(question[len(prompts()["ooc_prefix"]):] or " ")
        lang = lang if lang in LANGUAGES else detect_language(question)
        card = get_card(character, self.searcher.corpus)
        points = card.story_points(self.searcher.corpus, as_of)
        flt = (SearchFilter(as_of=points) if ooc else card.knowledge(self.searcher.corpus, as_of))
        base = dict(character=card.id, question=question, language=lang, backend=self.backend.name,
                    model=self.backend.model, as_of={p.work: p.id for p in points})
        seed = zlib.crc32(question.encode())
        found = None if ooc else probe(question)
        sayable = self.planner.lines(card, lang, flt)   # kind -> what the character may say of the card's lines
        if found:
            lines = sayable("deflect" if found in ("ai", "override") else "refuse")
            text = lines[seed % len(lines)]
            yield {"sentence": text}
            yield {"answer": Answer(answer=text, mode="abstained", abstained=True, reason=f"probe:{found}",
                                    sentences=[C.said_item(text, 1.0, [])], **base)}
            return
        opts = self.options if temperature is None else GenerationOptions(
            **{**self.options.__dict__, "temperature": float(temperature)})
        history = [{"role": m["role"], "content": m["content"]} for m in history][-2 * HISTORY_TURNS:]
        state = dict(card=card, question=question, history=history, lang=lang, flt=flt, ooc=ooc, base=base,
                     use_retrieval=use_retrieval, passages=passages, k=k or self.k, options=opts, seed=seed,
                     sayable=sayable, timings={}, started=time.perf_counter())
        with self._one_at_a_time:
            self._warm(card)
            for event in self._answer(self.prepare.invoke(state)):
                t = state["timings"]
                now = round(time.perf_counter() - state["started"], 4)
                if "sentence" in event:
                    t.setdefault("first_shown", now)
                else:
                    event["answer"].timings = {**t, "total": now}
                yield event

    def warm(self, characters) -> None:
        """Open the store and fill every cache these characters' answers use, here and once, so
        that answers may then be asked for in several threads (``evals run`` with a model server)."""
        self.searcher.ensure_ready()
        for c in dict.fromkeys(characters):
            card = get_card(c, self.searcher.corpus)
            self._warm(card)
            self.memories.top(card, card.name["en"], k=1)
            self.planner.scope(card, card.knowledge(self.searcher.corpus, None))   # at the default story point

    # -- preparation ------------------------------------------------------------------------
    def _warm(self, card) -> None:
        """Give the verifiers every corpus sentence's and this card's memories' vectors, computed
        once per data directory (disk cache) instead of once per answer."""
        if not self._warmed:
            load_frequencies(LANGUAGES, self.memories.cache_dir)   # the support check reads every word's frequency
            texts = sentence_texts(self.searcher.corpus)
            vectors = self.memories.cached("sentences", texts, self.searcher.store.embedder.embed_documents)
            for v in (self.guard.verifier, self.planner.premises):
                v.remember(texts, vectors)
            self._warmed = True
        if card.id not in self._warm_cards:
            texts = [m.text[lang] for m in card.memories for lang in LANGUAGES]
            vectors = self.memories.vectors(card).reshape(len(texts), -1) if texts else []
            for v in (self.guard.verifier, self.planner.premises):
                v.remember(texts, vectors)
            self._warm_cards.add(card.id)

    @staticmethod
    def _condense(s) -> str:
        """A short follow-up ("and then?") borrows the previous question's words for retrieval."""
        q = s["question"]
        prev = [m["content"] for m in s["history"] if m["role"] == "user"]
        return f"{prev[-1]} {q}" if prev and len(q.split()) < 5 else q

    def _retrieve(self, s) -> dict:
        card, flt = s["card"], s["flt"]
        if not s["use_retrieval"]:
            return {"hits": [], "memories": [], "matches": []}
        hits, t0 = s.get("passages"), time.perf_counter()
        if hits is None:
            hits = self.searcher.search(s["query"], k=s.get("k", self.k), flt=flt, lang=s["lang"])
        s["timings"]["retrieve"], t0 = time.perf_counter() - t0, time.perf_counter()
        if s["ooc"]:
            return {"hits": hits, "memories": [], "matches": []}
        asked = s["query"] if C.followup(s["question"]) else s["question"]   # "what did she say?" needs the last question
        in_scope, found = card.memories_in(flt), self.memories.scored(card, asked)
        matches = ranked(found, 40, in_scope)
        later = ahead(found, in_scope, {p.work for p in flt.as_of})   # a later memory's answer: not yet
        untold = self.memories.untold(card, asked)   # ... or one the texts never give
        s["timings"]["memories"] = time.perf_counter() - t0
        return {"hits": hits, "memories": topical(matches, hits)[:3], "matches": matches, "ahead": later,
                "untold": untold}

    def _plan(self, s) -> dict:
        return self.planner.plan(s, self.backend)

    def _prompt(self, s) -> list:
        return build_prompt(s, self.backend) if s["plan"]["mode"] == "generate" else []

    # -- answering --------------------------------------------------------------------------
    def _answer(self, s):
        card, lang, plan = s["card"], s["lang"], s["plan"]
        hits, mems = s["evidence"]["hits"], s["evidence"]["memories"]
        checked = list(hits)                     # grows with what the draft's own sentences find
        cites = Citations(self.searcher.corpus, checked)
        base = {**s["base"], "context": [context_item(h.chunk) for h in hits]}
        draft, parts, partial = None, [], False
        if plan["mode"] == "generate":
            self.last_prompt = to_openai_messages(s["messages"])   # what the model was sent (benchmarks compare)
            draft = self._draft(s, checked, mems)
            try:
                for piece in sentences(self._deltas(s, parts, draft)):
                    for v in draft.take(piece):
                        yield {"sentence": v.text}
            except StreamCut:
                partial = True
            base.update(draft="".join(parts), notes=self.guard.verifier.notes(),
                        dropped=[{"text": v.text, "score": v.score, "reasons": v.reasons} for v in draft.dropped])
            if draft.committed:
                units = draft.units
                shown = [C.said_item(v.text, v.score, sorted({i for e in v.evidence for i in cites.of_unit(units[e], mems)}))
                         for v in draft.shown]
                yield {"answer": Answer(answer=" ".join(x["text"] for x in shown), mode="generated", abstained=False,
                                        sentences=shown, citations=cites.items, partial=partial, **base)}
                return
        with timer(s["timings"], "compose"):
            answer = C.without_draft(s, plan, cites, base)
        opened = [C.said_item(v.text, v.score, []) for v in draft.shown] if draft else []
        answer = C.open_with(answer, opened)   # an opener shown before the draft was abandoned stays, first
        for x in answer.sentences[len(opened):]:
            yield {"sentence": x["text"]}
        yield {"answer": answer}

    def _draft(self, s, checked: list, mems) -> Draft:
        card, lang = s["card"], s["lang"]
        secret = (card.voice, *(x for key in ("persona_system", "narrator_system") for x in prompts()[key].split("\n")))
        forbidden = (*secret, *(str(f["text"]) for f in card.facts))   # ... and the start of the card's facts
        answering = {id(m) for m in s["plan"]["memories"]}
        if self.backend.capable:   # a capable model answers from what it was given, not from a neighbour
            answering |= {id(m) for m, _ in mems}
        near = s["k"] if self.backend.capable else ON_POINT_PASSAGES
        said = C.said_before(s["history"])
        kind = C.question_type(s["question"])

        def check(sentence):
            """Against what is there; if that does not hold it, also against what the sentence finds."""
            with timer(s["timings"], "check"):
                return _check(sentence)

        def _check(sentence):
            if preparing is not None:
                preparing.join()
                if failed:
                    raise failed[0]
            if s["use_retrieval"] and not draft.units:
                draft.units = units_for(self.searcher.corpus, card, checked, mems, s["question"])
            v = self.guard.check([sentence], draft.units, lang, forbidden, secret)[0]
            extra = more_hits(self.searcher, [sentence], s["flt"], lang, checked) if s["use_retrieval"] and not v.supported else []
            if extra:
                checked.extend(extra)
                draft.units = units_for(self.searcher.corpus, card, checked, mems, s["question"])
                v = self.guard.check([sentence], draft.units, lang, forbidden, secret)[0]
            if v.supported and C.repeats(v.text, s["history"]):
                v.supported, v.reasons = False, ["the character already said this in this conversation"]
            elif v.supported and not self.backend.capable and not (s["ooc"] or C.first_person(v.text, lang)):
                v.supported, v.reasons = False, ["not in the character's own voice (a small model copying a passage)"]
            return v

        def on_point(v) -> bool:
            units = draft.units
            if C.is_said_text(v.text, said):
                return False     # what the character already said in this conversation answers nothing new
            if not C.declines(v.text, lang) and not C.gives(kind, v.text, lang):
                return False     # a name or number question is not answered by a sentence without one
            return (C.declines(v.text, lang) and self.backend.capable) or any(
                (units[e].kind == "passage" and units[e].ref < near) or
                (units[e].kind == "memory" and id(mems[units[e].ref][0]) in answering) for e in v.evidence)

        def prepare():
            try:
                draft.units = units_for(self.searcher.corpus, card, checked, mems, s["question"])
                self.guard.verifier.prepare(draft.units)
            except Exception as exc:   # raised where the answer is made, at the first check
                failed.append(exc)

        draft = Draft(check, on_point, lambda text: s["ooc"] or self.backend.capable or C.first_person(text, lang),
                      max_fails=SERVER_MAX_FAILS if self.backend.capable else MAX_FAILS,
                      opener=lambda text: C.echoes(text, s["question"], lang))
        preparing, failed = None, []   # a server model writes elsewhere: meanwhile the evidence is made ready here
        if s["use_retrieval"] and not self.backend.in_process:
            preparing = threading.Thread(target=prepare, name="prepare-evidence", daemon=True)
            preparing.start()
        return draft

    def _deltas(self, s, parts: list, draft: Draft):
        """The model's text as it streams; closing this generator stops the generation."""
        model, t = BackendChatModel(backend=self.backend, options=s["options"]), s["timings"]
        start = mark = time.perf_counter()
        try:
            for chunk in model.stream(s["messages"]):
                now = time.perf_counter()
                t.setdefault("prefill", now - start)            # the time to the first token
                t["decode"] = t.get("decode", 0.0) + (now - mark) if len(parts) else 0.0
                parts.append(chunk.content)
                yield chunk.content                             # (the model waits while this is checked)
                mark = time.perf_counter()
                if draft.done:
                    return
        except StreamCut as cut:
            parts[:] = [cut.partial]
            raise

