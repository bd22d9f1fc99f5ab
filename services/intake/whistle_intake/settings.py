"""Settings of the intake service, from environment variables."""

from pathlib import Path

from pydantic import AliasChoices, Field
from whistle_common.settings import service_settings


class Settings(service_settings("intake", 8001, fetch_gather_ms=250)):
    """intake settings: the common ones plus the per-client rate limit."""

    rate_limit_per_second: float = Field(
        300.0, gt=0, validation_alias=AliasChoices("INTAKE_RATE_LIMIT_PER_SECOND",
                                                   "rate_limit_per_second"))
    rate_limit_burst: float = Field(
        600.0, ge=1, validation_alias=AliasChoices("INTAKE_RATE_LIMIT_BURST",
                                                   "rate_limit_burst"))
    model_dir: Path | None = Field(
        None, validation_alias=AliasChoices("WHISTLE_MODEL_DIR", "model_dir"),
        description="promoted classifier models (<dir>/CURRENT); unset: the shipped model")
    model_refresh_seconds: float = Field(
        5.0, gt=0, validation_alias=AliasChoices("WHISTLE_MODEL_REFRESH_SECONDS",
                                                 "model_refresh_seconds"))
