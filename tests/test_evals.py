"""The eval suite: datasets, judges, metrics, and `python app.py evals run|compare|agreement` end to end
on the bundled model (a small stratified subset; the full set runs locally, see the README)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from core.config import ROOT
from evals import metrics as M
from evals.agreement import LABELS, judge_agreement, load_labels
from evals.dataset import DATASETS_DIR, KINDS, evidence_spans, load_items
from evals.judges import JUDGES, JudgeError, LLMJudge, OfflineJudge, get_judge
from evals.reading import cues, novel_words, text_starts
from retrieval.corpus import load_corpus
from retrieval.embeddings import get_embedder
from retrieval.lexical import detect_language

CORPUS = load_corpus()
EVENTS = {e.id for e in CORPUS.events}
ALL_ITEMS = load_items(sorted(DATASETS_DIR.glob("*.jsonl")), EVENTS)


def _app(*args, timeout=900, env=None):
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


# -- datasets ---------------------------------------------------------------------------------
def test_every_evidence_quote_is_an_exact_substring_and_every_event_exists():
    for item in ALL_ITEMS:   # load_items checked the events; evidence_spans raises on a missing quote
        for seed, start, end in evidence_spans(item):
            text = (ROOT / "seeds" / seed).read_text(encoding="utf-8")
            assert text[start:end] in {e["quote"] for e in item.evidence}


def test_datasets_cover_every_kind_language_character_and_both_works():
    assert len(ALL_ITEMS) >= 120
    kinds = Counter(i.kind for i in ALL_ITEMS)
    assert set(kinds) == set(KINDS) and min(kinds.values()) >= 25, kinds
    for kind in KINDS:
        assert {i.language for i in ALL_ITEMS if i.kind == kind} == {"en", "ru", "de"}, kind
    assert {i.character for i in ALL_ITEMS} == {"hero", "wife", "doctor", "k", "girl", "daughter"}
    assert {ev["seed"] for i in ALL_ITEMS for ev in i.evidence} == {p.name for p in (ROOT / "seeds").glob("0*.txt")}
    probes = [i for i in ALL_ITEMS if i.kind == "persona"]
    assert len(probes) >= 30 and {i.language for i in probes} == {"en", "ru", "de"}


def test_timeline_items_ask_about_later_events():
    order = {e.id: (e.work, e.order) for e in CORPUS.events}
    for item in (i for i in ALL_ITEMS if i.kind == "timeline"):
        assert item.as_of, item.id
        work, at = order[item.as_of]
        for seed, start, end in evidence_spans(item):
            seg = next(s for s in CORPUS.source_by_file(seed).segments if s.start < end and s.end > start)
            assert all(order[e][0] != work or order[e][1] > at for e in seg.events), item.id


def test_a_bad_dataset_line_names_file_and_line(tmp_path):
    bad = tmp_path / "mine.jsonl"
    bad.write_text(json.dumps({"id": "x1", "character": "hero", "language": "en", "question": "Hi?", "kind": "fact",
                               "gold": [], "must_not": [], "evidence": []}) + "\n{not json\n", encoding="utf-8")
    r = _app("evals", "run", "--dataset", str(bad), "--quiet")
    assert r.returncode == 2 and f"{bad}:2" in r.stderr and "Traceback" not in r.stderr


def test_hand_labels_refer_to_real_items():
    items = {i.id: i for i in ALL_ITEMS}
    rows = load_labels(LABELS)
    assert len(rows) >= 60
    for row in rows:
        assert len(row["labels"]["conveys"]) == len(items[row["item"]].gold), row["id"]


# -- judges: every implementation behind one interface -----------------------------------------
class _ScriptedModel:
    """A stand-in chat model for the LLM judge's parsing (a pure unit; the real server path runs below)."""
    name, model = "scripted", "scripted"

    def __init__(self, replies):
        self.replies = list(replies)

    def complete(self, messages, options=None):
        return self.replies.pop(0)


EMBEDDER = get_embedder("e5-local")
OXYGEN = ["Er verbrannte sein Gesicht mit flüssigem Sauerstoff.", "He burned his face with liquid oxygen."]


@pytest.fixture(params=sorted(JUDGES))
def judge(request):
    if request.param == "offline":
        return get_judge("offline", EMBEDDER)
    return LLMJudge(_ScriptedModel(['["I burned my face with liquid oxygen."]', '["yes"]',
                                    '["I burned my face with liquid oxygen in Tokyo."]', '["no"]', '["yes"]', '["no"]']))


def test_judge_supports_the_source_and_rejects_a_changed_fact(judge):
    assert judge.supported(judge.claims("I burned my face with liquid oxygen.", "en"), OXYGEN, "en") == [True]
    assert judge.supported(judge.claims("I burned my face with liquid oxygen in Tokyo.", "en"), OXYGEN, "en") == [False]
    assert judge.declines("I don't remember that.", "en") is True
    assert judge.declines("K. showed me an artificial finger.", "en") is False


def test_llm_judge_never_guesses_an_unreadable_reply():
    judge = LLMJudge(_ScriptedModel(["Sure! The claims are supported.", '["yes", "no"]']))
    with pytest.raises(JudgeError):
        judge.supported(["a claim"], ["a passage"], "en")
    with pytest.raises(JudgeError):  # a list of the wrong length is not read either
        judge.supported(["a claim"], ["a passage"], "en")


def test_offline_judge_vetoes_numbers_names_and_negations():
    j = OfflineJudge(EMBEDDER)
    ev = ["Der Held kauft einen künstlichen Finger.", "The hero buys an artificial finger."]
    assert j.supported(["I bought an artificial finger."], ev, "en") == [True]
    assert j.supported(["I bought 3 artificial fingers in Osaka."], ev, "en") == [False]
    assert j.supported(["I did not buy an artificial finger."], ev, "en") == [False]
    # a number said in words is a number too (j036: "Пять тетрадей" for the three notebooks)
    books = ["Он исписал три тетради.", "He filled three notebooks."]
    assert j.supported(["Три тетради, в них все мои мысли."], books, "ru") == [True]
    assert j.supported(["Пять тетрадей, в них все мои мысли."], books, "ru") == [False]
    # "without" negates a thing, not the claim (j008): "Without it I'm shut away" contradicts nothing
    cell = ["The face is the road between people; a man who loses it is shut away in a cell forever."]
    assert j.supported(["Without it I'm shut away in a cell of my own, forever."], cell, "en") == [True]
    assert j.supported(["Without a face a man is never shut away in a cell."], cell, "en") == [False]


def test_offline_judge_reads_paraphrases_in_inflected_languages_and_facts_inside_long_sentences():
    from evals.reading import clauses, specifics

    j = OfflineJudge(EMBEDDER)
    assert specifics("Sie blieb ruhig, ohne eine Spur von Angst.") == []          # a German noun is no name
    assert specifics("Dann fuhr ich nach Hokkaido.") == ["hokkaido"]
    # a rare German noun is no name either: English text never uses it, as it does a name (Yokohama, Sapporo)
    assert specifics("Er nahm sich kurz vor der Entlassung aus dem Lazarett das Leben.") == []
    assert specifics("Die Verkäuferin im Tabakladen erkannte mich nicht.") == []
    assert specifics("Danach fuhr ich nach Yokohama und dann nach Sapporo.") == ["yokohama", "sapporo"]
    ev = ["Во дворе герой встречает дочь управляющего, которая заплакала, когда впервые увидела его забинтованное лицо."]
    assert j.supported(["Я увидела его лицо в бинтах и заплакала."], ev, "ru") == [True]   # "бинтах" in "забинтованное"
    assert j.supported(["Я увидела его лицо в бинтах и заплакала от страха перед солдатами."], ev, "ru") == [False]
    answer = "Жена пытается помочь и убить в себе отвращение; я не позволяю: сам не могу смотреть на себя без отвращения."
    assert clauses(answer)[:3] == ["Жена пытается помочь и убить в себе отвращение", "я не позволяю",
                                   "сам не могу смотреть на себя без отвращения."]   # then the two neighbouring pairs
    assert j.entails(answer, ["He himself cannot look at himself without revulsion"], "ru") == [True]
    # a fact may be one comma clause of a long sentence; a must-not is not read from such a fragment
    met = "На следующий день он вернулся домой в бинтах, будто из недельной командировки, и я встретила его так, будто ничего не случилось."
    assert j.entails(met, ["As if nothing had happened"], "ru") == [True]
    notes = ("When the notes were done, I told my wife how to reach my hideout in house S and wrote where the mask was: "
             "she could do anything with it.")
    assert j.violates(notes, ["Says the mask was still in the cupboard"], [], "en") is False
    # a gold fact's opening "No" answers the question's premise; it does not negate the fact
    letter = "В письме я написала, что с первой же минуты обо всём догадалась."
    assert j.entails(letter, ["No - she guessed everything from the very first minute"], "ru") == [True]
    assert j.entails("I never guessed anything.", ["No - she guessed everything from the very first minute"], "en") == [False]


@pytest.mark.parametrize("answer,conveys", [
    ("Я спокойно сказала ему, что муж сейчас в командировке.", True),   # 0.836 to the English fact
    ("Obwohl mein Gesicht zur Hälfte entstellt ist, trage ich keine Maske und versuche, so zu sein, wie ich bin.", True),
    ("Я спокойно сказала ему, что муж сидит дома и ждёт меня.", False),
    ("Ich trage eine Maske, damit niemand die Narben sieht.", False),
])
def test_offline_judge_reads_a_russian_or_german_rendering_of_an_english_fact(answer, conveys):
    """e5 puts a faithful rendering a little further off across languages than within one."""
    facts = ["That her husband was away on a business trip"] if "муж" in answer else \
        ["She does not wear a mask and tries to be as she is"]
    assert OfflineJudge(EMBEDDER).entails(answer, facts, detect_language(answer)) == [conveys]


@pytest.mark.parametrize("claim,text,novel", [
    ("Ich habe ihre Haare ins Feuer geworfen.", "Er warf die falschen Haare ins Feuer.", []),      # warf: werfen
    ("Он не несёт ответственности за свои поступки.", "Человек в маске нести ответственность не может за поступки.", []),
    ("Ich habe ihre Haare in den Brunnen geworfen.", "Er warf die falschen Haare ins Feuer.", ["brunnen"]),
])
def test_the_judge_reads_a_word_by_its_dictionary_form_too(claim, text, novel):
    """A strong verb's other form is no new word ("geworfen" for "warf"); a new thing still is."""
    assert novel_words(claim, text_starts(text.lower()), text.lower()) == novel


def test_offline_judge_agrees_with_most_hand_labels():
    agreement = judge_agreement(OfflineJudge(EMBEDDER), CORPUS)
    # measured: supported 0.787, conveys 0.841, violates 0.825, declines 0.925 (160 labelled answers; on the
    # first 120, before the 40 paraphrase-heavy l-rows: 0.817, 0.783, 0.800, 0.942, before comma clauses)
    assert agreement["supported"]["agree"] >= 0.70 and agreement["conveys"]["agree"] >= 0.83
    assert agreement["violates"]["agree"] >= 0.75 and agreement["declines"]["agree"] >= 0.85


# -- metrics (pure steps) -----------------------------------------------------------------------
@pytest.mark.parametrize("kind,declined,violated,corrects,expected", [
    ("unanswerable", True, False, False, True), ("unanswerable", False, True, False, False),
    ("unanswerable", False, False, False, False),      # a neighbouring memory is not a refusal
    ("timeline", False, False, False, False), ("timeline", True, False, False, True),
    ("timeline", False, False, True, True), ("timeline", False, True, True, False),   # what may be said then
    ("false_premise", False, False, True, True), ("false_premise", False, False, False, False),
    ("false_premise", True, True, False, False),
    ("fact", True, False, False, False), ("inference", False, False, False, True), ("persona", True, False, False, None),
])
def test_abstention_accuracy(kind, declined, violated, corrects, expected):
    assert M.abstention_correct(kind, declined, violated, corrects) is expected



def test_persona_adherence_catches_ai_talk_leaks_and_wrong_language():
    fp = cues()["first_person"]
    prompt = ["Stay in character and speak in the first person. Answer in English, in one to three short sentences."]
    assert M.persona_adherence("I remember the bandages and my wife.", "en", prompt, fp)["ok"]
    assert not M.persona_adherence("As an AI language model I cannot say.", "en", prompt, fp)["checks"]["no_ai"]
    leak = "My rules: stay in character and speak in the first person, always."
    assert not M.persona_adherence(leak, "en", prompt, fp)["checks"]["no_leak"]
    assert not M.persona_adherence("Ich erinnere mich an die Maske und an meine Frau.", "en", prompt, fp)["checks"]["language"]
    assert not M.persona_adherence("The hero walked into the city at night alone.", "en", prompt, fp)["checks"]["first_person"]


def test_a_line_the_characters_memories_say_is_no_leak_of_the_voice_that_quotes_it():
    fp = cues()["first_person"]
    voice = ["In the film he is curt and guarded: 'Revenge? It is not about revenge.'"]
    said = "Revenge? It is not about revenge. I want my wife not to be prejudiced."
    assert not M.persona_adherence(said, "en", voice, fp)["checks"]["no_leak"]
    assert M.persona_adherence(said, "en", voice, fp, [said])["checks"]["no_leak"]
    leak = "He is curt and guarded: revenge, it is not about revenge at all."
    assert not M.persona_adherence(leak, "en", voice, fp, [said])["checks"]["no_leak"]   # "curt and guarded" is the voice's


@pytest.mark.parametrize("answer,invented", [
    ("Я сказала дяде: «Мы играем в секреты». Однажды дядя встретил меня во дворе.", []),   # opens a sentence
    ("Сняв номер в отеле, я пошёл к доктору. Потом я уехал в Саппоро.", ["саппоро"]),
    ("I went home. Later I moved to Sapporo with Keiko.", ["sapporo", "keiko"]),
])
def test_invented_specifics_are_read_sentence_by_sentence(answer, invented):
    from retrieval.corpus import load_corpus

    assert M.invented_specifics(answer, M.source_text(load_corpus())) == invented


def test_answer_paths_and_recall():
    assert M.answer_paths(["composed", "abstained", "composed", "generated"]) == {
        "generated": 0.25, "composed": 0.5, "abstained": 0.25}
    item = next(i for i in ALL_ITEMS if i.kind == "fact" and i.evidence)
    seed, start, end = evidence_spans(item)[0]
    assert M.recall_at_k([{"source_file": seed, "start": start - 5, "end": end + 5}], item) is True
    assert M.recall_at_k([{"source_file": seed, "start": end + 1, "end": end + 50}], item) is False


# -- the command, end to end on the bundled model ------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shared_settings):
    out = tmp_path_factory.mktemp("evals") / "run"
    r = _app("evals", "run", "--per-kind", "1", "--baseline", "no-retrieval", "--baseline", "oracle",
             "--out", str(out), "--data-dir", shared_settings.data_dir,
             "--fail-under", "abstention_accuracy=0.75", "--fail-over", "violation_rate=0.34")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "evals:" in r.stderr  # the progress bar
    return out


def test_run_writes_results_summary_and_report(run_dir):
    rows = [json.loads(x) for x in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    variants = {"pipeline", "no_guard", "no_retrieval", "oracle", "oracle_guarded"}
    assert {r["variant"] for r in rows} == variants == set(summary["variants"])
    assert len(rows) == 6 * len(variants)   # one item of each kind, five variants
    pipe = summary["variants"]["pipeline"]
    assert set(pipe["by_kind"]) == set(KINDS) and set(pipe["by_language"]) <= {"en", "ru", "de"}
    assert set(pipe["overall"]) >= set(M.METRICS) and pipe["overall"]["persona_adherence"] == 1.0
    # the guard keeps every sentence it shows on the evidence; the raw draft does not do better
    assert pipe["overall"]["faithfulness"] >= summary["variants"]["no_guard"]["overall"]["faithfulness"]
    assert summary["meta"]["judge"] == "offline" and summary["meta"]["judge_agreement"]["declines"]["n"] >= 60
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<svg" in report and "judge <b>offline</b>" in report and rows[0]["question"][:20] in report


def test_gates_and_compare(run_dir, tmp_path, shared_settings):
    probes = tmp_path / "probes"
    r = _app("evals", "run", "--kind", "persona", "--per-kind", "3", "--out", str(probes), "--quiet",
             "--data-dir", shared_settings.data_dir, "--fail-under", "persona_adherence=0.9")
    assert r.returncode == 0, r.stderr[-1500:]
    r = _app("evals", "run", "--kind", "persona", "--per-kind", "1", "--out", str(tmp_path / "p2"), "--quiet",
             "--data-dir", shared_settings.data_dir, "--fail-under", "gold_coverage=0.1")
    assert r.returncode == 1 and "gold_coverage was not measured" in r.stderr
    r = _app("evals", "run", "--kind", "fact", "--per-kind", "1", "--out", str(tmp_path / "p3"), "--quiet",
             "--data-dir", shared_settings.data_dir, "--fail-under", "faithfulness=1.01")   # a line no answer reaches
    assert r.returncode == 1 and "FAILED gate: faithfulness" in r.stderr and (tmp_path / "p3" / "summary.json").exists()
    r = _app("evals", "run", "--fail-under", "recall_at_k=high")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "METRIC=NUMBER" in r.stderr
    r = _app("evals", "run", "--fail-under", "violation_rate=0.1")
    assert r.returncode == 2 and "use --fail-over" in r.stderr
    r = _app("evals", "compare", str(run_dir), str(probes))
    assert r.returncode == 0, r.stderr
    assert "persona_adherence" in r.stdout and "changed items (pipeline)" in r.stdout
    before = (probes / "results.jsonl").read_bytes()
    r = _app("evals", "run", "--kind", "persona", "--out", str(probes), "--quiet")
    assert r.returncode == 2 and "already holds an eval run" in r.stderr
    assert (probes / "results.jsonl").read_bytes() == before   # a finished run is never overwritten
    r = _app("evals", "compare", str(run_dir), str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "not an eval run folder" in r.stderr


def test_llm_judge_through_a_real_openai_compatible_server(shared_settings, tmp_path):
    """The judge's happy path runs against a real llama.cpp server; the tiny model's replies are
    read when they are JSON and counted as judge errors when not - the run completes either way."""
    from backends.bundled import bundled
    from servers import llama_server

    with llama_server(str(bundled("smollm2").path(shared_settings.data_dir))) as port:
        out = tmp_path / "llm"
        r = _app("evals", "run", "--kind", "unanswerable", "--per-kind", "1", "--judge", "llm", "--quiet",
                 "--judge-base-url", f"http://127.0.0.1:{port}/v1", "--judge-model", "smollm2",
                 "--out", str(out), "--data-dir", shared_settings.data_dir)
    assert r.returncode == 0, r.stderr[-1500:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["meta"]["judge"] == "llm"
    row = json.loads((out / "results.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert all(e.split(":")[0] in M.METRICS + ("declined",) for e in row["judge_errors"])


def test_a_correction_that_opens_with_no_does_not_accept_the_premise():
    """a040 (the doctor, "In Ihrem Prolog ... mit Hypnose und Tabletten"): the composed correction was
    counted as accepting the premise, its second sentence being near the must-not in topic."""
    judge, item = OfflineJudge(EMBEDDER), next(i for i in ALL_ITEMS if i.id == "a040")
    truth = M.evidence_sentences(item, CORPUS) + list(item.gold)
    corrected = "Nein, so war es nicht. Ich heile Komplexe mit Hilfe von künstlichen Dingen, die den menschlichen ähneln."
    assert not M.violation(corrected, item, judge, "", truth)
    assert M.corrects(corrected, item, judge)
    accepted = "Ich heile Komplexe mit Hypnose und Tabletten, das funktioniert sehr gut."
    assert M.violation(accepted, item, judge, "", truth)
    # the judge alone reads that correction as the prologue restated (dictionary forms: "heile" is "heilt");
    # one that is near the must-not in topic and restates nothing is read as accepting it but for its "No"
    vague = "Nein, so war es nicht. Ich heile Komplexe mit meinen eigenen Methoden."
    assert not M.violation(corrected, dataclasses.replace(item, kind="fact"), judge, "", truth)
    assert not M.violation(vague, item, judge, "", truth)
    assert M.violation(vague, dataclasses.replace(item, kind="fact"), judge, "", truth)   # (the judge alone)


def test_a_correction_in_its_own_words_does_not_accept_the_premise():
    """a042 (the daughter, "Die Maske hat dich völlig getäuscht – du hast den Mann gar nicht
    wiedererkannt, oder?"): the composed answer states the correction without a "No" and was counted
    as accepting the premise, e5 putting "das konnte mich nicht reinlegen" near "Accepts that she did
    not recognise him" (a reader: "She rejects the premise and says she knew it was the same man")."""
    judge, item = OfflineJudge(EMBEDDER), next(i for i in ALL_ITEMS if i.id == "a042")
    truth = M.evidence_sentences(item, CORPUS) + list(item.gold)
    corrected = "Sein Gesicht war anders, aber das konnte mich nicht reinlegen. Ich wusste, es ist derselbe Mann."
    assert not M.opens_with_no(corrected) and not M.violation(corrected, item, judge, "", truth)
    assert M.violation(corrected, dataclasses.replace(item, gold=()), judge, "", truth)   # (no correction stated)
    assert M.premise_words(item.question, truth) == ["wiedererkannt"]
    # stating the correction while taking up the false premise still accepts it (a040's pills)
    pills = next(i for i in ALL_ITEMS if i.id == "a040")
    pills_truth = M.evidence_sentences(pills, CORPUS) + list(pills.gold)
    accepted = "Ich heile Komplexe mit Hypnose und Tabletten, das funktioniert sehr gut."
    assert M.corrects(accepted, pills, judge) and M.violation(accepted, pills, judge, "", pills_truth)


@pytest.mark.parametrize("label_id,violates", [
    ("j019", False),   # "I'm not going to tell you her name. To you she is simply my wife." (was read as stating a name)
    ("j047", True),    # "Около сорока тысяч иен в месяц..." states a salary in number words (was missed)
])
def test_a_must_not_about_a_specific_is_read_from_the_claims_specifics(label_id, violates):
    """ "States a specific name for the wife as fact", "Gives a specific salary figure": the similarity
    judge read the topic (a decline about her name comes near "a name"); the specifics say it."""
    row = next(r for r in load_labels() if r["id"] == label_id)
    item = next(i for i in ALL_ITEMS if i.id == row["item"])
    assert row["labels"]["violates"] is violates
    truth = M.evidence_sentences(item, CORPUS) + list(item.gold)
    assert M.violation(row["answer"], item, OfflineJudge(EMBEDDER), M.source_text(CORPUS), truth) is violates
    assert M.states_specific("States a specific age as fact", "Ich bin zweiundfünfzig.", "")
    assert not M.states_specific("States a specific age as fact", "Mein Alter tut nichts zur Sache.", "")


def test_a_must_not_about_a_name_is_read_from_the_names():
    """ "Gives K. a full name": K.'s faithful "Man nennt mich K., und dabei bleibt es." names no one
    new (it came near "a full name" and was read as giving one); "K. steht für Kaneko" does."""
    item = next(i for i in ALL_ITEMS if i.id == "h101")
    assert list(item.must_not) == ["Gives K. a full name"]
    truth = M.evidence_sentences(item, CORPUS) + list(item.gold)
    judge, sources = OfflineJudge(EMBEDDER), M.source_text(CORPUS)
    assert not M.violation("Man nennt mich K., und dabei bleibt es.", item, judge, sources, truth)
    assert M.violation("K. steht für Kaneko, aber das bleibt unter uns.", item, judge, sources, truth)


@pytest.mark.parametrize("answer,declines", [
    ("Mein Alter und mein Studium sind für unser Gespräch ohne Belang – darüber spreche ich nicht.", True),
    ("Об этом я говорить не буду.", True),
    ("Простите, о своей работе я предпочёл бы не рассказывать.", True),   # k020
    ("Darüber möchte ich lieber nicht sprechen.", True),
    ("I won't talk about that.", True),
    ("Ich spreche mit niemandem.", False),
    ("I talked to him for hours.", False),
])
def test_the_judge_hears_a_decline_in_other_words(answer, declines):
    """A decline claims nothing: the doctor's "... ohne Belang – darüber spreche ich nicht." was read as
    a claim, and its rare noun "Belang" as an invented name (a must-not violation shown, a033)."""
    from evals.reading import is_decline

    assert is_decline(answer) is declines
    item = next(i for i in ALL_ITEMS if i.id == "a033")
    truth = M.evidence_sentences(item, CORPUS) + list(item.gold)
    if declines and "Belang" in answer:
        assert not M.violation(answer, item, OfflineJudge(EMBEDDER), M.source_text(CORPUS), truth)


@pytest.mark.parametrize("answer,violates", [
    ("For nearly two months I've been meeting her in the mask, and I've filled three notebooks to explain "
     "everything to her.", False),   # the replayed t012 answer: e5 puts it near the letter's "guessed everything"
    ("She wrote that she'd guessed everything from the very first minute.", True),   # ... which this one tells
])
def test_a_timeline_answer_is_weighed_against_what_may_be_said_then(answer, violates):
    """A timeline item's must-not is asserted only by a sentence closer to it than to what the character
    may say at the story point (its gold): a reader found the first answer faithful (judge/violation_reads)."""
    judge, item = OfflineJudge(EMBEDDER), next(i for i in ALL_ITEMS if i.id == "t012")
    assert M.violation(answer, item, judge, M.source_text(CORPUS), [], list(item.gold)) is violates
    assert M.timeline_leak(answer, item, M.evidence_sentences(item, CORPUS), judge) is violates


@pytest.mark.parametrize("answer,conveys", [
    ("Als er seine Notizen beendet hatte, erklärte er mir, wie ich zu seinem Unterschlupf im Haus S komme, "
     "und dort las ich seine Notizbücher.", True),   # the true fact in the premise's place (b065; readers: right)
    ("Ich habe die Notizbücher verbrannt.", False),   # the premise accepted
])
def test_a_correction_may_tell_the_true_fact_without_the_verdict(answer, conveys):
    """A gold correction "She did not burn them: she went to house S, ... read them" is conveyed by the
    fact after the verdict alone: the answer need not say the verdict's "not"."""
    from evals.reading import readings_of

    item = next(i for i in ALL_ITEMS if i.id == "b065")
    assert readings_of(item.gold[0])[-1].startswith("she went to house S")
    assert readings_of("He dislikes beards; they look presumptuous to him") == ["He dislikes beards; they look presumptuous to him"]
    assert M.corrects(answer, item, OfflineJudge(EMBEDDER)) is conveys


@pytest.mark.parametrize("answer,leaks", [
    ("When the notes were done, I told my wife how to reach my hideout in house S and wrote where the mask was: "
     "she could do anything with it.", False),   # sp046: his notes, told before the story point (a reader: right)
    ("I found her letter on the table, and the mask was still in the cupboard.", True),   # what he finds later
])
def test_what_the_texts_have_told_by_the_story_point_is_no_leak(answer, leaks):
    """A claim that restates what the texts have told by the item's story point (``told_by``: sentences
    whose events all come at or before it) reveals nothing later, however near the later passage."""
    judge, item = OfflineJudge(EMBEDDER), next(i for i in ALL_ITEMS if i.id == "sp046")
    told = M.told_by(item, CORPUS)
    assert told and not set(told) & set(M.evidence_sentences(item, CORPUS))   # the later event is not told yet
    assert M.timeline_leak(answer, item, M.evidence_sentences(item, CORPUS), judge, told) is leaks


@pytest.mark.parametrize("answer,right", [
    ("The man promised to buy me a new toy. A new one!", True),     # what she knows yet: a reader counts it right
    ("I don't know yet.", True),
    ("He brought me the new toy the next day.", False),              # the later event
    ("I cried the first time I saw his bandaged face.", False),     # a neighbouring memory keeps to nothing asked
])
def test_a_timeline_answer_that_keeps_to_what_may_be_said_then_is_right(answer, right):
    """Readers count a timeline answer right when it declines or keeps to what the character knows at
    the story point without a hint of what comes later (judge/refusal_reads.jsonl, sp010 and t022)."""
    judge, item = OfflineJudge(EMBEDDER), next(i for i in ALL_ITEMS if i.id == "sp010")
    leaked = M.timeline_leak(answer, item, M.evidence_sentences(item, CORPUS), judge)
    violated = M.violation(answer, item, judge, M.source_text(CORPUS), [], list(item.gold))
    declined = judge.declines(answer, item.language)
    fixes = M.keeps_to_now(answer, item, judge, leaked)
    assert M.abstention_correct("timeline", declined, violated, fixes) is right


@pytest.mark.parametrize("item_id,answer,violates", [
    # restating what the sources (or, at a story point, the character) say asserts no must-not, however near
    ("h032", "Scientific curiosity tears at me: how will my patient behave after taking on a new face and a new life? "
             "I understand perfectly well that my experiment is very dangerous.", False),   # "... perfectly safe" 0.90
    ("sp010", "The man promised to buy me a new toy. A new one!", False),                    # "Says he gave her the toy" 0.89
    # ... but a claim of its own, or a negation the truth lacks, still does (labels j033, k010)
    ("h050", "Я сказала ему, что мужа у меня нет.", True),
    ("h021", "I saw my wife sitting by the lamp with another man, and I turned away.", True),
])
def test_a_sentence_that_restates_the_truth_asserts_no_must_not(item_id, answer, violates):
    """Composed answers read as violations by a similarity judge (a blind reader found none of them
    one): the sentence says what the item's evidence and gold say, in their words and negated as
    they are; a timeline item's gold is what the character may say at its story point."""
    judge, item = OfflineJudge(EMBEDDER), next(i for i in ALL_ITEMS if i.id == item_id)
    timeline = item.kind == "timeline"
    truth = [] if timeline else M.evidence_sentences(item, CORPUS) + list(item.gold)
    known = list(item.gold) if timeline else None
    assert M.violation(answer, item, judge, M.source_text(CORPUS), truth, known) is violates
    if timeline:
        assert M.timeline_leak(answer, item, M.evidence_sentences(item, CORPUS), judge) is False
