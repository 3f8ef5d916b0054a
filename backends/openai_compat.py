"""OpenAI and any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp's server).

Design choices:
- The official ``openai`` SDK, imported on first use, with its own retries off: retries are done
  here so they are bounded, honour ``Retry-After``, happen only before the first token (a retried
  half-answer would repeat itself), and end in one message naming the endpoint and the fix.
- A stream that breaks after some text raises ``StreamCut`` with the text received so far.
- The key comes from ``OPENAI_API_KEY`` only. A local base URL needs none. The key is never part
  of a message, a log line or ``describe()``.
- ``repeat_penalty`` is sent (as an extra body field) only to non-OpenAI servers, which know it.

    >>> b = OpenAIBackend(model="qwen2.5:7b", base_url="http://localhost:11434/v1")
    >>> b.describe()
    'openai:qwen2.5:7b@http://localhost:11434/v1'
"""
from __future__ import annotations

import os
import time
from urllib.parse import urlparse

from backends.base import Backend, GenerationOptions, StreamCut
from backends.bundled import BUNDLED
from core.errors import BackendError

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
MAX_RETRY_AFTER = 30.0


def _retry_after(exc) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(value), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:
        return None


def _is_transport_error(exc: Exception) -> bool:
    """Errors a broken or garbled stream raises: the SDK's, httpx/httpcore's, JSON decoding."""
    import openai

    return isinstance(exc, (openai.APIError, ValueError, OSError)) or \
        type(exc).__module__.split(".")[0] in ("httpx", "httpcore")


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: str = "", base_url: str = "", timeout: float = 60.0, retries: int = 3,
                 context: int = 0, backoff: float = 0.5, **_):
        self._model = model or "gpt-4o-mini"
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL", "")).rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.context = context or 8192
        self.backoff = backoff
        self._client = None

    @property
    def model(self) -> str:
        return self._model

    def capable_by_default(self) -> bool:
        """A bundled model served by ``app.py model-server`` (its name) is as small as in process."""
        return self._model not in BUNDLED

    def writes(self, lang: str) -> bool:
        return lang in BUNDLED[self._model].languages if self._model in BUNDLED else True

    @property
    def endpoint(self) -> str:
        return self.base_url or "https://api.openai.com/v1"

    @property
    def is_local(self) -> bool:
        return bool(self.base_url) and (urlparse(self.base_url).hostname or "") in _LOCAL_HOSTS

    @property
    def context_window(self) -> int:
        return self.context

    def describe(self) -> str:
        return f"openai:{self._model}@{self.endpoint}"

    def count_tokens(self, text: str) -> int:
        from retrieval.chunking import count_tokens

        return count_tokens(text)  # cl100k: exact for OpenAI models, an estimate for others

    def _sdk(self):
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise BackendError("the openai backend needs the openai package: pip install -r requirements.txt") from None
            key = os.environ.get("OPENAI_API_KEY", "")
            if not key and not self.base_url:
                raise BackendError("the openai backend needs OPENAI_API_KEY, or --base-url for a local server "
                                   "(e.g. http://localhost:11434/v1 for Ollama)")
            self._client = openai.OpenAI(api_key=key or "not-needed", base_url=self.base_url or None,
                                         timeout=self.timeout, max_retries=0)
        return self._client

    def _fail(self, what: str) -> BackendError:
        return BackendError(f"the model server at {self.endpoint} {what}; check that it is running and "
                            "that --base-url/OPENAI_BASE_URL and --model are right")

    def _open_stream(self, messages, options: GenerationOptions):
        import openai

        kwargs = dict(model=self._model, messages=messages, temperature=options.temperature,
                      max_tokens=options.max_tokens, stream=True)
        if options.stop:
            kwargs["stop"] = list(options.stop)
        if options.seed is not None:
            kwargs["seed"] = options.seed
        if options.repeat_penalty is not None and self.base_url:
            kwargs["extra_body"] = {"repeat_penalty": options.repeat_penalty}
        client = self._sdk()
        for attempt in range(self.retries + 1):
            try:
                return client.chat.completions.create(**kwargs)
            except openai.AuthenticationError:
                raise BackendError(f"the model server at {self.endpoint} rejected the API key; set a valid OPENAI_API_KEY") from None
            except openai.NotFoundError:
                raise BackendError(f"the model server at {self.endpoint} has no model {self._model!r}; pass --model") from None
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
                if attempt == self.retries:
                    reason = {openai.RateLimitError: "kept answering 429 (rate limited)",
                              openai.InternalServerError: "kept failing with a server error",
                              openai.APITimeoutError: f"did not answer within {self.timeout:g} s",
                              }.get(type(exc), "could not be reached")
                    raise self._fail(f"{reason} after {attempt + 1} attempts") from None
                time.sleep(_retry_after(exc) or self.backoff * 2 ** attempt)
            except openai.APIStatusError as exc:
                raise self._fail(f"answered HTTP {exc.status_code}") from None
            except openai.APIError as exc:
                raise self._fail(f"sent a response that could not be read ({type(exc).__name__})") from None

    def stream(self, messages, options: GenerationOptions = GenerationOptions()):
        response = self._open_stream(messages, options)
        got: list[str] = []
        try:
            for chunk in response:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta.content if chunk.choices[0].delta else None
                if delta:
                    got.append(delta)
                    yield delta
        except Exception as exc:
            if not _is_transport_error(exc):
                raise
            text = "".join(got)
            if text:
                raise StreamCut(f"the answer from {self.endpoint} was cut off ({type(exc).__name__})", text) from None
            raise self._fail(f"broke off the answer ({type(exc).__name__})") from None
        finally:
            response.close()
