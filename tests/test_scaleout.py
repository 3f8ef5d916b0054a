"""Scale-out: the whole app against a Chroma server (`chroma run`) and an OpenAI-compatible model
server (`python app.py model-server`), each a separate process, configured only through env."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from backends.bundled import bundled
from core.config import ROOT

from servers import chroma_server, llama_server


@pytest.mark.slow
def test_app_on_servers_configured_by_env_only(tmp_path, shared_settings):
    model = str(bundled("smollm2").path(shared_settings.data_dir))
    with chroma_server(tmp_path / "chroma") as cport, llama_server(model) as lport:
        env = {**os.environ, "FACE_DATA_DIR": str(tmp_path / "data"), "CHROMA_HOST": "127.0.0.1",
               "CHROMA_PORT": str(cport), "FACE_BACKEND": "openai", "OPENAI_BASE_URL": f"http://127.0.0.1:{lport}/v1",
               "FACE_MODEL": "smollm2"}
        env.pop("OPENAI_API_KEY", None)

        def app(*args):
            return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True,
                                  text=True, timeout=900)

        r = app("ingest", "--quiet")
        assert r.returncode == 0 and "Chroma server 127.0.0.1" in r.stdout, r.stderr[-800:]
        r = app("ask", "--character", "hero", "--json", "Wie hast du dein Gesicht verbrannt?")
        assert r.returncode == 0, r.stderr[-800:]
        ans = json.loads(r.stdout)
        assert ans["backend"] == "openai" and ans["language"] == "de" and ans["answer"]
        assert ans["mode"] == "abstained" or ans["citations"]
        r = app("evals", "run", "--kind", "persona", "--per-kind", "2", "--quiet", "--out", str(tmp_path / "ev"))
        assert r.returncode == 0, r.stderr[-800:]
    assert not (tmp_path / "data" / "chroma").exists()   # the store lived in the server only
