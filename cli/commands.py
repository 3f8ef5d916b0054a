"""The commands behind ``python app.py <command>``: each a small function taking the parsed flags and
returning an exit code. They wire the floors below (retrieval, characters, chat, ui, backends);
nothing imports them but the parser in ``cli/__init__.py``.

JSON output is UTF-8 and unescaped so Russian and German text stays readable.

    >>> cmd_events(build_parser().parse_args(["events", "--work", "film", "--json"]))   # doctest: +SKIP
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.config import settings_from
from core.errors import FaceError, UsageError


def cmd_events(args) -> int:
    from retrieval.corpus import load_corpus

    settings = settings_from(args)
    events = load_corpus(settings.seeds_dir).events_of(args.work)
    rows = [{"id": e.id, "work": e.work, "order": e.order, "description": e.description} for e in events]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            print(f"{r['work']:<5} {r['order']:>2}  {r['id']:<18} {r['description']}")
    return 0


def cmd_ingest(args) -> int:
    from tqdm import tqdm

    from retrieval.chunking import chunk_corpus
    from retrieval.corpus import load_corpus
    from retrieval.store import PassageStore, chunk_records

    settings = settings_from(args)
    corpus = load_corpus(settings.seeds_dir)
    store = PassageStore(settings)
    store.client()  # an unreachable or unwritable store is one line before any progress bar
    total = sum(1 for c in chunk_corpus(corpus, settings.chunk_tokens, settings.chunk_overlap) for _ in chunk_records(c))
    with tqdm(total=total, desc="embedding", unit="rec", file=sys.stderr, disable=args.quiet) as bar:
        report = store.ingest(corpus, progress=bar.update, force=args.force)
    print(f"ingested {report.records} records into {store.where} ({store.collection_name}); "
          f"added: {', '.join(report.added) or '-'}; unchanged: {', '.join(report.skipped) or '-'}; "
          f"removed: {', '.join(report.removed) or '-'}")
    return 0


def cmd_search(args) -> int:
    from retrieval.search import Searcher, SearchFilter

    settings = settings_from(args)
    searcher = Searcher(settings)
    as_of = (searcher.corpus.event(args.as_of),) if args.as_of else ()
    flt = SearchFilter(work=args.work, kinds=tuple(args.kind) if args.kind else None, as_of=as_of)
    hits = searcher.search(args.query, k=args.k, flt=flt)
    if args.json:
        print(json.dumps([h.as_json() for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no passages match")
    for i, h in enumerate(hits, 1):
        c = h.chunk
        print(f"[{i}] {h.score:.2f}  {c['source_file']} {c['start']}-{c['end']}  {c['work']}/{c['kind']}  "
              f"events: {', '.join(c['events']) or '-'}")
        print(f"    {c['text']}")
        if c["lang"] != "en":
            print(f"    en: {c['renderings']['en']}")
    return 0


def cmd_models(args) -> int:
    from backends import BACKENDS, get_backend
    from backends.bundled import BUNDLED, DEFAULT_BUNDLED

    settings = settings_from(args)
    active = get_backend(settings)
    print("backends:")
    for name in BACKENDS:
        print(f"  {name}{'  (active: ' + active.describe() + ')' if name == settings.backend else ''}")
    print("bundled models (llamacpp --model NAME):")
    for m in BUNDLED.values():
        try:
            path = m.path(settings.data_dir) if m.name == DEFAULT_BUNDLED or args.assemble else None
        except FaceError as exc:
            print(f"  {m.name:<12} {m.description}: unavailable ({exc})")
            continue
        where = f"{path} ({path.stat().st_size / 2**20:.0f} MiB)" if path else "assembled into the data dir on first use"
        print(f"  {m.name:<12} {m.description}\n               {where}")
    return 0


def cmd_characters(args) -> int:
    from characters import load_cards

    cards = load_cards()
    rows = [{"id": c.id, "name": c.name["en"], "works": list(c.works), "as_of": c.as_of,
             "description": c.description["en"]} for c in cards.values()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        point = ", ".join(f"{w}: {e}" for w, e in r["as_of"].items())
        print(f"{r['id']:<9} {r['name']:<34} {'+'.join(r['works']):<11} default story point: {point}")
        print(f"          {r['description']}")
    return 0


def cmd_cards(args) -> int:
    from characters.card_v2 import export_v2, import_file

    if args.action == "export":
        text = json.dumps(export_v2(args.character), ensure_ascii=False, indent=2)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            print(f"wrote {args.out}")
        else:
            print(text)
    else:
        print(f"imported into {import_file(args.file, overwrite=args.overwrite)}")
    return 0


def _interviewer(args):
    from chat.chain import Interviewer

    return Interviewer(settings_from(args))


def cmd_ask(args) -> int:
    from characters import get_card

    get_card(args.character)  # an unknown character is a one-line error before anything loads
    interviewer = _interviewer(args)
    ans = interviewer.answer(args.character, args.question, as_of=args.as_of, lang=args.lang)
    if args.json:
        print(json.dumps(ans.as_json(), ensure_ascii=False, indent=2))
        return 0
    print(ans.answer)
    for i, c in enumerate(ans.citations, 1):
        print(f"  [{i}] {c['source_file']} {c['start']}-{c['end']}: {c['english']}")
    print(f"  ({ans.mode}; {ans.backend}:{ans.model}{'; partial' if ans.partial else ''})")
    return 0


def cmd_chat(args) -> int:
    from characters import get_card

    card = get_card(args.character)
    interviewer = _interviewer(args)
    history: list[dict] = []
    print(f"Talking to {card.name['en']} ({', '.join(card.works)}). Empty line or Ctrl-D ends; /ooc asks the narrator.")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return 0
        if not line.strip():
            return 0
        try:
            ans = interviewer.answer(card.id, line, history=history, as_of=args.as_of, lang=args.lang)
        except FaceError as exc:  # the conversation goes on after a bad message
            print(f"error: {exc}")
            continue
        print(f"{card.id}> {ans.answer}")
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": ans.answer}]


def cmd_ui(args) -> int:
    import os

    from ui.web import launch

    return launch(settings_from(args), getattr(args, "host", "127.0.0.1"), getattr(args, "port", 7860),
                  getattr(args, "auth", None) or os.environ.get("FACE_AUTH", ""))


def cmd_model_server(args) -> int:
    from backends.bundled import DEFAULT_BUNDLED, bundled
    from backends.model_server import serve

    settings = settings_from(args)
    if getattr(args, "model", None) and getattr(args, "model_path", None):
        raise UsageError("give either --model (a bundled model) or --model-path (a GGUF file), not both")
    if settings.model_path:
        path, alias = settings.model_path, Path(settings.model_path).stem
    else:
        alias = settings.model or DEFAULT_BUNDLED
        path = str(bundled(alias).path(settings.data_dir))
    return serve(path, alias, getattr(args, "host", "127.0.0.1"), getattr(args, "port", 8000),
                 settings.context or 2048, settings.threads)
