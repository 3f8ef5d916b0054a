"""The browser app, end to end: a real `python app.py` on a free port, driven by headless Chromium
(Playwright) and by 8 concurrent gradio_client sessions."""
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT, free_port
from faults import Hold

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


@pytest.fixture(scope="module")
def hold(tmp_path_factory):
    return Hold(tmp_path_factory.mktemp("hold"))


@pytest.fixture(scope="module")
def app_url(shared_settings, searcher, tmp_path_factory, hold):
    port = free_port()
    env = {**os.environ, "FACE_DATA_DIR": shared_settings.data_dir, "ANONYMIZED_TELEMETRY": "False",
           "FACE_FAULT_HOLD": str(hold.dir)}
    log = open(tmp_path_factory.mktemp("app") / "app.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert proc.poll() is None, "the app exited"
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def shows(selector, text):
    """A wait_for_function predicate: the element is mounted and its text holds `text`. Gradio may
    mount a component after the textarea the tests wait for; a missing element is 'not yet'."""
    return f"(e => !!e && e.innerText.includes({text!r}))(document.querySelector({selector!r}))"


def lacks(selector, text):
    """The element is mounted and its text no longer holds `text`."""
    return f"(e => !!e && !e.innerText.includes({text!r}))(document.querySelector({selector!r}))"


def ask(page, text):
    before = page.locator("#chat .message").count()
    page.fill("#message textarea", text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#chat .message').length >= {before + 2}", timeout=180_000)
    page.wait_for_selector("#sources_panel .citation, #sources_panel p", timeout=180_000)
    page.wait_for_function("!document.querySelector('#message textarea').value", timeout=180_000)


def test_browser_interview_sources_switch_character_and_reload(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian chromium is missing: .ci/run installs it with apt-get"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.wait_for_selector("#message textarea", timeout=60_000)
        assert "The man who lost his face" in page.inner_text("#card")
        # the story-time dial opens on the whole story: the hero of both works, each to its end
        page.wait_for_function(shows("#sources_panel", "film: up to"), timeout=30_000)
        assert "novel: up to" in page.inner_text("#sources_panel") and "the whole story" in page.input_value("#as_of input")
        ask(page, "How did you burn your face?")
        page.wait_for_selector("#sources_panel .citation", timeout=180_000)
        chat = page.inner_text("#chat")
        assert "How did you burn your face?" in chat and "The man who lost his face:" in chat
        panel = page.inner_text("#sources_panel")
        assert "novel summary (German)" in panel and "English:" in panel
        assert page.locator("#sources_panel .original").count() >= 1
        page.screenshot(path=str(tmp_path / "interview.png"), full_page=True)
        for button, check in (("#export_md", lambda t: "How did you burn your face?" in t and "> [1] 0" in t),
                              ("#export_json", lambda t: json.loads(t)["messages"][1]["meta"]["citations"])):
            with page.expect_download() as dl:                 # both exports hold the answer's citations
                page.click(button)
            assert check(open(dl.value.path(), encoding="utf-8").read())

        # switch to the wife: her conversation is separate
        page.click("#character input")
        page.get_by_role("option", name="The hero's wife — novel & film").click()
        page.wait_for_function(lacks("#chat", "How did you burn"), timeout=30_000)
        ask(page, "Where did you meet the stranger?")
        assert "Where did you meet the stranger?" in page.inner_text("#chat")

        # reload: the wife's history is restored from the server, the hero's stays his
        page.reload()
        page.wait_for_selector("#message textarea", timeout=60_000)
        page.click("#character input")
        page.get_by_role("option", name="The hero's wife — novel & film").click()
        page.wait_for_function(shows("#chat", "Where did you meet the stranger?"), timeout=30_000)
        assert "How did you burn" not in page.inner_text("#chat")

        # an empty message is a visible notice, not a traceback; the conversation stays
        page.fill("#message textarea", "   ")
        page.keyboard.press("Enter")
        page.wait_for_function(shows("#error", "empty"), timeout=30_000)
        assert "Where did you meet the stranger?" in page.inner_text("#chat")
        assert "Traceback" not in page.content()
        browser.close()
    assert (tmp_path / "interview.png").stat().st_size > 10_000


QUESTIONS = ["How did you burn your face?", "Why did you make a mask?", "What did K. show you?",
             "Почему вы носите бинты?", "Warum hast du einen Bart?", "Where did you rent a room?",
             "What did you buy in the toy shop?", "What did your wife write to you?"]


def test_eight_concurrent_sessions_each_get_their_own_history(app_url):
    from gradio_client import Client

    def session(i):
        client = Client(app_url, verbose=False)
        sid = f"load-test-{i}"
        chat, *_ = client.predict(QUESTIONS[i], "hero", "ending", "auto", 5, 0.2, sid, api_name="/send")
        return sid, chat

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(session, range(8)))
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    for i, (sid, chat) in enumerate(results):
        texts = [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in chat]
        assert texts[0] == QUESTIONS[i] and len(texts) == 2, texts
        undone, _ = client.predict("hero", sid, api_name="/undo")  # the stored history is this session's only
        assert undone == []


def test_a_model_crash_mid_answer_is_one_line_and_the_conversation_goes_on(app_url, hold):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})   # a new browser: a new session
        page.goto(app_url)
        page.wait_for_selector("#message textarea", timeout=60_000)
        ask(page, "How did you burn your face?")
        hold.arm()   # a question no memory answers, even after the first: the model drafts it
        page.fill("#message textarea", "What do you do all day in your room?")
        page.keyboard.press("Enter")
        hold.kill(signal.SIGSEGV)          # the model dies in the middle of this answer
        page.wait_for_function(shows("#error", "the model stopped unexpectedly; it has been restarted - ask again"),
                               timeout=120_000)
        chat = page.inner_text("#chat")   # the earlier turn stays; the crashed question is not a turn
        assert "How did you burn" in chat and "What do you do all day in your room?" not in chat
        page.fill("#message textarea", "")
        ask(page, "What do you do all day in your room?")      # the same app, a fresh worker: answered
        assert "What do you do all day in your room?" in page.inner_text("#chat") and not page.inner_text("#error").strip()
        page.reload()                                # the saved turns are whole: the crashed one never was one
        page.wait_for_selector("#message textarea", timeout=60_000)
        page.wait_for_function(shows("#chat", "What do you do all day"), timeout=60_000)
        chat = page.inner_text("#chat")
        assert chat.count("What do you do all day in your room?") == 1 and chat.count("How did you burn your face?") == 1
        browser.close()


def test_group_interview_two_labelled_answers_own_sources_restored_on_reload(app_url):
    """The hero and the wife answer one question in turn, each with their own sources; a reload
    restores the group conversation; export and undo work on the group."""
    from playwright.sync_api import sync_playwright

    question = "What happened at the bus stop?"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(app_url)
        page.wait_for_selector("#message textarea", timeout=60_000)
        page.get_by_role("tab", name="Group interview").click()
        page.wait_for_selector("#group_message textarea", timeout=30_000)
        assert page.locator("#group_characters input:checked").count() == 2   # hero and wife by default
        page.fill("#group_message textarea", question)
        page.keyboard.press("Enter")
        page.wait_for_selector("#group_sources section.speaker[data-character='wife']", timeout=240_000)
        chat = page.inner_text("#group_chat")
        assert question in chat and "The man who lost his face:" in chat and "The hero's wife:" in chat
        assert chat.index("The man who lost his face:") < chat.index("The hero's wife:")
        speakers = page.locator("#group_sources section.speaker")
        assert [speakers.nth(i).get_attribute("data-character") for i in range(speakers.count())] == ["hero", "wife"]
        assert "Traceback" not in page.content()

        page.reload()
        page.wait_for_selector("#message textarea", timeout=60_000)
        page.get_by_role("tab", name="Group interview").click()
        page.wait_for_function(shows("#group_chat", question), timeout=60_000)
        assert "The hero's wife:" in page.inner_text("#group_chat")
        assert question not in page.inner_text("#chat")          # the single interview is separate

        with page.expect_download() as dl:
            page.click("#group_export_md")
        text = open(dl.value.path(), encoding="utf-8").read()
        assert "**The man who lost his face:**" in text and "**The hero's wife:**" in text and question in text

        page.click("#group_undo")
        page.wait_for_function(lacks("#group_chat", question), timeout=30_000)
        browser.close()


def test_the_story_time_dial_changes_what_can_be_cited(app_url):
    """The dial is not decoration: at the bus stop the wife's letter is not written yet."""
    import re

    from gradio_client import Client

    from retrieval.corpus import load_corpus

    corpus = load_corpus()
    orders = {e.id: e.order for e in corpus.events}
    client = Client(app_url, verbose=False)
    q = "What did you write in your letter to your husband?"

    def cited(as_of, sid):
        chat, sources, *_ = client.predict(q, "wife", as_of, "auto", 5, 0.2, sid, api_name="/send")
        spans = {(f, int(a), int(b)) for f, a, b in re.findall(r"(\d{3}_[0-9a-f]+\.txt) (\d+)–(\d+)", sources)}
        events = {e for f, a, b in spans for src in corpus.sources for seg in src.segments
                  if seg.source_file == f and seg.start < b and seg.end > a for e in seg.events}
        return chat[-1]["content"], events

    late_answer, late = cited("wifes_letter", "dial-late")
    early_answer, early = cited("bus_stop", "dial-early")
    assert "wifes_letter" in late, (late_answer, late)
    assert all(orders[e] <= orders["bus_stop"] for e in early), (early_answer, early)


def test_regenerate_undo_and_clear_act_on_the_last_turn_of_a_conversation(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    sid, args = "controls-1", ("hero", "ending", "auto", 5, 0.2)
    for q in ("How did you burn your face?", "What did K. show you?", "Why did you rent a room in house S?"):
        chat, *_ = client.predict(q, *args, "controls-1", api_name="/send")
    questions = _asked(chat)
    assert len(questions) == 3
    chat, *_ = client.predict(*args, sid, api_name="/regenerate")            # the last question, answered again
    assert _asked(chat) == questions and len(chat) == 6
    chat, _ = client.predict("hero", sid, api_name="/undo")                   # only the last turn goes
    assert _asked(chat) == questions[:2]
    chat, _ = client.predict("hero", sid, api_name="/clear")
    assert chat == []
    again, *_ = client.predict("Who are you?", *args, sid, api_name="/send")  # cleared means cleared, also on the server
    assert _asked(again) == ["Who are you?"]


def _asked(chat):
    return [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in chat if m["role"] == "user"]


def test_the_answer_language_setting_is_obeyed(app_url):
    from gradio_client import Client

    from retrieval.lexical import detect_language

    client = Client(app_url, verbose=False)
    chat, *_ = client.predict("How did you burn your face?", "hero", "ending", "de", 3, 0.2, "settings-1", api_name="/send")
    reply = chat[-1]["content"] if isinstance(chat[-1]["content"], str) else chat[-1]["content"][0]["text"]
    assert detect_language(reply.split(":**", 1)[-1]) == "de", reply


def test_the_app_fills_every_characters_caches_at_start(shared_settings):
    """launch() builds with warm=True: every card is prepared in the background, once."""
    import threading

    from characters import load_cards
    from ui.web import build_app

    class Recorder:          # stands in for the Interviewer: only the warm-up is under test
        def __init__(self):
            self.warmed, self.done = [], threading.Event()

        def warm(self, characters):
            self.warmed.append(list(characters))
            self.done.set()

    rec = Recorder()
    build_app(shared_settings, interviewer=rec, warm=True)
    assert rec.done.wait(30)
    assert rec.warmed == [list(load_cards())]
    build_app(shared_settings, interviewer=Recorder(), warm=False)   # tests and tools: nothing starts
