"""The browser app: interview a character, see the sources each answer rests on.

Design choices:
- ``respond(...)`` is a pure streaming function (question + state in, successive UI states out);
  ``build_app(settings)`` returns the Blocks and starts nothing; ``launch(args)`` binds 127.0.0.1
  by default, never shares, and warns on a public bind without auth.
- The answer streams sentence by sentence as the guard checks the model's draft: what appears
  has been checked and is never taken back; composed answers and refusals appear at once.
- History lives on the server (SQLite in the data dir) keyed by a session id kept in the
  browser's localStorage (``gr.BrowserState``) and by character, so it survives a reload and a
  restart, and switching character shows that character's own conversation.
- Every error becomes a visible one-line message; the conversation so far stays. A model that
  crashes mid-answer (its worker process died) is such an error: the next question gets a new one.
- Nothing loads at import or in ``build_app``; ``launch`` has the store opened and every card's
  caches filled in a background thread (``warm=True``) while the page is already served, and the
  first question waits for that if it comes sooner. The model loads on the first question.
"""
from __future__ import annotations

import hashlib
import html
import os
import sys
import tempfile
import threading
import uuid

from core.errors import FaceError, ModelCrashed
from ui.group import PREFIX, build_group_tab

WORK_LABEL = {"film": "film review (Russian)", "novel": "novel summary (German)"}
CSS = ".citation{margin-bottom:.8em} .dropped{color:#8a1c1c} .as-of{color:#555}"


def _sources_html(meta: dict | None, as_of_note: str = "", tag: str = "id='sources'") -> str:
    if not meta:
        return f"<div {tag}><p><i>Sources of the last answer appear here.</i></p>{as_of_note}</div>"
    parts = [f"<div {tag}><p><b>How this answer was made:</b> {html.escape(meta.get('mode', ''))}"
             f"{' (partial: the model stopped mid-answer)' if meta.get('partial') else ''}</p>"]
    for i, c in enumerate(meta.get("citations", [])):
        used = [j + 1 for j, s in enumerate(meta.get("sentences", [])) if i in s.get("citations", [])]
        parts.append(
            f"<div class='citation'><b>[{i + 1}] {WORK_LABEL.get(c.get('work'), c['source_file'])}</b>, "
            f"{html.escape(c['source_file'])} {c['start']}–{c['end']}"
            f"{' · supports sentence ' + ', '.join(map(str, used)) if used else ''}"
            f"<blockquote class='original'>{html.escape(c['text'])}</blockquote>"
            f"<blockquote class='english'><i>English:</i> {html.escape(c['english'])}</blockquote></div>")
    dropped = meta.get("dropped") or []
    if dropped:
        items = "".join(f"<li><s>{html.escape(d['text'])}</s> — {html.escape('; '.join(d['reasons']))}</li>" for d in dropped)
        parts.append(f"<div class='dropped'><b>Removed by the grounding guard (not supported by the texts):</b><ul>{items}</ul></div>")
    parts.append(as_of_note + "</div>")
    return "".join(parts)


def _chat_view(messages: list[dict], name: str = "") -> list[dict]:
    """Gradio's message format; the character's name heads each reply."""
    return [{"role": m["role"], "content": f"**{name}:** {m['content']}" if name and m["role"] == "assistant"
             else m["content"]} for m in messages]


def respond(message, character, as_of, lang, k, temperature, session, *, interviewer, transcripts, name=""):
    """Yield (chat messages, sources html, error text, textbox value) while answering ``message``:
    each sentence appears as soon as it is checked, and a shown sentence is never taken back."""
    try:
        past = transcripts.messages(session, character)
    except FaceError as exc:
        yield [], _sources_html(None), f"⚠️ {exc}", message
        return
    view = _chat_view(past, name) + [{"role": "user", "content": message}]
    head, shown, ans = (f"**{name}:** " if name else ""), [], None
    try:
        for event in interviewer.stream(character, message, history=past, as_of=as_of or None,
                                        lang=None if lang == "auto" else lang, k=int(k),
                                        temperature=float(temperature)):
            if "sentence" in event:
                shown.append(event["sentence"])
                yield view + [{"role": "assistant", "content": head + " ".join(shown)}], _sources_html(None), "", ""
            else:
                ans = event["answer"]
    except FaceError as exc:
        if isinstance(exc, ModelCrashed):  # for whoever runs the app; the reader gets the one line
            print(f"warning: the model process died ({exc.detail}); a new one was started", file=sys.stderr)
        yield _chat_view(past, name), _sources_html(None), f"⚠️ {exc}", message
        return
    meta = ans.as_json()
    try:
        transcripts.add_turn(session, character, message, meta)
        error = ""
    except FaceError as exc:
        error = f"⚠️ {exc}"
    yield view + [{"role": "assistant", "content": head + ans.answer}], _sources_html(meta), error, ""


def build_app(settings, interviewer=None, warm: bool = False):
    """``warm``: fill every card's caches (store, memory and sentence vectors) in the background at
    start, so that the first question to each character is as quick as the next one."""
    import gradio as gr

    from characters import load_cards
    from chat.chain import Interviewer
    from retrieval.corpus import load_corpus
    from ui.transcripts import Transcripts, to_json, to_markdown

    corpus = load_corpus(settings.seeds_dir)
    cards = load_cards(corpus=corpus)
    transcripts = Transcripts(settings.data_dir)
    lazy, lock = {"iv": interviewer, "warming": None}, threading.Lock()

    def made():
        with lock:
            if lazy["iv"] is None:
                lazy["iv"] = Interviewer(settings)
            return lazy["iv"]

    def iv():
        if lazy["warming"] is not None:
            lazy["warming"].join()       # an answer starts once the caches are filled (never twice)
        return made()

    def fill_caches():
        try:
            made().warm(list(cards))
        except FaceError as exc:         # the first question meets the same problem and shows it
            print(f"warning: could not prepare the characters at start ({exc}); the first answers will be slower",
                  file=sys.stderr)

    if warm:
        lazy["warming"] = threading.Thread(target=fill_caches, name="warm", daemon=True)
        lazy["warming"].start()

    choices = [(f"{c.name['en']} — {' & '.join(c.works)}", c.id) for c in cards.values()]
    default = "hero" if "hero" in cards else next(iter(cards))

    def card_md(cid):
        c = cards[cid]
        return f"**{c.name['en']}** · {' & '.join(c.works)}  \n{c.description['en']}"

    def event_choices(cid):   # "": the whole story, every work to the card's own end of it
        return [(f"the whole story ({' & '.join(cards[cid].works)})", "")] + [
            (f"{e.work} {e.order}. {e.description[:70]}", e.id) for e in corpus.events if e.work in cards[cid].works]

    def as_of_note(cid, as_of):
        points = cards[cid].story_points(corpus, as_of or None)
        text = "; ".join(f"{p.work}: up to “{p.description[:60]}…”" for p in points)
        return f"<p class='as-of'><i>Story time — the character lives {html.escape(text)}. Later passages are out of reach.</i></p>"

    def new_session(sid):
        return sid or uuid.uuid4().hex

    def load(cid, sid):
        sid = new_session(sid)
        msgs = transcripts.messages(sid, cid)
        last = next((m["meta"] for m in reversed(msgs) if m["role"] == "assistant"), None)
        return (sid, _chat_view(msgs, cards[cid].name["en"]), _sources_html(last, as_of_note(cid, "")), card_md(cid),
                gr.update(choices=event_choices(cid), value=""), "")

    def send(message, cid, as_of, lang, k, temperature, sid):
        sid = new_session(sid)
        for chat, sources, error, box in respond(message, cid, as_of, lang, k, temperature, sid, interviewer=iv(),
                                                  transcripts=transcripts, name=cards[cid].name["en"]):
            yield chat, sources, error, box, sid

    def regenerate(cid, as_of, lang, k, temperature, sid):
        try:
            question = transcripts.pop_turn(sid, cid)
        except FaceError as exc:
            yield gr.update(), gr.update(), f"⚠️ {exc}", gr.update(), sid
            return
        if question is None:
            yield gr.update(), gr.update(), "Nothing to regenerate yet.", gr.update(), sid
            return
        yield from send(question, cid, as_of, lang, k, temperature, sid)

    def undo(cid, sid):
        try:
            transcripts.pop_turn(sid, cid)
        except FaceError as exc:
            return gr.update(), f"⚠️ {exc}"
        return _chat_view(transcripts.messages(sid, cid), cards[cid].name["en"]), ""

    def clear(cid, sid):
        try:
            transcripts.clear(sid, cid)
        except FaceError as exc:
            return gr.update(), f"⚠️ {exc}"
        return [], ""

    def export(cid, sid, fmt):
        """A character's conversation, or a group's (``group:hero+wife``), as a file to download."""
        try:
            msgs = transcripts.messages(sid, cid)
        except FaceError:
            return gr.update()      # the store cannot be read now: the button keeps its last file
        members = cid[len(PREFIX):].split("+") if cid.startswith(PREFIX) else [cid]
        title = " and ".join(cards[m].name["en"] for m in members if m in cards)
        names = {m: cards[m].name["en"] for m in members if m in cards}
        text = to_markdown(title, msgs, names) if fmt == "md" else to_json(cid, msgs)
        folder = os.path.join(tempfile.gettempdir(), "face-exports", hashlib.sha256(sid.encode()).hexdigest()[:16])
        os.makedirs(folder, exist_ok=True)      # the session id comes from the browser: hashed, never a path
        path = os.path.join(folder, f"interview-{'-'.join(names) or 'none'}.{fmt}")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path

    active = f"{settings.backend}: {settings.model or settings.model_path or 'smollm2 (bundled)'}"
    with gr.Blocks(title="The Face of Another — interviews") as app:
        session = gr.BrowserState("", storage_key="face_session")
        gr.Markdown("# The Face of Another\nInterview the characters of Kobo Abe's novel (1964) and "
                    "Teshigahara's film (1966). Answers rest on the two source texts; see the sources on the right.")
        with gr.Tab("Interview"):
            with gr.Row():
                with gr.Column(scale=3):
                    character = gr.Dropdown(choices, value=default, label="Character", elem_id="character")
                    card = gr.Markdown(card_md(default), elem_id="card")
                    chat = gr.Chatbot(label="Interview", height=460, elem_id="chat")
                    error = gr.Markdown("", elem_id="error")
                    box = gr.Textbox(placeholder="Ask a question in English, Russian or German…", show_label=False,
                                     elem_id="message", submit_btn=True)
                    with gr.Row():
                        regen_btn = gr.Button("Regenerate", size="sm")
                        undo_btn = gr.Button("Undo", size="sm")
                        clear_btn = gr.Button("Clear", size="sm")
                        md_btn = gr.DownloadButton("Export Markdown", size="sm", elem_id="export_md")
                        json_btn = gr.DownloadButton("Export JSON", size="sm", elem_id="export_json")
                with gr.Column(scale=2):
                    as_of = gr.Dropdown(event_choices(default), value="",
                                        label="Story time: the character lives up to", elem_id="as_of")
                    sources = gr.HTML(_sources_html(None), label="Sources", elem_id="sources_panel")
                    with gr.Accordion("Settings", open=False):
                        gr.Markdown(f"Active model: **{active}** (change with `--backend`, `--model`, `--base-url`)")
                        lang = gr.Radio(["auto", "en", "ru", "de"], value="auto", label="Answer language")
                        k = gr.Slider(1, 10, value=5, step=1, label="Passages retrieved")
                        temperature = gr.Slider(0.0, 1.5, value=0.2, step=0.1, label="Temperature")
        group_load, group_in, group_out = build_group_tab(
            gr, cards=cards, corpus=corpus, transcripts=transcripts, iv=iv, session=session,
            one=lambda meta: _sources_html(meta, tag="class='sources'"), export_file=export)
        with gr.Tab("About the sources"):
            for src in corpus.sources:
                english = " ".join(seg.in_language("en") for seg in src.segments)
                gr.Markdown(f"### {src.file} — {WORK_LABEL.get(src.work, src.work)}\n{src.description}\n\n"
                            f"**Original ({src.language}):**\n\n{src.text()}\n\n"
                            f"**English rendering (made in this project):**\n\n{english}")

        inputs = [character, as_of, lang, k, temperature, session]
        outs = [chat, sources, error, box, session]
        # a download button downloads the file it holds when clicked: both are refreshed once the
        # conversation has changed (after the turn is saved, not at every streamed sentence)
        def exports(c, s):
            return export(c, s, "md"), export(c, s, "json")

        refresh = dict(fn=exports, inputs=[character, session], outputs=[md_btn, json_btn])
        box.submit(send, [box, *inputs], outs).then(**refresh)
        regen_btn.click(regenerate, inputs, outs).then(**refresh)
        undo_btn.click(undo, [character, session], [chat, error]).then(**refresh)
        clear_btn.click(clear, [character, session], [chat, error]).then(**refresh)
        character.change(load, [character, session], [session, chat, sources, card, as_of, error]).then(**refresh)
        as_of.change(lambda c, a: _sources_html(None, as_of_note(c, a)), [character, as_of], sources)
        app.load(load, [character, session], [session, chat, sources, card, as_of, error]).then(**refresh).then(
            group_load, group_in, group_out)
    return app


def launch(settings, host: str = "127.0.0.1", port: int = 7860, auth_raw: str = "") -> int:
    """Serve the app; ``auth_raw`` is ``USER:PASSWORD`` or empty (no login)."""
    auth = tuple(auth_raw.split(":", 1)) if ":" in auth_raw else None
    if host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"warning: --host {host} serves the app to your network without a login; "
              "add --auth USER:PASSWORD (or FACE_AUTH) or bind 127.0.0.1", file=sys.stderr)
    app = build_app(settings, warm=True)
    app.queue(default_concurrency_limit=4).launch(server_name=host, server_port=port, share=False, auth=auth,
                                                  show_error=False, quiet=True, css=CSS)
    return 0
