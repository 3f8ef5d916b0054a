"""The `ask` command: its `--json` contract for one character and a group, and bad input as one
line with exit status 2 (real store, real llama.cpp on the bundled model)."""
import json

import pytest

from retrieval.corpus import load_corpus

from test_search import run_cli

CORPUS = load_corpus()


def test_ask_json_contract(shared_settings, searcher):
    out = run_cli("ask", "--character", "hero", "--json", "Wie hast du dein Gesicht verloren?", settings=shared_settings)
    assert out.returncode == 0, out.stderr
    _check_answer_json(json.loads(out.stdout))


def test_ask_two_characters_json_is_a_list_in_the_single_answer_schema(shared_settings, searcher):
    out = run_cli("ask", "--character", "hero", "--character", "wife", "--as-of", "bus_stop", "--json",
                  "What happened at the bus stop?", settings=shared_settings)
    assert out.returncode == 0, out.stderr
    answers = json.loads(out.stdout)
    assert isinstance(answers, list) and [a["character"] for a in answers] == ["hero", "wife"]
    for d in answers:
        _check_answer_json(d)
        assert d["as_of"]["novel"] == "bus_stop"


def _check_answer_json(d):
    for key in ("character", "question", "answer", "abstained", "mode", "backend", "model", "sentences", "citations"):
        assert key in d
    assert d["mode"] in ("generated", "composed", "abstained") and d["backend"] == "llamacpp"
    for s in d["sentences"]:
        assert {"text", "supported", "score", "citations"} <= set(s)
        assert all(0 <= i < len(d["citations"]) for i in s["citations"])
    for c in d["citations"]:
        original = (CORPUS.sources[0].path.parent / c["source_file"]).read_text(encoding="utf-8")
        assert original[c["start"]:c["end"]] == c["text"] and c["english"]


@pytest.mark.parametrize("args,needle", [
    (["ask", "--character", "akira", "hi"], "unknown character"),
    (["ask", "--character", "hero", "--as-of", "nope", "hi"], "unknown event"),
    (["ask", "--character", "hero", "   "], "empty"),
    (["ask", "--character", "hero", "--character", "hero", "hi"], "each character once"),
    (["ask", "--character", "doctor", "--character", "girl", "--as-of", "bus_stop", "hi"], "no one in this group"),
    (["ask", "--character", "hero", "--character", "k", "--as-of", "akira", "hi"], "unknown event"),
])
def test_ask_bad_input_is_one_line_exit_2(args, needle, shared_settings):
    out = run_cli(*args, settings=shared_settings)
    assert out.returncode == 2 and needle in out.stderr and len(out.stderr.strip().splitlines()) == 1
