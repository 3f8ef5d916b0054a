"""The support check's interface: the evidence units a check reads, the verdict it gives per
sentence, and the ``Verifier`` every check implements (``chat.verify`` holds the checks and picks
one by name).

Design choices:
- An evidence unit is one text in one language with where it came from (``ref``: the passage or
  memory, which the chain maps to citations) and what it is (``kind``): a passage or memory says
  what the sources say; keys, lexicon, names, questions and reader wordings only widen the words a
  faithful restatement may use. Units that say one thing together share a ``group``.
- A verdict keeps the reasons a sentence was not supported, in words a reader of the eval report
  understands ("says what the evidence does not: acid").

Worked example::

    >>> Evidence("I burned my face with liquid oxygen.", "en", 0).kind
    'passage'
    >>> Verdict("I burned my face with acid.", False, 0.93, [0], ["says what the evidence does not: acid"]).supported
    False
"""
from __future__ import annotations

from dataclasses import dataclass, field

SIMILAR_KINDS = ("passage", "memory")   # units that stand for what the sources say (keys, lexicon, names do not)


@dataclass(frozen=True)
class Evidence:
    text: str
    lang: str
    ref: int          # index of the passage or memory it came from (the chain maps it to citations)
    kind: str = "passage"   # passage | memory | key (a paraphrase of a passage) | lexicon | name | question
    #                         | wording (a reader question a memory answers: grounds words, never a claim)
    group: str = ""         # units that say one thing together (a passage with its keys and lexicon)


@dataclass
class Verdict:
    text: str
    supported: bool
    score: float
    evidence: list[int] = field(default_factory=list)   # indices into the evidence list
    reasons: list[str] = field(default_factory=list)


class Verifier:
    name = ""

    @classmethod
    def build(cls, embedder, backend=None, small_model: bool = False) -> "Verifier":
        raise NotImplementedError

    def check(self, sentences: list[str], units: list[Evidence], lang: str) -> list[Verdict]:
        raise NotImplementedError

    def notes(self) -> list[str]:
        """Anything the user should know about the last check (e.g. a fallback)."""
        return []

    def remember(self, texts: list[str], vectors) -> None:
        """Vectors of evidence texts computed elsewhere, for verifiers that compare vectors."""

    def prepare(self, units: list[Evidence]) -> None:
        """Do ahead what checking against ``units`` needs (while a model server is still writing)."""
