"""Settings of the scoring service, from environment variables (`SCORING_*` for its own)."""

from typing import Any

from pydantic import AliasChoices, Field
from whistle_common.settings import service_settings


def _env(name: str, default: Any, description: str, **limits: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(f"SCORING_{name.upper()}", name),
                 description=description, **limits)


class Settings(service_settings("scoring", 8003, fetch_gather_ms=250)):
    """scoring settings: the common ones plus the hotspot windows."""

    hotspot_window_seconds: float = _env(
        "hotspot_window_seconds", 3600.0,
        "length of the hotspot counting windows (the history is kept per window: change it "
        "and baselines start afresh)", ge=10)
    hotspot_min_count: int = _env("hotspot_min_count", 5,
                                  "never raise a hotspot on fewer incidents in a window", ge=2)
