"""Fault injection for the OpenAI-compatible backend: every fault ends in a clear error or a
partial answer marked as partial; nothing hangs; the key never shows."""
import time

import pytest

from backends import GenerationOptions, StreamCut
from backends.openai_compat import OpenAIBackend
from core.errors import BackendError

from conftest import free_port
from fake_openai import FakeServer

MSG = [{"role": "user", "content": "How did you lose your face?"}]
SECRET = "sk-test-very-secret-key-123456"


@pytest.fixture(autouse=True)
def secret_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def backend(url, **kw):
    return OpenAIBackend(model="fake", base_url=url, **{"timeout": 2.0, "retries": 2, "backoff": 0.01, **kw})


def run(b):
    return "".join(b.stream(MSG, GenerationOptions(max_tokens=20)))


def assert_clear(exc: BaseException, *needles):
    text = str(exc)
    assert SECRET not in text and "Traceback" not in text and "\n" not in text
    for n in needles:
        assert n in text, text


def test_happy_fake_stream_for_reference():
    with FakeServer(["ok"]) as srv:
        assert run(backend(srv.base_url)) == "I am the man without a face."


def test_connection_refused_is_retried_then_named():
    url = f"http://127.0.0.1:{free_port()}/v1"
    t = time.time()
    with pytest.raises(BackendError) as err:
        run(backend(url))
    assert time.time() - t < 10
    assert_clear(err.value, url, "could not be reached after 3 attempts", "--base-url")


def test_hang_past_the_timeout_ends_in_an_error_not_a_hang():
    with FakeServer(["hang"], hang_s=5) as srv:
        t = time.time()
        with pytest.raises(BackendError) as err:
            run(backend(srv.base_url, timeout=0.5, retries=1))
        assert time.time() - t < 4
    assert_clear(err.value, "did not answer within 0.5 s", srv.base_url)


def test_429_honours_retry_after_then_succeeds():
    with FakeServer(["e429", "ok"]) as srv:
        t = time.time()
        assert run(backend(srv.base_url)) == "I am the man without a face."
        assert time.time() - t >= 0.9  # waited for Retry-After: 1, not the 0.01 s backoff
        assert srv.requests == 2


def test_429_forever_is_a_bounded_clear_error():
    with FakeServer(["e429"]) as srv:
        with pytest.raises(BackendError) as err:
            run(backend(srv.base_url, retries=1))
        assert srv.requests == 2
    assert_clear(err.value, "429")


def test_500_is_retried_then_reported():
    with FakeServer(["e500", "e500", "ok"]) as srv:
        assert run(backend(srv.base_url)) == "I am the man without a face."
    with FakeServer(["e500"]) as srv:
        with pytest.raises(BackendError) as err:
            run(backend(srv.base_url))
        assert srv.requests == 3
    assert_clear(err.value, "server error")


def test_malformed_json_is_a_clear_error():
    with FakeServer(["malformed"]) as srv:
        with pytest.raises(BackendError) as err:
            run(backend(srv.base_url))
    assert_clear(err.value, srv.base_url)


def test_stream_cut_mid_answer_keeps_the_partial_text():
    with FakeServer(["cut"]) as srv:
        got = []
        with pytest.raises(StreamCut) as err:
            for delta in backend(srv.base_url).stream(MSG):
                got.append(delta)
    assert err.value.partial == "I remember the liquid oxygen" == "".join(got)
    assert_clear(err.value, "cut off")


def test_remote_endpoint_without_key_names_the_fix(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BackendError, match="OPENAI_API_KEY"):
        run(OpenAIBackend(model="gpt-4o-mini"))
