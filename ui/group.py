"""The group interview in the browser: one question to several characters, answers in turn.

Design choices:
- A group conversation is stored like a single one, under the key ``group:hero+wife`` (members in
  the order picked): a turn is the question and one answer per member, written in one transaction,
  so undo, regenerate, export and a reload work for the group as for one character.
- Each member answers through ``chat.group.Group``, i.e. an ordinary interview with their own card,
  scope, story point and history (their history is rebuilt from the group transcript: the
  questions put to them and their own answers only), so no one sees another's knowledge.
- Answers appear in turn, each headed by the speaker's name and streamed sentence by sentence; the
  sources panel has one section per speaker.

    >>> group_key(["hero", "wife"])
    'group:hero+wife'
"""
from __future__ import annotations

import html
import sys

from core.errors import FaceError, ModelCrashed, UsageError

PREFIX = "group:"


def group_key(members: list[str]) -> str:
    return PREFIX + "+".join(members)


def histories(messages: list[dict], members: list[str], addressed) -> dict[str, list[dict]]:
    """Per member: the questions put to them and their own answers, from the group transcript."""
    out: dict[str, list[dict]] = {c: [] for c in members}
    question = ""
    for m in messages:
        if m["role"] == "user":
            question = m["content"]
            continue
        who = (m.get("meta") or {}).get("character")
        if who in out:
            out[who] += [{"role": "user", "content": addressed(question)[1]}, {"role": "assistant", "content": m["content"]}]
    return out


def chat_view(messages: list[dict], names: dict[str, str]) -> list[dict]:
    """Gradio's message format; each answer is headed by its speaker's name."""
    return [{"role": m["role"], "content": m["content"] if m["role"] == "user" else
             f"**{names.get((m.get('meta') or {}).get('character'), '?')}:** {m['content']}"} for m in messages]


def sources_html(metas: list[dict], names: dict[str, str], one) -> str:
    """One section per speaker, each the single-character panel (``one(meta)``)."""
    if not metas:
        return "<div id='group_sources_inner'><p><i>Each character's sources appear here.</i></p></div>"
    parts = [f"<section class='speaker' data-character='{html.escape(m['character'])}'>"
             f"<h4>{html.escape(names.get(m['character'], m['character']))}</h4>{one(m)}</section>" for m in metas]
    return "<div id='group_sources_inner'>" + "".join(parts) + "</div>"


def last_metas(messages: list[dict]) -> list[dict]:
    """The answers of the last turn (for the sources panel after a reload)."""
    out: list[dict] = []
    for m in reversed(messages):
        if m["role"] == "user":
            break
        out.insert(0, m.get("meta") or {})
    return [m for m in out if m.get("character")]


def respond_group(message, members, as_of, lang, session, *, interviewer, transcripts, names, one):
    """Yield (chat messages, sources html, error text, textbox value) while each member answers."""
    from chat.group import Group

    try:
        if len(members or []) < 2:
            raise UsageError("pick two or more characters for a group interview")
        group = Group(list(members), [e for e in as_of if e], corpus=interviewer.searcher.corpus)
        key = group_key(group.characters)
        past = transcripts.messages(session, key)
        group.histories = histories(past, group.characters, group.addressed)
        group.addressed(message)   # an @name outside the group is one line before anything runs
    except FaceError as exc:
        yield gr_keep(), gr_keep(), f"⚠️ {exc}", message
        return
    view = chat_view(past, names) + [{"role": "user", "content": message}]
    done, shown, current = [], [], None
    try:
        for character, event in group.stream(interviewer, message, lang=None if lang == "auto" else lang, remember=False):
            if character != current:
                current, shown = character, []
            if "sentence" in event:
                shown.append(event["sentence"])
                live = [{"role": "assistant", "content": f"**{names[c]}:** {a.answer}"} for c, a in done]
                live.append({"role": "assistant", "content": f"**{names[character]}:** " + " ".join(shown)})
                yield view + live, gr_keep(), "", ""
            else:
                done.append((character, event["answer"]))
    except FaceError as exc:
        if isinstance(exc, ModelCrashed):
            print(f"warning: the model process died ({exc.detail}); a new one was started", file=sys.stderr)
        yield chat_view(past, names), gr_keep(), f"⚠️ {exc}", message
        return
    metas = [a.as_json() for _, a in done]
    try:
        transcripts.add_turn(session, key, message, metas)
        error = ""
    except FaceError as exc:
        error = f"⚠️ {exc}"
    answers = [{"role": "assistant", "content": f"**{names[c]}:** {a.answer}"} for c, a in done]
    yield view + answers, sources_html(metas, names, one), error, ""


def gr_keep():
    import gradio as gr

    return gr.update()


def build_group_tab(gr, *, cards, corpus, transcripts, iv, session, one, export_file):
    """The "Group interview" tab; wired to the same session as the single interview."""
    names = {c.id: c.name["en"] for c in cards.values()}
    works = sorted({w for c in cards.values() for w in c.works})
    default = [c for c in ("hero", "wife") if c in cards] or list(cards)[:2]
    with gr.Tab("Group interview"):
        with gr.Row():
            with gr.Column(scale=3):
                members = gr.CheckboxGroup([(f"{c.name['en']} — {' & '.join(c.works)}", c.id) for c in cards.values()],
                                           value=default, label="Characters (two or more; @id asks one of them)",
                                           elem_id="group_characters")
                chat = gr.Chatbot(label="Group interview", height=460, elem_id="group_chat")
                error = gr.Markdown("", elem_id="group_error")
                box = gr.Textbox(placeholder="One question to each of them…", show_label=False,
                                 elem_id="group_message", submit_btn=True)
                with gr.Row():
                    regen_btn = gr.Button("Regenerate", size="sm", elem_id="group_regenerate")
                    undo_btn = gr.Button("Undo", size="sm", elem_id="group_undo")
                    clear_btn = gr.Button("Clear", size="sm", elem_id="group_clear")
                    md_btn = gr.DownloadButton("Export Markdown", size="sm", elem_id="group_export_md")
                    json_btn = gr.DownloadButton("Export JSON", size="sm", elem_id="group_export_json")
            with gr.Column(scale=2):
                points = [gr.Dropdown([("each character's own default", "")] + [
                    (f"{e.order}. {e.description[:70]}", e.id) for e in corpus.events if e.work == w],
                    value="", label=f"Story time in the {w}", elem_id=f"group_as_of_{w}") for w in works]
                sources = gr.HTML(sources_html([], names, one), elem_id="group_sources")
                lang = gr.Radio(["auto", "en", "ru", "de"], value="auto", label="Answer language")

    def key(ms):
        return group_key([c for c in ms or [] if c in cards])

    def load(ms, sid):
        msgs = transcripts.messages(sid, key(ms)) if sid else []
        return chat_view(msgs, names), sources_html(last_metas(msgs), names, one), ""

    def send(message, ms, lang_, sid, *as_of):
        yield from respond_group(message, ms, list(as_of), lang_, sid, interviewer=iv(), transcripts=transcripts,
                                 names=names, one=one)

    def regenerate(ms, lang_, sid, *as_of):
        try:
            question = transcripts.pop_turn(sid, key(ms))
        except FaceError as exc:
            yield gr.update(), gr.update(), f"⚠️ {exc}", gr.update()
            return
        if question is None:
            yield gr.update(), gr.update(), "Nothing to regenerate yet.", gr.update()
            return
        yield from send(question, ms, lang_, sid, *as_of)

    def change(op, ms, sid):
        try:
            op(sid, key(ms))
        except FaceError as exc:
            return gr.update(), f"⚠️ {exc}"
        return chat_view(transcripts.messages(sid, key(ms)), names), ""

    def exports(ms, sid):
        return export_file(key(ms), sid, "md"), export_file(key(ms), sid, "json")

    refresh = dict(fn=exports, inputs=[members, session], outputs=[md_btn, json_btn])   # once the turn is saved
    box.submit(send, [box, members, lang, session, *points], [chat, sources, error, box],
               api_name="group_send").then(**refresh)
    regen_btn.click(regenerate, [members, lang, session, *points], [chat, sources, error, box],
                    api_name="group_regenerate").then(**refresh)
    undo_btn.click(lambda ms, sid: change(transcripts.pop_turn, ms, sid), [members, session], [chat, error],
                   api_name="group_undo").then(**refresh)
    clear_btn.click(lambda ms, sid: change(transcripts.clear, ms, sid), [members, session], [chat, error],
                    api_name="group_clear").then(**refresh)
    members.change(load, [members, session], [chat, sources, error], api_name="group_load").then(**refresh)

    def load_all(ms, sid):
        return (*load(ms, sid), *exports(ms, sid))

    return load_all, [members, session], [chat, sources, error, md_btn, json_btn]
