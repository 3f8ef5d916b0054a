"""Load: N concurrent chat sessions against the running app on 127.0.0.1, N = 1, 4, 8, 16.

    python benchmarks/load.py                       # starts `python app.py` on a free port itself
    python benchmarks/load.py --url http://127.0.0.1:7860 --levels 1 4 --turns 2

Each session is a gradio_client with its own session id; it asks ``--turns`` questions of the
hero (bounded: at most ``--max-seconds`` per level). Reported per level: p50/p95 latency, errors,
and queue wait, estimated as latency minus the median single-session latency (the service time:
one model in one process answers one question at a time on 2 cores). After each level every
session's stored history is read back: it must hold exactly that session's own questions.
Ratios are against the single-session latency, never timed assertions.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ["How did you burn your face?", "Why did you make a mask?", "What did K. show you?",
             "Почему вы носите бинты?", "Warum hast du einen Bart?", "Where did you rent a room?",
             "What did you buy in the toy shop?", "What did your wife write to you?"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(data_dir: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--data-dir", data_dir],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the app exited before it served; run `python app.py` to see why")
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the app did not answer within 120 s")


def _text(m) -> str:
    return m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]


def _session(url: str, sid: str, turns: int, offset: int, deadline: float) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)
    out = {"sid": sid, "latencies": [], "errors": 0, "asked": []}
    for t in range(turns):
        if time.time() > deadline:
            break
        q = QUESTIONS[(offset + t) % len(QUESTIONS)] + f" ({sid})"
        t0 = time.time()
        try:
            _, _, error, *_ = client.predict(q, "hero", "ending", "auto", 5, 0.2, sid, api_name="/send")
            out["errors"] += bool(error and error.strip())
            out["asked"].append(q)
        except Exception:  # noqa: BLE001 - a failed request is counted, the load goes on
            out["errors"] += 1
        out["latencies"].append(time.time() - t0)
    return out


def _isolated(url: str, results: list[dict]) -> bool:
    """Each session's stored conversation holds its own questions and nobody else's."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    for r in results:
        _, chat, *_ = client.predict("hero", r["sid"], api_name="/load")
        users = [_text(m) for m in chat if m["role"] == "user"]
        if users != r["asked"]:
            return False
    return True


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] if xs else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running app (default: start one on a free port with a temp data dir)")
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--turns", type=int, default=1, help="questions per session (default 1)")
    ap.add_argument("--max-seconds", type=float, default=300, help="stop asking after this long per level")
    args = ap.parse_args(argv)
    proc = None
    url = args.url
    if not url:
        proc, url = _start_app(tempfile.mkdtemp(prefix="face-load-"))
    try:
        _session(url, "warm-up", 1, 0, time.time() + 600)  # first question loads the store and the model
        service = None
        print(f"{'N':>3} {'requests':>8} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'p95/1':>6} "
              f"{'wait p50':>8} {'wait p95':>8} {'req/min':>7} isolated")
        for n in args.levels:
            deadline = time.time() + args.max_seconds
            t0 = time.time()
            with concurrent.futures.ThreadPoolExecutor(n) as pool:
                results = list(pool.map(lambda i: _session(url, f"load-{n}-{i}-{int(t0)}", args.turns, i, deadline), range(n)))
            wall = time.time() - t0
            lat = [x for r in results for x in r["latencies"]]
            errors = sum(r["errors"] for r in results)
            if service is None:
                service = statistics.median(lat)
            waits = [max(0.0, x - service) for x in lat]
            print(f"{n:>3} {len(lat):>8} {errors:>6} {_pct(lat, .5):>7.1f} {_pct(lat, .95):>7.1f} "
                  f"{_pct(lat, .95) / service:>6.1f} {_pct(waits, .5):>8.1f} {_pct(waits, .95):>8.1f} "
                  f"{60 * len(lat) / wall:>7.1f} {_isolated(url, results)}", flush=True)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
