"""Settings of the dispatch service, from environment variables."""

from whistle_common.settings import service_settings


class Settings(service_settings("dispatch", 8002)):
    """dispatch settings: the common ones plus anything below."""
