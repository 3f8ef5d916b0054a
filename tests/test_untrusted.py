"""Files from strangers (cards, eval datasets, config files): structurally valid documents with one
wrong part - a null, a wrong type, a path-like id, a huge string, an unknown event, a citation off
the end of a seed - give one line and exit 2, write nothing outside the cards directory and
overwrite nothing that exists; a bad card already in ``characters/`` is reported once and left out."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from characters import CARDS_DIR, card_problems, load_cards
from characters.card_v2 import export_v2, import_file
from core.config import ROOT, load_settings
from core.errors import UsageError
from evals.dataset import load_items
from retrieval.corpus import load_corpus

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CARD = export_v2("k")["data"]["extensions"]["face_of_another"]
ITEM = json.loads((ROOT / "evals" / "datasets" / "heldout.jsonl").read_text(encoding="utf-8").splitlines()[0])
EVENTS = {e.id for e in load_corpus().events}

WRONG = st.one_of(
    st.none(), st.integers(-10**12, 10**12), st.booleans(), st.floats(allow_nan=False), st.just([]), st.just({}),
    st.lists(st.integers(), min_size=1, max_size=3), st.just({"x": [1, {"y": None}]}),
    st.just("x" * 100_000), st.sampled_from(["../escaped", "../../tmp/escaped_card", "/tmp/abs_card", "a/b", "..",
                                               "x.yaml", "Hero", "", " ", "\x00", "hero\n"]),
    st.sampled_from(["no_such_event", "ending_later", "film_ending", "accident"]),
)


def _paths(doc, prefix=()):
    """Every place in a JSON-like document: a key of a mapping or an index of a list."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield from _paths(v, (*prefix, i))


CARD_PATHS = [p for p in _paths(CARD) if p]


def _set(doc, path, value):
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def sandbox(tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "k.yaml").write_text("id: k  # an existing card that must never be overwritten\n", encoding="utf-8")
    return tmp_path


@PROPS
@given(path=st.sampled_from(CARD_PATHS), value=WRONG)
def test_a_card_with_one_wrong_part_is_one_line_and_writes_nothing_outside(sandbox, path, value):
    doc = _set(CARD, path, value)
    src = sandbox / "in.json"
    src.write_text(json.dumps({"spec": "chara_card_v2", "data": {"name": "K", "extensions": {"face_of_another": doc}}}))
    before = _tree(sandbox)
    try:
        written = import_file(str(src), cards_dir=sandbox / "cards")
    except UsageError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400
        assert _tree(sandbox) == before                       # nothing written, nothing overwritten
        return
    # a harmless change (another valid value): the card landed inside the cards directory, as a new file
    assert written.parent == (sandbox / "cards").resolve() and written.name != "k.yaml"
    assert set(_tree(sandbox)) - set(before) == {f"cards/{written.name}"}


@pytest.mark.parametrize("card_id", ["../../tmp/escaped_card", "../escaped", "/tmp/abs_card", "k"])
def test_cards_import_from_the_command_line_never_writes_where_the_id_points(sandbox, card_id):
    doc = {**CARD, "id": card_id}
    src = sandbox / "in.json"
    src.write_text(json.dumps({"spec": "chara_card_v2", "data": {"name": "K", "extensions": {"face_of_another": doc}}}))
    r = subprocess.run([sys.executable, str(ROOT / "app.py"), "cards", "import", str(src)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not Path("/tmp/escaped_card.yaml").exists() and not Path("/tmp/abs_card.yaml").exists()
    assert not (CARDS_DIR.parent / "escaped.yaml").exists()
    if card_id == "k":   # an existing card: only with --overwrite
        assert "--overwrite" in r.stderr


ITEM_FIELDS = ["id", "character", "language", "question", "kind", "gold", "must_not", "evidence", "as_of"]


@PROPS
@given(field=st.sampled_from(ITEM_FIELDS + ["evidence.0", "evidence.0.seed", "evidence.0.quote", "gold.0"]), value=WRONG)
def test_a_dataset_line_with_one_wrong_part_is_one_line_naming_file_and_line(tmp_path, field, value):
    item = copy.deepcopy(ITEM)
    keys = [int(k) if k.isdigit() else k for k in field.split(".")]
    item = _set(item, keys, value)
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ITEM) + "\n" + json.dumps(item) + "\n", encoding="utf-8")
    try:
        items = load_items([path], EVENTS)
    except UsageError as exc:
        assert "\n" not in str(exc) and f"{path}:" in str(exc)
        return
    assert len(items) == 2   # a harmless value (e.g. another valid kind): both lines load


CONFIG_VALUES = st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                          st.lists(st.integers(), max_size=3), st.text(max_size=20), st.just("x" * 5000))


def _toml(value) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


@PROPS
@given(name=st.sampled_from(["threads", "timeout", "chunk_tokens", "backend", "verifier", "data_dir", "no_such_key"]),
       value=CONFIG_VALUES)
def test_a_config_file_with_one_wrong_value_is_one_line(tmp_path, name, value):
    path = tmp_path / "config.toml"
    path.write_text(f"{name} = {_toml(value)}\n", encoding="utf-8")
    try:
        s = load_settings({}, env={"FACE_CONFIG": str(path)})
    except UsageError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert getattr(s, name) == value and type(getattr(s, name)) is type(value) or isinstance(value, int)


def test_bad_files_through_the_commands_are_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**ITEM, "gold": None}) + "\n", encoding="utf-8")
    cfg = tmp_path / "config.toml"
    cfg.write_text("threads = [1, 2]\n", encoding="utf-8")
    for argv, env in ((["evals", "run", "--dataset", str(bad)], {}), (["characters"], {"FACE_CONFIG": str(cfg)})):
        r = subprocess.run([sys.executable, str(ROOT / "app.py"), *argv], capture_output=True, text=True,
                           timeout=120, env={**os.environ, **env})
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


def test_a_bad_card_already_in_the_cards_directory_is_left_out_and_reported_once():
    bad = CARDS_DIR / "zz_broken_card.yaml"
    try:
        bad.write_text(json.dumps({**CARD, "id": "zz_broken_card", "as_of": 42}), encoding="utf-8")
        assert "k" in load_cards() and "zz_broken_card" not in load_cards()
        assert [p for p in card_problems() if "zz_broken_card" in p and "as_of" in p]
        r = subprocess.run([sys.executable, str(ROOT / "app.py"), "characters"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "hero" in r.stdout
        assert r.stderr.count("zz_broken_card.yaml was left out") == 1
        r = subprocess.run([sys.executable, str(ROOT / "app.py"), "ask", "--character", "zz_broken_card", "Who?"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "unknown character" in r.stderr
    finally:
        bad.unlink(missing_ok=True)
