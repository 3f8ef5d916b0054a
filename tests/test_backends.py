"""One suite, every backend: real generation with the bundled GGUF in process (llamacpp) and
through a real OpenAI-compatible server started here (`python app.py model-server`, openai)."""
import pytest

from backends import BACKENDS, GenerationOptions, get_backend
from backends.bundled import bundled
from backends.langchain_chat import BackendChatModel
from core.config import load_settings
from core.errors import BackendError, ModelFileError, UnknownNameError

from servers import llama_server

MSG = [{"role": "system", "content": "You answer in one short sentence."},
       {"role": "user", "content": "Name a colour."}]
GREEDY = GenerationOptions(temperature=0.0, max_tokens=12, seed=7)


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    data = str(tmp_path_factory.mktemp("data"))
    model = str(bundled("smollm2").path(data))
    with llama_server(model) as port:
        yield {
            "llamacpp": get_backend(load_settings({"backend": "llamacpp", "data_dir": data}, env={})),
            "openai": get_backend(load_settings({"backend": "openai", "model": "smollm2", "data_dir": data,
                                                 "base_url": f"http://127.0.0.1:{port}/v1"}, env={})),
        }


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_streams_text_deterministically_with_a_fixed_seed(name, backends):
    b = backends[name]
    deltas = list(b.stream(MSG, GREEDY))
    assert len(deltas) >= 2 and "".join(deltas).strip()
    assert b.complete(MSG, GREEDY) == "".join(deltas)


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_max_tokens_and_stop_are_honoured(name, backends):
    b = backends[name]
    long = b.complete([{"role": "user", "content": "Count from one to fifty in words."}],
                      GenerationOptions(temperature=0.0, max_tokens=8, seed=1))
    assert 1 <= b.count_tokens(long) <= 10
    full = b.complete(MSG, GREEDY)
    stop_word = full.split()[1] if len(full.split()) > 1 else full.split()[0]
    cut = b.complete(MSG, GenerationOptions(temperature=0.0, max_tokens=12, seed=7, stop=(stop_word,)))
    assert stop_word not in cut and full.startswith(cut.rstrip())


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_reports_context_window_and_counts_tokens(name, backends):
    b = backends[name]
    assert b.context_window >= 2048
    assert 0 < b.count_tokens("The man who lost his face.") < 20
    assert b.describe().startswith(name + ":")


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_langchain_adapter_invokes_and_streams(name, backends):
    chat = BackendChatModel(backend=backends[name], options=GREEDY)
    whole = chat.invoke([("system", MSG[0]["content"]), ("human", MSG[1]["content"])]).content
    parts = [c.content for c in chat.stream([("system", MSG[0]["content"]), ("human", MSG[1]["content"])])]
    assert whole and "".join(parts) == whole


def test_unknown_backend_and_missing_model_file_are_clear(tmp_path):
    with pytest.raises(UnknownNameError, match="llamacpp, openai"):
        get_backend(load_settings({"backend": "gpt9"}, env={}))
    b = get_backend(load_settings({"model_path": str(tmp_path / "nope.gguf")}, env={}))
    with pytest.raises(BackendError, match="--model-path"):
        b.complete(MSG)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelFileError, match="invalid magic.*GGUF model file"):
        get_backend(load_settings({"model_path": str(bad)}, env={})).complete(MSG)


def test_gemma_is_selectable_by_name(tmp_path):
    b = get_backend(load_settings({"model": "gemma3-270m", "data_dir": str(tmp_path)}, env={}))
    assert b.model == "gemma3-270m"
    assert b.complete(MSG, GenerationOptions(temperature=0.0, max_tokens=4, seed=1)) is not None
    assert (tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf").stat().st_size > 100_000_000


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_a_bundled_model_is_held_as_small_wherever_it_runs(name, backends, tmp_path):
    """SmolLM2 in process or behind `app.py model-server`: the strict support check, English drafts only."""
    from chat.chain import Interviewer
    from chat.verify import settings_data

    b = backends[name]
    assert b.capable is False and b.writes("en") and not b.writes("de")
    iv = Interviewer(load_settings({"data_dir": str(tmp_path)}, env={}), backend=b)
    assert iv.guard.verifier.t["max_informative"] == settings_data()["small_model"]["max_informative"] == 0


def test_a_model_of_your_own_is_capable_unless_declared_small():
    def backend(**kw):
        return get_backend(load_settings({"backend": "openai", "model": "gpt-4o", "base_url": "http://127.0.0.1:9/v1",
                                          **kw}, env={}))

    assert backend().capable and backend().writes("de")
    assert not backend(model_class="small").capable                      # an Ollama 0.5B, say
    assert not backend(model="smollm2").capable and backend(model="smollm2", model_class="capable").capable
    assert get_backend(load_settings({"model_class": "capable"}, env={})).capable   # a big GGUF of your own
    with pytest.raises(UnknownNameError, match="unknown model class .huge.; choose one of: auto, capable, small"):
        backend(model_class="huge")


def test_a_prompt_state_kept_from_an_earlier_request_gives_the_same_answer(tmp_path):
    """The worker restores the KV state of a prompt that opens like the new one (a reader back to a
    character after another): greedy answers are those of a model that read the whole prompt."""
    from backends.llama_load import load_llama
    from backends.llama_states import PromptStates

    path = str(bundled("smollm2").path(str(tmp_path)))
    opening = {who: f"You are {who}. " + f"{who} speaks in short, plain sentences about the mask. " * 12
               for who in ("the man who lost his face", "the doctor")}

    def ask(llm, who, question, states=None):
        msgs = [{"role": "system", "content": opening[who] + question}, {"role": "user", "content": question}]
        if states:
            states.restore(msgs)
        out = "".join(c["choices"][0]["delta"].get("content") or "" for c in llm.create_chat_completion(
            messages=msgs, stream=True, max_tokens=12, temperature=0.0, seed=7))
        if states:
            states.save(msgs)
        return out

    llm = load_llama(path, n_ctx=2048, n_threads=2)
    states = PromptStates(llm)
    ask(llm, "the man who lost his face", "Facts: he burned his face.", states)
    ask(llm, "the doctor", "Facts: he makes masks.", states)
    assert states.restored == 0                      # nothing kept opened like these yet
    kept = ask(llm, "the man who lost his face", "Facts: he rented a room.", states)
    assert states.restored == 1                      # the hero's opening came back from the kept state
    fresh = load_llama(path, n_ctx=2048, n_threads=2)
    assert kept == ask(fresh, "the man who lost his face", "Facts: he rented a room.")
