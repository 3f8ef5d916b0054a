"""The streamed draft: what is shown is never taken back, and the answer is what was shown."""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.draft import Draft, sentences
from chat.support import Verdict


def _draft(verdicts: dict, on_point=lambda v: "oxygen" in v.text, **kw):
    def check(s):
        return Verdict(s, verdicts.get(s, True), 1.0 if verdicts.get(s, True) else 0.0)
    return Draft(check, on_point, first_person=lambda s: s.startswith("I "), **kw)


def test_nothing_is_shown_before_the_draft_answers_then_all_that_passes_is():
    d = _draft({"I was in Hokkaido.": False})
    assert d.take("I work in a laboratory.") == []                  # passes, but answers nothing yet
    assert [v.text for v in d.take("I burned it with liquid oxygen.")] == [
        "I work in a laboratory.", "I burned it with liquid oxygen."]
    assert d.take("I was in Hokkaido.") == [] and [v.text for v in d.dropped] == ["I was in Hokkaido."]
    assert [v.text for v in d.take("I wear bandages.")] == ["I wear bandages."]


def test_two_failures_before_answering_abandon_the_draft():
    d = _draft({"A.": False, "B.": False})
    d.take("A."), d.take("B.")
    assert d.done and not d.committed and not d.shown


def test_a_capable_models_draft_may_fail_one_sentence_more():
    d = _draft({"A.": False, "B.": False, "C.": False}, max_fails=3)
    d.take("A."), d.take("B.")
    assert not d.done
    assert [v.text for v in d.take("I burned it with liquid oxygen.")] == ["I burned it with liquid oxygen."]
    d.take("A."), d.take("B."), d.take("C.")
    assert d.done and len(d.shown) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["I burned it with liquid oxygen", "I wear bandages", "She left", "A letter?",
                                           "I was in Hokkaido", "I lost my face"]), st.booleans()), max_size=12))
def test_what_was_shown_is_never_withdrawn(steps):
    d = _draft({f"{s} {i}.": ok for i, (s, ok) in enumerate(steps)}, opener=lambda s: s.startswith("A letter?"))
    shown = []
    for i, (s, _) in enumerate(steps):
        shown += [v.text for v in d.take(f"{s} {i}.")]
        assert [v.text for v in d.shown] == shown          # the record is exactly what appeared, in order
    assert all(v.supported for v in d.shown)


def test_streamed_text_becomes_whole_sentences_without_repeats():
    text = "I burned my face. I burned my face. I wear bandages. And then I"
    pieces, i = [], 0
    rng = random.Random(3)
    while i < len(text):
        n = rng.randint(1, 7)
        pieces.append(text[i:i + n])
        i += n
    assert list(sentences(pieces)) == ["I burned my face.", "I wear bandages."]


@pytest.mark.parametrize("character,question", [
    ("hero", "/ooc What does the hero do after the accident?"),   # always drafted: the model's own sentences
    ("wife", "Where did you meet the stranger?"), ("hero", "Warum trägst du Bandagen?")])
def test_every_streamed_sentence_is_in_the_final_answer_in_order(shared_settings, searcher, character, question):
    from chat.chain import Interviewer

    iv = Interviewer(shared_settings, searcher=searcher)
    streamed, final = [], None
    for event in iv.stream(character, question):
        if "sentence" in event:
            streamed.append(event["sentence"])
        else:
            final = event["answer"]
    assert streamed == [s["text"] for s in final.sentences]
    assert final.answer == " ".join(streamed)


def test_a_question_given_back_is_shown_at_once_and_stays_when_the_draft_is_abandoned():
    d = _draft({"A.": False, "B.": False}, opener=lambda s: s == "A letter?")
    assert [v.text for v in d.take("A letter?")] == ["A letter?"] and not d.committed
    d.take("A."), d.take("B.")
    assert d.done and not d.committed and [v.text for v in d.shown] == ["A letter?"]
    d = _draft({}, opener=lambda s: s == "A letter?")
    d.take("I work in a laboratory."), d.take("A letter?")          # only as the first sentence
    assert [v.text for v in d.take("I burned it with liquid oxygen.")] == [
        "I work in a laboratory.", "A letter?", "I burned it with liquid oxygen."]
