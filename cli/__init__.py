"""Command line: ``python app.py <command>``; with no command it serves the browser app.

Design choices:
- The top floor: it wires retrieval, characters, chat, ui, evals and backends, and nothing imports
  it but ``app.py`` (``tests/test_layers.py`` keeps it so).
- argparse with one sub-parser per command; the commands (``cli/commands.py``, ``cli/evals.py``)
  are small functions taking the parsed namespace and returning an exit code. Settings come from
  ``core.config.settings_from``, so flags > environment > config file > defaults for every command.
- Errors: a ``FaceError`` becomes one line on stderr (``error: …``) and its exit code (2 for usage
  errors); argparse's own errors are folded into the same one-line form with exit code 2.

    >>> main(["characters", "--json"])                                    # doctest: +SKIP
    0
"""
from __future__ import annotations

import argparse
import sys

from cli import commands as C
from cli.evals import add_evals_parser
from core.config import FIELDS
from core.errors import FaceError, UsageError
from retrieval.corpus import KINDS, WORKS


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})  # "--judge" is not "--judge-model"

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
    g.add_argument("--vector-cache", help="file of vectors already embedded, reused by every ingest "
                                          f"(env {FIELDS['vector_cache'].env}; default <data-dir>/vectors.sqlite)")


def _backend_flags(p: argparse.ArgumentParser):
    g = p.add_argument_group("model backend")
    g.argument_default = argparse.SUPPRESS
    g.add_argument("--backend", help=f"llamacpp (default, in process) or openai (env {FIELDS['backend'].env})")
    g.add_argument("--model", help="bundled model name for llamacpp (smollm2, gemma3-270m) or the model name "
                                   f"for openai (env {FIELDS['model'].env})")
    g.add_argument("--model-path", help=f"any GGUF file for llamacpp (env {FIELDS['model_path'].env})")
    g.add_argument("--model-class", help="auto (default: a bundled model is small wherever it runs, others capable), "
                                         "small (the strict support check for a small model of your own) or capable "
                                         f"(env {FIELDS['model_class'].env})")
    g.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://localhost:11434/v1 "
                                      f"(env {FIELDS['base_url'].env}); the key comes from OPENAI_API_KEY")
    g.add_argument("--threads", type=int, help=f"llama.cpp threads (env {FIELDS['threads'].env}, default 2)")
    g.add_argument("--timeout", type=float, help=f"seconds to wait for a model server (env {FIELDS['timeout'].env})")
    g.add_argument("--judge-base-url", help="OpenAI-compatible URL of the model that judges answers (LLM verifier, "
                                            f"LLM eval judge; env {FIELDS['judge_base_url'].env}; default: --base-url)")
    g.add_argument("--judge-model", help=f"that model's name (env {FIELDS['judge_model'].env}; default: --model)")
    g.add_argument("--verifier", help="support check of the model's sentences: offline (default, no model call) or llm "
                                      f"(the model, or --judge-base-url, judges them; env {FIELDS['verifier'].env})")


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
    p.add_argument("--work", choices=WORKS)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    _store_flags(p)
    p.set_defaults(func=C.cmd_events)

    p = sub.add_parser("ingest", help="chunk, embed and store the seeds (idempotent)")
    p.add_argument("--force", action="store_true", help="rewrite every source's records even if unchanged (vectors come from the vector cache; delete it to embed anew)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _store_flags(p)
    p.set_defaults(func=C.cmd_ingest)

    p = sub.add_parser("search", help="hybrid cross-lingual search over the passages")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--work", choices=WORKS)
    p.add_argument("--kind", action="append", choices=KINDS, help="only this kind (repeatable)")
    p.add_argument("--as-of", help="only passages up to this event id (see `events`)")
    p.add_argument("--json", action="store_true", help="print a JSON list, best first")
    _store_flags(p)
    p.set_defaults(func=C.cmd_search)

    p = sub.add_parser("models", help="list backends and bundled models with their paths and sizes")
    p.add_argument("--assemble", action="store_true", help="also assemble Gemma 3 270M now to show its size")
    _store_flags(p)
    _backend_flags(p)
    p.set_defaults(func=C.cmd_models)

    p = sub.add_parser("characters", help="list the characters: ids, names, works, default story points")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=C.cmd_characters)

    p = sub.add_parser("cards", help="export or import Character Card V2 JSON (SillyTavern format)")
    cards = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    e = cards.add_parser("export", help="print (or --out) a character as Character Card V2 JSON")
    e.add_argument("--character", required=True)
    e.add_argument("--out")
    i = cards.add_parser("import", help="turn a Character Card V2 JSON file into characters/<id>.yaml")
    i.add_argument("file")
    i.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=C.cmd_cards)

    for name, helptext in (("ask", "ask a character one question"), ("chat", "a conversation in the terminal")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--character", required=True, action="append",
                       help="hero, wife, doctor, k, girl or daughter; repeat it to ask several at once")
        if name == "ask":
            p.add_argument("question")
            p.add_argument("--json", action="store_true", help="print the answer with sentences and citations")
        p.add_argument("--as-of", action="append",
                       help="the story point the character lives at (an event id); a group: one per work")
        p.add_argument("--lang", choices=["en", "ru", "de"], help="answer language (default: the question's)")
        _store_flags(p)
        _backend_flags(p)
        p.set_defaults(func=C.cmd_ask if name == "ask" else C.cmd_chat)

    add_evals_parser(sub, _Parser, (_store_flags, _backend_flags))

    p = sub.add_parser("model-server", help="serve a local GGUF over the OpenAI-compatible API (safe settings)")
    p.add_argument("--model", default=argparse.SUPPRESS, help="bundled model: smollm2 (default) or gemma3-270m")
    p.add_argument("--model-path", default=argparse.SUPPRESS, help="any GGUF file instead of a bundled model")
    p.add_argument("--host", default=argparse.SUPPRESS, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=argparse.SUPPRESS, help="port (default 8000)")
    p.add_argument("--threads", type=int, default=argparse.SUPPRESS, help="llama.cpp threads (default 2)")
    p.add_argument("--context", type=int, default=argparse.SUPPRESS, help="context window in tokens (default 2048)")
    _store_flags(p)
    p.set_defaults(func=C.cmd_model_server)

    p = sub.add_parser("ui", help="serve the browser app (the default command)")
    p.add_argument("--host", default=argparse.SUPPRESS, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=argparse.SUPPRESS, help="port (default 7860)")
    p.add_argument("--auth", default=argparse.SUPPRESS, help="USER:PASSWORD login (or env FACE_AUTH)")
    _store_flags(p)
    _backend_flags(p)
    p.set_defaults(func=C.cmd_ui)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "func", None) is None:
            args.func = C.cmd_ui
        return args.func(args)
    except FaceError as exc:  # always one line, even when the message quotes input with newlines
        line = " ".join(str(exc).split()).encode("utf-8", "backslashreplace").decode("utf-8")   # argv may hold
        print("error: " + line, file=sys.stderr)                                # undecodable bytes (surrogates)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
