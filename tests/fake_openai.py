"""A scriptable fake OpenAI-compatible server for fault injection (refuse, hang, 429, 500,
malformed JSON, a stream cut mid-answer). Real servers cover the happy path; this one only fails."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sse_chunk(text: str) -> bytes:
    body = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return f"data: {json.dumps(body)}\n\n".encode()


class FakeServer:
    """``script`` is a list of behaviours, one per request (the last one repeats)."""

    def __init__(self, script: list[str], hang_s: float = 5.0):
        self.script, self.hang_s, self.requests = list(script), hang_s, 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                step = owner.script[min(owner.requests, len(owner.script) - 1)]
                owner.requests += 1
                getattr(owner, "_" + step)(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- behaviours -------------------------------------------------------------------------
    @staticmethod
    def _status(h, code, headers=(), body=b'{"error": {"message": "nope"}}'):
        h.send_response(code)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _ok(self, h):
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        for piece in ("I am ", "the man ", "without a face."):
            self._chunk(h, sse_chunk(piece))
        self._chunk(h, b"data: [DONE]\n\n")
        h.wfile.write(b"0\r\n\r\n")

    @staticmethod
    def _chunk(h, data: bytes):
        h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        h.wfile.flush()

    def _cut(self, h):
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        self._chunk(h, sse_chunk("I remember the "))
        self._chunk(h, sse_chunk("liquid oxygen"))
        h.close_connection = True  # no terminating chunk: the body is incomplete
        h.connection.shutdown(2)

    def _malformed(self, h):
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        self._chunk(h, b"data: {this is not json\n\n")
        h.wfile.write(b"0\r\n\r\n")

    def _hang(self, h):
        time.sleep(self.hang_s)
        self._status(h, 500)

    def _e429(self, h):
        self._status(h, 429, [("retry-after", "1")])

    def _e500(self, h):
        self._status(h, 500)
