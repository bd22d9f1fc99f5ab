"""Chinese message templates (Jinja2), one per event and audience."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import ChainableUndefined, Environment, PackageLoader

from .domain.delivery import SHANGHAI

LEVEL_NAMES = {"street": "街道", "district": "区", "city": "市"}
SUBJECTS = {"supervisor_escalated": "【督办】工单超期升级", "department_overdue": "【督办提醒】"}


def _local(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(SHANGHAI).strftime("%m月%d日%H:%M")


class Renderer:
    """Renders a template with the event's data plus a few derived, human-friendly values."""

    def __init__(self, departments: dict[str, Any]) -> None:
        self.env = Environment(loader=PackageLoader("whistle_notify", "templates"),
                               undefined=ChainableUndefined, autoescape=False,
                               keep_trailing_newline=False)
        self.departments = departments

    def context(self, data: dict[str, Any]) -> dict[str, Any]:
        dept = data.get("dept") or data.get("lead")
        deadlines = data.get("deadlines") or {}
        return {**data,
                "dept_name": self.departments[dept].name if dept in self.departments else dept,
                "ack_by_local": _local(deadlines.get("ack_by")),
                "resolve_by_local": _local(deadlines.get("resolve_by")),
                "due_local": _local(data.get("due")),
                "level_name": LEVEL_NAMES.get(data.get("level", ""), "")}

    def render(self, template: str, data: dict[str, Any],
               items: list[dict[str, Any]] | None = None) -> tuple[str, str]:
        """(subject, body) of one message; `items` for digests."""
        ctx = self.context(data)
        if items is not None:
            ctx["items"] = [self.context(i) for i in items]
        body = self.env.get_template(f"{template}.j2").render(**ctx).strip()
        return SUBJECTS.get(template, body[:30]), body
