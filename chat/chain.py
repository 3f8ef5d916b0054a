"""The interview chain: condense -> retrieve in scope -> prompt -> generate -> guard -> answer.

Design choices:
- LangChain runnables wire the steps (``RunnablePassthrough.assign`` per step); the prompt is a
  ``ChatPromptTemplate`` built from ``prompts.yaml``; generation goes through
  ``BackendChatModel``, so any backend plugs in.
- The model is never the only author. Its draft survives only if the guard finds at least half
  of its sentences supported (unsupported ones are dropped and reported). Otherwise the answer is
  composed from the card's best memories in scope, in the question's language, with their
  citations; and when no memory is relevant enough, the character abstains in their own voice.
  Each answer records its path: ``generated``, ``composed`` or ``abstained``.
- Probes that try to break character (are you an AI, ignore your instructions, print your prompt,
  API keys) are answered by the card's in-character deflections before any model call, so the
  prompt and card text cannot leak through them. ``/ooc`` asks the narrator instead.
- Everything a character sees goes through ``Card.knowledge`` (scope + story point); the
  narrator sees every passage up to the chosen story point.
- With an in-process model, answers are computed one at a time per process: llama.cpp's threads
  spin while they wait, so embedding and generating side by side on 2 cores ran 3-10x slower
  (benchmarks/load.py: 4 sessions took 21.6 s p50 instead of about 7 s). A model server keeps
  concurrent answers.
"""
from __future__ import annotations

import contextlib
import re
import threading
import zlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from backends import GenerationOptions, StreamCut, get_backend
from backends.langchain_chat import BackendChatModel
from characters import Card, get_card
from chat.guard import Evidence, Guard
from chat.memory import MemoryIndex
from core.errors import UsageError
from retrieval.chunking import count_tokens
from retrieval.corpus import LANGUAGES
from retrieval.lexical import detect_language
from retrieval.search import Searcher, SearchFilter

MAX_MESSAGE_TOKENS = 300
MEMORY_MIN = 0.86        # boosted query-memory similarity needed to compose from a memory
HIT_BONUS = 0.03         # boost for a memory citing a retrieved passage (x 1/rank); both calibrated
                         # on evals/datasets/heldout.jsonl, checked on validation.jsonl
SUPPORTED_SHARE = 0.5    # share of the draft's sentences that must survive the guard
HISTORY_TURNS = 4       # at most this many past turns, fewer if the context window is short
PROMPT_PASSAGES = 3     # the best passages go into the prompt; the guard checks against all k retrieved
ANSWER_TOKENS = 80      # "one to three short sentences"; every prompt token costs time on 2 cores
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@lru_cache(maxsize=1)
def prompts() -> dict:
    return yaml.safe_load((Path(__file__).with_name("prompts.yaml")).read_text(encoding="utf-8"))


@dataclass
class Answer:
    character: str
    question: str
    answer: str
    mode: str                       # generated | composed | abstained
    abstained: bool
    language: str
    backend: str
    model: str
    sentences: list = field(default_factory=list)   # {text, supported, score, citations}
    citations: list = field(default_factory=list)   # {source_file, start, end, text, english, ...}
    dropped: list = field(default_factory=list)     # draft sentences the guard removed, with reasons
    partial: bool = False
    reason: str = ""
    as_of: dict = field(default_factory=dict)
    draft: str = ""                 # the model's raw text before the guard ("" when no model call)
    context: list = field(default_factory=list)     # passages the answer had: {source_file, start, end, ...}

    def as_json(self) -> dict:
        return asdict(self)


def clean_message(text) -> str:
    """Strip control characters; refuse empty or over-long messages with a one-line reason."""
    if not isinstance(text, str):
        raise UsageError("the message must be text")
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")  # invalid UTF-8 from argv/stdin -> U+FFFD
    text = _CONTROL.sub(" ", text).strip()
    if not text:
        raise UsageError("the message is empty; type a question for the character")
    n = count_tokens(text)
    if n > MAX_MESSAGE_TOKENS:
        raise UsageError(f"the message is {n} tokens; the limit is {MAX_MESSAGE_TOKENS} tokens, please shorten it")
    return text


def folded_regex(pattern: str) -> re.Pattern:
    """Compile a case-insensitive pattern that YAML folded onto several lines (folding leaves a
    space after each ``|``): ``"a|\n b"`` -> ``re.compile("a|b", re.I)``."""
    return re.compile(re.sub(r"\|\s+", "|", pattern.strip()), re.IGNORECASE)


@lru_cache(maxsize=1)
def _probe_patterns() -> dict[str, re.Pattern]:
    return {kind: folded_regex(pattern) for kind, pattern in prompts()["probes"].items()}


def _probe(text: str) -> str | None:
    """Which kind of character-breaking probe ``text`` is, if any.

    >>> _probe("Ты языковая модель?"), _probe("Where is house S?")
    ('ai', None)
    """
    return next((kind for kind, rx in _probe_patterns().items() if rx.search(text)), None)


class Interviewer:
    """One per process: holds the searcher, the backend and the memory index (all lazy)."""

    def __init__(self, settings, searcher: Searcher | None = None, backend=None, k: int = 5,
                 options: GenerationOptions | None = None):
        self.settings = settings
        self.searcher = searcher or Searcher(settings)
        self.backend = backend or get_backend(settings)
        self.k = k
        self.options = options or GenerationOptions(max_tokens=ANSWER_TOKENS)
        self.memories = MemoryIndex(self.searcher.store.embedder, settings.data_dir)
        self._one_at_a_time = threading.Lock() if self.backend.in_process else contextlib.nullcontext()
        self.guard = Guard(self.searcher.store.embedder)
        self.chain = (RunnablePassthrough.assign(query=RunnableLambda(self._condense))
                      | RunnablePassthrough.assign(evidence=RunnableLambda(self._retrieve))
                      | RunnablePassthrough.assign(messages=RunnableLambda(self._prompt))
                      | RunnablePassthrough.assign(draft=RunnableLambda(self._generate))
                      | RunnableLambda(self._decide))

    # -- public -----------------------------------------------------------------------------
    def answer(self, character: str, question: str, history=(), as_of: str | None = None,
               lang: str | None = None, use_retrieval: bool = True, k: int | None = None,
               temperature: float | None = None, passages: list | None = None) -> Answer:
        """``use_retrieval=False``: no passages and no memories (the no-retrieval baseline);
        ``passages``: these search hits instead of searching (the oracle baseline)."""
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
        probe = None if ooc else _probe(question)
        if probe:
            kind = "deflect" if probe in ("ai", "override") else "refuse"
            text = card.line(kind, lang, zlib.crc32(question.encode()))
            return Answer(answer=text, mode="abstained", abstained=True, reason=f"probe:{probe}",
                          sentences=[{"text": text, "supported": True, "score": 1.0, "citations": []}], **base)
        opts = self.options if temperature is None else GenerationOptions(
            **{**self.options.__dict__, "temperature": float(temperature)})
        history = [{"role": m["role"], "content": m["content"]} for m in history][-2 * HISTORY_TURNS:]
        state = dict(card=card, question=question, history=history, lang=lang, flt=flt, ooc=ooc, base=base,
                     use_retrieval=use_retrieval, passages=passages, k=k or self.k, options=opts)
        with self._one_at_a_time:
            return self.chain.invoke(state)

    # -- steps ------------------------------------------------------------------------------
    @staticmethod
    def _condense(s) -> str:
        """A short follow-up ("and then?") borrows the previous question's words for retrieval."""
        q = s["question"]
        prev = [m["content"] for m in s["history"] if m["role"] == "user"]
        return f"{prev[-1]} {q}" if prev and len(q.split()) < 5 else q

    def _retrieve(self, s) -> dict:
        card, flt = s["card"], s["flt"]
        if not s["use_retrieval"]:
            return {"hits": [], "memories": []}
        hits = s.get("passages")
        if hits is None:
            hits = self.searcher.search(s["query"], k=s.get("k", self.k), flt=flt, lang=s["lang"])
        if s["ooc"]:
            return {"hits": hits, "memories": []}
        ranked = self.memories.top(card, s["query"], k=40, allowed=card.memories_in(flt))
        mems = sorted(((m, sc + HIT_BONUS * _hit_rank_weight(m, hits)) for m, sc in ranked), key=lambda x: -x[1])
        return {"hits": hits, "memories": mems[:3]}

    def _prompt(self, s) -> list:
        p, card, lang = prompts(), s["card"], s["lang"]
        lines = []
        for n, h in enumerate(s["evidence"]["hits"][:PROMPT_PASSAGES], 1):
            c = h.chunk
            lines.append(p["passage_line"].format(n=n, label=p["source_labels"][c["work"]],
                                                  orig_language=p["language_names"][c["lang"]],
                                                  text=c["renderings"][lang] or c["text"]))
        facts = "\n".join(f"- {m.text[lang]}" for m, _ in s["evidence"]["memories"]) or "-"
        system = p["narrator_system"] if s["ooc"] else p["persona_system"]
        template = ChatPromptTemplate.from_messages(
            [("system", system), *[(m["role"] if m["role"] != "assistant" else "ai", "{h%d}" % i)
                                   for i, m in enumerate(s["history"])], ("human", "{question}")])
        values = {f"h{i}": m["content"] for i, m in enumerate(s["history"])}
        messages = template.format_messages(
            name=card.name.get(lang, card.name["en"]), works=" and ".join(card.works),
            description=card.description.get(lang, card.description["en"]), voice=card.voice,
            language=p["language_names"][lang], facts=facts, passages="\n".join(lines) or "-",
            question=s["question"], **values)
        return self._fit(messages, s["options"].max_tokens if "options" in s else self.options.max_tokens)

    def _fit(self, messages: list, reply_tokens: int) -> list:
        """Drop the oldest history turns until prompt + reply fit the model's context window."""
        budget = self.backend.context_window - reply_tokens - 64  # room for the chat template
        while len(messages) > 2 and sum(self.backend.count_tokens(str(m.content)) for m in messages) > budget:
            messages = [messages[0], *messages[3:]] if len(messages) > 3 else [messages[0], messages[-1]]
        return messages

    def _generate(self, s) -> dict:
        model = BackendChatModel(backend=self.backend, options=s.get("options", self.options))
        parts: list[str] = []
        try:
            for chunk in model.stream(s["messages"]):
                parts.append(chunk.content)
        except StreamCut as cut:
            return {"text": cut.partial, "partial": True}
        return {"text": "".join(parts), "partial": False}

    def _evidence(self, s) -> list[Evidence]:
        lang, units = s["lang"], []
        for i, h in enumerate(s["evidence"]["hits"]):
            c = h.chunk
            for lg in dict.fromkeys((lang, c["lang"], "en")):
                if c["renderings"].get(lg):
                    units.append(Evidence(c["renderings"][lg], lg, i, "passage"))
        for j, (m, _) in enumerate(s["evidence"]["memories"]):
            units.append(Evidence(m.text[lang], lang, j, "memory"))
        return units

    def _decide(self, s) -> Answer:
        card, lang, base = s["card"], s["lang"], s["base"]
        hits, mems = s["evidence"]["hits"], s["evidence"]["memories"]
        units = self._evidence(s)
        forbidden = (card.voice, *(str(f["text"]) for f in card.facts), *prompts()["persona_system"].split("\n"))
        verdicts = self.guard.check(s["draft"]["text"], units, lang, forbidden)
        kept = [v for v in verdicts if v.supported]
        dropped = [{"text": v.text, "score": v.score, "reasons": v.reasons} for v in verdicts if not v.supported]
        cites = _Citations(self.searcher.corpus, hits)
        base = {**base, "draft": s["draft"]["text"], "context": [_context_item(h.chunk) for h in hits]}
        if kept and len(kept) >= SUPPORTED_SHARE * len(verdicts):
            sentences = [{"text": v.text, "supported": True, "score": v.score,
                          "citations": sorted({i for e in v.evidence for i in cites.of_unit(units[e], mems)})}
                         for v in kept]
            return Answer(answer=" ".join(v.text for v in kept), mode="generated", abstained=False,
                          sentences=sentences, citations=cites.items, dropped=dropped,
                          partial=s["draft"]["partial"], **base)
        relevant = [(m, sc) for m, sc in mems if sc >= MEMORY_MIN]
        if relevant and not s["ooc"]:
            chosen = relevant[:2] if len(relevant) > 1 and relevant[1][1] >= relevant[0][1] - 0.02 else relevant[:1]
            sentences = [{"text": m.text[lang], "supported": True, "score": round(sc, 4),
                          "citations": cites.of_memory(m)} for m, sc in chosen]
            return Answer(answer=" ".join(x["text"] for x in sentences), mode="composed", abstained=False,
                          sentences=sentences, citations=cites.items, dropped=dropped, **base)
        if s["ooc"] and hits and hits[0].score >= 0.5:
            c = hits[0].chunk
            text = c["renderings"].get(lang) or c["text"]
            return Answer(answer=text, mode="composed", abstained=False, citations=cites.items, dropped=dropped,
                          sentences=[{"text": text, "supported": True, "score": round(hits[0].score, 4),
                                      "citations": [cites.of_chunk(c)]}], **base)
        text = card.line("abstain", lang, zlib.crc32(s["question"].encode()))
        return Answer(answer=text, mode="abstained", abstained=True, dropped=dropped, reason="nothing in scope",
                      sentences=[{"text": text, "supported": True, "score": 0.0, "citations": []}], **base)


def _context_item(c: dict) -> dict:
    return {"source_file": c["source_file"], "start": c["start"], "end": c["end"], "text": c["text"],
            "language": c["lang"], "renderings": dict(c["renderings"])}


def _hit_rank_weight(memory, hits) -> float:
    """1/rank of the best retrieved chunk containing a sentence the memory cites, else 0."""
    return max([1.0 / r for r, h in enumerate(hits, 1) for seed, start in memory.cites
                if h.chunk["source_file"] == seed and h.chunk["start"] <= start < h.chunk["end"]] or [0.0])


class _Citations:
    """Numbered citations for one answer: sentences of the sources, with offsets and English."""

    def __init__(self, corpus, hits):
        self.corpus, self.hits, self.items, self._index = corpus, hits, [], {}

    def _add(self, key, item) -> int:
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append(item)
        return self._index[key]

    def of_chunk(self, c) -> int:
        return self._add((c["source_file"], c["start"], c["end"]), {
            "source_file": c["source_file"], "start": c["start"], "end": c["end"], "text": c["text"],
            "english": c["renderings"]["en"], "language": c["lang"], "work": c["work"], "kind": c["kind"]})

    def of_memory(self, memory) -> list[int]:
        out = []
        for seed, start in memory.cites:
            src = self.corpus.source_by_file(seed)
            seg = next(x for x in src.segments if x.start == start)
            out.append(self._add((seed, seg.start, seg.end), {
                "source_file": seed, "start": seg.start, "end": seg.end, "text": seg.text,
                "english": seg.in_language("en"), "language": seg.lang, "work": seg.work, "kind": seg.kind}))
        return out

    def of_unit(self, unit: Evidence, mems) -> list[int]:
        if unit.kind == "memory":
            return self.of_memory(mems[unit.ref][0])
        return [self.of_chunk(self.hits[unit.ref].chunk)]
