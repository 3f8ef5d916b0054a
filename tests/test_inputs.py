"""Bad input everywhere, property-based (hypothesis): whatever a user types or feeds in, the answer
is a result or one line saying what to do - never a traceback; usage errors exit with code 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from characters.card_v2 import import_file
from chat.inputs import MAX_MESSAGE_TOKENS, clean_message
from cli import main
from core.config import ROOT
from core.errors import FaceError, UsageError
from evals.dataset import load_items
from retrieval.chunking import count_tokens

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
nasty_text = st.one_of(
    st.text(max_size=400),
    st.text(alphabet=st.characters(categories=["Cc", "Zs", "Cf", "Cs"]), max_size=40),  # control, spaces, lone surrogates
    st.builds(lambda w, n: w * n, st.text(min_size=1, max_size=8), st.integers(50, 400)),  # very long words
)


@FAST
@given(nasty_text)
def test_clean_message_returns_clean_text_or_one_line_error(text):
    try:
        out = clean_message(text)
    except UsageError as exc:
        assert "\n" not in str(exc) and ("empty" in str(exc) or f"limit is {MAX_MESSAGE_TOKENS} tokens" in str(exc))
        return
    assert out and out == out.strip() and count_tokens(out) <= MAX_MESSAGE_TOKENS
    assert not any(ord(c) < 32 and c not in "\t\n" for c in out)  # newlines are allowed in a question
    out.encode("utf-8")  # printable, storable: no lone surrogates left


def _one_line_error(capsys, code: int) -> None:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code:
        assert err.startswith("error:") and err.count("\n") == 1, err


SAFE_COMMANDS = [["events"], ["characters"], ["search"], ["cards", "export"], ["evals", "compare"], ["evals", "run"],
                 ["ask"], ["ingest"]]
argv_tail = st.lists(st.one_of(st.text(st.characters(exclude_characters="\x00"), max_size=30),  # argv cannot hold NUL
                                st.sampled_from(
    ["--k", "--as-of", "--work", "--character", "--json", "--fail-under", "--dataset", "--judge", "-1", "0",
     "hero", "nobody", "film", "novel", "ending", "x=y", "faithfulness=2", "--per-kind", "--backend", "gpt9"])),
    max_size=5)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SAFE_COMMANDS), argv_tail)
@example(["events"], ["\udcff"])   # an argument the OS could not decode (a surrogate) once broke the error line
def test_cli_never_shows_a_traceback(capsys, tmp_path_factory, command, tail):
    data = str(tmp_path_factory.getbasetemp() / "prop-data")
    # no model can load and the store is a closed port: every path ends fast, in a result or an error
    store = ["--chroma-host", "127.0.0.1", "--chroma-port", "9"] if command[0] in ("ingest", "search") else []
    argv = ["--data-dir", data, *store, "--backend", "nope", *command, *tail]
    if command == ["evals", "run"]:
        argv += ["--out", data + "/ev"]
    try:
        code = main(argv)
    except SystemExit as exc:  # --help
        code = exc.code or 0
    assert isinstance(code, int)
    _one_line_error(capsys, code)


@FAST
@given(st.lists(st.one_of(st.text(max_size=80), st.dictionaries(st.sampled_from(
    ["id", "character", "language", "question", "kind", "gold", "must_not", "evidence", "as_of"]),
    st.one_of(st.text(max_size=10), st.lists(st.text(max_size=5), max_size=2), st.none()), max_size=9).map(json.dumps)),
    min_size=1, max_size=5))
def test_malformed_dataset_lines_name_the_line(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("ds") / "items.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        load_items([path], {"ending"})
    except UsageError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)


@FAST
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                 st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                              lambda ch: st.one_of(st.lists(ch, max_size=3), st.dictionaries(st.text(max_size=8), ch, max_size=3)),
                              max_leaves=10).map(lambda o: json.dumps({"spec": "chara_card_v2", "data": o}).encode())))
def test_malformed_cards_are_one_line_errors_and_nothing_is_overwritten(tmp_path_factory, raw):
    where = tmp_path_factory.mktemp("cards")
    src = where / "card.json"
    src.write_bytes(raw)
    before = sorted(p.name for p in (ROOT / "characters").glob("*.yaml"))
    try:
        out = import_file(str(src), cards_dir=where)
        assert out.parent == where
    except FaceError as exc:
        assert "\n" not in str(exc)
    assert sorted(p.name for p in (ROOT / "characters").glob("*.yaml")) == before


@pytest.mark.parametrize("payload", [b"\xff\xfe bad utf-8 \xc3\x28", "x" * 5000, "   ", "\x01\x02\x03", "Wer bist du?\x1b[31m"],
                         ids=["invalid-utf8", "one-5000-char-word", "whitespace", "control-only", "escape-codes"])
def test_ask_json_with_hostile_input(payload, shared_settings):
    """Through the real process and the real model: an answer, or one line and exit code 2."""
    arg = payload if isinstance(payload, str) else payload.decode("utf-8", "surrogateescape")
    r = subprocess.run([sys.executable, "app.py", "ask", "--character", "hero", "--json", arg,
                        "--data-dir", shared_settings.data_dir], cwd=ROOT, capture_output=True, timeout=600,
                       env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    err = r.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err
    if r.returncode:
        assert r.returncode == 2 and err.count("\n") == 1, err
    else:
        assert json.loads(r.stdout)["answer"]
