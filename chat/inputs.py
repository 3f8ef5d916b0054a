"""What comes in: the prompts file, message cleaning, and probes that try to break character.

Design choices: prompts, cue lists and probe patterns are data (``prompts.yaml``); this module
loads them once and offers small functions around them.

    >>> clean_message("  Who are you?\x07 ")
    'Who are you?'
    >>> probe("Ты языковая модель?"), probe("Where is house S?")
    ('ai', None)
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from core.errors import UsageError
from core.yamltext import load_yaml
from retrieval.chunking import count_tokens

MAX_MESSAGE_TOKENS = 300
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@lru_cache(maxsize=1)
def prompts() -> dict:
    return load_yaml((Path(__file__).with_name("prompts.yaml")).read_text(encoding="utf-8"))


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


def probe(text: str) -> str | None:
    """Which kind of character-breaking probe ``text`` is, if any.

    >>> probe("Ты языковая модель?"), _probe("Where is house S?")
    ('ai', None)
    """
    return next((kind for kind, rx in _probe_patterns().items() if rx.search(text)), None)
