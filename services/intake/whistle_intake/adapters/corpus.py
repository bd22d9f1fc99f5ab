"""Labelled texts: the corpus and the evaluation set shipped as JSON lines, and corrections."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

CORRECTION_WEIGHT = 3.0  # a person's choice counts as much as three corpus texts


@dataclass(frozen=True)
class Example:
    """One labelled text; a correction's `source` names the event that taught it."""

    text: str
    category: str
    weight: float = 1.0
    source: str = "corpus"


def data_dir(name: str) -> Path:
    """A folder of intake's shipped data (`corpus`, `evaluation`, `model`)."""
    return Path(str(resources.files("whistle_intake") / "data" / name))


def read_jsonl(paths: Iterable[Path]) -> list[Example]:
    """Labelled examples from JSON-lines files of {"category", "text"}, in file order."""
    out = []
    for path in sorted(paths):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not row.get("text") or not row.get("category"):
                raise ValueError(f"{path}:{number}: needs text and category")
            out.append(Example(row["text"], row["category"]))
    return out


def read_dir(folder: Path) -> list[Example]:
    """Every `*.jsonl` file of a folder."""
    return read_jsonl(folder.glob("*.jsonl"))


def check_labels(examples: Sequence[Example], known: set[str]) -> None:
    """Refuse examples labelled with a category the catalogue does not have."""
    unknown = sorted({e.category for e in examples} - known)
    if unknown:
        raise ValueError(f"labels not in the catalogue: {unknown}")
