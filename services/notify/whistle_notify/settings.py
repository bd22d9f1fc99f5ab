"""Settings of the notify service, from environment variables."""

from whistle_common.settings import service_settings


class Settings(service_settings("notify", 8004)):
    """notify settings: the common ones plus anything below."""
