"""Pure units of composing an answer from the card: what kind of fact a question asks for (it picks
the "I don't know" that fits), and the card's lines that say it."""
import dataclasses

import pytest

from characters import get_card
from chat.compose import gives, not_known, question_type, typed_abstain
from chat.inputs import prompts


@pytest.mark.parametrize("question,kind", [
    ("What is your wife's name?", "name"),
    ("Wie hieß eigentlich deine ältere Schwester?", "name"),
    ("Как назывался отель?", "name"),
    ("Как звали вашу сестру?", "name"),
    ("How many notebooks did you write?", "number"),
    ("Сколько дней ушло на маску?", "number"),
    ("Where did you go after the dinner?", "place"),
    ("Wohin bist du danach gegangen?", "place"),
    ("An welcher Front oder in welchem Lazarett haben Sie gedient?", "place"),   # a034: a place by its kind
    ("In which hospital did you serve?", "place"),
    ("В каком госпитале вы служили?", "place"),
    ("What did you do in the hospital?", None),
    ("When did you meet her?", "time"),
    ("And when was that?", "time"),
    ("Когда это было?", "time"),
    ("Wann war das?", "time"),
    ("When the bandaged man came back, did he pretend not to know?", None),   # asks yes or no, not when
    ("Why did you buy an air pistol?", None),
])
def test_question_types(question, kind):
    assert question_type(question) == kind


@pytest.mark.parametrize("text,lang,ok", [
    ("Man nennt mich K., und dabei bleibt es.", "de", True),    # an initial is a name: the answer is on point
    ("Меня все зовут просто К.", "ru", True),
    ("First I met K., who makes artificial organs.", "en", True),
    ("The mask is my wife's first name.", "en", False),
    ("I. Never. Said. That.", "en", False),
])
def test_a_sentence_gives_a_name(text, lang, ok):
    assert gives("name", text, lang) is ok


@pytest.mark.parametrize("character", ["hero", "wife", "doctor", "k", "girl", "daughter"])
@pytest.mark.parametrize("lang", ["en", "ru", "de"])
def test_not_known_is_the_cards_own_and_not_said_twice_in_a_row(character, lang):
    card = get_card(character)
    first = not_known(card, lang, seed=0)
    again = not_known(card, lang, seed=0, history=[{"role": "assistant", "content": first}])
    assert first in card.options("abstain", lang) and again in card.options("abstain", lang)
    assert first != again


def test_an_untold_question_gets_the_cards_own_line_or_one_that_fits_its_kind():
    """``like``: the card's untold question the reader's matched. K.'s has his own line ("says"); without
    it, "... и где именно служили?" is a place question like "Где вы служили на войне?"."""
    card = get_card("k")
    asked, like = "Вы были военным врачом, а где именно вы служили?", "Где вы служили на войне?"
    assert typed_abstain(card, "ru", asked, seed=0, like=like) in card.untold_lines(like, "ru")
    bare = dataclasses.replace(card, untold=tuple({k: v for k, v in g.items() if k != "says"} for g in card.untold))
    assert bare.untold_lines(like, "ru") == []
    assert typed_abstain(bare, "ru", asked, seed=0, like=like) in prompts()["abstain_by_type"]["place"]["ru"]
    assert typed_abstain(card, "ru", "Что было с вашими пациентами?", seed=0) in card.options("abstain", "ru")   # no like, no kind
