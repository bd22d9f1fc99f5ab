"""Commands of intake's classifier: retrain (and promote), evaluate, check the overrides.

    python -m whistle_intake retrain [--model-dir DIR] [--no-corrections] [--package]
    python -m whistle_intake evaluate [--model PATH] [--eval-dir DIR]
    python -m whistle_intake check-overrides
    python -m whistle_intake promote VERSION [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

from whistle_catalogue import load_catalogue

from ..adapters.corpus import CORRECTION_WEIGHT, Example, check_labels, data_dir, read_dir
from ..adapters.evaluation import evaluate
from ..adapters.model_store import ModelStore, load_overrides
from ..adapters.textmodel import LinearTextModel, ModelUnavailable, load_model
from ..domain.classifier import Overrides, classify
from ..settings import Settings

TOLERANCE = 0.005  # a new model is "worse" when its department accuracy is lower by more
KEEP_VERSIONS = 5
REFUSED = 3  # exit status of a retrain whose model was not promoted
UNTRAINED = {"service_order"}  # the community's service orders are chosen by kind, not text


def lead_map() -> dict[str, str]:
    return {c.code: c.lead for c in load_catalogue().categories.values()}


def measure(model: LinearTextModel | None, overrides: Overrides, examples: list[Example],
            lead_of: dict[str, str]) -> dict:
    """The evaluation report of one model (None: the keyword rules alone)."""
    return evaluate(lambda text: classify(text, ranker=model, overrides=overrides,
                                          lead_of=lead_of), examples, lead_of)


async def _corrections(database_url: str) -> list[Example]:
    from whistle_common.db import create_pool

    from ..adapters.uow import PgIntakeUnitOfWork

    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with PgIntakeUnitOfWork(pool) as uow:
            rows = await uow.incidents.corrections()
    finally:
        await pool.close()
    return [Example(r["text"], r["to_category"], CORRECTION_WEIGHT,
                    f"correction:{r['event_id']}")
            for r in rows if r["to_category"] not in UNTRAINED]


def retrain(args: argparse.Namespace) -> int:
    """Train on the corpus plus corrections; promote only if not worse on the evaluation."""
    from ..adapters.training import train

    settings = Settings()
    lead_of = lead_map()
    corpus = [e for e in read_dir(data_dir("corpus")) if e.category not in UNTRAINED]
    corrections = [] if args.no_corrections or args.package else asyncio.run(
        _corrections(settings.database_url))
    check_labels(corpus + corrections, set(lead_of))
    held_out = read_dir(args.eval_dir or data_dir("evaluation"))
    overrides = load_overrides()
    if args.package:
        model = train(corpus, lead_of, out_dir=data_dir("model"))
        report = measure(model, overrides, held_out, lead_of)
        _write_report(data_dir("model"), report, None)
        print(json.dumps({"version": model.version, "evaluation": _summary(report)}))
        return 0
    root = args.model_dir or settings.model_dir
    if root is None:
        print("retrain needs --model-dir or WHISTLE_MODEL_DIR", file=sys.stderr)
        return 2
    outcome = retrain_into(ModelStore(Path(root)), corpus + corrections, held_out,
                           lead_of=lead_of, overrides=overrides)
    print(json.dumps({**outcome, "corrections": len(corrections)}))
    return 0 if outcome["promoted"] else REFUSED


def retrain_into(store: ModelStore, examples: list[Example], held_out: list[Example], *,
                 lead_of: dict[str, str], overrides: Overrides) -> dict:
    """Train a new version into the store, measure it and the current one on the held-out
    set, and promote the new one unless it is worse."""
    from ..adapters.training import train

    store.root.mkdir(parents=True, exist_ok=True)
    current = _current(store)
    building = store.root / ".building"
    shutil.rmtree(building, ignore_errors=True)
    model = train(examples, lead_of, out_dir=building,
                  base_version=current.version if current else "")
    final = store.version_dir(model.version)
    if final.exists():  # the same data retrained within the same second
        shutil.rmtree(building)
    else:
        building.rename(final)
    new_report = measure(load_model(final), overrides, held_out, lead_of)
    old_report = measure(current, overrides, held_out, lead_of) if current else None
    _write_report(final, new_report, old_report)
    worse = old_report is not None and (new_report["department_accuracy"]
                                        < old_report["department_accuracy"] - TOLERANCE)
    if not worse:
        store.promote(model.version)
    _prune(store)
    return {"version": model.version, "promoted": not worse,
            "previous": current.version if current else None,
            "evaluation": _summary(new_report),
            "previous_evaluation": _summary(old_report) if old_report else None}


def _prune(store: ModelStore, keep: int = KEEP_VERSIONS) -> None:
    """Keep the promoted version and the newest few others (to compare, or to roll back)."""
    versions = sorted((p for p in store.root.iterdir()
                       if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    for old in versions[:-keep]:
        if old.name != store.current_version():
            shutil.rmtree(old, ignore_errors=True)


def _current(store: ModelStore) -> LinearTextModel | None:
    try:
        return load_model(store.current_dir())
    except ModelUnavailable:
        return None


def _write_report(folder: Path, new: dict, old: dict | None) -> None:
    body = {"evaluation": new, "previous_evaluation": old}
    (folder / "evaluation.json").write_text(json.dumps(body, ensure_ascii=False, indent=1),
                                            "utf-8")


def _summary(report: dict) -> dict:
    keys = ("examples", "department_accuracy", "leaf_accuracy", "macro_f1", "at_threshold")
    return {k: report[k] for k in keys}


def evaluate_command(args: argparse.Namespace) -> int:
    """Print the evaluation summary of a model directory (default: the shipped model)."""
    lead_of = lead_map()
    model = load_model(Path(args.model) if args.model else data_dir("model"))
    report = measure(model, load_overrides(), read_dir(args.eval_dir or data_dir("evaluation")),
                     lead_of)
    print(json.dumps({"version": model.version, **_summary(report)}, ensure_ascii=False))
    return 0


def check_overrides(_: argparse.Namespace) -> int:
    """Each keyword rule's precision on the corpus; fail when one is below 97%."""
    corpus = read_dir(data_dir("corpus"))
    failing = 0
    for rule in load_overrides().rules:
        fired = Counter(e.category for e in corpus if rule.hits(e.text))
        total = sum(fired.values())
        precision = fired[rule.category] / total if total else 1.0
        failing += precision < 0.97
        print(f"{rule.id:28} fires {total:4}  precision {precision:.1%}  "
              f"{dict(fired.most_common(4))}")
    return 1 if failing else 0


def promote(args: argparse.Namespace) -> int:
    """Point the running services at a stored version (a rollback, or a manual choice)."""
    root = args.model_dir or Settings().model_dir
    if root is None:
        print("promote needs --model-dir or WHISTLE_MODEL_DIR", file=sys.stderr)
        return 2
    try:
        ModelStore(Path(root)).promote(args.version)
    except ModelUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps({"promoted": args.version}))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m whistle_intake")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("retrain", help="train, evaluate, promote unless worse")
    p.add_argument("--model-dir", type=Path)
    p.add_argument("--eval-dir", type=Path)
    p.add_argument("--no-corrections", action="store_true")
    p.add_argument("--package", action="store_true", help="rebuild the shipped model")
    p.set_defaults(run=retrain)
    p = sub.add_parser("evaluate", help="evaluate a model directory")
    p.add_argument("--model", type=Path)
    p.add_argument("--eval-dir", type=Path)
    p.set_defaults(run=evaluate_command)
    sub.add_parser("check-overrides").set_defaults(run=check_overrides)
    p = sub.add_parser("promote", help="serve a stored version (rollback)")
    p.add_argument("version")
    p.add_argument("--model-dir", type=Path)
    p.set_defaults(run=promote)
    args = parser.parse_args(argv)
    return args.run(args)
