"""Domain code and the catalogue import only the standard library (the layering rule of the
README's design notes: domain/ holds pure rules)."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PURE = [*ROOT.glob("services/*/whistle_*/domain"), ROOT / "libs/catalogue/whistle_catalogue"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_packages_exist():
    assert len(PURE) == 5


def test_domain_imports_only_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    offenders = {}
    for folder in PURE:
        for file in folder.rglob("*.py"):
            bad = _imports(file) - allowed
            if bad:
                offenders[str(file.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}
