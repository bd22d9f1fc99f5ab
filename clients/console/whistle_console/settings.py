"""The console's configuration: environment variables only, with local-stack defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-console-secret-not-for-production"


class ConsoleSettings(BaseSettings):
    """`CONSOLE_*` variables; the services' addresses default to the local stack's ports."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "staging", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535,
                      validation_alias=AliasChoices("CONSOLE_PORT", "port"))
    intake_url: str = Field("http://127.0.0.1:8001",
                            validation_alias=AliasChoices("CONSOLE_INTAKE_URL", "intake_url"))
    dispatch_url: str = Field("http://127.0.0.1:8002",
                              validation_alias=AliasChoices("CONSOLE_DISPATCH_URL",
                                                            "dispatch_url"))
    scoring_url: str = Field("http://127.0.0.1:8003",
                             validation_alias=AliasChoices("CONSOLE_SCORING_URL", "scoring_url"))
    notify_url: str = Field("http://127.0.0.1:8004",
                            validation_alias=AliasChoices("CONSOLE_NOTIFY_URL", "notify_url"))
    secret_key: str = Field(DEV_SECRET, min_length=16,
                            validation_alias=AliasChoices("CONSOLE_SECRET_KEY", "secret_key"))
    session_seconds: int = Field(8 * 3600, ge=5, le=7 * 86400,
                                 validation_alias=AliasChoices("CONSOLE_SESSION_SECONDS",
                                                               "session_seconds"))
    cookie_secure: bool | None = Field(
        None, validation_alias=AliasChoices("CONSOLE_COOKIE_SECURE", "cookie_secure"),
        description="Secure flag of the cookies; default: on in production (served over TLS)")
    poll_seconds: int = Field(10, ge=1, le=600,
                              validation_alias=AliasChoices("CONSOLE_POLL_SECONDS",
                                                            "poll_seconds"))
    api_timeout: float = Field(8.0, gt=0, validation_alias=AliasChoices("CONSOLE_API_TIMEOUT",
                                                                       "api_timeout"))
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self):
        if self.environment == "production" and self.secret_key.startswith("dev-"):
            raise ValueError("ENVIRONMENT=production refuses the development CONSOLE_SECRET_KEY:"
                             " set a random value of at least 32 characters")
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment == "production"

    def service_urls(self) -> dict[str, str]:
        return {"intake": self.intake_url.rstrip("/"), "dispatch": self.dispatch_url.rstrip("/"),
                "scoring": self.scoring_url.rstrip("/"), "notify": self.notify_url.rstrip("/")}
