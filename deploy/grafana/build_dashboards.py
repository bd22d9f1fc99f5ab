"""Writes the Grafana dashboards (deploy/grafana/dashboards/*.json) from one list of panels.

Run `uv run python deploy/grafana/build_dashboards.py` after editing; a test checks that the
committed JSON is what this script writes and that every expression returns data.
"""

from __future__ import annotations

import json
from pathlib import Path

DATASOURCE = {"type": "prometheus", "uid": "whistle-prometheus"}
OUT = Path(__file__).resolve().parent / "dashboards"

DASHBOARDS = {
    "whistle-city": ("Whistle · City overview 城市总览", [], [
        ("Incidents received by source (/s)", "timeseries",
         ["sum by (source) (rate(whistle_incidents_received_total[5m]))"]),
        ("Incidents by category (/s)", "timeseries",
         ["sum by (category) (rate(whistle_classifications_total[5m]))"]),
        ("Dispatch latency p50 / p95 / p99 (s)", "timeseries",
         ["whistle:dispatch_latency_seconds:p50_5m", "whistle:dispatch_latency_seconds:p95_5m",
          "whistle:dispatch_latency_seconds:p99_5m"]),
        ("Open assignments by department", "bargauge", ["sum by (dept) (whistle_cases_open)"]),
        ("Overdue assignments by department", "bargauge",
         ["sum by (dept) (whistle_cases_overdue)"]),
        ("Response rate 响应率", "bargauge", ["whistle:department_response_rate"]),
        ("Resolution rate 解决率", "bargauge", ["whistle:department_resolution_rate"]),
        ("Satisfaction rate 满意率", "bargauge", ["whistle:department_satisfaction_rate"]),
        ("Escalations by level (1h)", "timeseries",
         ["sum by (level) (increase(whistle_escalations_total[1h]))"]),
        ("Calls merged into open cases 并单 (1h)", "timeseries",
         ["sum(increase(whistle_incidents_merged_total[1h])) or vector(0)"]),
        ("Hotspots raised 未诉先办 (24h)", "timeseries",
         ["sum by (scope, kind) (increase(whistle_hotspots_detected_total[24h]))"]),
    ]),
    "whistle-department": ("Whistle · Department 部门视图", ["dept"], [
        ("Open assignments", "stat", ['sum(whistle_cases_open{dept="$dept"})']),
        ("Overdue assignments", "stat", ['sum(whistle_cases_overdue{dept="$dept"})']),
        ("Time to acknowledge p90 (s)", "timeseries",
         ['histogram_quantile(0.9, sum by (le) (rate(whistle_department_ack_seconds_bucket'
          '{dept="$dept"}[1h])))']),
        ("This month's rates", "bargauge", ['whistle_department_rate{dept="$dept"}']),
        ("This month's score", "stat", ['max(whistle_department_score{dept="$dept"})']),
    ]),
    "whistle-pipeline": ("Whistle · Pipeline health 链路健康", [], [
        ("Requests by service (/s)", "timeseries",
         ["sum by (service) (rate(whistle_http_requests_total[5m]))"]),
        ("Errors (5xx) by service (/s)", "timeseries",
         ['sum by (service) (rate(whistle_http_requests_total{status=~"5.."}[5m])) '
          'or sum by (service) (rate(whistle_http_requests_total[5m])) * 0']),
        ("Request duration p95 by service (s)", "timeseries",
         ["histogram_quantile(0.95, sum by (service, le) "
          "(rate(whistle_http_request_duration_seconds_bucket[5m])))"]),
        ("Consumer lag by service and topic", "timeseries",
         ["sum by (service, topic) (whistle_consumer_lag)"]),
        ("Events consumed by outcome (/s)", "timeseries",
         ["sum by (service, outcome) (rate(whistle_events_consumed_total[5m]))"]),
        ("Outbox pending", "timeseries", ["sum by (service) (whistle_outbox_pending)"]),
        ("Dead-lettered messages (1h)", "timeseries",
         ["sum by (service, topic) (increase(whistle_dlq_messages_total[1h]))"]),
        ("Notifications by channel and outcome (/s)", "timeseries",
         ["sum by (channel, outcome) (rate(whistle_notifications_total[5m]))"]),
        ("Services up", "stat", ['sum(up{job="whistle"})']),
    ]),
    "whistle-volunteers": ("Whistle · Volunteers 志愿积分", [], [
        ("Points awarded (1h)", "timeseries", ["sum(increase(whistle_points_awarded_total[1h]))"]),
        ("Points redeemed (1h)", "timeseries",
         ["sum(increase(whistle_points_redeemed_total[1h]))"]),
        ("Top communities by points this month", "bargauge",
         ["topk(10, whistle_community_points_month)"]),
        ("Volunteer tasks created (1h)", "timeseries",
         ["sum by (source) (increase(whistle_tasks_created_total[1h]))"]),
    ]),
}


def _panel(i: int, title: str, kind: str, exprs: list[str]) -> dict:
    return {"id": i + 1, "type": kind, "title": title, "datasource": DATASOURCE,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
            "targets": [{"refId": chr(65 + n), "expr": e, "datasource": DATASOURCE,
                         "legendFormat": "__auto"} for n, e in enumerate(exprs)]}


def _variable(name: str) -> dict:
    return {"name": name, "type": "query", "datasource": DATASOURCE,
            "query": {"query": f"label_values(whistle_cases_open, {name})", "refId": "V"},
            "definition": f"label_values(whistle_cases_open, {name})", "refresh": 2,
            "includeAll": False, "multi": False, "current": {"text": "gongan", "value": "gongan"}}


def build() -> dict[str, dict]:
    """uid → dashboard JSON."""
    return {uid: {"uid": uid, "title": title, "schemaVersion": 39, "version": 1,
                  "timezone": "Asia/Shanghai", "refresh": "10s", "tags": ["whistle"],
                  "time": {"from": "now-1h", "to": "now"},
                  "templating": {"list": [_variable(v) for v in variables]},
                  "panels": [_panel(i, *p) for i, p in enumerate(panels)]}
            for uid, (title, variables, panels) in DASHBOARDS.items()}


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for uid, dashboard in build().items():
        (OUT / f"{uid}.json").write_text(json.dumps(dashboard, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {len(DASHBOARDS)} dashboards to {OUT}")
