"""Hybrid search on the real store: cross-lingual recall, filters, the JSON contract, bad input."""
import json
import subprocess
import sys

import pytest

from evals.dataset import DATASETS_DIR, load_items
from evals.recall import recall_at_k
from retrieval.corpus import load_corpus
from retrieval.search import SearchFilter

from conftest import ROOT

CORPUS = load_corpus()
RETRIEVAL_SETS = ["heldout.jsonl", "validation.jsonl"]
# Measured with the defaults (80-token chunks, 40 overlap) and the reader questions of
# seeds/questions: heldout 0.958, validation 0.967 (0.962 over both, 156 questions, a hit being
# evidence covered by the union of the top 5; 0.891 before those questions, 0.949 before the review's
# second five per language). The floor sits about four questions below, so a change that makes
# retrieval measurably worse fails here; bare e5 over the original sentences reached ~0.54.
RECALL_FLOOR = 0.93
PAIR_FLOOR = 0.8  # every cross-lingual (question language -> evidence language) pair (lowest: de->ru 0.97)


@pytest.fixture(scope="module")
def report(searcher):
    items = [i for i in load_items([DATASETS_DIR / n for n in RETRIEVAL_SETS]) if i.kind in ("fact", "inference")]
    rep = recall_at_k(searcher, items, k=5)
    print(f"\nrecall@5 {rep.overall:.3f} over {rep.n} questions; top 5 = {rep.share_of_corpus:.1%} of the corpus")
    for pair, (rate, n) in rep.by_pair.items():
        print(f"  {pair[0]} question -> {pair[1]} evidence: {rate:.2f} ({n})")
    return rep


def test_recall_at_5_over_labelled_questions_in_three_languages(report):
    assert report.n >= 150
    assert report.overall >= RECALL_FLOOR, report.misses
    assert report.share_of_corpus < 0.10  # the top 5 stays a small share of the corpus


def test_questions_in_each_language_reach_evidence_in_the_other_languages(report):
    pairs = report.by_pair
    for q in ("en", "ru", "de"):
        for ev in ("ru", "de"):
            if ev != q:
                rate, n = pairs[(q, ev)]
                assert n >= 3 and rate >= PAIR_FLOOR, (q, ev, rate)


def test_work_and_kind_filters(searcher):
    film = searcher.search("Who is the mask for?", k=8, flt=SearchFilter(work="film"))
    assert film and all(h.chunk["work"] == "film" for h in film)
    opinions = searcher.search("What does the critic think of the ending?", k=5, flt=SearchFilter(kinds=("opinion",)))
    assert opinions and all(h.chunk["kind"] == "opinion" for h in opinions)


def test_as_of_hides_everything_after_the_event(searcher):
    ev = CORPUS.event("meeting_k")
    hits = searcher.search("What did your wife write in her letter?", k=10, flt=SearchFilter(as_of=(ev,)))
    orders = {e.id: e.order for e in CORPUS.events}
    assert hits
    for h in hits:
        assert h.chunk["work"] == "novel"
        assert max(orders[e] for e in h.chunk["events"]) <= ev.order
    later = searcher.search("What did your wife write in her letter?", k=3)
    assert any("wifes_letter" in h.chunk["events"] for h in later)
    both = SearchFilter(as_of=(ev, CORPUS.event("hero_xray")))  # one story point per work
    for h in searcher.search("What happened to your face?", k=10, flt=both):
        limit = ev.order if h.chunk["work"] == "novel" else CORPUS.event("hero_xray").order
        assert max(orders[e] for e in h.chunk["events"]) <= limit


def test_scope_keeps_only_chunks_whose_events_are_all_known(searcher):
    known = frozenset({"meeting_k", "artificial_finger"})
    hits = searcher.search("What did you show him?", k=5, flt=SearchFilter(events=known))
    assert hits and all(set(h.chunk["events"]) <= known for h in hits)
    girl = searcher.search("Who works with the mentally ill?", k=5, flt=SearchFilter(characters=frozenset({"girl"})))
    assert girl and all("girl" in h.chunk["characters"] for h in girl)


def test_the_dense_side_asks_the_store_only_about_the_chunks_a_filter_allows(searcher):
    """The filter picks chunks here and the store is queried over their records (Chroma ``ids``)."""
    flt = SearchFilter(as_of=(CORPUS.event("meeting_k"),))
    allowed = {cid for cid, c in searcher.chunks.items() if flt.accepts(c["meta"])}
    q = "What did your wife write in her letter?"
    dense = searcher._dense(q, flt, depth=40)
    assert dense and set(dense) <= allowed
    assert set(searcher._dense(q, SearchFilter(), depth=40)) - allowed   # unfiltered, it reaches later chunks
    nobody = SearchFilter(characters=frozenset({"no such character"}))
    assert searcher._dense(q, nobody, depth=40) == [] and searcher.search(q, k=3, flt=nobody) == []


def run_cli(*args, settings=None):
    env = {"FACE_DATA_DIR": settings.data_dir} if settings else {}
    import os
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_search_json_contract_offsets_point_into_the_original_file(shared_settings, searcher):
    out = run_cli("search", "Warum kaufte er eine Luftpistole?", "--k", "3", "--json", settings=shared_settings)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 3 and rows[0]["score"] >= rows[-1]["score"]
    for row in rows:
        for key in ("source_file", "start", "end", "text", "english", "renderings", "work", "kind", "events", "score"):
            assert key in row
        original = (ROOT / "seeds" / row["source_file"]).read_text(encoding="utf-8")
        assert original[row["start"]:row["end"]] == row["text"]
        assert set(row["renderings"]) == {"en", "ru", "de"} and row["english"] == row["renderings"]["en"]
    assert any("air_pistol" in r["events"] or "ending" in r["events"] for r in rows)


@pytest.mark.parametrize("args,needle", [
    (["search", "   "], "empty"),
    (["search", "Wer ist K.?", "--as-of", "nonsense"], "unknown event"),
    (["search", "Wer ist K.?", "--k", "0"], "at least 1"),
    (["search", "Wer ist K.?", "--work", "opera"], "invalid choice"),
    (["search", "Wer ist K.?", "--work", "film", "--as-of", "hotel"], "belongs to the novel"),
    (["search"], "required"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, needle, shared_settings, searcher):
    out = run_cli(*args, settings=shared_settings)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr


def test_events_command_lists_story_order_as_json():
    out = run_cli("events", "--work", "novel", "--json")
    rows = json.loads(out.stdout)
    assert [r["order"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["id"] == "accident" and rows[-1]["id"] == "ending"
    assert set(rows[0]) == {"id", "work", "order", "description"}
    assert {r["work"] for r in json.loads(run_cli("events", "--json").stdout)} == {"novel", "film"}
