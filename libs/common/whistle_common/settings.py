"""Settings base: everything from environment variables, with local-stack defaults."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_MARK = "dev-"  # every development secret starts with this and is refused in production

# Development tokens: token → (client, scopes). Clearly marked; refused when ENVIRONMENT=production.
DEV_TOKENS: dict[str, dict] = {
    "dev-hotline-token": {"client": "hotline-12345",
                          "scopes": ["incidents:write", "incidents:read"]},
    "dev-grid-token": {"client": "grid-app", "scopes": ["incidents:write", "incidents:read"]},
    "dev-operator-token": {"client": "operator", "scopes": ["operator"]},
    "dev-community-token": {"client": "community-worker", "scopes": ["community"]},
    "dev-volunteer-token": {"client": "volunteer-app", "scopes": ["volunteer:*"]},
    # street offices (街道综合指挥中心) of the sample district: each works its own street's cases
    **{f"dev-street-{code}-token": {"client": f"street-office-{code}",
                                    "scopes": [f"street:{code}"]}
       for code in ("120119001", "120119002", "120119003", "120119004", "120119005")},
}
DEV_DEPARTMENTS = (
    "chengguan", "chengguan_district", "huanbao", "shichang", "gongan", "jiaojing", "huanwei",
    "zhujian", "minzheng", "jiaotong", "gongdian", "wuye", "shuiwu", "street_office",
    "community", "renshe", "laodong_jiancha", "yibao", "jiaoyu", "weijian", "wenlv", "tiyu",
    "nongye", "yingji", "xiaofang", "ranqi", "reli", "yuanlin", "shizheng", "guihua",
    "gongjiao", "metro", "tax", "fangguan", "tongxin", "youzheng", "sifa", "tuiyi", "zhengwu",
    "jinrong", "shangwu",
)
for _code in DEV_DEPARTMENTS:
    DEV_TOKENS[f"dev-dept-{_code}-token"] = {"client": f"dept-{_code}", "scopes": [f"dept:{_code}"]}
DEV_DEPT_SECRETS = {code: f"dev-secret-{code}" for code in DEV_DEPARTMENTS}


class CommonSettings(BaseSettings):
    """Configuration every service reads; subclasses add their own port and database."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "whistle"
    environment: Literal["development", "test", "staging", "production"] = "development"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_partitions: int = Field(3, ge=1, le=256)
    kafka_replication_factor: int = Field(1, ge=1, le=5)
    database_url: str = "postgresql://whistle:whistle@127.0.0.1:5432/postgres"
    db_pool_min: int = Field(2, ge=1)
    db_pool_max: int = Field(10, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    log_level: str = "INFO"
    outbox_batch_size: int = Field(500, ge=1, le=10_000)
    outbox_poll_seconds: float = Field(0.5, gt=0)
    lag_refresh_seconds: float = Field(10.0, gt=0)
    # how long a consumer's fetch waits at the broker for a record (Faust's own is 1.5 s), and
    # how often the consumer wakes on its own while nothing comes: aiokafka's fetcher (its own
    # 0.2 s), Faust's wait for records and mode's thread keepalives (1 s each)
    kafka_fetch_max_wait_ms: int = Field(3000, ge=100, le=30_000)
    kafka_fetcher_poll_seconds: float = Field(5.0, gt=0, le=30)
    # while records keep coming, how long a consumer's next fetch waits at the broker for more
    # (0: a fetch returns at its first record); a fetch answered empty ends the gathering
    kafka_fetch_gather_ms: int = Field(0, ge=0, le=5_000)
    # a rebalance that has not moved for this long while Kafka answers restarts the process
    # (whistle_common.stream_watchdog); 0: never
    kafka_rebalance_stuck_seconds: float = Field(60.0, ge=0, le=3_600)
    whistle_api_tokens: dict[str, dict] = Field(default_factory=lambda: dict(DEV_TOKENS))
    whistle_dept_secrets: dict[str, str] = Field(default_factory=lambda: dict(DEV_DEPT_SECRETS))

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_has_port(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL must start with postgresql://")
        return value

    @field_validator("whistle_api_tokens", mode="before")
    @classmethod
    def _tokens_json(cls, value):
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self):
        if self.environment != "production":
            return self
        bad = [t for t in self.whistle_api_tokens if t.startswith(DEV_MARK)]
        bad += [c for c, s in self.whistle_dept_secrets.items() if s.startswith(DEV_MARK)]
        if bad or ":whistle@" in self.database_url:
            raise ValueError(
                "ENVIRONMENT=production refuses development secrets: set WHISTLE_API_TOKENS, "
                "WHISTLE_DEPT_SECRETS and DATABASE_URL to real values")
        return self

    @property
    def brokers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",")]


def service_settings(name: str, default_port: int, *,
                     fetch_gather_ms: int = 0) -> type[CommonSettings]:
    """Settings base of one service: `<NAME>_PORT`, `<NAME>_DATABASE_URL` or `DATABASE_URL`,
    and `<NAME>_KAFKA_FETCH_GATHER_MS` or `KAFKA_FETCH_GATHER_MS` (default `fetch_gather_ms`:
    a service off the path from a call to its departments gathers its records)."""
    from pydantic import AliasChoices

    upper = name.upper()
    default_url = f"postgresql://whistle:whistle@127.0.0.1:5432/{name}"

    class ServiceSettings(CommonSettings):
        service_name: str = str(name)
        port: int = Field(default_port, ge=1, le=65535,
                          validation_alias=AliasChoices(f"{upper}_PORT", "port"))
        database_url: str = Field(
            default_url,
            validation_alias=AliasChoices(f"{upper}_DATABASE_URL", "DATABASE_URL", "database_url"))
        kafka_fetch_gather_ms: int = Field(
            fetch_gather_ms, ge=0, le=5_000,
            validation_alias=AliasChoices(f"{upper}_KAFKA_FETCH_GATHER_MS",
                                          "KAFKA_FETCH_GATHER_MS", "kafka_fetch_gather_ms"))

    ServiceSettings.__name__ = ServiceSettings.__qualname__ = f"{name.title()}SettingsBase"
    return ServiceSettings
