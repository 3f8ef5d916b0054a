"""The browser app, end to end: a real `python app.py` on a free port, driven by headless Chromium
(Playwright) and by 8 concurrent gradio_client sessions."""
import concurrent.futures
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
        ask(page, "How did you burn your face?")
        page.wait_for_selector("#sources_panel .citation", timeout=180_000)
        chat = page.inner_text("#chat")
        assert "How did you burn your face?" in chat and "The man who lost his face:" in chat
        panel = page.inner_text("#sources_panel")
        assert "novel summary (German)" in panel and "English:" in panel
        assert page.locator("#sources_panel .original").count() >= 1
        page.screenshot(path=str(tmp_path / "interview.png"), full_page=True)

        # switch to the wife: her conversation is separate
        page.click("#character input")
        page.get_by_role("option", name="The hero's wife — novel & film").click()
        page.wait_for_function("!document.querySelector('#chat').innerText.includes('How did you burn')", timeout=30_000)
        ask(page, "Where did you meet the stranger?")
        assert "Where did you meet the stranger?" in page.inner_text("#chat")

        # reload: the wife's history is restored from the server, the hero's stays his
        page.reload()
        page.wait_for_selector("#message textarea", timeout=60_000)
        page.click("#character input")
        page.get_by_role("option", name="The hero's wife — novel & film").click()
        page.wait_for_function("document.querySelector('#chat').innerText.includes('Where did you meet the stranger?')",
                               timeout=30_000)
        assert "How did you burn" not in page.inner_text("#chat")

        # an empty message is a visible notice, not a traceback; the conversation stays
        page.fill("#message textarea", "   ")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelector('#error').innerText.includes('empty')", timeout=30_000)
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
        hold.arm()
        page.fill("#message textarea", "Why do you wear bandages?")
        page.keyboard.press("Enter")
        hold.kill(signal.SIGSEGV)          # the model dies in the middle of this answer
        page.wait_for_function("document.querySelector('#error').innerText.includes("
                               "'the model stopped unexpectedly; it has been restarted - ask again')", timeout=120_000)
        chat = page.inner_text("#chat")   # the earlier turn stays; the crashed question is not a turn
        assert "How did you burn" in chat and "Why do you wear bandages?" not in chat
        page.fill("#message textarea", "")
        ask(page, "Why do you wear bandages?")      # the same app, a fresh worker: answered
        assert "Why do you wear bandages?" in page.inner_text("#chat") and not page.inner_text("#error").strip()
        page.reload()                                # the saved turns are whole: the crashed one never was one
        page.wait_for_selector("#message textarea", timeout=60_000)
        page.wait_for_function("document.querySelector('#chat').innerText.includes('Why do you wear')", timeout=60_000)
        chat = page.inner_text("#chat")
        assert chat.count("Why do you wear bandages?") == 1 and chat.count("How did you burn your face?") == 1
        browser.close()
