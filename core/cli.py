"""Command line: ``python app.py <command>``; with no command it serves the browser app.

Design choices:
- argparse with one sub-parser per command; every command is a small function taking the parsed
  namespace and returning an exit code. Settings come from ``load_settings`` with the flags as
  overrides, so flags > environment > config file > defaults holds for every command.
- Errors: a ``FaceError`` becomes one line on stderr (``error: …``) and its exit code (2 for usage
  errors); argparse's own errors are folded into the same one-line form with exit code 2.
- JSON output is UTF-8 and unescaped so Russian and German text stays readable.
"""
from __future__ import annotations

import argparse
import json
import sys

from core.config import FIELDS, load_settings
from core.errors import FaceError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _store_flags(p: argparse.ArgumentParser):
    g = p.add_argument_group("store and embeddings")
    # SUPPRESS: a flag given before the command is not overwritten by the sub-parser's default
    g.argument_default = argparse.SUPPRESS
    g.add_argument("--data-dir", help=f"where the local store and transcripts live (env {FIELDS['data_dir'].env})")
    g.add_argument("--chroma-host", help=f"use a Chroma server instead of the embedded store (env {FIELDS['chroma_host'].env})")
    g.add_argument("--chroma-port", type=int, help=f"Chroma server port (env {FIELDS['chroma_port'].env}, default 8000)")
    g.add_argument("--embedder", help="embedder name: e5-local (default) or openai")
    g.add_argument("--embed-model", help="embedding model name for the openai embedder")
    g.add_argument("--embed-base-url", help="OpenAI-compatible base URL for the openai embedder")


def _backend_flags(p: argparse.ArgumentParser):
    g = p.add_argument_group("model backend")
    g.argument_default = argparse.SUPPRESS
    g.add_argument("--backend", help=f"llamacpp (default, in process) or openai (env {FIELDS['backend'].env})")
    g.add_argument("--model", help="bundled model name for llamacpp (smollm2, gemma3-270m) or the model name "
                                   f"for openai (env {FIELDS['model'].env})")
    g.add_argument("--model-path", help=f"any GGUF file for llamacpp (env {FIELDS['model_path'].env})")
    g.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://localhost:11434/v1 "
                                      f"(env {FIELDS['base_url'].env}); the key comes from OPENAI_API_KEY")
    g.add_argument("--threads", type=int, help=f"llama.cpp threads (env {FIELDS['threads'].env}, default 2)")
    g.add_argument("--timeout", type=float, help=f"seconds to wait for a model server (env {FIELDS['timeout'].env})")


def settings_from(args):
    return load_settings({name: getattr(args, name, None) for name in FIELDS})


# -- commands -------------------------------------------------------------------------------
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
    from ui.web import launch

    return launch(args)


# -- parser ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="app.py", description="Interview the characters of Kobo Abe's The Face of Another.")
    _store_flags(parser)
    _backend_flags(parser)
    parser.add_argument("--host", default="127.0.0.1", help="UI bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="UI port (default 7860)")
    parser.add_argument("--auth", help="USER:PASSWORD login for the UI (or env FACE_AUTH)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("events", help="list the story timeline in story order")
    p.add_argument("--work", choices=["novel", "film"])
    p.add_argument("--json", action="store_true", help="print a JSON list")
    _store_flags(p)
    p.set_defaults(func=cmd_events)

    p = sub.add_parser("ingest", help="chunk, embed and store the seeds (idempotent)")
    p.add_argument("--force", action="store_true", help="re-embed every source even if unchanged")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _store_flags(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="hybrid cross-lingual search over the passages")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--work", choices=["novel", "film"])
    p.add_argument("--kind", action="append", choices=["plot", "opinion"], help="only this kind (repeatable)")
    p.add_argument("--as-of", help="only passages up to this event id (see `events`)")
    p.add_argument("--json", action="store_true", help="print a JSON list, best first")
    _store_flags(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("models", help="list backends and bundled models with their paths and sizes")
    p.add_argument("--assemble", action="store_true", help="also assemble Gemma 3 270M now to show its size")
    _store_flags(p)
    _backend_flags(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("characters", help="list the characters: ids, names, works, default story points")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_characters)

    p = sub.add_parser("cards", help="export or import Character Card V2 JSON (SillyTavern format)")
    cards = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    e = cards.add_parser("export", help="print (or --out) a character as Character Card V2 JSON")
    e.add_argument("--character", required=True)
    e.add_argument("--out")
    i = cards.add_parser("import", help="turn a Character Card V2 JSON file into characters/<id>.yaml")
    i.add_argument("file")
    i.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_cards)

    for name, helptext in (("ask", "ask a character one question"), ("chat", "a conversation in the terminal")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--character", required=True, help="hero, wife, doctor, k, girl or daughter")
        if name == "ask":
            p.add_argument("question")
            p.add_argument("--json", action="store_true", help="print the answer with sentences and citations")
        p.add_argument("--as-of", help="the story point the character lives at (an event id)")
        p.add_argument("--lang", choices=["en", "ru", "de"], help="answer language (default: the question's)")
        _store_flags(p)
        _backend_flags(p)
        p.set_defaults(func=cmd_ask if name == "ask" else cmd_chat)

    from evals.cli import add_evals_parser
    add_evals_parser(sub, _Parser, (_store_flags, _backend_flags))

    p = sub.add_parser("ui", help="serve the browser app (the default command)")
    p.add_argument("--host", default=argparse.SUPPRESS, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=argparse.SUPPRESS, help="port (default 7860)")
    p.add_argument("--auth", default=argparse.SUPPRESS, help="USER:PASSWORD login (or env FACE_AUTH)")
    _store_flags(p)
    _backend_flags(p)
    p.set_defaults(func=cmd_ui)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "func", None) is None:
            args.func = cmd_ui
        return args.func(args)
    except FaceError as exc:  # always one line, even when the message quotes input with newlines
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
