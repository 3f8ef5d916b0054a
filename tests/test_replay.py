"""A strong model swapped in is heard: the replay server (strong-model answers over the real
OpenAI-compatible API) through the real ``--backend openai`` path, and ``evals run --replay``."""
import json
import subprocess
import sys
import threading
import types

import pytest

from backends import GenerationOptions, get_backend
from core.config import ROOT, load_settings
from evals import replay

ROWS = replay.load_replay()


@pytest.fixture(scope="module")
def server():
    srv = replay.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def _backend(url, variant):
    return get_backend(load_settings({"backend": "openai", "base_url": url, "model": f"replay-{variant}"}, env={}))


def test_the_replay_set_is_two_halves_of_paired_answers():
    assert len(ROWS) >= 120
    assert {r["half"] for r in ROWS.values()} == {"calibration", "heldout"}
    for r in ROWS.values():
        f, t, i = r["faithful"], r["tampered"], r["tampered_index"]
        assert len(t) in (len(f), len(f) + 1) and t[i] not in f      # exactly one sentence changed or added
        assert [s for n, s in enumerate(t) if n != i] == (f if len(t) > len(f) else [s for n, s in enumerate(f) if n != i])


def test_the_server_streams_each_variant_and_honours_max_tokens(server):
    row = next(iter(ROWS.values()))
    msg = [{"role": "system", "content": "You are a character."}, {"role": "user", "content": row["question"]}]
    assert _backend(server, "faithful").complete(msg) == " ".join(row["faithful"])
    assert row["tampered"][row["tampered_index"]] in _backend(server, "tampered").complete(msg)
    pieces = list(_backend(server, "faithful").stream(msg, GenerationOptions(max_tokens=5)))
    assert 1 < len(pieces) <= 5
    assert _backend(server, "faithful").complete([{"role": "user", "content": "Unknown?"}]) == replay.UNKNOWN


def test_evals_run_reports_what_of_the_strong_answers_was_shown(server, shared_settings, searcher, tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "evals", "run", "--backend", "openai", "--base-url", server,
         "--replay", "tampered", "--half", "heldout", "--per-kind", "1", "--language", "en", "--quiet",
         "--data-dir", shared_settings.data_dir, "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    block = summary["replay"]
    assert block["variant"] == "tampered" and block["overall"]["n"] >= 4
    assert 0 <= block["overall"]["faithful_kept"] <= 1 and block["overall"]["invented_cut"] is not None
    assert set(block["by_language"]) == {"en"} and "replayed answers (tampered)" in out.stdout
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    replayed = [r for r in rows if r["variant"] == "pipeline" and "replay" in r]
    assert replayed and all(r["replay"]["faithful_kept"] <= r["replay"]["faithful"] for r in replayed)
    assert all(r["mode"] == "generated" for r in replayed if r["replay"]["invented_shown"])


def test_answers_asked_in_parallel_of_a_server_score_as_in_order(server, shared_settings, searcher, tmp_path):
    """``evals run`` asks a model server several answers at once; the rows are the same, in order."""
    from dataclasses import replace

    from chat.chain import Interviewer
    from evals.dataset import DATASETS_DIR, load_items
    from evals.runner import run_evals

    settings = replace(shared_settings, backend="openai", base_url=server, model="replay-faithful")
    items = [i for i in load_items(sorted(DATASETS_DIR.glob("*.jsonl"))) if i.id in ROWS][:8]
    runs = {}
    for workers in (1, 4):
        iv = Interviewer(settings, searcher=searcher)
        s = run_evals(settings, items, out_dir=tmp_path / f"w{workers}", progress=False, interviewer=iv, workers=workers)
        assert s["meta"]["workers"] == workers and s["meta"]["errors"] == 0
        runs[workers] = [(r["id"], r["variant"], r["answer"], r["mode"])
                         for r in map(json.loads, (tmp_path / f"w{workers}" / "results.jsonl").read_text().splitlines())]
    assert runs[1] == runs[4] and len(runs[1]) == 2 * len(items)



def test_evidence_made_ready_while_the_server_writes_gives_the_same_answer(server, shared_settings, searcher, monkeypatch):
    """With a model server the draft's evidence is prepared in a thread during the server's prefill:
    the answer is the one made with it prepared in line, and a failure there is raised, not swallowed."""
    from dataclasses import replace

    import chat.chain as chain
    from core.errors import FaceError
    from evals.dataset import DATASETS_DIR, load_items

    settings = replace(shared_settings, backend="openai", base_url=server, model="replay-faithful")
    items = [i for i in load_items(sorted(DATASETS_DIR.glob("*.jsonl"))) if i.id in ROWS and i.kind == "fact"][:3]

    def answers():
        iv = chain.Interviewer(settings, searcher=searcher)
        return [iv.answer(i.character, i.question, as_of=i.as_of) for i in items]

    ahead = answers()
    assert any(a.mode == "generated" for a in ahead)

    class InLine:                       # the same work, done before the stream starts
        def __init__(self, target, **kw):
            self.target = target

        def start(self):
            self.target()

        def join(self):
            pass

    monkeypatch.setattr(chain, "threading", types.SimpleNamespace(Thread=InLine, Lock=threading.Lock))
    assert [a.answer for a in answers()] == [a.answer for a in ahead]

    def broken(*a, **k):
        raise FaceError("the evidence could not be read")
    monkeypatch.undo()
    monkeypatch.setattr(chain, "units_for", broken)
    with pytest.raises(FaceError, match="could not be read"):
        answers()


def test_a_capable_models_first_sentence_is_shown_before_the_next_is_written(server, shared_settings, searcher):
    """The wife, asked how she met her husband back in bandages, starts "Так, будто ничего не
    случилось." - no "я" in it: a capable model's answering sentence is shown as soon as it passes,
    before the next one ("... и я держалась с ним ровно, как всегда.") has been written."""
    from dataclasses import replace

    from chat.chain import Interviewer
    from evals.dataset import DATASETS_DIR, load_items

    item = next(i for i in load_items([DATASETS_DIR / "heldout.jsonl"]) if i.id == "h052")
    iv = Interviewer(replace(shared_settings, backend="openai", base_url=server, model="replay-faithful"), searcher=searcher)
    written, real = [], iv.backend.stream
    iv.backend.stream = lambda *a, **k: (written.append(d) or d for d in real(*a, **k))
    events = iv.stream(item.character, item.question, as_of=item.as_of)
    first = next(e["sentence"] for e in events if "sentence" in e)
    assert first == "Так, будто ничего не случилось."
    assert "как всегда." not in "".join(written)      # the next sentence was still being written
    answer = next(e["answer"] for e in events if "answer" in e)
    assert answer.mode == "generated" and answer.answer.startswith(first)


@pytest.mark.parametrize("item_id,opener,next_words", [
    ("t012", "A letter?", "any letter."),                    # the draft goes on and is shown
    ("a005", "My name?", "nothing to do with the work."),   # the doctor will not give his name
])
def test_a_question_given_back_is_shown_at_once_and_stays_first(server, shared_settings, searcher, item_id, opener, next_words):
    """A capable model that opens with the question given back ("A letter?") claims nothing yet:
    it is shown as soon as it is written and checked, not held until a sentence that answers
    passes, and whatever the answer turns out to be (the draft, or memories or an "I don't know"
    replacing it) follows it: everything streamed is the answer, in order."""
    from dataclasses import replace

    from chat.chain import Interviewer
    from evals.dataset import DATASETS_DIR, load_items

    item = next(i for i in load_items(sorted(DATASETS_DIR.glob("*.jsonl"))) if i.id == item_id)
    iv = Interviewer(replace(shared_settings, backend="openai", base_url=server, model="replay-faithful"), searcher=searcher)
    written, real = [], iv.backend.stream
    iv.backend.stream = lambda *a, **k: (written.append(d) or d for d in real(*a, **k))
    events = iv.stream(item.character, item.question, as_of=item.as_of)
    assert next(e["sentence"] for e in events if "sentence" in e) == opener
    assert next_words not in "".join(written)           # the next sentence was still being written
    rest = list(events)
    streamed = [opener] + [e["sentence"] for e in rest if "sentence" in e]
    answer = next(e["answer"] for e in rest if "answer" in e)
    assert [s["text"] for s in answer.sentences] == streamed and answer.answer.startswith(opener + " ")
    assert not answer.answer.startswith(opener + " " + opener[:2])   # never "My name? A name? ..."
