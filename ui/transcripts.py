"""Server-side transcripts: SQLite in the data directory, keyed by (browser session, character).

Design choices:
- One row per message; a turn (question + answer) is written in one transaction, so a kill mid-
  write leaves either the whole turn or none of it. WAL mode lets several UI workers read while
  one writes. Answers keep their citations and guard verdicts as JSON, for export and the sources
  panel after a reload.
- Exports: Markdown (readable, with numbered citations) and JSON (everything).

    >>> t = Transcripts("/tmp/d")
    >>> t.add_turn("s1", "hero", "Who are you?", {"answer": "I lost my face.", "citations": []})
    >>> [m["role"] for m in t.messages("s1", "hero")]
    ['user', 'assistant']
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from core.errors import StoreError
from core.faults import fault_point

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    session TEXT NOT NULL, character TEXT NOT NULL, idx INTEGER NOT NULL,
    role TEXT NOT NULL, content TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL,
    PRIMARY KEY (session, character, idx))
"""


class Transcripts:
    def __init__(self, data_dir: str):
        self.path = Path(data_dir) / "transcripts.sqlite"
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=10)
            if not self._ready:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute(_SCHEMA)
                self._ready = True
            return con
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the transcript store {self.path}: {exc}; check that the data "
                             "directory is writable and not full") from None

    def messages(self, session: str, character: str) -> list[dict]:
        con = self._connect()
        try:
            rows = con.execute("SELECT role, content, meta FROM messages WHERE session=? AND character=? ORDER BY idx",
                               (session, character)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read transcripts: {exc}") from None
        finally:
            con.close()
        return [{"role": r, "content": c, "meta": json.loads(m)} for r, c, m in rows]

    def add_turn(self, session: str, character: str, question: str, answer: dict | list[dict]) -> None:
        """The question and its answer (a group: one answer per member), all or nothing."""
        answers = answer if isinstance(answer, list) else [answer]
        with self._lock:
            con = self._connect()
            try:
                with con:  # one transaction: both messages or neither
                    n = con.execute("SELECT COALESCE(MAX(idx), -1) + 1 FROM messages WHERE session=? AND character=?",
                                    (session, character)).fetchone()[0]
                    now = time.time()
                    con.execute("INSERT INTO messages VALUES (?,?,?,?,?,?,?)",
                                (session, character, n, "user", question, "{}", now))
                    fault_point("add_turn:between")   # a test kills the writer here: the turn must vanish whole
                    con.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?)",
                                    [(session, character, n + 1 + i, "assistant", a["answer"],
                                      json.dumps(a, ensure_ascii=False), now) for i, a in enumerate(answers)])
            except sqlite3.Error as exc:
                raise StoreError(f"could not save the conversation ({exc}); the data directory may be "
                                 "read-only or full. Nothing already saved was lost") from None
            finally:
                con.close()

    def pop_turn(self, session: str, character: str) -> str | None:
        """Remove the last question and its answers; returns the question (for regenerate)."""
        with self._lock:
            con = self._connect()
            try:
                with con:
                    row = con.execute("SELECT idx, content FROM messages WHERE session=? AND character=? AND role='user' "
                                      "ORDER BY idx DESC LIMIT 1", (session, character)).fetchone()
                    if row is None:
                        return None
                    con.execute("DELETE FROM messages WHERE session=? AND character=? AND idx>=?",
                                (session, character, row[0]))
                    return row[1]
            except sqlite3.Error as exc:
                raise StoreError(f"could not change the conversation: {exc}") from None
            finally:
                con.close()

    def clear(self, session: str, character: str) -> None:
        with self._lock:
            con = self._connect()
            try:
                with con:
                    con.execute("DELETE FROM messages WHERE session=? AND character=?", (session, character))
            except sqlite3.Error as exc:
                raise StoreError(f"could not clear the conversation: {exc}") from None
            finally:
                con.close()


def to_markdown(character_name: str, messages: list[dict], names: dict[str, str] | None = None) -> str:
    """``names``: a group's speakers by id (each answer is labelled with its own speaker)."""
    out = [f"# Interview with {character_name}", ""]
    for m in messages:
        if m["role"] == "user":
            out += [f"**You:** {m['content']}", ""]
            continue
        meta = m.get("meta") or {}
        speaker = (names or {}).get(meta.get("character"), character_name)
        out += [f"**{speaker}:** {m['content']}  _({meta.get('mode', '?')})_", ""]
        for i, c in enumerate(meta.get("citations", []), 1):
            out += [f"> [{i}] {c['source_file']} {c['start']}-{c['end']}: {c['text']}", f"> — {c['english']}", ""]
    return "\n".join(out)


def to_json(character: str, messages: list[dict]) -> str:
    return json.dumps({"character": character, "messages": messages}, ensure_ascii=False, indent=2)
