"""`make eval`: the classifier's evaluation report → bench/results/<date>-classifier.{json,md}.

Measured on the held-out evaluation set (written apart from the corpus, never trained on), on
the project's own 206 hand-written simulator texts (written before this model, by other
hands), and with the keyword rules alone as the baseline. Also: model load time, the memory
the model adds, and the latency of one classification.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path

from whistle_intake.adapters.corpus import data_dir, read_dir, read_jsonl
from whistle_intake.adapters.model_store import load_overrides
from whistle_intake.adapters.textmodel import load_model
from whistle_intake.entrypoints.cli import lead_map, measure

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "clients" / "whistle_clients" / "data" / "incident_texts.jsonl"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=data_dir("model"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    lead_of, overrides = lead_map(), load_overrides()
    before = rss_mb()
    started = time.perf_counter()
    model = load_model(args.model)
    model.rank("预热")
    load_seconds = time.perf_counter() - started
    grown = rss_mb() - before
    held_out = read_dir(data_dir("evaluation"))
    sample = [e for e in read_jsonl([SAMPLE]) if e.category not in ("general", "service_order")]
    report = {
        "date": date.today().isoformat(), "model_version": model.version,
        "threshold": model.threshold, "temperature": model.meta["temperature"],
        "target_accuracy": model.meta["target_accuracy"],
        "training": model.meta["training"], "out_of_fold": model.meta["out_of_fold"],
        "load_seconds": round(load_seconds, 3), "rss_growth_mb": round(grown, 1),
        "held_out": measure(model, overrides, held_out, lead_of),
        "simulator_sample": measure(model, overrides, sample, lead_of),
        "rules_only_baseline": measure(None, overrides, held_out, lead_of),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{report['date']}-classifier"
    stem.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=1),
                                         "utf-8")
    stem.with_suffix(".md").write_text(markdown(report), "utf-8")
    print(markdown(report))


def _row(name: str, r: dict) -> str:
    t = r["at_threshold"]
    return (f"| {name} | {r['examples']} | {r['department_accuracy']:.1%} | "
            f"{r['leaf_accuracy']:.1%} | {r['top3_accuracy']:.1%} | {r['macro_f1']:.3f} | "
            f"{t['triage_rate']:.1%} | {t['dispatched_department_accuracy']:.1%} |")


def markdown(report: dict) -> str:
    h = report["held_out"]
    lines = [
        f"# Classifier evaluation — {report['date']}",
        "",
        f"Model `{report['model_version']}`: {report['training']['examples']} training texts, "
        f"{report['training']['features']} features; temperature "
        f"{report['temperature']:.3f}; triage threshold {report['threshold']:.2f} (department "
        f"confidence, chosen on out-of-fold predictions of the corpus for ≥ "
        f"{report['target_accuracy']:.0%} dispatched accuracy — never on the evaluation set).",
        "",
        "| set | texts | right lead dept | right leaf | top-3 leaf | macro-F1 (leaf) | "
        "to triage | dept accuracy of the rest |",
        "|---|---|---|---|---|---|---|---|",
        _row("held-out evaluation set", h),
        _row("simulator texts (first round, other hands)", report["simulator_sample"]),
        _row("keyword overrides alone (baseline)", report["rules_only_baseline"]),
        "",
        f"Load {report['load_seconds']} s; memory added by the model "
        f"{report['rss_growth_mb']} MB; classification p50 {h['latency_ms']['p50']} ms, "
        f"p99 {h['latency_ms']['p99']} ms (held-out texts, one at a time).",
        "",
        "## Coverage / accuracy (held-out; department confidence threshold)",
        "",
        "| threshold | dispatched without a person | right lead dept among them |",
        "|---|---|---|",
        *[f"| {p['threshold']:.2f} | {p['coverage']:.1%} | {p['accuracy']:.1%} |"
          for p in h["curve"]],
        "",
        "## Top confusions (held-out, leaf level)",
        "",
        "| true | predicted | count |",
        "|---|---|---|",
        *[f"| {c['true']} | {c['predicted']} | {c['count']} |" for c in h["top_confusions"]],
        "",
        "## Per category (held-out)",
        "",
        "| category | support | precision | recall | F1 |",
        "|---|---|---|---|---|",
        *[f"| {code} | {p['support']} | {p['precision']:.2f} | {p['recall']:.2f} | "
          f"{p['f1']:.2f} |" for code, p in h["per_category"].items()],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

