"""Structured JSON logs with service, correlation id and case id; personal data masked."""

from __future__ import annotations

import logging
import re
import sys

import structlog

PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
SECRET_KEYS = {"authorization", "token", "secret", "password", "signature"}


def mask_text(text: str) -> str:
    """Mask mainland mobile numbers (138****1234) and e-mail local parts in free text."""
    return EMAIL.sub(r"\1***@\2", PHONE.sub(r"\1****\2", text))


def _redact(_, __, event_dict: dict) -> dict:
    for key, value in list(event_dict.items()):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = "[redacted]"
        elif isinstance(value, str):
            event_dict[key] = mask_text(value)
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route stdlib and structlog logs to stdout as one JSON object per line."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            lambda _, __, ed: {"service": service, **ed},
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO: a line per SMS and webhook notify sends, naming only
    # the gateway's URL (the notification's outcome is in its own record and metrics)
    for noisy in ("aiokafka", "kafka", "faust", "mode", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def bind_event_context(*, correlation_id: str | None = None, case_id: str | None = None) -> None:
    """Attach ids to every log line of the current task."""
    structlog.contextvars.clear_contextvars()
    values = {k: v for k, v in (("correlation_id", correlation_id), ("case_id", case_id)) if v}
    structlog.contextvars.bind_contextvars(**values)
