"""Generation overhead against bare llama-cpp-python; prints ratios, asserts nothing.

    python benchmarks/generation.py [--model smollm2|gemma3-270m] [--runs 5] [--max-tokens 64]

Time to first token (TTFT, i.e. prefill) and decode rate (tokens/s after the first) for the same
prompt and settings, prompt cache reset before every run, medians over ``--runs`` after a warm-up:
(1) bare ``Llama.create_chat_completion(stream=True)`` in this process, loaded with the same safe
parameters as the product (no extra buffer types); (2) our ``LlamaCppBackend.stream``, which runs the
model in a worker process: the difference is the cost of the worker hop, also shown as whole-answer
latency; (3) the LangChain adapter over (2). Targets: TTFT <= 1.10x bare, decode >= 0.95x bare.

``--extra-bufts`` also measures bare llama.cpp with its default parameters (extra buffer types on:
AMX / CPU weight repacking) in a child process, and reports how it died where it crashes (CPUs
with Intel AMX: SIGSEGV at the first decode), so "with" and "without" are compared on any machine.
"""
from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import GenerationOptions, get_backend  # noqa: E402
from backends.langchain_chat import BackendChatModel  # noqa: E402
from core.config import load_settings  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are the man who lost his face in a laboratory accident. Answer briefly."},
    {"role": "user", "content": "Tell me about the mask you made and why you made it."},
]


def measure(start, count_tokens, reset):
    """(TTFT s, decode tok/s, tokens, whole answer s) of one run."""
    reset()  # drop the cached prompt so every path pays full prompt processing
    t0 = time.perf_counter()
    first, text = None, []
    for d in start():
        if first is None:
            first = time.perf_counter()
        text.append(d)
    end = time.perf_counter()
    n = count_tokens("".join(text))
    rate = (n - 1) / (end - first) if first and end > first and n > 1 else 0.0
    return (first - t0) if first else float("nan"), rate, n, end - t0


def bare_stream(llm, opts):
    def run():
        for c in llm.create_chat_completion(messages=MESSAGES, temperature=opts.temperature, seed=opts.seed,
                                            max_tokens=opts.max_tokens, repeat_penalty=opts.repeat_penalty,
                                            stream=True):
            d = c["choices"][0]["delta"].get("content")
            if d:
                yield d
    return run


def count_with(llm):
    return lambda text: len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def medians(rows) -> dict:
    return {k: statistics.median(r[i] for r in rows) for i, k in enumerate(("ttft", "rate", "tokens", "answer"))}


def extra_bufts_child(path: str, runs: int, max_tokens: int) -> None:
    """Child process: bare llama.cpp with its default parameters; prints medians as JSON."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, n_ctx=2048, n_threads=2, verbose=False)
    opts = GenerationOptions(temperature=0.0, max_tokens=max_tokens, seed=11, repeat_penalty=1.1)
    rows = [measure(bare_stream(llm, opts), count_with(llm), llm.reset) for _ in range(runs + 1)][1:]
    print(json.dumps({"use_extra_bufts": bool(llm.model_params.use_extra_bufts), **medians(rows)}))


def extra_bufts(path: str, runs: int, max_tokens: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-extra-bufts", path, "--runs", str(runs),
                          "--max-tokens", str(max_tokens)], capture_output=True, text=True)
    if out.returncode < 0:
        return {"died": signal.Signals(-out.returncode).name}
    if out.returncode:
        return {"died": f"exit code {out.returncode}: {out.stderr.strip()[-200:]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--extra-bufts", action="store_true", help="also measure llama.cpp's default parameters")
    ap.add_argument("--child-extra-bufts", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_extra_bufts:
        return extra_bufts_child(args.child_extra_bufts, args.runs, args.max_tokens)
    from backends.llama_load import load_llama, model_params_of

    with tempfile.TemporaryDirectory() as tmp:
        backend = get_backend(load_settings({"model": args.model, "data_dir": tmp}, env={}))
        path = str(backend.model_file())
        llm = load_llama(path, n_ctx=backend.context_window, n_threads=backend.threads)
        opts = GenerationOptions(temperature=0.0, max_tokens=args.max_tokens, seed=11, repeat_penalty=1.1)
        chat = BackendChatModel(backend=backend, options=opts)
        worker = backend.worker()
        reset_worker = lambda: worker.call("reset")  # noqa: E731
        paths = {
            "bare llama.cpp (safe)": (bare_stream(llm, opts), llm.reset),
            "our backend (worker)": (lambda: backend.stream(MESSAGES, opts), reset_worker),
            "LangChain adapter": (lambda: (c.content for c in chat.stream([(m["role"], m["content"]) for m in MESSAGES])),
                                  reset_worker),
        }
        results = {name: [] for name in paths}
        count = count_with(llm)
        for fn, reset in paths.values():
            measure(fn, count, reset)  # warm-up
        for _ in range(args.runs):  # interleave paths so drift hits them alike
            for name, (fn, reset) in paths.items():
                results[name].append(measure(fn, count, reset))
        base = medians(results["bare llama.cpp (safe)"])
        print(f"model {backend.describe()}, {args.runs} runs, up to {args.max_tokens} tokens, greedy; "
              f"parameters {model_params_of(llm)} (worker: {worker.params})")
        for name, rows in results.items():
            m = medians(rows)
            print(f"{name:<22} TTFT {m['ttft'] * 1000:7.1f} ms ({m['ttft'] / base['ttft']:.2f}x)  decode "
                  f"{m['rate']:6.1f} tok/s ({m['rate'] / base['rate']:.2f}x)  answer {m['answer'] * 1000:7.1f} ms "
                  f"({m['answer'] / base['answer']:.2f}x)  tokens {m['tokens']:.0f}")
        print("targets: TTFT <= 1.10x, decode >= 0.95x")
        if args.extra_bufts:
            llm.close()
            d = extra_bufts(path, args.runs, args.max_tokens)
            if "died" in d:
                print(f"default parameters (extra buffer types on): the process died ({d['died']})")
            else:
                print(f"default parameters (extra buffer types on): TTFT {d['ttft'] * 1000:7.1f} ms "
                      f"({d['ttft'] / base['ttft']:.2f}x of safe)  decode {d['rate']:6.1f} tok/s "
                      f"({d['rate'] / base['rate']:.2f}x of safe)")


if __name__ == "__main__":
    main()
