"""Any backend as a LangChain chat model, so chains can ``|`` it like ``ChatOpenAI``.

Design choice: a thin ``BaseChatModel`` adapter over our ``Backend`` (rather than ``ChatOpenAI`` /
``ChatLlamaCpp``), so every backend, retries and partial-stream handling included, behaves the
same inside a chain as outside it.

    >>> chat = BackendChatModel(backend=get_backend(settings))
    >>> chat.invoke("Who are you?").content                                   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Iterator

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from backends.base import Backend, GenerationOptions

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def to_openai_messages(messages: list[BaseMessage]) -> list[dict]:
    return [{"role": _ROLES.get(m.type, "user"), "content": m.content} for m in messages]


class BackendChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    backend: Backend
    options: GenerationOptions = GenerationOptions()

    @property
    def _llm_type(self) -> str:
        return f"face-{self.backend.name}"

    @property
    def _identifying_params(self) -> dict:
        return {"backend": self.backend.name, "model": self.backend.model}

    def _opts(self, stop, kwargs) -> GenerationOptions:
        fields = {k: v for k, v in kwargs.items() if k in GenerationOptions.__dataclass_fields__}
        if stop:
            fields["stop"] = tuple(stop)
        return GenerationOptions(**{**self.options.__dict__, **fields})

    def _stream(self, messages, stop=None, run_manager=None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for delta in self.backend.stream(to_openai_messages(messages), self._opts(stop, kwargs)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
            if run_manager:
                run_manager.on_llm_new_token(delta, chunk=chunk)
            yield chunk

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        text = "".join(c.text for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
