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
        print(f"  {m.name:<12} {m.description}; drafts in {', '.join(m.languages)}\n               {where}")
    return 0


def cmd_characters(args) -> int:
    from characters import load_cards
    from retrieval.corpus import load_corpus

    cards = load_cards(corpus=load_corpus(settings_from(args).seeds_dir))
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
    """The interviewer with its model loaded: a GGUF that llama.cpp cannot load is one line now,
    not only when a question first needs the model."""
    from chat.chain import Interviewer

    interviewer = Interviewer(settings_from(args))
    interviewer.backend.load()
    return interviewer


def cmd_ask(args) -> int:
    from chat.group import Group

    group = Group(args.character, args.as_of)   # unknown characters or story points: one line, before loading
    interviewer = _interviewer(args)
    answers = group.answers(interviewer, args.question, lang=args.lang)
    if args.json:
        out = [a.as_json() for a in answers]
        print(json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False, indent=2))
        return 0
    for ans in answers:
        if len(answers) > 1:
            print(f"{ans.character}:")
        print(ans.answer)
        for i, c in enumerate(ans.citations, 1):
            print(f"  [{i}] {c['source_file']} {c['start']}-{c['end']}: {c['english']}")
        print(f"  ({ans.mode}; {ans.backend}:{ans.model}{'; partial' if ans.partial else ''})")
    return 0


def cmd_chat(args) -> int:
    from characters import get_card
    from chat.group import Group

    group = Group(args.character, args.as_of)
    interviewer = _interviewer(args)
    names = ", ".join(f"{get_card(c).name['en']} ({', '.join(get_card(c).works)})" for c in group.characters)
    hint = "; @id asks one of them" if len(group.characters) > 1 else ""
    print(f"Talking to {names}. Empty line or Ctrl-D ends; /ooc asks the narrator{hint}.")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return 0
        if not line.strip():
            return 0
        try:   # the conversation goes on after a bad message
            for character, event in group.stream(interviewer, line, lang=args.lang):
                if "answer" in event:
                    print(f"{character}> {event['answer'].answer}")
        except FaceError as exc:
            print(f"error: {exc}")


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
