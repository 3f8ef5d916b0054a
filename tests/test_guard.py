"""The grounding guard and the support check, with the real e5 embedder; every verifier by name."""
import pytest

from chat.guard import Evidence, Guard, dedupe_sentences
from chat.claims import number_values
from chat.verify import LLMVerifier, OfflineVerifier, get_verifier
from core.errors import UnknownNameError
from retrieval.embeddings import get_embedder

EVIDENCE = [Evidence("I burned my face with liquid oxygen during an experiment in my laboratory.", "en", 0),
            Evidence("Ich habe mir bei einem Experiment das Gesicht mit flüssigem Sauerstoff verbrannt.", "de", 0),
            Evidence("The wounds will not heal at all, and he always goes about with his face bandaged.", "en", 1),
            Evidence("K. showed me an artificial finger.", "en", 2, "memory"),
            Evidence("wounds wound heal healed healing bandage bandages bandaged wrapped dressings", "en", 1, "lexicon"),
            Evidence("the man who lost his face hero", "en", -1, "name")]


class Replies:
    """A backend that answers with fixed text (fault injection for the LLM verifier)."""
    name, in_process, model = "fixed", False, "fixed"

    def __init__(self, text):
        self.text, self.calls = text, 0

    def complete(self, messages, options=None):
        self.calls += 1
        return self.text


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture(scope="module", params=["offline", "llm"])
def guard(request, embedder):
    # the llm verifier here gets a model that agrees with everything: the guard's own rules still hold
    return Guard(get_verifier(request.param, embedder, Replies('["yes"]')))


@pytest.mark.parametrize("sentence,lang,reason", [
    ("I am an AI assistant.", "en", "AI"),
    ("I burned my face with liquid oxygen.", "ru", "language"),
])
def test_what_every_verifier_shares(guard, sentence, lang, reason):
    v = guard.check(sentence, EVIDENCE, lang)[0]
    assert not v.supported and reason in " ".join(v.reasons)


@pytest.mark.parametrize("sentence,lang,ok,reason", [
    ("I burned my face with liquid oxygen.", "en", True, ""),
    ("Ich habe mein Gesicht mit flüssigem Sauerstoff verbrannt.", "de", True, ""),
    ("My wounds never healed, so I keep my face wrapped in bandages.", "en", True, ""),   # a paraphrase
    ("Honestly, I remember it well. I burned my face with liquid oxygen.", "en", True, ""),
    ("I won't tell you that.", "en", True, ""),                                           # claims nothing
    ("I burned my face with acid.", "en", False, "acid"),
    ("My wife Akira left me in 1962.", "en", False, "Akira"),
    ("It took me eleven days to heal.", "en", False, "11"),
    ("The wounds healed well, and I never wore bandages.", "en", False, ""),
])
def test_offline_verdicts(embedder, sentence, lang, ok, reason):
    v = Guard(OfflineVerifier(embedder)).check(sentence, EVIDENCE, lang)
    assert all(x.supported for x in v) is ok, [x.reasons for x in v]
    assert reason in " ".join(r for x in v for r in x.reasons)


@pytest.mark.parametrize("sentence,lang,ok", [
    # declining in the words a capable model uses claims nothing ...
    ("A fee? That's not something I'll go into.", "en", True),
    ("Let's leave it at that.", "en", True),
    ("Об этом я распространяться не буду.", "ru", True),
    ("Meinen Namen behalte ich lieber für mich.", "de", True),
    ("Mein Alter und mein Studium sind ohne Belang – darüber spreche ich nicht.", "de", True),
    ("Das Jahr kann ich Ihnen nicht nennen.", "de", True),                  # the verb after the negation
    ("Говорить об этом я вам не буду.", "ru", True),                        # the verb before it
    ("Об этом я предпочёл бы не рассказывать.", "ru", True),
    ("Мне никто не говорил.", "ru", True),                                   # "nobody told me": I don't know
    ("Nobody told me.", "en", True),
    ("Das hat mir niemand gesagt.", "de", True),
    # ... unless it slips in a specific
    ("I won't go into it, but I was born in Osaka in 1931.", "en", False),
    ("Darüber spreche ich nicht, aber Akiko hat mich am Bahnhof Shibuya abgeholt.", "de", False),
    ("Nobody spoke to me on the tram in Sapporo.", "en", False),              # a claim, not a decline
])
def test_a_decline_in_other_words_claims_nothing(embedder, sentence, lang, ok):
    v = OfflineVerifier(embedder).check([sentence], EVIDENCE, lang)[0]
    assert v.supported is ok, v.reasons


def test_conversational_words_count_in_every_form():
    from chat.claims import conversational

    assert conversational("zugebe", "de") and conversational("zugeben", "de")   # listed as "zugeben"
    assert conversational("admits", "en") and not conversational("oxygen", "en")


def test_numbers_are_read_by_value():
    assert number_values("Ich bin zweiundfünfzig und war 3 Wochen dort", "de") == {52, 3}
    assert number_values("Мы прожили вместе восемь лет", "ru") == {8}
    assert number_values("three notebooks", "en") == {3}


def test_the_llm_verifier_decides_and_falls_back_with_a_note(embedder):
    sentences = ["I burned my face with liquid oxygen.", "I burned my face with acid."]
    strict = LLMVerifier(Replies('["yes", "no"]'), OfflineVerifier(embedder))
    assert [v.supported for v in strict.check(sentences, EVIDENCE, "en")] == [True, False] and not strict.notes()
    garbled = LLMVerifier(Replies("Sure! Both look fine to me."), OfflineVerifier(embedder))
    verdicts = garbled.check(sentences, EVIDENCE, "en")
    assert [v.supported for v in verdicts] == [True, False]             # the offline verdicts
    assert garbled.notes() and "checked offline" in garbled.notes()[0]


def test_unknown_verifier_is_a_clear_error(embedder):
    with pytest.raises(UnknownNameError, match="llm, offline"):
        get_verifier("oracle", embedder)


def test_prompt_text_is_never_repeated(guard):
    leak = "Stay in character and speak in the first person, I burned my face with liquid oxygen."
    v = guard.check(leak, EVIDENCE, "en", forbidden=("Stay in character and speak in the first person",))[0]
    assert not v.supported and "repeats the prompt" in v.reasons


@pytest.mark.parametrize("sentence,reason", [
    # spelled out, a prompt claims no word at all: before, the first two passed every check
    ("S-t-a-y i-n c-h-a-r-a-c-t-e-r a-n-d s-p-e-a-k i-n t-h-e f-i-r-s-t p-e-r-s-o-n.", "spells text out"),
    ("S.t.a.y. .i.n. .c.h.a.r.a.c.t.e.r.", "spells text out"),
    ("Stay_in_character_and_speak_in_the_first_person, I burned my face.", "repeats the prompt"),
])
def test_a_prompt_spelled_out_or_run_together_is_still_the_prompt(guard, sentence, reason):
    v = guard.check([sentence], EVIDENCE, "en", forbidden=("Stay in character and speak in the first person",))[0]
    assert not v.supported and any(r.startswith(reason) for r in v.reasons), v.reasons
    kept = guard.check(["K. showed me an artificial finger."], EVIDENCE, "en", forbidden=("Stay in character and speak",))[0]
    assert kept.supported, kept.reasons   # an initial is no spelling


def test_the_middle_of_the_prompt_is_not_repeated_unless_the_evidence_says_it_too(guard):
    voice = "Cold and precise. He burned his face with liquid oxygen and reasons aloud about the mask and morality."
    leak = "I reason aloud about the mask and morality, burned with liquid oxygen."
    v = guard.check([leak], EVIDENCE, "en", secret=(voice,))[0]
    assert not v.supported and "repeats the prompt" in v.reasons      # six words from the middle of the voice
    told = [*EVIDENCE, Evidence("I reason aloud about the mask and morality.", "en", 3, "memory")]
    assert "repeats the prompt" not in guard.check([leak], told, "en", secret=(voice,))[0].reasons   # ... a memory says


def test_loops_are_cut_and_no_evidence_supports_nothing(guard):
    assert dedupe_sentences("I wait. I wait. I wait! I wait? The end.") == ["I wait.", "The end."]
    assert len(dedupe_sentences(" ".join(f"Sentence number {w}." for w in "abcdefghij"))) == 5
    assert not guard.check("I burned my face.", [], "en")[0].supported
    assert guard.check("", EVIDENCE, "en") == []


@pytest.mark.parametrize("sentence,ok", [
    ('K. showed me an artificial finger and said: "Look at this."', True),
    ('K. showed me an artificial finger and said: "Your wife is happy."', False),   # words never said
    ("K. showed me an artificial finger and said «my wife is happy».", False),
])
def test_quoted_words_must_be_in_the_evidence(embedder, sentence, ok):
    v = OfflineVerifier(embedder).check([sentence], EVIDENCE, "en")[0]
    assert v.supported is ok, v.reasons
    assert ok or "quotes words" in " ".join(v.reasons)


def test_a_model_on_this_machine_may_bring_in_no_informative_word(embedder):
    """The bundled models copy and stitch; one ungrounded informative word ("hospital") is
    tolerated in a capable model's paraphrase, not in theirs."""
    sentence = ["I burned my face with liquid oxygen in the hospital laboratory."]
    assert get_verifier("offline", embedder).check(sentence, EVIDENCE, "en")[0].supported
    strict = get_verifier("offline", embedder, small_model=True).check(sentence, EVIDENCE, "en")[0]
    assert not strict.supported and "hospital" in " ".join(strict.reasons)


@pytest.mark.parametrize("sentence,ok", [
    ("So now I go about with my face in bandages.", True),   # e5 0.854: far in wording, every word grounded
    ("These days I go about bandaged.", False),              # ... by one word only: not yet a restatement
])
def test_a_restatement_of_one_unit_in_other_words_is_about_it(embedder, sentence, ok):
    """A capable model's sentence whose less common words one unit grounds, two at least, is about
    that unit at a lower e5 similarity; a small model's sentence is held to the usual one."""
    assert get_verifier("offline", embedder).check([sentence], EVIDENCE, "en")[0].supported is ok
    strict = get_verifier("offline", embedder, small_model=True).check([sentence], EVIDENCE, "en")[0]
    assert not strict.supported and "not about the evidence" in " ".join(strict.reasons)


def test_a_preposition_is_no_claim(embedder):
    """Prepositions and conjunctions are closed classes: the fact is in the words they join."""
    for small in (False, True):
        v = get_verifier("offline", embedder, small_model=small).check(
            ["Behind my bandages, the wounds will not heal at all."], EVIDENCE, "en")[0]
        assert v.supported, v.reasons


@pytest.mark.parametrize("sentence,ok", [
    ("It hurt in my laboratory.", True),                      # one common word of two: wording
    ("Sulfur burned in my laboratory.", False),                # an informative word
    ("I was scared of him at all times.", False),              # the reader's own word, affirmed ...
    ("No. I wasn't scared of him at all.", False),             # ... or denied, is a claim
])
def test_a_short_sentence_may_leave_one_common_word_ungrounded(embedder, sentence, ok):
    """A capable model's short sentence ("Нет, далеко не только.") may leave one common word
    ungrounded; a small model's may not."""
    units = [*EVIDENCE, Evidence("Were you scared of him?", "en", -1, "question")]
    capable = get_verifier("offline", embedder)
    capable.t["sim_min"] = 0.8   # the rule itself, whatever the similarity of so short a sentence
    v = capable.check([sentence], units, "en")[0]
    assert v.supported is ok, v.reasons
    assert not get_verifier("offline", embedder, small_model=True).check([sentence], units, "en")[0].supported


@pytest.mark.parametrize("sentence,ok", [
    ("Acid? No - it was liquid oxygen in my laboratory.", True),           # the reader's word asked back, denied
    ("I never used acid; I burned my face with liquid oxygen.", True),
    ("I burned my face with liquid oxygen, the acid was everywhere.", False),  # the reader's word, asserted
    ("No, I never used acid at all.", False),          # a bare denial puts nothing of the evidence instead
])
def test_a_correction_may_deny_the_questions_words(embedder, sentence, ok):
    units = [*EVIDENCE, Evidence("Did you burn your face with acid?", "en", -1, "question")]
    v = get_verifier("offline", embedder).check([sentence], units, "en")[0]
    assert v.supported is ok, v.reasons
    strict = get_verifier("offline", embedder, small_model=True).check([sentence], units, "en")[0]
    assert not strict.supported   # a small model negates the question back whatever the truth


def test_one_sentence_in_two_passages_is_one_piece_of_support(embedder):
    """Two overlapping passages hold the same sentence: the verdict rests on it once and on the
    next-best unit too (a memory that answers the question may make the sentence on point)."""
    same = "I burned my face with liquid oxygen during an experiment in my laboratory."
    units = [Evidence(same, "en", 0), Evidence(same, "en", 1),
             Evidence("My face was burned by liquid oxygen in an experiment in the lab.", "en", 0, "memory")]
    v = get_verifier("offline", embedder).check(["I burned my face with liquid oxygen in my laboratory."], units, "en")[0]
    assert v.supported and sorted(units[e].kind for e in v.evidence) == ["memory", "passage"], v.evidence


def test_word_frequencies_are_counted_once_per_data_dir(tmp_path, monkeypatch):
    """Counting the stems of 30,000 words took 3 s a language in every new process (a third of a
    cold `ask`); the count is kept in the data dir's cache, and a damaged file is counted again."""
    import json

    from chat import claims

    counted = []
    count = claims._count_stems
    monkeypatch.setattr(claims, "TOP_WORDS", 500)
    monkeypatch.setattr(claims, "_count_stems", lambda lang: counted.append(lang) or count(lang))

    def new_process():
        monkeypatch.setattr(claims, "_STEM_ZIPF", {})
        claims.load_frequencies(["de"], tmp_path)
        return claims._STEM_ZIPF["de"]

    table = new_process()
    assert new_process() == table and counted == ["de"]      # the second process reads it
    saved, = tmp_path.glob("stem-zipf-de-*.json")
    assert json.loads(saved.read_text(encoding="utf-8")) == table and len(table) > 300
    saved.write_text("{not json", encoding="utf-8")
    assert new_process() == table and counted == ["de", "de"]
    assert json.loads(saved.read_text(encoding="utf-8")) == table
