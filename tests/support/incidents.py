"""Building and posting incidents in tests."""

from __future__ import annotations

from typing import Any

from tests.support.stack import HOTLINE, unique

GRID = "12011900100101"  # 文昌街道 府君山社区 第1网格


def incident(**overrides: Any) -> dict:
    body = {
        "source": "hotline", "external_id": unique("12345"), "kind": "complaint",
        "category": "noise", "description": "楼下KTV凌晨两点还在唱歌，噪音很大",
        "location": {"grid_code": GRID, "address": "府君山社区3号楼"},
        "reporter": {"name": "张先生", "phone": "13812341234"}, "priority": "normal",
    }
    body.update(overrides)
    return body


async def post(client, body: dict, headers: dict | None = None):
    return await client.post("/v1/incidents", json=body, headers=headers or HOTLINE)
