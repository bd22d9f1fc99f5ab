import pytest
from pydantic import ValidationError
from whistle_common.settings import DEV_DEPARTMENTS, CommonSettings, service_settings


def test_defaults_point_at_the_local_stack(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = service_settings("intake", 8001)()
    assert settings.port == 8001
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.database_url.endswith("/intake")


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("DISPATCH_PORT", "9100")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/dispatch")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    settings = service_settings("dispatch", 8002)()
    assert settings.port == 9100
    assert settings.database_url == "postgresql://u:p@db:5432/dispatch"
    assert settings.brokers == ["k1:9092", "k2:9092"]


def test_service_specific_database_url_wins(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/any")
    monkeypatch.setenv("NOTIFY_DATABASE_URL", "postgresql://u:p@db/notify")
    assert service_settings("notify", 8004)().database_url.endswith("/notify")


@pytest.mark.parametrize("env, value", [
    ("KAFKA_BOOTSTRAP_SERVERS", "no-port"),
    ("DATABASE_URL", "mysql://x/y"),
    ("INTAKE_PORT", "70000"),
    ("ENVIRONMENT", "prod"),
])
def test_invalid_values_are_refused(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        service_settings("intake", 8001)()


def test_production_refuses_development_secrets(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="development secrets"):
        CommonSettings()


def test_production_accepts_real_secrets(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("WHISTLE_API_TOKENS",
                       '{"s3cr3t-hotline": {"client": "hotline", "scopes": ["incidents:write"]}}')
    monkeypatch.setenv("WHISTLE_DEPT_SECRETS", '{"chengguan": "k9x-real"}')
    monkeypatch.setenv("DATABASE_URL", "postgresql://svc:real@db:5432/intake")
    settings = CommonSettings()
    assert list(settings.whistle_api_tokens) == ["s3cr3t-hotline"]


def test_dev_departments_match_the_catalogue():
    from whistle_catalogue import load_catalogue

    assert set(DEV_DEPARTMENTS) <= set(load_catalogue().departments)
