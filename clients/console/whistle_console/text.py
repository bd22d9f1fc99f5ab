"""Chinese labels and the filters the templates use (times in Asia/Shanghai)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

CASE_STATUS = {
    "triage": "待分拣", "dispatched": "已派单", "acknowledged": "已报到",
    "in_progress": "处置中", "pending_assignment": "待指派", "resolved": "已办结",
    "closed": "已结案", "reopened": "重办",
}
OPEN_STATUSES = ("dispatched", "acknowledged", "in_progress", "pending_assignment", "reopened")
ASSIGNMENT_STATUS = {
    "ordered": "待报到", "acknowledged": "已报到", "arrived": "已到场", "resolved": "已办结",
    "returned": "已退单", "withdrawn": "已撤回",
}
ACTIVE_ASSIGNMENTS = ("ordered", "acknowledged", "arrived")
ROLE = {"lead": "主办", "co": "协办", "triage": "分拣"}
PRIORITY = {"urgent": "紧急", "normal": "一般"}
LEVEL = {"overdue": "超期提醒", "street": "街道督办", "district": "区级督办", "city": "市级督办"}
LEVEL_ORDER = ("city", "district", "street", "overdue")
DEADLINE = {"ack": "报到时限", "resolve": "办结时限"}
RATING = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
EVENT = {
    "case.created.v1": "受理立案", "case.queued_for_triage.v1": "进入分拣",
    "case.dispatched.v1": "派单", "dispatch.ordered.v1": "转街道分拣",
    "dispatch.withdrawn.v1": "撤回工单", "case.merged.v1": "并单（又一人来电）",
    "case.split.v1": "拆单", "dispatch.updated.v1": "通知部门：来电人数更新",
    "case.assigned.v1": "人工派单",
    "classification.corrected.v1": "分类确认", "case.acknowledged.v1": "部门报到",
    "case.arrived.v1": "到达现场", "department.resolved": "部门办结",
    "case.resolved.v1": "案件办结", "case.returned.v1": "退单",
    "case.extension_requested.v1": "申请延期", "case.extension_decided.v1": "延期审批",
    "case.overdue.v1": "超期", "case.escalated.v1": "督办升级", "case.rated.v1": "回访评价",
    "case.reopened.v1": "重办", "case.closed.v1": "结案",
}


def parse_time(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def local(value, fmt: str = "%m-%d %H:%M") -> str:
    when = parse_time(value)
    return when.astimezone(SHANGHAI).strftime(fmt) if when else ""


def iso(value) -> str:
    when = parse_time(value)
    return when.astimezone(UTC).isoformat() if when else ""


def span(seconds: float) -> str:
    """A duration in Chinese: 2天3小时, 5小时12分, 7分, 40秒."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    if minutes:
        return f"{minutes}分{secs}秒"
    return f"{secs}秒"


def countdown(value, now: datetime | None = None) -> str:
    """剩余 … or 已超期 … (the page's script keeps it ticking)."""
    when = parse_time(value)
    if when is None:
        return ""
    left = (when - (now or datetime.now(UTC))).total_seconds()
    return f"剩余 {span(left)}" if left >= 0 else f"已超期 {span(left)}"


def overdue(value, now: datetime | None = None) -> bool:
    when = parse_time(value)
    return bool(when and when < (now or datetime.now(UTC)))


PHONE = re.compile(r"(\+?\d{3})\d{4}(\d{4})")


def mask_phone(value) -> str:
    """The reporter's phone as dispatch masks it (138****1234); masked again here in case a
    full number ever comes through."""
    if not value:
        return "—"
    return PHONE.sub(r"\1****\2", str(value))


def percent(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"


def escalation_level(case: dict) -> str | None:
    """The highest supervision stage any live assignment of a case has reached."""
    stages = set()
    for a in case.get("assignments", []):
        if a.get("status") not in ACTIVE_ASSIGNMENTS:
            continue
        for mark in a.get("escalations", []):
            stages.add(str(mark).split(":", 1)[-1])
    for level in LEVEL_ORDER:
        if level in stages:
            return level
    return None


def filters() -> dict:
    return {
        "local": local, "iso": iso, "countdown": countdown, "mask_phone": mask_phone,
        "percent": percent, "is_overdue": overdue,
        "case_status": lambda s: CASE_STATUS.get(s, s or ""),
        "assignment_status": lambda s: ASSIGNMENT_STATUS.get(s, s or ""),
        "role_name": lambda s: ROLE.get(s, s or ""),
        "priority_name": lambda s: PRIORITY.get(s, s or ""),
        "level_name": lambda s: LEVEL.get(s, s or ""),
        "event_name": lambda s: EVENT.get(s, s or ""),
        "rating_name": lambda s: RATING.get(s, s or ""),
        "deadline_name": lambda s: DEADLINE.get(s, s or ""),
    }
