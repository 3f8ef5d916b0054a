"""Prompt states kept between requests, so that a persona's long fixed opening is read once.

Design choices:
- llama-cpp-python already reuses the KV cache for the token prefix a prompt shares with the
  *previous* one. A reader who turns from one character to another (and a benchmark or an eval
  that does) loses it at every switch, and on 2 cores SmolLM2 reads a persona's ~250-token opening
  in about a second, before the first word.
- ``PromptStates`` keeps llama.cpp's state (the KV cells in use, its own serialisation: about
  23 KB a token for SmolLM2) of the last ``KEEP`` prompts, each beside its first message. Before a
  request, the state whose first message opens the longest way like the new one is restored,
  when that is longer than what the state now loaded shares with it. llama-cpp-python then compares
  the tokens itself and decodes only what differs: a poor guess costs time, never a wrong answer.
- No logits are kept (llama-cpp-python's ``save_state`` copies its whole score table, 0.3 s a
  save here): the suffix decode refreshes them, and a prompt is never consumed whole from a state
  (``generate`` replays its last token).

Worked example (in the worker, around each chat request)::

    >>> states = PromptStates(llm)
    >>> states.restore(messages)            # the hero's opening, last read three requests ago
    True
    >>> for chunk in llm.create_chat_completion(messages=messages, stream=True): ...
    >>> states.save(messages)
"""
from __future__ import annotations

import ctypes
import os
from collections import OrderedDict

KEEP = 8   # prompts (the characters a reader moves between); ~12 MB each for a 500-token prompt


def _opening(messages: list[dict]) -> str:
    return str(messages[0].get("content", "")) if messages else ""


def _shared(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


class PromptStates:
    def __init__(self, llm, keep: int = KEEP):
        self.llm, self.keep = llm, keep
        self._states: OrderedDict[str, tuple[bytes, list[int]]] = OrderedDict()
        self._loaded = ""      # the first message of the prompt whose state the context holds
        self.restored = 0      # states restored so far (what the tests look at)

    def restore(self, messages: list[dict]) -> bool:
        """Load the kept state that opens most like ``messages``, if it beats the one in place."""
        import llama_cpp

        llm, opening = self.llm, _opening(messages)
        here = _shared(self._loaded, opening) if llm.n_tokens else -1   # (a reset emptied the context)
        best = max(self._states, key=lambda k: _shared(k, opening), default=None)
        if best is None or _shared(best, opening) <= here:
            return False
        data, ids = self._states[best]
        self._states.move_to_end(best)
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(data)) != len(data):
            llm.reset()    # nothing usable in the context: the request reads its whole prompt
            self._loaded = ""
            return False
        llm.input_ids[:len(ids)] = ids
        llm.n_tokens = len(ids)
        llm._requires_eval = True   # the logits are not restored; the next decode makes them
        self._loaded = best
        self.restored += 1
        return True

    def save(self, messages: list[dict]) -> None:
        """Keep the context's state as that of ``messages`` (after the stream ended or was cut)."""
        import llama_cpp

        llm, opening = self.llm, _opening(messages)
        size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size)
        self._states[opening] = (ctypes.string_at(buf, n), list(llm.input_ids[:llm.n_tokens]))
        self._states.move_to_end(opening)
        while len(self._states) > self.keep:
            self._states.popitem(last=False)
        self._loaded = opening
