"""Settings of the scoring service, from environment variables."""

from whistle_common.settings import service_settings


class Settings(service_settings("scoring", 8003)):
    """scoring settings: the common ones plus anything below."""
