"""The layering rule of the README's design notes ("Layers"): domain/ holds pure rules and
imports only the standard library; handlers run on a unit of work and never touch asyncpg;
entrypoints and composition roots decode, call a use case and encode — no SQL there."""

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(ROOT.glob("services/*/whistle_*"))
PURE = [*(s / "domain" for s in SERVICES), ROOT / "libs/catalogue/whistle_catalogue"]
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+TABLE|ON\s+CONFLICT)\b", re.IGNORECASE | re.DOTALL)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _sql_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                SQL.search(node.value):
            found.append(node.value.strip().splitlines()[0][:60])
    return found


def _handlers() -> list[Path]:
    files = []
    for service in SERVICES:
        files += [service / "handlers.py"] if (service / "handlers.py").exists() else []
        files += sorted((service / "handlers").rglob("*.py"))
    return files


def _entrypoints() -> list[Path]:
    files = []
    for service in SERVICES:
        files += sorted((service / "entrypoints").rglob("*.py"))
        files += [p for p in (service / "main.py", service / "__main__.py") if p.exists()]
    return files


def test_the_layers_exist_in_every_service():
    assert len(SERVICES) == 4
    assert all((s / "domain").is_dir() and (s / "entrypoints").is_dir() for s in SERVICES)
    assert len(_handlers()) >= 4 and len(_entrypoints()) >= 8


def test_domain_imports_only_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    offenders = {}
    for folder in PURE:
        for file in folder.rglob("*.py"):
            bad = _imports(file) - allowed
            if bad:
                offenders[str(file.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_handlers_never_import_asyncpg():
    offenders = [str(f.relative_to(ROOT)) for f in _handlers() if "asyncpg" in _imports(f)]
    assert offenders == []


def test_handlers_entrypoints_and_composition_roots_hold_no_sql():
    offenders = {str(f.relative_to(ROOT)): _sql_strings(f)
                 for f in [*_handlers(), *_entrypoints()] if _sql_strings(f)}
    assert offenders == {}


def test_the_sql_detector_finds_sql():
    probe = ROOT / "services/intake/whistle_intake/adapters/repository.py"
    assert _sql_strings(probe), "the detector must see the repository's SQL"
