"""The in-process model runs in a worker process, so a native crash costs one answer, not the app.

Design choices:
- One worker per loaded model (path, context, threads), started on first use
  (``main([PATH, N_CTX, N_THREADS])`` in a new Python). Requests and replies are JSON lines on
  its stdin/stdout; the worker moves its own fd 1 to stderr first, so nothing llama.cpp prints can
  corrupt the stream. It loads with ``load_llama`` (the safe parameters) and reports them back.
- A worker that dies - segfault, abort on a failed assertion, killed for memory - shows up as EOF
  on its stdout. The request ends in ``ModelCrashed`` ("the model stopped unexpectedly; it has been
  restarted - ask again") and a fresh worker is started at once, loading while the user reads that
  line. A file that cannot be loaded, refused or crashed on, is a ``ModelFileError`` (exit 2).
- A stream the caller stops early sends ``cancel``: the worker stops generating at the next token
  (a reader thread watches stdin), so an answer decided early frees the model at once. While the
  caller works on a piece (checking a finished sentence), the worker is paused: on 2 cores the
  model and the checker's embedder running side by side slowed each other several times over.
- The worker exits when its stdin closes: a parent that dies, even by kill -9, leaves no orphan.
- Fault seam for tests: with ``FACE_FAULT_HOLD=DIR`` and a file ``DIR/arm`` present, the next
  generation sends its first piece, removes ``arm``, writes ``DIR/held-<pid>`` and waits there to be
  killed, so a test can kill a worker that is mid-answer at a chosen point, without sleeps.
- The KV states of the last few prompts are kept (``backends.llama_states``): a reader who turns
  back to a character does not wait for its persona's opening to be read again.

    >>> w = Worker("/models/SmolLM2-135M-Instruct.Q4_1.gguf", 2048, 2)             # doctest: +SKIP
    >>> "".join(w.stream([{"role": "user", "content": "Hi"}], {"max_tokens": 8}))
    'Hello! How can I help'
    >>> w.params
    {'use_extra_bufts': False}
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.errors import BackendError, ModelCrashed, ModelFileError

ROOT = Path(__file__).resolve().parent.parent


# -- the parent's side ------------------------------------------------------------------------------
class Worker:
    """A handle on one worker process; thread-safe (one request at a time)."""

    def __init__(self, path: str, n_ctx: int, n_threads: int):
        self.path, self.n_ctx, self.n_threads = str(path), n_ctx, n_threads
        self.params: dict = {}
        self.crashes = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ready = False
        self._start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from backends.llama_worker import main; main(sys.argv[1:])",
             self.path, str(self.n_ctx), str(self.n_threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env, cwd=str(ROOT),
            text=True, encoding="utf-8", bufsize=1)
        self._ready = False

    def _died(self) -> str:
        try:
            code = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # stdout closed but still alive: finish it
            self._proc.kill()
            code = self._proc.wait()
        if code < 0:
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f"signal {-code}"
        return f"exit code {code}"

    def _read(self) -> dict | None:
        line = self._proc.stdout.readline()
        return json.loads(line) if line else None

    def _ensure_ready(self) -> None:
        if self._proc is None or self._proc.poll() is not None and self._ready:
            self._start()
        if self._ready:
            return
        reply = self._read()
        if reply is None:
            how = self._died()
            self._proc = None
            raise ModelFileError(f"cannot load {self.path} with llama.cpp: it crashed while loading the file ({how}); "
                                 "pass --model-path with a GGUF model file that llama.cpp supports")
        if "error" in reply:
            self._proc.wait()
            self._proc = None
            raise ModelFileError(reply["error"])
        self.params, self._ready = reply["params"], True

    def _crashed(self) -> ModelCrashed:
        how = self._died()
        self.crashes += 1
        self._start()  # loads while the user reads the error line
        return ModelCrashed(how)

    def _send(self, request: dict) -> None:
        try:
            self._proc.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._crashed() from None

    def load(self) -> None:
        with self._lock:
            self._ensure_ready()

    def call(self, op: str, **payload) -> dict:
        """One request, one reply (``tokenize``, ``reset``)."""
        with self._lock:
            self._ensure_ready()
            self._send({"op": op, **payload})
            reply = self._read()
            if reply is None:
                raise self._crashed()
            if "error" in reply:
                raise BackendError(f"llama.cpp refused the request: {reply['error']}")
            return reply

    def stream(self, messages: list[dict], kwargs: dict):
        """Yield text pieces of a chat completion; ``ModelCrashed`` if the worker dies meanwhile."""
        with self._lock:
            self._ensure_ready()
            self._send({"op": "chat", "messages": messages, "kwargs": kwargs})
            done = False
            try:
                while True:
                    reply = self._read()
                    if reply is None:
                        done = True
                        raise self._crashed()
                    if "delta" in reply:
                        self._send({"op": "pause"})    # while the caller works on this piece (checks a
                        yield reply["delta"]           # sentence), the model waits: on 2 cores the two
                        self._send({"op": "resume"})   # would otherwise slow each other down many times
                    elif "error" in reply:
                        done = True
                        raise BackendError(f"llama.cpp refused the request: {reply['error']}")
                    else:
                        done = True
                        return
            finally:
                if not done and self._proc is not None and self._proc.poll() is None:
                    self._cancel()

    def _cancel(self) -> None:
        """The caller stopped reading: stop the generation and drop what is still in the pipe."""
        try:
            self._send({"op": "cancel"})
            while (reply := self._read()) is not None and "delta" in reply:
                pass
        except ModelCrashed:
            pass  # it died while stopping; the next request finds a fresh worker

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None


# -- the worker's side --------------------------------------------------------------------------------
def _hold_if_armed() -> None:
    hold = os.environ.get("FACE_FAULT_HOLD")
    if not hold or not os.path.exists(os.path.join(hold, "arm")):
        return
    os.remove(os.path.join(hold, "arm"))
    Path(hold, f"held-{os.getpid()}").write_text("held")
    while os.path.exists(os.path.join(hold, f"held-{os.getpid()}")):  # until killed, or released
        time.sleep(0.05)


def _serve(path: str, n_ctx: int, n_threads: int) -> None:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # whatever else prints goes to stderr, never into the reply stream
    sys.stdout = sys.stderr

    def reply(obj: dict) -> None:
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()

    from backends.llama_load import load_llama, model_params_of
    from backends.llama_states import PromptStates

    try:
        llm = load_llama(path, n_ctx=n_ctx, n_threads=n_threads)
    except ModelFileError as exc:
        reply({"error": str(exc)})
        return
    reply({"ready": True, "params": model_params_of(llm)})
    states = PromptStates(llm)
    requests: queue.Queue = queue.Queue()
    cancel, running = threading.Event(), threading.Event()
    running.set()

    def read_stdin():
        for line in sys.stdin:
            op = json.loads(line)
            if op.get("op") == "cancel":
                cancel.set()
                running.set()
            elif op.get("op") == "pause":
                running.clear()
            elif op.get("op") == "resume":
                running.set()
            else:
                requests.put(op)
        os._exit(0)  # the parent is gone

    threading.Thread(target=read_stdin, daemon=True).start()
    while True:
        request = requests.get()
        try:
            if request["op"] == "tokenize":
                reply({"n": len(llm.tokenize(request["text"].encode("utf-8"), add_bos=False, special=False))})
            elif request["op"] == "reset":
                llm.reset()
                reply({"done": True})
            elif request["op"] == "chat":
                cancel.clear()
                running.set()
                first = True
                states.restore(request["messages"])
                for chunk in llm.create_chat_completion(messages=request["messages"], stream=True, **request["kwargs"]):
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        reply({"delta": delta})
                        if first:
                            first = False
                            _hold_if_armed()
                    running.wait()
                    if cancel.is_set():
                        break
                states.save(request["messages"])
                reply({"done": True})
        except ValueError as exc:  # e.g. the prompt does not fit the context
            reply({"error": str(exc)})


def main(argv: list[str]) -> None:
    """The worker's entry point: ``PATH N_CTX N_THREADS``."""
    _serve(argv[0], int(argv[1]), int(argv[2]))
