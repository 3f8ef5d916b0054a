"""Persona cards: all six load, memories cite plot sentences, scope and story time are enforced
on everything that reaches a character's prompt, Character Card V2 round-trips."""
import json

import pytest
import yaml

from characters import CARDS_DIR, IDS, get_card, load_cards
from characters.card_v2 import export_v2, import_file, import_v2
from core.errors import UnknownNameError, UsageError
from evals.dataset import DATASETS_DIR, load_items
from retrieval.corpus import load_corpus

CORPUS = load_corpus()
ORDERS = {e.id: e.order for e in CORPUS.events}


def test_all_six_cards_load_with_memories_in_three_languages():
    cards = load_cards()
    assert set(IDS) <= set(cards)
    for card in cards.values():
        assert card.memories and card.voice and card.works
        for m in card.memories:
            assert all(m.text[l].strip() for l in ("en", "ru", "de"))
            assert m.work in card.works and m.events
    with pytest.raises(UnknownNameError, match="daughter, doctor, girl, hero, k, wife"):
        get_card("akira")


def _allowed(card, flt, work, events):
    point = next(p for p in flt.as_of if p.work == work)
    return work in card.works and max(ORDERS[e] for e in events) <= point.order and set(events) <= flt.events


@pytest.fixture(scope="module")
def interviewer(shared_settings, searcher):
    from chat.chain import Interviewer

    return Interviewer(shared_settings, searcher=searcher)


QUESTIONS = [i.question for i in load_items([DATASETS_DIR / "heldout.jsonl"])][::3]


@pytest.mark.parametrize("character,as_of", [
    ("hero", None), ("hero", "meeting_k"), ("hero", "hero_xray"), ("wife", None), ("wife", "bus_stop"),
    ("k", None), ("daughter", None), ("doctor", None), ("doctor", "street_crowd"), ("girl", None)])
def test_nothing_outside_scope_or_after_as_of_reaches_the_prompt(interviewer, character, as_of):
    card = get_card(character)
    flt = card.knowledge(CORPUS, as_of)
    for q in QUESTIONS:
        state = {"card": card, "question": q, "history": [], "lang": "en", "flt": flt, "ooc": False,
                 "use_retrieval": True, "query": q}
        ev = interviewer._retrieve(state)
        for h in ev["hits"]:
            c = h.chunk
            assert c["kind"] == "plot" and _allowed(card, flt, c["work"], c["events"]), (q, c["id"])
        for m, _ in ev["memories"]:
            assert _allowed(card, flt, m.work, m.events), (q, m.text["en"])
        prompt = "\n".join(str(msg.content) for msg in interviewer._prompt({**state, "evidence": ev}))
        allowed_texts = {h.chunk["renderings"]["en"] for h in ev["hits"]}
        for c in interviewer.searcher.chunks.values():  # no other passage text appears in the prompt
            text = c["renderings"]["en"]
            if len(text) > 60 and not any(text in a for a in allowed_texts):  # overlapping chunks share text
                assert text not in prompt, (q, c["id"])


def test_the_wife_learns_his_thoughts_only_from_the_notebooks():
    wife = get_card("wife")
    early = wife.knowledge(CORPUS, "bus_stop").events
    late = wife.knowledge(CORPUS, "wifes_letter").events
    assert "antimony_mold" not in early and "antimony_mold" in late


def test_as_of_of_another_work_or_unknown_event_is_a_usage_error():
    with pytest.raises(UsageError, match="not in the film"):
        get_card("k").knowledge(CORPUS, "hero_xray")
    with pytest.raises(UsageError, match="unknown event"):
        get_card("hero").knowledge(CORPUS, "nope")


def test_character_card_v2_round_trip(tmp_path):
    for cid in IDS:
        exported = export_v2(cid)
        assert exported["spec"] == "chara_card_v2" and exported["data"]["name"]
        assert len(exported["data"]["character_book"]["entries"]) == len(get_card(cid).memories)
        path = tmp_path / f"{cid}.json"
        path.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
        again = yaml.safe_load(import_file(str(path), cards_dir=tmp_path).read_text(encoding="utf-8"))
        assert again == yaml.safe_load((CARDS_DIR / f"{cid}.yaml").read_text(encoding="utf-8"))


def test_imported_cards_work_with_retrieval(tmp_path, interviewer):
    import shutil

    from characters import load_cards as load

    foreign = {"spec": "chara_card_v2", "spec_version": "2.0",
               "data": {"name": "Museum Guide", "description": "Shows visitors the Noh masks.", "personality": "calm"}}
    path = tmp_path / "guide.json"
    path.write_text(json.dumps(foreign), encoding="utf-8")
    for cid in IDS:
        shutil.copy(CARDS_DIR / f"{cid}.yaml", tmp_path / f"{cid}.yaml")
    import_file(str(path), cards_dir=tmp_path)
    guide = load(tmp_path, CORPUS)["museum_guide"]
    hits = interviewer.searcher.search("Noh masks", k=3, flt=guide.knowledge(CORPUS))
    assert any("noh_masks" in h.chunk["events"] for h in hits)


@pytest.mark.parametrize("bad", [{}, {"spec": "chara_card_v2"}, {"spec": "chara_card_v2", "data": {"name": ""}}])
def test_malformed_v2_cards_are_usage_errors(bad):
    with pytest.raises(UsageError):
        import_v2(bad)
