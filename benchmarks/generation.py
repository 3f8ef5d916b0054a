"""Generation overhead against bare llama-cpp-python; prints ratios, asserts nothing.

    python benchmarks/generation.py [--model smollm2|gemma3-270m] [--runs 5] [--max-tokens 64]

Time to first token (TTFT) and decode rate (tokens/s after the first) for the identical prompt and
settings, on the same loaded model, its prompt cache reset before every run: (1) bare ``Llama.create_chat_completion(stream=True)``,
(2) our ``LlamaCppBackend.stream``, (3) the LangChain adapter ``BackendChatModel.stream``.
Targets: TTFT overhead <= 10 %, decode rate >= 0.95x bare. Medians over ``--runs`` runs, after a
warm-up run of each path.
"""
from __future__ import annotations

import argparse
import statistics
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
    reset()  # drop llama.cpp's cached prompt so every path pays full prompt processing
    t0 = time.perf_counter()
    deltas = start()
    first, text = None, []
    for d in deltas:
        if first is None:
            first = time.perf_counter()
        text.append(d)
    end = time.perf_counter()
    n = count_tokens("".join(text))
    rate = (n - 1) / (end - first) if first and end > first and n > 1 else 0.0
    return (first - t0) if first else float("nan"), rate, n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        backend = get_backend(load_settings({"model": args.model, "data_dir": tmp}, env={}))
        opts = GenerationOptions(temperature=0.0, max_tokens=args.max_tokens, seed=11, repeat_penalty=1.1)
        llm, _ = backend._llm()
        chat = BackendChatModel(backend=backend, options=opts)

        def bare():
            for c in llm.create_chat_completion(messages=MESSAGES, temperature=opts.temperature, seed=opts.seed,
                                                max_tokens=opts.max_tokens, repeat_penalty=opts.repeat_penalty,
                                                stream=True):
                d = c["choices"][0]["delta"].get("content")
                if d:
                    yield d

        paths = {
            "bare llama-cpp-python": bare,
            "our backend": lambda: backend.stream(MESSAGES, opts),
            "LangChain adapter": lambda: (c.content for c in chat.stream([(m["role"], m["content"]) for m in MESSAGES])),
        }
        results = {name: [] for name in paths}
        for name, fn in paths.items():
            measure(fn, backend.count_tokens, llm.reset)  # warm-up
        for _ in range(args.runs):  # interleave paths so drift hits them alike
            for name, fn in paths.items():
                results[name].append(measure(fn, backend.count_tokens, llm.reset))
        base_ttft = statistics.median(r[0] for r in results["bare llama-cpp-python"])
        base_rate = statistics.median(r[1] for r in results["bare llama-cpp-python"])
        print(f"model {backend.describe()}, {args.runs} runs, up to {args.max_tokens} tokens, greedy")
        for name, rows in results.items():
            ttft = statistics.median(r[0] for r in rows)
            rate = statistics.median(r[1] for r in rows)
            toks = statistics.median(r[2] for r in rows)
            print(f"{name:<22} TTFT {ttft * 1000:7.1f} ms ({ttft / base_ttft - 1:+.1%})  decode {rate:6.1f} tok/s "
                  f"({rate / base_rate:.2f}x)  tokens {toks:.0f}")
        print("targets: TTFT overhead <= +10%, decode >= 0.95x")


if __name__ == "__main__":
    main()
