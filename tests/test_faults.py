"""Faults and persistence with real processes: a Chroma server that goes away and comes back, a
transcript store that fills up, kill -9 in the middle of transcript writes and of an answer."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from core.config import ROOT, load_settings
from core.errors import StoreError
from retrieval.corpus import load_corpus
from retrieval.search import Searcher
from ui.transcripts import Transcripts

from conftest import free_port
from servers import chroma_server
from test_store import small_seeds  # noqa: F401  (fixture)


def test_chroma_server_going_away_mid_session_and_coming_back(tmp_path, small_seeds):  # noqa: F811
    port = free_port()
    settings = load_settings({"data_dir": str(tmp_path / "d"), "seeds_dir": str(small_seeds),
                              "chroma_host": "127.0.0.1", "chroma_port": port}, env={})
    searcher = Searcher(settings, corpus=load_corpus(small_seeds))
    with chroma_server(tmp_path / "srv", port=port):
        assert searcher.search("Who is the second heroine?", k=3)
    with pytest.raises(StoreError, match="did not answer.*nothing was lost"):
        searcher.search("Who is the second heroine?", k=3)
    with chroma_server(tmp_path / "srv", port=port):  # the same data, back on the same port
        hits = searcher.search("Who is the second heroine?", k=3)   # the same searcher: no restart
    assert any("second_heroine" in h.chunk["events"] for h in hits)


def test_a_full_transcript_store_loses_nothing_and_recovers(tmp_path, monkeypatch):
    t = Transcripts(str(tmp_path))
    t.add_turn("s", "hero", "First?", {"answer": "First answer.", "citations": []})
    real_connect = Transcripts._connect

    def full(self):  # SQLite's own size limit: writes fail with "database or disk is full"
        con = real_connect(self)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count={pages}")
        return con

    monkeypatch.setattr(Transcripts, "_connect", full)
    with pytest.raises(StoreError, match="read-only or full. Nothing already saved was lost"):
        t.add_turn("s", "hero", "Second? " + "x" * 20000, {"answer": "y" * 20000, "citations": []})
    assert [m["content"] for m in t.messages("s", "hero")] == ["First?", "First answer."]
    monkeypatch.setattr(Transcripts, "_connect", real_connect)   # space again: no restart needed
    t.add_turn("s", "hero", "Third?", {"answer": "Third answer.", "citations": []})
    assert len(t.messages("s", "hero")) == 4


def test_kill_9_during_transcript_writes_leaves_only_whole_turns(tmp_path):
    writer = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from ui.transcripts import Transcripts
        t = Transcripts({str(tmp_path)!r})
        i = 0
        while True:
            t.add_turn("s%d" % (i % 3), "hero", "question %d" % i, {{"answer": "answer %d " % i + "x" * 5000}})
            i += 1
            if i == 20:
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.7)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    con = sqlite3.connect(tmp_path / "transcripts.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    t = Transcripts(str(tmp_path))
    total = 0
    for s in ("s0", "s1", "s2"):
        msgs = t.messages(s, "hero")
        roles = [m["role"] for m in msgs]
        assert roles == ["user", "assistant"] * (len(msgs) // 2), s   # whole turns only
        for q, a in zip(msgs[::2], msgs[1::2]):
            assert a["content"].startswith(q["content"].replace("question", "answer") + " ")
        total += len(msgs) // 2
    assert total >= 20
    t.add_turn("s0", "hero", "after the crash", {"answer": "still writable"})


@pytest.mark.slow
def test_kill_9_during_an_answer_keeps_the_saved_conversation(tmp_path):
    """The app is killed while it answers; after a restart the earlier turn is there, whole, once."""
    from gradio_client import Client

    def start():
        port = free_port()
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--data-dir", str(tmp_path)],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                return proc, Client(url, verbose=False)
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        proc.kill()
        raise RuntimeError("app did not start")

    proc, client = start()
    try:
        client.predict("How did you burn your face?", "hero", "ending", "auto", 5, 0.2, "sess", api_name="/send")
        threading.Thread(target=lambda: _quietly(client.predict, "Why did you make a mask?", "hero", "ending",
                                                 "auto", 5, 0.2, "sess", api_name="/send"), daemon=True).start()
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    proc, client = start()
    try:
        _, chat, *_ = client.predict("hero", "sess", api_name="/load")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    users = [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in chat if m["role"] == "user"]
    assert users[0] == "How did you burn your face?"
    assert users in (["How did you burn your face?"], ["How did you burn your face?", "Why did you make a mask?"])
    assert len(chat) == 2 * len(users)
    assert json.dumps(chat)  # readable, whole


def _quietly(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the server is being killed
        pass


def test_an_unwritable_data_dir_is_one_clear_line(tmp_path):
    """/sys refuses new files even to root (chmod alone would not stop root in CI)."""
    r = subprocess.run([sys.executable, "app.py", "ingest", "--quiet", "--data-dir", "/sys"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "--data-dir is writable" in r.stderr, r.stderr
    with pytest.raises(StoreError, match="data directory is writable and not full"):
        Transcripts("/sys").add_turn("s", "hero", "Hello?", {"answer": "…"})


def test_a_writer_killed_between_the_question_and_the_answer_leaves_no_half_turn(tmp_path):
    """Deterministic: the fault point kills the writer exactly between the two inserts of a turn."""
    writer = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from ui.transcripts import Transcripts
        Transcripts({str(tmp_path)!r}).add_turn("s", "hero", sys.argv[1], {{"answer": "an answer"}})
    """)
    subprocess.run([sys.executable, "-c", writer, "first"], check=True, timeout=60)
    killed = subprocess.run([sys.executable, "-c", writer, "second"], timeout=60,
                            env={**__import__("os").environ, "FACE_FAULT_POINT": "add_turn:between"})
    assert killed.returncode == -signal.SIGKILL          # it died at the fault point ...
    con = sqlite3.connect(tmp_path / "transcripts.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = con.execute("SELECT role, content FROM messages ORDER BY idx").fetchall()
    con.close()
    assert rows == [("user", "first"), ("assistant", "an answer")]   # ... and left no half turn
    Transcripts(str(tmp_path)).add_turn("s", "hero", "third", {"answer": "again"})   # still writable
    assert len(Transcripts(str(tmp_path)).messages("s", "hero")) == 4
