"""Settings of the dispatch service, from environment variables (`DISPATCH_*` for its own)."""

from typing import Any

from pydantic import AliasChoices, Field, field_validator
from whistle_common.settings import service_settings

from .domain.supervision import Policy


def _env(name: str, default: Any, description: str, **limits: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(f"DISPATCH_{name.upper()}", name),
                 description=description, **limits)


class Settings(service_settings("dispatch", 8002)):
    """dispatch settings: the common ones plus routing and supervision policy."""

    max_returns: int = _env("max_returns", 2, "returns (退单) before the street office",
                            ge=1, le=10)
    gauge_refresh_seconds: float = _env(
        "gauge_refresh_seconds", 1.0,
        "least seconds between two reads of the open/overdue gauges (a scrape reads them)", gt=0)
    time_scale: float = _env("time_scale", 1.0,
                             "multiply deadline durations (a fast clock for demos and tests)",
                             gt=0, le=1)
    escalation_policy: str = _env("escalation_policy", "street=7200,district=14400,city=28800",
                                  "seconds after the previous stage before each level")
    sweep_seconds: float = _env("sweep_seconds", 1.0,
                                "least time between two sweeps for due stages", gt=0)
    sweep_idle_seconds: float = _env(
        "sweep_idle_seconds", 10.0,
        "most time between two sweeps: a worker sweeps when the earliest deadline comes, or "
        "after this long (deadlines another worker wrote)", gt=0)
    autoclose_seconds: float = _env("autoclose_seconds", 7 * 86400,
                                    "a resolved case not rated closes after this", gt=0)
    merge_categories: str = _env(
        "merge_categories", "*",
        "categories whose calls are merged into an open case (并单): * for all, a comma "
        "list of category codes, or none")
    merge_distance_m: float = _env("merge_distance_m", 500.0,
                                   "farthest two calls of one problem are apart (metres), "
                                   "besides the same grid; utilities allow 3 times as far",
                                   ge=0)

    @field_validator("escalation_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        Policy.parse(value)
        return value
