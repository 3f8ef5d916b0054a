"""The browser app: Gradio Blocks on 127.0.0.1, no share link.

Design choices: ``build_app(settings)`` returns the Blocks and starts nothing; ``launch(args)`` binds
(127.0.0.1 by default) and warns loudly on a public bind without auth. The store and embedder load
lazily on the first request, never at import.
"""
from __future__ import annotations

import sys

from core.errors import FaceError


def _render(hits) -> str:
    if not hits:
        return "_No passage matches._"
    out = []
    for i, h in enumerate(hits, 1):
        c = h.chunk
        label = "film review (ru)" if c["work"] == "film" else "novel summary (de)"
        out.append(f"**[{i}] {label} · {c['kind']} · {', '.join(c['events'])}** (score {h.score:.2f})\n\n"
                   f"> {c['text']}\n\n_English:_ {c['renderings']['en']}")
    return "\n\n---\n\n".join(out)


def build_app(settings):
    import gradio as gr

    from retrieval.search import Searcher, SearchFilter

    searcher = Searcher(settings)

    def find(query, work, k):
        try:
            flt = SearchFilter(work=None if work == "both" else work)
            return _render(searcher.search(query, k=int(k), flt=flt))
        except FaceError as exc:
            return f"**Error:** {exc}"

    with gr.Blocks(title="The Face of Another") as app:
        gr.Markdown("# The Face of Another\nSearch the two sources (Russian film review, German novel summary) "
                    "in English, Russian or German.")
        with gr.Row():
            query = gr.Textbox(label="Question", placeholder="What did K. show you?", scale=4)
            work = gr.Radio(["both", "novel", "film"], value="both", label="Work")
            k = gr.Slider(1, 10, value=5, step=1, label="Passages")
        results = gr.Markdown()
        query.submit(find, [query, work, k], results)
    return app


def launch(args) -> int:
    from core.cli import settings_from

    host, port = getattr(args, "host", "127.0.0.1"), getattr(args, "port", 7860)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {host} exposes the app to the network", file=sys.stderr)
    build_app(settings_from(args)).queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, share=False)
    return 0
