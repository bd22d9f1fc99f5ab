"""Where models live, which one is promoted, and the one the running service uses.

Models load only from the package (`whistle_intake/data/model`) or from the configured
directory (`WHISTLE_MODEL_DIR`): `<dir>/<version>/` per model and `<dir>/CURRENT` naming the
promoted one. The service checks CURRENT every few seconds and swaps a new model in without a
restart; a missing or broken model leaves the keyword rules in charge, and says so.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import structlog
from prometheus_client import Gauge, Histogram

from ..domain.classifier import Classification, Overrides, classify
from .textmodel import LinearTextModel, ModelUnavailable, load_model

log = structlog.get_logger()
MODEL_INFO = Gauge("whistle_classifier_model_info", "The model intake classifies with (1)",
                   ["version"])
RULES_ONLY = Gauge("whistle_classifier_rules_only",
                   "1 when no model could be loaded and only the keyword rules classify")
LOAD_SECONDS = Gauge("whistle_classifier_load_seconds", "Time the current model took to load")
LATENCY = Histogram("whistle_classification_seconds", "Time to classify one text",
                    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1))


def package_model_dir() -> Path:
    """The model shipped with intake."""
    return Path(str(resources.files("whistle_intake") / "data" / "model"))


def load_overrides() -> Overrides:
    """The high-precision keyword rules shipped as data."""
    text = (resources.files("whistle_intake") / "data" / "overrides.json").read_text("utf-8")
    return Overrides.from_dict(json.loads(text))


class ModelStore:
    """Versions of models in one directory and the pointer to the promoted one."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def current_version(self) -> str | None:
        if self.root is None:
            return None
        try:
            return (self.root / "CURRENT").read_text("utf-8").strip() or None
        except OSError:
            return None

    def current_dir(self) -> Path:
        version = self.current_version()
        return self.root / version if version else package_model_dir()

    def version_dir(self, version: str) -> Path:
        if self.root is None:
            raise ModelUnavailable("no model directory configured (WHISTLE_MODEL_DIR)")
        if not version or "/" in version or version.startswith("."):
            raise ModelUnavailable(f"bad model version {version!r}")
        return self.root / version

    def promote(self, version: str) -> None:
        """Point CURRENT at a version atomically (a rename), after checking it loads."""
        load_model(self.version_dir(version))
        pointer = self.root / "CURRENT"
        staging = self.root / f".CURRENT.{os.getpid()}"
        staging.write_text(version + "\n", "utf-8")
        staging.replace(pointer)


@dataclass
class ClassifierHolder:
    """The classifier the service uses right now; `refresh` swaps in a newly promoted model."""

    store: ModelStore
    overrides: Overrides
    lead_of: dict[str, str]
    model: LinearTextModel | None = None
    loaded_from: str | None = None
    error: str | None = None
    _label: str | None = field(default=None, repr=False)

    def classify(self, text: str) -> Classification:
        started = time.perf_counter()
        result = classify(text, ranker=self.model, overrides=self.overrides,
                          lead_of=self.lead_of)
        LATENCY.observe(time.perf_counter() - started)
        return result

    @property
    def version(self) -> str:
        return self.model.version if self.model else f"rules-{self.overrides.version}"

    def wanted(self) -> str:
        return str(self.store.current_dir())

    def refresh(self) -> bool:
        """Load the promoted model if it changed; True when a new model was swapped in."""
        wanted = self.wanted()
        if wanted == self.loaded_from:
            return False
        started = time.perf_counter()
        try:
            model = load_model(Path(wanted))
            model.rank("预热")  # first call builds the character tables
        except ModelUnavailable as exc:
            self.loaded_from, self.error = wanted, str(exc)
            if self.model is None:
                RULES_ONLY.set(1)
            log.error("classifier model unavailable", error=str(exc), keeping=self.version)
            return False
        self.model, self.loaded_from, self.error = model, wanted, None
        LOAD_SECONDS.set(time.perf_counter() - started)
        if self._label:
            MODEL_INFO.remove(self._label)
        self._label = model.version
        MODEL_INFO.labels(model.version).set(1)
        RULES_ONLY.set(0)
        log.info("classifier model loaded", version=model.version, source=wanted,
                 seconds=round(time.perf_counter() - started, 3))
        return True

    def status(self) -> dict:
        """For /readyz: which model serves, or that only the rules do."""
        return {"mode": "model" if self.model else "rules_only", "version": self.version,
                "error": self.error}
