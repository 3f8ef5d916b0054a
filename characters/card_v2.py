"""Character Card V2 (``chara_card_v2``, the JSON SillyTavern and others use): export and import.

Design choices:
- Export fills the standard fields (name, description, personality, scenario, first_mes,
  mes_example, system_prompt, character_book ...) so other tools show a sensible card, and keeps the
  whole of our card under ``data.extensions.face_of_another``; memories also become lorebook
  entries (keys = aliases of what they mention, content = the English memory).
- Import of a card that carries our extension restores it exactly (round trip). A foreign card
  becomes a card with no memories: it speaks through the guarded model and abstains, since
  uncited lore cannot be checked against the texts. Either way the result is written as
  ``characters/<id>.yaml`` and works with our retrieval like any built-in card.

    >>> card = import_v2(export_v2("hero"))
    >>> card["id"], len(card["memories"]) > 10
    ('hero', True)
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from core.errors import UsageError
from core.yamltext import load_yaml
from retrieval.corpus import load_corpus

from characters import CARDS_DIR
from characters.schema import check_id, validate

EXT = "face_of_another"


def _raw(character: str, cards_dir: Path = CARDS_DIR) -> dict:
    path = Path(cards_dir) / f"{character}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in Path(cards_dir).glob("*.yaml"))
        raise UsageError(f"unknown character {character!r}; choose one of: {', '.join(known)}")
    return load_yaml(path.read_text(encoding="utf-8"))


def export_v2(character: str, cards_dir: Path = CARDS_DIR) -> dict:
    raw = _raw(character, cards_dir)
    entries = [{"id": i, "keys": list(raw.get("aliases", []))[:3] or [raw["name"]["en"]],
                "content": m["text"]["en"], "enabled": True, "insertion_order": i, "constant": False,
                "extensions": {"cites": m["cites"]}} for i, m in enumerate(raw.get("memories", []))]
    return {
        "spec": "chara_card_v2", "spec_version": "2.0",
        "data": {
            "name": raw["name"]["en"], "description": raw["description"]["en"], "personality": raw.get("voice", ""),
            "scenario": f"Kobo Abe's The Face of Another ({' and '.join(raw['works'])}).",
            "first_mes": f"I am {raw['name']['en'].rstrip('.')}. Ask me.",
            "mes_example": "", "creator_notes": "Exported from the Face of Another interview product; "
                                                "memories cite sentences of the source texts.",
            "system_prompt": "", "post_history_instructions": "", "alternate_greetings": [],
            "character_book": {"name": f"{raw['name']['en']} memories", "entries": entries, "extensions": {}},
            "tags": ["The Face of Another", *raw["works"]], "creator": "face-of-another",
            "character_version": "1", "extensions": {EXT: raw},
        },
    }


def _slug(name: str) -> str:
    """A safe id from a display name: ``"Dr. Who?"`` -> ``"dr_who"`` (at most 32 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:32].strip("_")
    return slug if slug[:1].isalpha() else f"card_{slug}"[:32].strip("_")


def import_v2(card_json: dict) -> dict:
    """Our card dict (the YAML schema) from a V2 card; raises UsageError on anything malformed."""
    if not isinstance(card_json, dict) or card_json.get("spec") != "chara_card_v2" or not isinstance(card_json.get("data"), dict):
        raise UsageError("not a Character Card V2: expected {\"spec\": \"chara_card_v2\", \"data\": {...}}")
    data = card_json["data"]
    extensions = data.get("extensions") if isinstance(data.get("extensions"), dict) else {}
    if EXT in extensions:
        if not isinstance(extensions[EXT], dict) or not extensions[EXT]:
            raise UsageError(f"the card's extensions.{EXT} must be a whole card (id, name, works, ...)")
        return extensions[EXT]
    name = str(data.get("name") or "").strip()
    if not name:
        raise UsageError("the card has no name")
    same = {lang: name for lang in ("en", "ru", "de")}
    desc = str(data.get("description") or name)
    line = {lang: ["I don't remember that."] * 2 for lang in ("en", "ru", "de")}
    return {"id": _slug(name), "name": same, "aliases": [name], "works": ["novel", "film"],
            "description": {lang: desc for lang in ("en", "ru", "de")}, "voice": str(data.get("personality") or ""),
            "as_of": {"novel": "ending", "film": "film_ending"},  # validated with the rest on import
            "scope": {"events": [e.id for e in load_corpus().events], "learns_all_at": None},
            "facts": [], "memories": [], "abstain": line, "refuse": line, "deflect": line}


def import_file(path: str, cards_dir: Path = CARDS_DIR, overwrite: bool = False) -> Path:
    """Validate the card entirely, then write ``<cards_dir>/<id>.yaml`` in one step (a temporary file
    renamed into place). The id is checked before it names anything; nothing else is written."""
    try:
        card = import_v2(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}") from None
    except RecursionError:
        raise UsageError(f"{path} is nested too deeply to be a card") from None
    validate(card, load_corpus())
    cards_dir = Path(cards_dir).resolve()
    target = cards_dir / f"{check_id(card['id'])}.yaml"
    if target.parent != cards_dir:
        raise UsageError(f"card id {card['id']!r} does not name a file in {cards_dir}")
    if target.exists() and not overwrite:
        raise UsageError(f"{target} exists; pass --overwrite to replace it")
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(yaml.safe_dump(card, allow_unicode=True, sort_keys=False, width=4096), encoding="utf-8")
    os.replace(tmp, target)
    return target
