"""What README.md promises, through the interface it names: every ``FACE_*`` variable it lists is
read, the precedence rule (flags > env > config file > defaults) holds for every setting, exports
keep the citations, the terminal commands and flags it shows work, a public bind without a login
warns and ``--auth`` asks for one."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, free_port
from core.config import FIELDS, load_settings
from test_store import small_seeds  # noqa: F401  (a fixture: the film review plus one new source)

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _values(name, spec):
    """Three distinct valid values of a setting's type: for the config file, the env, the flag."""
    if spec.type is int:
        return 7, 8, 9
    if spec.type is float:
        return 7.5, 8.5, 9.5
    if name == "data_dir":
        return None, "/tmp/face-env", "/tmp/face-flag"   # the config file lives in the data dir
    return f"{name}-file", f"{name}-env", f"{name}-flag"


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_flags_beat_env_beat_config_file_beat_defaults(tmp_path, name):
    spec = FIELDS[name]
    from_file, from_env, from_flag = _values(name, spec)
    cfg = tmp_path / "config.toml"
    cfg.write_text("" if from_file is None else f"{name} = {json.dumps(from_file)}\n", encoding="utf-8")
    env = {"FACE_CONFIG": str(cfg)}
    assert getattr(load_settings({}, env=env), name) == (spec.default if from_file is None else from_file)
    assert getattr(load_settings({}, env={**env, spec.env: str(from_env)}), name) == from_env
    assert getattr(load_settings({name: from_flag}, env={**env, spec.env: str(from_env)}), name) == from_flag
    assert getattr(load_settings({}, env={"FACE_CONFIG": str(tmp_path / "none.toml")}), name) == spec.default \
        or name == "data_dir"


def test_every_face_variable_the_readme_lists_is_read():
    listed = set(re.findall(r"\bFACE_[A-Z_]+\b", README))
    read = {f.env for f in FIELDS.values()} | {"FACE_CONFIG", "FACE_AUTH"}
    assert listed and listed <= read, listed - read
    code = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "cli").glob("*.py"))
    assert "FACE_AUTH" in code and "FACE_CONFIG" in (ROOT / "core" / "config.py").read_text(encoding="utf-8")


def test_exports_keep_every_citation(tmp_path):
    from ui.transcripts import Transcripts, to_json, to_markdown

    meta = {"answer": "I burned my face with liquid oxygen.", "mode": "composed", "character": "hero",
            "sentences": [{"text": "I burned my face with liquid oxygen.", "citations": [0]}],
            "citations": [{"source_file": "001_9c1f4272b3d58b6c.txt", "start": 100, "end": 180,
                           "text": "Er verbrennt sich das Gesicht mit flüssigem Sauerstoff.",
                           "english": "He burns his face with liquid oxygen."}]}
    t = Transcripts(str(tmp_path))
    t.add_turn("s", "hero", "How did you burn your face?", meta)
    t.add_turn("s", "hero", "And then?", {**meta, "answer": "I wore bandages.", "citations": []})
    msgs = t.messages("s", "hero")
    md = to_markdown("The man who lost his face", msgs)
    assert "001_9c1f4272b3d58b6c.txt 100-180" in md and "flüssigem Sauerstoff" in md and "liquid oxygen." in md
    assert md.index("How did you burn") < md.index("And then?")
    back = json.loads(to_json("hero", msgs))
    assert back["messages"][1]["meta"]["citations"] == meta["citations"] and len(back["messages"]) == 4


def _cli(*args, env=None, stdin=None, settings=None):
    extra = {"FACE_DATA_DIR": settings.data_dir} if settings else {}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], capture_output=True, text=True,
                          input=stdin, env={**os.environ, **extra, **(env or {})}, timeout=300)


def test_search_kind_and_cards_export(shared_settings, searcher, tmp_path):
    out = _cli("search", "Что думает критик о фильме?", "--kind", "opinion", "--k", "3", "--json", settings=shared_settings)
    rows = json.loads(out.stdout)
    assert out.returncode == 0 and rows and all(r["kind"] == "opinion" for r in rows)
    card = tmp_path / "hero.json"
    out = _cli("cards", "export", "--character", "hero", "--out", str(card), settings=shared_settings)
    d = json.loads(card.read_text(encoding="utf-8"))
    assert out.returncode == 0 and d["spec"] == "chara_card_v2" and d["data"]["extensions"]["face_of_another"]["id"] == "hero"


def test_ask_lang_and_chat_from_the_terminal(shared_settings, searcher):
    out = _cli("ask", "--character", "hero", "--lang", "de", "--json", "Why do you wear bandages?", settings=shared_settings)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["language"] == "de"
    out = _cli("chat", "--character", "hero", stdin="Why do you wear bandages?\nWhat did K. show you?\n\n",
               settings=shared_settings)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("hero> ") == 2 and "Talking to" in out.stdout


def _serve(args, settings):
    port = free_port()
    env = {**os.environ, "FACE_DATA_DIR": settings.data_dir, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc, port
        except urllib.error.HTTPError:
            return proc, port
        except OSError:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
    raise AssertionError("the app did not start")


def test_public_bind_without_login_warns_and_auth_asks_for_one(shared_settings):
    proc, _ = _serve(["--host", "0.0.0.0"], shared_settings)
    proc.terminate()
    assert "without a login" in proc.communicate(timeout=30)[1]
    proc, port = _serve(["--auth", "reader:secret"], shared_settings)
    try:
        from gradio_client import Client

        with pytest.raises(Exception):
            Client(f"http://127.0.0.1:{port}/", verbose=False)
        Client(f"http://127.0.0.1:{port}/", auth=("reader", "secret"), verbose=False)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "secret" not in err and "without a login" not in err


def test_models_lists_backends_and_the_bundled_model(shared_settings):
    out = _cli("models", settings=shared_settings)
    assert out.returncode == 0, out.stderr
    assert "llamacpp" in out.stdout and "openai" in out.stdout and "smollm2" in out.stdout and ".gguf" in out.stdout
    smollm2 = next(line for line in out.stdout.splitlines() if line.strip().startswith("smollm2"))
    assert smollm2.rstrip().endswith("drafts in en")   # the languages it writes (README: with the bundled model)


def test_ingest_skips_unchanged_sources_and_force_writes_them_again(tmp_path, small_seeds):  # noqa: F811
    env = {"FACE_SEEDS_DIR": str(small_seeds), "FACE_DATA_DIR": str(tmp_path / "data")}
    first = _cli("ingest", "--quiet", env=env)
    again = _cli("ingest", "--quiet", env=env)
    forced = _cli("ingest", "--quiet", "--force", env=env)
    assert first.returncode == again.returncode == forced.returncode == 0, forced.stderr
    assert "added: -;" not in first.stdout
    assert "added: -;" in again.stdout and "film_review_ru" in again.stdout.split("unchanged:")[1]
    assert "film_review_ru" in forced.stdout.split("added:")[1].split(";")[0]


def test_the_partial_answer_mark_is_shown():
    from ui.web import _sources_html

    meta = {"mode": "generated", "partial": True, "citations": [], "sentences": []}
    assert "partial: the model stopped mid-answer" in _sources_html(meta)
    assert "partial" not in _sources_html({**meta, "partial": False})
