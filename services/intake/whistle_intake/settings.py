"""Settings of the intake service, from environment variables."""

from whistle_common.settings import service_settings


class Settings(service_settings("intake", 8001)):
    """intake settings: the common ones plus anything below."""
