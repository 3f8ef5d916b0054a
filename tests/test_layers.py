"""Layers point down: each package imports only packages on lower floors (any import, at module
level or inside a function), ``core`` imports none of ours, and only ``app.py`` imports the CLI."""
import ast
from pathlib import Path

from conftest import ROOT

FLOORS = {"core": 0, "retrieval": 1, "backends": 2, "characters": 2, "chat": 3, "evals": 4, "ui": 4, "cli": 5}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out & set(FLOORS)


def test_every_package_imports_only_lower_floors():
    wrong = []
    for package, floor in FLOORS.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for other in _imports(path) - {package}:
                if FLOORS[other] >= floor:
                    wrong.append(f"{path.relative_to(ROOT)} imports {other}")
    assert not wrong, wrong


def test_core_is_the_ground_floor_and_only_app_py_imports_the_cli():
    assert all(not _imports(p) - {"core"} for p in (ROOT / "core").rglob("*.py"))
    users = [p.relative_to(ROOT) for p in ROOT.rglob("*.py") if "cli" in _imports(p)
             and p.relative_to(ROOT).parts[0] not in ("cli", "tests")]
    assert users == [Path("app.py")]
