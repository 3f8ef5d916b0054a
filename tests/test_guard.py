"""The grounding guard on its own, with the real e5 embedder."""
import pytest

from chat.guard import Evidence, Guard, dedupe_sentences
from retrieval.embeddings import get_embedder

EVIDENCE = [Evidence("I burned my face with liquid oxygen during an experiment in my laboratory.", "en", 0),
            Evidence("Ich habe mir bei einem Experiment das Gesicht mit flüssigem Sauerstoff verbrannt.", "de", 0),
            Evidence("K. showed me an artificial finger.", "en", 1, "memory")]


@pytest.fixture(scope="module")
def guard():
    return Guard(get_embedder())


@pytest.mark.parametrize("sentence,lang,ok,reason", [
    ("I burned my face with liquid oxygen.", "en", True, ""),
    ("Ich habe mein Gesicht mit flüssigem Sauerstoff verbrannt.", "de", True, ""),
    ("I burned my face with acid.", "en", False, "acid"),
    ("My wife Akira left me in 1962.", "en", False, "Akira"),
    ("I am an AI assistant.", "en", False, "AI"),
    ("I burned my face with liquid oxygen.", "ru", False, "language"),
])
def test_sentence_verdicts(guard, sentence, lang, ok, reason):
    v = guard.check(sentence, EVIDENCE, lang)[0]
    assert v.supported is ok, v.reasons
    assert reason in " ".join(v.reasons)
    if ok:
        assert v.evidence and v.score >= 0.86


def test_prompt_text_is_never_repeated(guard):
    leak = "Stay in character and speak in the first person, I burned my face with liquid oxygen."
    v = guard.check(leak, EVIDENCE, "en", forbidden=("Stay in character and speak in the first person",))[0]
    assert not v.supported and "repeats the prompt" in v.reasons


def test_loops_are_cut_and_no_evidence_supports_nothing(guard):
    assert dedupe_sentences("I wait. I wait. I wait! I wait? The end.") == ["I wait.", "The end."]
    assert len(dedupe_sentences(" ".join(f"Sentence number {w}." for w in "abcdefghij"))) == 5
    assert not guard.check("I burned my face.", [], "en")[0].supported
    assert guard.check("", EVIDENCE, "en") == []
