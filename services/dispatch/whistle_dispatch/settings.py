"""Settings of the dispatch service, from environment variables."""

from pydantic import Field
from whistle_common.settings import service_settings


class Settings(service_settings("dispatch", 8002)):
    """dispatch settings: the common ones plus routing policy."""

    max_returns: int = Field(2, ge=1, le=10, description="returns before the street office")
    gauge_refresh_seconds: float = Field(5.0, gt=0)
