"""The model runs everywhere and its crashes are survivable: safe load parameters (asserted on what
llama.cpp was given), a worker killed mid-answer (SIGSEGV, SIGABRT, SIGKILL) costs one answer and one
line in the backend, `ask`, `chat` and `evals run`, and a file llama.cpp cannot load is one line,
exit 2, from `ask` and `model-server`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backends import GenerationOptions, get_backend, llamacpp
from backends.bundled import bundled
from backends.llama_load import SAFE_MODEL_PARAMS
from core.config import ROOT, load_settings
from core.errors import ModelCrashed

from faults import Hold

MSG = [{"role": "user", "content": "Count from one to forty in words."}]
LONG = GenerationOptions(temperature=0.0, max_tokens=60, seed=3)
CRASH_LINE = "the model stopped unexpectedly; it has been restarted - ask again"


@pytest.fixture
def hold(tmp_path, monkeypatch):
    """Workers started from here on stop mid-answer at the fault point when it is armed."""
    monkeypatch.setenv("FACE_FAULT_HOLD", str(tmp_path / "hold"))
    llamacpp._close_all()   # the next worker is started with the seam in its environment
    yield Hold(tmp_path / "hold")
    llamacpp._close_all()


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gguf")
    data = bundled("smollm2").path(str(d)).read_bytes()
    arch = bytearray(data)
    at = arch.find(b"llama", arch.find(b"general.architecture"))
    arch[at:at + 5] = b"xllma"   # a GGUF whose architecture llama.cpp does not know
    files = {"truncated": data[: len(data) // 2], "not a GGUF": b"hello, this is not a model\n" * 40,
             "header only": data[:100], "unknown architecture": bytes(arch)}
    paths = {}
    for name, content in files.items():
        paths[name] = d / (name.replace(" ", "_") + ".gguf")
        paths[name].write_bytes(content)
    return paths


REASONS = {"truncated": "not within the file bounds", "not a GGUF": "invalid magic",
           "header only": "failed to read", "unknown architecture": "unknown model architecture"}


def test_the_model_loads_with_the_safe_parameters(tmp_path):
    backend = get_backend(load_settings({"data_dir": str(tmp_path)}, env={}))
    assert backend.complete(MSG, GenerationOptions(max_tokens=4))
    assert backend.worker().params == SAFE_MODEL_PARAMS == {"use_extra_bufts": False}


def test_the_model_server_loads_with_the_safe_parameters(tmp_path):
    import llama_cpp.server.app as server

    from backends.model_server import build_app

    build_app(str(bundled("smollm2").path(str(tmp_path))), "smollm2")
    model = server._llama_proxy()
    assert model.model_params.use_extra_bufts is False
    assert model.create_chat_completion(messages=MSG, max_tokens=4)["choices"][0]["message"]["content"]
    server._llama_proxy.free()


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGABRT, signal.SIGKILL], ids=lambda s: s.name)
def test_a_worker_killed_mid_answer_costs_one_answer(sig, hold, tmp_path):
    backend = get_backend(load_settings({"data_dir": str(tmp_path)}, env={}))
    whole = backend.complete(MSG, LONG)
    first_pid = backend.worker().pid
    hold.arm()
    stream = backend.stream(MSG, LONG)
    assert next(stream)                      # the answer has begun ...
    assert hold.kill(sig) == first_pid       # ... and the model dies in the middle of it
    with pytest.raises(ModelCrashed) as caught:
        list(stream)
    assert str(caught.value) == CRASH_LINE
    assert backend.complete(MSG, LONG) == whole          # the next question: a fresh worker, same answer
    assert backend.worker().pid != first_pid and backend.worker().crashes == 1


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_a_file_llamacpp_cannot_load_is_one_line_and_exit_2(kind, bad_files, shared_settings, searcher):
    for argv in (["ask", "--character", "hero", "--model-path", str(bad_files[kind]), "How did you lose your face?"],
                 ["model-server", "--model-path", str(bad_files[kind]), "--port", "1"]):
        out = subprocess.run([sys.executable, str(ROOT / "app.py"), "--data-dir", shared_settings.data_dir, *argv],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and str(bad_files[kind]) in lines[0] and REASONS[kind] in lines[0], out.stderr
        assert "Traceback" not in out.stderr and not out.stdout


def _app(*argv, env=None, **kw):
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), *argv], text=True, env=env, **kw)


def test_ask_and_chat_survive_a_worker_killed_mid_answer(hold, shared_settings, searcher):
    env = {**os.environ, "FACE_DATA_DIR": shared_settings.data_dir}
    hold.arm()
    ask = _app("ask", "--character", "hero", "/ooc Why does the hero wear bandages?", env=env,   # the narrator: always drafted
               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    hold.kill(signal.SIGSEGV)
    out, err = ask.communicate(timeout=300)
    assert ask.returncode == 1 and err.strip() == f"error: {CRASH_LINE}" and not out

    chat = _app("chat", "--character", "hero", env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, bufsize=1)

    def say(line: str) -> str:
        chat.stdin.write(line + "\n")
        chat.stdin.flush()
        return chat.stdout.readline()

    assert chat.stdout.readline().startswith("Talking to")
    first = say("How did you lose your face?")
    assert first.startswith("you> hero> ")
    hold.arm()
    killer = threading.Thread(target=hold.kill, args=(signal.SIGKILL,))
    killer.start()
    assert say("/ooc Why does the hero wear bandages?").strip() == f"you> error: {CRASH_LINE}"
    killer.join()
    again = say("/ooc Why does the hero wear bandages?")           # a fresh worker answers, the conversation goes on
    assert again.startswith("you> hero> ") and len(again) > 20
    chat.stdin.close()
    assert chat.wait(timeout=60) == 0 and "Traceback" not in chat.stderr.read()


def test_an_eval_run_counts_a_crash_as_an_error_and_goes_on(hold, shared_settings, searcher, tmp_path):
    from chat.chain import Interviewer
    from evals.dataset import DATASETS_DIR, load_items
    from evals.runner import run_evals

    from dataclasses import replace

    base = next(i for i in load_items([DATASETS_DIR / "heldout.jsonl"]) if i.kind == "fact" and i.language == "en")
    items = [replace(base, id=f"w{n}", character="wife", question=q) for n, q in enumerate(   # no memory answers
        ("What did you think of the stranger's voice?", "What was the weather like that day?"))]   # these: drafts
    iv = Interviewer(shared_settings, searcher=searcher)
    hold.arm()
    killer = threading.Thread(target=hold.kill, args=(signal.SIGSEGV,))
    killer.start()
    summary = run_evals(shared_settings, items, out_dir=tmp_path / "run", progress=False, interviewer=iv)
    killer.join()
    assert summary["meta"]["errors"] == 1 and summary["meta"]["error_items"][0]["error"] == CRASH_LINE
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert rows[0] == {"id": items[0].id, "variant": "pipeline", "error": CRASH_LINE}
    assert {r["id"] for r in rows[1:]} == {items[1].id} and summary["variants"]["pipeline"]["overall"]["n"] == 1
