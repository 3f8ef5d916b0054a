"""What the model is sent: the persona's system prompt with what the character knows, the best
passages, the conversation so far and the question, cut to the model's context window.

Design choices:
- The wording is data (``prompts.yaml``: ``persona_system``, ``narrator_system``, the passage line,
  the source labels); a ``ChatPromptTemplate`` fills it, so history turns stay typed messages.
- Only the best ``PROMPT_PASSAGES`` passages go in (each in the question's language where a
  rendering exists); the support check still holds the draft against all k retrieved.
- The oldest history turns go first when prompt and reply would not fit the context window; the
  system prompt and the question always stay.

Worked example::

    >>> [m.type for m in build_prompt(state, backend)]       # one earlier turn in the state
    ['system', 'human', 'ai', 'human']
"""
from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate

from chat.inputs import prompts

PROMPT_PASSAGES = 3      # the best passages go into the prompt; the guard checks against all k retrieved
TEMPLATE_TOKENS = 64     # room for the chat template's own tokens


def build_prompt(s: dict, backend) -> list:
    """The messages for the chain's state ``s`` (card, lang, evidence, history, question, options)."""
    p, card, lang = prompts(), s["card"], s["lang"]
    lines = [p["passage_line"].format(n=n, label=p["source_labels"][h.chunk["work"]],
                                      orig_language=p["language_names"][h.chunk["lang"]],
                                      text=h.chunk["renderings"][lang] or h.chunk["text"])
             for n, h in enumerate(s["evidence"]["hits"][:PROMPT_PASSAGES], 1)]
    facts = "\n".join(f"- {m.text[lang]}" for m, _ in s["evidence"]["memories"]) or "-"
    template = ChatPromptTemplate.from_messages(
        [("system", p["narrator_system"] if s["ooc"] else p["persona_system"]),
         *[(m["role"] if m["role"] != "assistant" else "ai", "{h%d}" % i) for i, m in enumerate(s["history"])],
         ("human", "{question}")])
    messages = template.format_messages(
        name=card.name.get(lang, card.name["en"]), works=" and ".join(card.works),
        description=card.description.get(lang, card.description["en"]), voice=card.voice,
        language=p["language_names"][lang], facts=facts, passages="\n".join(lines) or "-",
        question=s["question"], **{f"h{i}": m["content"] for i, m in enumerate(s["history"])})
    return fit(messages, backend, s["options"].max_tokens)


def fit(messages: list, backend, reply_tokens: int) -> list:
    """Drop the oldest history turns until prompt + reply fit the model's context window."""
    budget = backend.context_window - reply_tokens - TEMPLATE_TOKENS
    while len(messages) > 2 and sum(backend.count_tokens(str(m.content)) for m in messages) > budget:
        messages = [messages[0], *messages[3:]] if len(messages) > 3 else [messages[0], messages[-1]]
    return messages
