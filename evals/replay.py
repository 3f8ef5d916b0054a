"""A replay model server: answers written as a strong model would write them, served over the
OpenAI-compatible API, so the real ``--backend openai`` path runs end to end without a strong model.

Design choices:
- The answers are data (``evals/replay/strong.jsonl``): for an eval item, ``faithful`` (natural,
  in-character paraphrases of the sources, 2-4 sentences) and ``tampered`` (the same with exactly
  one invented or contradicted sentence, at ``tampered_index``), written by people who never saw the
  guard. Each row belongs to a ``half``: ``calibration`` (thresholds were fitted on it) or ``heldout``.
- The model name picks the variant: ``replay-faithful`` or ``replay-tampered``. The answer is found
  by the last user message (the question); any other request gets a short in-character "I would
  rather not say", so a caller never hangs.
- It behaves like a server, not a fixture: it streams word by word (SSE), honours ``max_tokens``
  (cl100k tokens, as OpenAI counts), and ``delay`` seconds per piece imitates decoding speed.
- Standard library only (``http.server``), bound to 127.0.0.1.

    python app.py evals replay-server --port 8090
    python app.py evals run --backend openai --base-url http://127.0.0.1:8090/v1 --replay tampered --half heldout
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from core.errors import UsageError

REPLAY_FILE = Path(__file__).resolve().parent / "replay" / "strong.jsonl"
VARIANTS = ("faithful", "tampered")
HALVES = ("calibration", "heldout")
UNKNOWN = "I would rather not say."


def _key(text: str) -> str:
    return " ".join(str(text).split())


@lru_cache(maxsize=4)
def load_replay(path: str = str(REPLAY_FILE)) -> dict[str, dict]:
    """Replay rows by item id; each has the fields above. A malformed file is one ``UsageError``."""
    rows = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read replay file {path}: {exc}") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ok = (isinstance(row, dict) and isinstance(row.get("item"), str) and row.get("half") in HALVES
                  and all(isinstance(row.get(v), list) and row[v] and all(isinstance(s, str) for s in row[v])
                          for v in VARIANTS)
                  and isinstance(row.get("tampered_index"), int) and 0 <= row["tampered_index"] < len(row["tampered"])
                  and isinstance(row.get("question"), str))
        except json.JSONDecodeError:
            ok = False
        if not ok:
            raise UsageError(f"{path}:{no}: expected item, question, half ({'/'.join(HALVES)}), faithful and "
                             "tampered (lists of sentences) and tampered_index")
        rows[row["item"]] = row
    return rows


def answer_for(question: str, model: str, by_question: dict[str, dict]) -> str:
    """The variant ``model`` names of the row whose question this is (rows keyed by ``_key(question)``)."""
    row = by_question.get(_key(question))
    if row is None:
        return UNKNOWN
    return " ".join(row["tampered" if "tampered" in model else "faithful"])


def _pieces(text: str, max_tokens: int | None) -> list[str]:
    from retrieval.chunking import count_tokens

    words = text.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    if max_tokens:
        kept, used = [], 0
        for p in pieces:
            used += count_tokens(p)
            if used > max_tokens:
                break
            kept.append(p)
        pieces = kept
    return pieces


def make_handler(rows: dict[str, dict], delay: float = 0.0):
    by_question = {_key(r["question"]): r for r in rows.values()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            return

        def _json(self, obj: dict, code: int = 200) -> None:
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.rstrip("/").endswith("/models"):
                return self._json({"object": "list", "data": [{"id": f"replay-{v}", "object": "model"} for v in VARIANTS]})
            self._json({"error": {"message": "not found"}}, 404)

        def do_POST(self):
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._json({"error": {"message": "not found"}}, 404)
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            users = [m.get("content", "") for m in req.get("messages", []) if m.get("role") == "user"]
            model = str(req.get("model", "replay-faithful"))
            pieces = _pieces(answer_for(users[-1] if users else "", model, by_question), req.get("max_tokens"))
            cid, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
            if not req.get("stream"):
                time.sleep(delay * len(pieces))
                return self._json({"id": cid, "object": "chat.completion", "created": created, "model": model,
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": "".join(pieces)}}]})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()

            def send(delta: dict, finish=None):
                chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            try:
                send({"role": "assistant"})
                for piece in pieces:
                    time.sleep(delay)
                    send({"content": piece})
                send({}, "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return   # the client stopped reading (its answer was decided): as a real server, stop writing

    return Handler


def start(port: int = 0, path: str = str(REPLAY_FILE), delay: float = 0.0) -> ThreadingHTTPServer:
    """Serve in a background thread (tests, benchmarks); ``server.server_address[1]`` is the port."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(load_replay(path), delay))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve(port: int, path: str = str(REPLAY_FILE), delay: float = 0.0) -> int:
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(load_replay(path), delay))
    print(f"replaying {path} at http://127.0.0.1:{port}/v1 (models: replay-faithful, replay-tampered)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
