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
                 "use_retrieval": True, "query": q, "timings": {},
                 "plan": {"mode": "generate"}, "options": interviewer.options}
        ev = interviewer._retrieve(state)
        for h in ev["hits"]:
            c = h.chunk
            own = c["kind"] == "portrait" and character in c["characters"]   # the critic on this character's state
            assert (c["kind"] == "plot" or own) and _allowed(card, flt, c["work"], c["events"]), (q, c["id"])
        for m, _ in ev["memories"]:
            assert _allowed(card, flt, m.work, m.events), (q, m.text["en"])
        prompt = "\n".join(str(msg.content) for msg in interviewer._prompt({**state, "evidence": ev}))
        allowed_texts = {h.chunk["renderings"]["en"] for h in ev["hits"]}
        for c in interviewer.searcher.chunks.values():  # no other passage text appears in the prompt
            text = c["renderings"]["en"]
            if len(text) > 60 and not any(text in a for a in allowed_texts):  # overlapping chunks share text
                assert text not in prompt, (q, c["id"])


def test_in_a_group_turn_each_prompt_holds_only_its_own_characters_scope(monkeypatch, interviewer, shared_settings):
    """The hero's notebooks are in his scope; at the bus stop they are not in the wife's, though
    both answer the same questions in the same turn."""
    from chat.chain import Interviewer
    from chat.group import Group

    seen = []
    real_retrieve, real_prompt = Interviewer._retrieve, Interviewer._prompt

    def retrieve(self, s):
        ev = real_retrieve(self, s)
        seen.append((s["card"], s["flt"], ev, None))
        return ev

    def prompt(self, s):
        messages = real_prompt(self, s)
        card, flt, ev, _ = seen[-1]
        seen[-1] = (card, flt, ev, "\n".join(str(m.content) for m in messages))
        return messages

    monkeypatch.setattr(Interviewer, "_retrieve", retrieve)
    monkeypatch.setattr(Interviewer, "_prompt", prompt)
    iv = Interviewer(shared_settings, searcher=interviewer.searcher, backend=interviewer.backend)
    group = Group(["hero", "wife"], as_of=["bus_stop"])
    questions = ["What did you write in your notebooks?", "Did you know the man at the bus stop was your husband?",
                 "What did you do after the bus stop?"]
    for q in questions:
        assert {a.character for a in group.answers(iv, q)} == {"hero", "wife"}
    assert {card.id for card, *_ in seen} == {"hero", "wife"} and len(seen) == 2 * len(questions)
    for card, flt, ev, prompt_text in seen:
        assert flt == card.knowledge(CORPUS, ["bus_stop"])
        for h in ev["hits"]:
            assert _allowed(card, flt, h.chunk["work"], h.chunk["events"]), (card.id, h.chunk["id"])
        for m, _ in ev["memories"]:
            assert _allowed(card, flt, m.work, m.events) and m in card.memories, (card.id, m.text["en"])
        if prompt_text:
            shown = {h.chunk["renderings"]["en"] for h in ev["hits"]}
            for c in iv.searcher.chunks.values():
                text = c["renderings"]["en"]
                if len(text) > 60 and not any(text in a for a in shown):
                    assert text not in prompt_text, (card.id, c["id"])
            others = get_card("hero" if card.id == "wife" else "wife").memories
            assert not any(m.text["en"] in prompt_text for m in others if m not in card.memories)


def test_the_wife_learns_his_thoughts_only_from_the_notebooks():
    wife = get_card("wife")
    early = wife.knowledge(CORPUS, "bus_stop").events
    late = wife.knowledge(CORPUS, "wifes_letter").events
    assert "antimony_mold" not in early and "antimony_mold" in late


def test_a_story_point_in_one_work_is_where_a_character_of_both_speaks_from():
    """At the novel's bus stop the hero knows nothing yet of the film (its ending included); with no
    story point, or one per work, he speaks from both; a character the named work lacks keeps his own."""
    hero, doctor = get_card("hero"), get_card("doctor")
    assert [p.work for p in hero.story_points(CORPUS, "bus_stop")] == ["novel"]
    assert [p.work for p in hero.story_points(CORPUS, None)] == ["novel", "film"]
    assert [p.id for p in hero.story_points(CORPUS, ["bus_stop", "hero_xray"])] == ["bus_stop", "hero_xray"]
    assert [p.id for p in hero.story_points(CORPUS, ["hero_xray"])] == ["hero_xray"]
    at_bus_stop = hero.memories_in(hero.knowledge(CORPUS, "bus_stop"))
    assert at_bus_stop and all(m.work == "novel" for m in at_bus_stop)
    assert any(m.work == "film" for m in hero.memories_in(hero.knowledge(CORPUS, None)))
    assert doctor.story_points(CORPUS, ["bus_stop"]) == doctor.story_points(CORPUS, None)


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


SEGMENTS = {(s.source_file, s.start): s for src in CORPUS.sources for s in src.segments}


def _could_know(card, memory) -> str:
    """Why the speaker could not know this memory ('' if they could): they were not there, nobody
    who was there met them, or they read it before they could have."""
    cited = [SEGMENTS[c] for c in memory.cites]
    there = set().union(*(s.characters for s in cited))
    met = {c for s in (x for src in CORPUS.sources for x in src.segments)
           if card.id in s.characters and set(s.events) <= card.scope_events for c in s.characters}
    how = memory.known
    if how == "present" and card.id not in there:
        return f"{card.id} was not there ({sorted(there)})"
    if how.startswith("told by "):
        teller = how.split()[-1]
        if teller not in there or teller not in met:
            return f"{teller} did not witness it or never met {card.id}"
    if how == "from the notebooks" and not (card.learns_all_at and memory.after >= ORDERS[card.learns_all_at]):
        return "read in the notebooks before reading them"
    if how not in ("present", "witnessed", "from the notebooks") and not how.startswith("told by "):
        return f"unknown provenance {how!r}"
    return ""


@pytest.mark.parametrize("character", IDS)
def test_every_memory_is_something_its_speaker_could_know(character):
    card = get_card(character)
    wrong = [(m.text["en"][:60], why) for m in card.memories if (why := _could_know(card, m))]
    assert not wrong, wrong
    assert all(len(m.questions.get(lang, ())) >= 2 for m in card.memories for lang in ("en", "ru", "de"))


@pytest.mark.parametrize("character", IDS)
def test_a_character_knows_who_they_are_wherever_they_remember_anything(character):
    """The identity memory (the one "Who are you?" asks for) is in scope at every story point where any
    memory is: the wife's used to cite a late sentence, so until the end she could not say who she was."""
    from chat.memory import is_identity

    card = get_card(character)
    identity = [m for m in card.memories if is_identity(m)]
    assert identity
    for event in sorted(card.scope_events):
        known = card.memories_in(card.knowledge(CORPUS, event))
        assert not known or any(m in known for m in identity), (event, [m.text["en"][:40] for m in known][:3])


def test_the_critic_on_a_characters_state_is_known_to_that_character_only():
    """A ``portrait`` (the critic on the hero's emptiness, his newspaper, his wish to start anew)
    is the hero's own inner state: his to know, not his wife's or his doctor's, at the same story point."""
    portraits = [s for src in CORPUS.sources for s in src.segments if s.kind == "portrait"]
    assert portraits and all(s.characters == ("hero",) for s in portraits)
    for s in portraits:
        meta = {"work": s.work, "kind": s.kind, "event_max": max(ORDERS[e] for e in s.events),
                "events": ",".join(s.events), "characters": ",".join(s.characters)}
        assert get_card("hero").knowledge(CORPUS, "street_crowd").accepts(meta)
        for other in ("wife", "doctor"):
            card = get_card(other)
            flt = card.knowledge(CORPUS, None)
            assert set(s.events) <= flt.events or other == "wife"   # the doctor has these events in scope
            assert not flt.accepts(meta), (other, s.start)


@pytest.mark.parametrize("untold,message", [
    ([{}], r"untold\[0\]: needs at least one reader question"),
    ([{"fr": ["Où êtes-vous allée ?"]}], r"untold\[0\]: unknown language 'fr'"),
    ([{"en": "Where did you go?"}], r"untold\[0\]\.en: must be a list"),
    ([{"en": [None]}], r"untold\[0\]\.en\[0\]: must be a non-empty string"),
    ({"en": ["Where did you go?"]}, r"untold: must be a list"),
    ([{"en": ["Where did you go?"], "says": {"fr": ["Je ne dis pas."]}}], r"untold\[0\]\.says: unknown language 'fr'"),
    ([{"en": ["Where did you go?"], "says": {"en": []}}], r"untold\[0\]\.says\.en: needs at least one line"),
    ([{"en": ["Where did you go?"], "says": "I won't say."}], r"untold\[0\]\.says: must be a mapping of languages"),
    ([{"says": {"en": ["I won't say."]}}], r"untold\[0\]: needs at least one reader question"),
])
def test_a_cards_untold_questions_are_checked_like_its_reader_questions(untold, message):
    """What readers ask that the texts never tell (``untold``) is read from shared cards too: each
    wrong part is one line naming the field; the built-in cards' own pass."""
    from characters.schema import validate
    doc = yaml.safe_load((CARDS_DIR / "wife.yaml").read_text(encoding="utf-8"))
    assert doc["untold"] and validate(doc, CORPUS) is doc
    with pytest.raises(UsageError, match=message):
        validate({**doc, "untold": untold}, CORPUS)


@pytest.mark.parametrize("character,start,ok", [("hero", 1195, True), ("wife", 1195, False), ("hero", 1059, False)])
def test_a_memory_may_cite_the_critic_only_on_its_own_speaker(character, start, ok):
    """The critic's opinion is no memory; the critic on a character's state is a memory of that one."""
    doc = yaml.safe_load((CARDS_DIR / f"{character}.yaml").read_text(encoding="utf-8"))
    doc["memories"][0]["cites"] = [{"seed": "000_77f1739700b8fbe3.txt", "start": start}]
    from characters.schema import validate
    if ok:
        validate(doc, CORPUS)
    else:
        with pytest.raises(UsageError, match="critic"):
            validate(doc, CORPUS)


@pytest.mark.parametrize("character", IDS)
def test_every_line_a_card_speaks_reads_as_its_character_to_the_persona_check(character):
    """The lines a card declines, refuses or deflects with are in its first person and its language by
    the eval's own persona check ("Хм... Не помню." has no first person and cost the daughter a persona point)."""
    from evals.reading import cues
    from evals.metrics import persona_adherence

    card = get_card(character)
    said = [*card.lines.items(), *(("untold", g["says"]) for g in card.untold if "says" in g)]
    wrong = [(kind, lang, line) for kind, by_lang in said for lang, lines in by_lang.items()
             for line in lines if not persona_adherence(line, lang, [], cues()["first_person"])["ok"]]
    assert not wrong, wrong


@pytest.mark.parametrize("character", IDS)
def test_every_memory_is_told_in_the_first_person_in_each_language(character):
    """A composed answer is the memory itself: "The wounded cared first not whether they would live..."
    read as narration, not as K. (20 memories were; the eval counted each as a persona break)."""
    from evals.reading import cues
    from evals.metrics import persona_adherence

    wrong = [(lang, text) for m in get_card(character).memories for lang, text in m.text.items()
             if not persona_adherence(text, lang, [], cues()["first_person"])["ok"]]
    assert not wrong, wrong


def test_the_shared_decline_lines_read_as_the_character():
    """The lines any character declines a name, number, place, time or feeling with ("Имена здесь
    ничего не значат; не скажу." had no first person)."""
    from chat.inputs import prompts
    from evals.reading import cues
    from evals.metrics import persona_adherence

    by_type = prompts()["abstain_by_type"]
    lines = [(lang, line) for by_lang in by_type.values() for lang, options in by_lang.items() for line in options]
    wrong = [(lang, line) for lang, line in lines if not persona_adherence(line, lang, [], cues()["first_person"])["ok"]]
    assert len(lines) == 30 and not wrong, wrong
