"""Role gating, what each page shows, and the API call each action posts."""

from __future__ import annotations

import pytest

from tests.unit.console.conftest import Console


def calls_to(console: Console, path_end: str) -> list[tuple]:
    return console.posted(path_end)


# -- role gating -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/triage", "/board", "/map", "/supervision"])
async def test_a_department_cannot_open_street_or_supervisor_pages(console, path):
    await console.sign_in("tok-chengguan")
    resp = await console.http.get(path)
    assert resp.status_code == 403 and "无权访问" in resp.text


async def test_a_street_office_cannot_open_supervision_or_the_workbench(console):
    await console.sign_in("tok-street-wenchang")
    assert (await console.http.get("/supervision")).status_code == 403
    assert (await console.http.get("/orders")).status_code == 403


async def test_a_department_cannot_open_another_departments_case(console, ids):
    await console.sign_in("tok-chengguan")
    own = await console.http.get(f"/cases/{ids['dispatched']}")
    assert own.status_code == 200 and "鼓楼小区门口流动摊贩占道经营" in own.text
    other = await console.http.get(f"/cases/{ids['huanbao']}")
    assert other.status_code == 403 and "无权访问" in other.text
    assert "河道有异味" not in other.text


async def test_a_street_cannot_see_another_streets_cases(console, ids):
    await console.sign_in("tok-street-wenchang")
    board = await console.http.get("/board")
    assert board.status_code == 200 and "鼓楼小区门口流动摊贩占道经营" in board.text
    assert "柴村社区垃圾堆放" not in board.text
    other = await console.http.get(f"/cases/{ids['other_street']}")
    assert other.status_code == 403 and "柴村社区垃圾堆放" not in other.text
    forced = await console.http.get("/board", params={"street": "120119004"})
    assert "柴村社区垃圾堆放" not in forced.text  # the street filter is the session's


async def test_a_street_office_cannot_act_on_another_streets_case(console, ids):
    await console.sign_in("tok-street-wenchang")
    resp = await console.post(f"/cases/{ids['other_street']}/whistle",
                              {"departments": "huanwei", "reason": "x"})
    assert resp.status_code == 403 and calls_to(console, "/whistle") == []


async def test_an_unknown_case_is_a_404_page(console):
    await console.sign_in("tok-operator")
    assert (await console.http.get("/cases/not-a-uuid")).status_code == 404
    resp = await console.http.get("/cases/00000000-0000-0000-0000-000000000000")
    assert resp.status_code == 404 and "未找到" in resp.text


async def test_a_service_outage_is_a_503_page(console, platform, monkeypatch):
    await console.sign_in("tok-operator")

    async def down(*a, **k):
        import httpx

        raise httpx.ConnectError("refused")

    monkeypatch.setattr(console.app.state.api._client, "request", down)
    resp = await console.http.get("/board")
    assert resp.status_code == 503 and "服务暂时不可用" in resp.text


# -- what pages show ---------------------------------------------------------------------------


async def test_the_triage_queue_shows_top3_with_evidence_and_escapes_text(console, ids,
                                                                          platform):
    platform.cases[ids["triage"]]["description"] += "<script>alert(1)</script>"
    await console.sign_in("tok-street-wenchang")
    page = await console.http.get("/triage")
    assert page.status_code == 200
    text = page.text
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "占道经营" in text and "46%" in text and "<mark>摆摊</mark>" in text
    assert 'data-suggestion="3"' in text
    assert "就在我家楼下那条街" not in text  # unplaced: not this street's (yet)
    assert text.index("人行道上每天晚上") < text.index("文昌街道那边夜里很吵")  # oldest first
    listed = [c for c in console.platform.calls if c[2] == "/v1/cases" and c[0] == "GET"]
    assert listed  # the queue came from GET /v1/cases?status=triage&street=…


async def test_a_street_level_triage_case_offers_the_streets_communities(console, ids):
    await console.sign_in("tok-street-wenchang")
    text = (await console.http.get("/triage")).text
    start = text.index(f'id="case-{ids["triage_street"]}"')
    item = text[start:text.index("</article>", start)]
    assert "府君山社区" in item and "鼓楼社区" in item and "柴村社区" not in item


async def test_an_operator_sees_unplaced_cases_and_must_place_them(console, ids):
    await console.sign_in("tok-operator")
    text = (await console.http.get("/triage")).text
    start = text.index(f'id="case-{ids["triage_unplaced"]}"')
    item = text[start:text.index("</article>", start)]
    assert 'name="place" required' in item and "柴村街道" in item


async def test_the_board_has_the_four_columns_and_levels(console, ids):
    await console.sign_in("tok-street-wenchang")
    text = (await console.http.get("/board")).text
    for title in ("新受理", "已派单待报到", "超期", "督办中"):
        assert title in text
    assert "区级督办" in text and "待审批的延期申请" in text
    assert 'hx-trigger="every 10s"' in text


async def test_board_filters_by_category_and_department(console, ids):
    await console.sign_in("tok-street-wenchang")
    text = (await console.http.get("/board/panel", params={"category": "cooking_fumes"})).text
    assert "餐馆油烟直排扰民" in text and "工地夜间施工噪音" not in text
    await console.http.get("/board/panel", params={"dept": "huanbao"})
    gets = [c for c in console.platform.calls if c[2] == "/v1/cases" and c[0] == "GET"]
    assert gets


async def test_the_case_page_shows_deadlines_timeline_and_masked_phone(console, ids, platform):
    platform.cases[ids["escalated"]]["reporter_phone"] = "13812341234"  # even if unmasked
    await console.sign_in("tok-street-wenchang")
    text = (await console.http.get(f"/cases/{ids['escalated']}")).text
    assert "138****1234" in text and "13812341234" not in text
    assert "data-deadline=" in text and "已超期" in text
    assert "受理立案" in text and "区级督办" in text
    assert "吹哨事由" in text


async def test_the_map_draws_the_streets_grids_with_open_cases(console, ids):
    await console.sign_in("tok-street-wenchang")
    text = (await console.http.get("/map")).text
    assert text.count("<path d=") >= 10 and "府君山社区第1网格" in text
    assert "在办 " in text and "柴村社区第1网格" not in text


async def test_the_workbench_lists_my_open_orders_by_deadline(console, ids):
    await console.sign_in("tok-chengguan")
    text = (await console.http.get("/orders")).text
    assert "鼓楼小区门口流动摊贩占道经营" in text and "河道有异味" not in text
    assert 'value="acknowledged"' in text


async def test_supervision_groups_by_level_and_shows_the_ranking(console, ids):
    await console.sign_in("tok-operator")
    text = (await console.http.get("/supervision", params={"period": "2026-11"})).text
    assert "区级督办" in text and "超期提醒" in text
    assert "生态环境局" in text and "95.0%" in text and "92.1" in text
    ranking = [c for c in console.platform.calls if c[2] == "/v1/departments/ranking"]
    assert ranking and ranking[-1][1] == "scoring"


# -- actions -----------------------------------------------------------------------------------


async def test_one_click_assignment_posts_the_suggestion(console, ids):
    await console.sign_in("tok-street-wenchang")
    resp = await console.post(f"/cases/{ids['triage']}/assign", {"category": "street_vending",
                                                                   "back": "/triage"})
    assert resp.status_code == 303 and resp.headers["location"] == "/triage"
    [(_, service, path, token, body)] = calls_to(console, "/assign")
    assert (service, path, token) == ("dispatch", f"/v1/cases/{ids['triage']}/assign",
                                      "tok-street-wenchang")
    assert body == {"category": "street_vending"}
    page = await console.http.get("/triage")
    assert "已派单" in page.text and "城管执法队" in page.text  # the flash message


async def test_assignment_by_htmx_answers_the_confirmation_fragment(console, ids):
    await console.sign_in("tok-street-wenchang")
    resp = await console.post(f"/cases/{ids['triage']}/assign", {"category": "noise"},
                              headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "已派单" in resp.text and "<html" not in resp.text
    assert "公安派出所" in resp.text


async def test_assignment_with_department_and_place(console, ids):
    await console.sign_in("tok-street-wenchang")
    await console.post(f"/cases/{ids['triage_street']}/assign",
                       {"category": "", "dept": "chengguan", "place": "120119001002"})
    assert calls_to(console, "/assign")[-1][4] == {"dept": "chengguan", "place": "120119001002"}


async def test_a_street_cannot_place_a_case_in_another_street(console, ids):
    await console.sign_in("tok-street-wenchang")
    resp = await console.post(f"/cases/{ids['triage_street']}/assign",
                              {"category": "noise", "place": "120119004001"})
    assert resp.status_code == 303 and calls_to(console, "/assign") == []


async def test_an_unplaced_case_needs_a_place_before_it_is_sent(console, ids):
    await console.sign_in("tok-operator")
    resp = await console.post(f"/cases/{ids['triage_unplaced']}/assign", {"category": "noise"},
                              headers={"HX-Request": "true"})
    assert "请选择所在社区" in resp.text and calls_to(console, "/assign") == []
    await console.post(f"/cases/{ids['triage_unplaced']}/assign",
                       {"category": "noise", "place": "120119004001"})
    assert calls_to(console, "/assign")[-1][4] == {"category": "noise", "place": "120119004001"}


async def test_a_refused_assignment_shows_why(console, ids, platform):
    await console.sign_in("tok-street-wenchang")
    platform.fail_next = 409
    resp = await console.post(f"/cases/{ids['triage']}/assign", {"category": "noise"},
                              headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "派单未被接受" in resp.text
    assert "refused by the fake" in resp.text


async def test_whistle_posts_departments_and_reason(console, ids):
    await console.sign_in("tok-street-wenchang")
    resp = await console.post(f"/cases/{ids['dispatched']}/whistle", {
        "departments": ["shichang", "huanwei"], "reason": "<b>多部门联合</b>整治"})
    assert resp.status_code == 303
    assert calls_to(console, "/whistle")[-1][4] == {"departments": ["shichang", "huanwei"],
                                                    "reason": "<b>多部门联合</b>整治"}
    page = await console.http.get(f"/cases/{ids['dispatched']}")
    assert "已吹哨" in page.text and "&lt;b&gt;多部门联合&lt;/b&gt;整治" in page.text


async def test_whistle_needs_a_reason(console, ids):
    await console.sign_in("tok-street-wenchang")
    await console.post(f"/cases/{ids['dispatched']}/whistle", {"departments": "shichang"})
    assert calls_to(console, "/whistle") == []


async def test_extension_approve_and_refuse(console, ids, platform):
    await console.sign_in("tok-street-wenchang")
    case = ids["acknowledged"]
    page = (await console.http.get(f"/cases/{case}")).text
    assert "申请延期 24 小时" in page
    await console.post(f"/cases/{case}/extensions", {"dept": "shizheng", "decision": "approve",
                                                     "hours": "12", "note": "同意"})
    assert calls_to(console, "/extensions")[-1][4] == {"dept": "shizheng", "approve": True,
                                                       "hours": 12, "note": "同意"}
    platform.cases[case]["assignments"][0]["extension_requested_hours"] = 8
    await console.post(f"/cases/{case}/extensions", {"dept": "shizheng", "decision": "refuse"})
    assert calls_to(console, "/extensions")[-1][4] == {"dept": "shizheng", "approve": False}


@pytest.mark.parametrize("form, body", [
    ({"kind": "acknowledged"}, {"kind": "acknowledged", "dept": "chengguan"}),
    ({"kind": "returned", "reason": "不属于本部门职责"},
     {"kind": "returned", "dept": "chengguan", "reason": "不属于本部门职责"}),
    ({"kind": "extension_requested", "extension_hours": "48", "reason": "需协调"},
     {"kind": "extension_requested", "dept": "chengguan", "extension_hours": 48,
      "reason": "需协调"}),
])
async def test_department_reports_post_the_same_fields_as_the_kafka_client(console, ids, form,
                                                                          body):
    await console.sign_in("tok-chengguan")
    resp = await console.post(f"/cases/{ids['dispatched']}/reports", form)
    assert resp.status_code == 303
    [(_, service, path, token, sent)] = calls_to(console, "/reports")
    assert (service, path, token) == ("dispatch", f"/v1/cases/{ids['dispatched']}/reports",
                                      "tok-chengguan")
    assert sent == body


async def test_acknowledge_then_resolve_with_a_result(console, ids, platform):
    await console.sign_in("tok-chengguan")
    resp = await console.post(f"/cases/{ids['dispatched']}/reports",
                              {"kind": "acknowledged", "back": "/orders"},
                              headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "已报到" in resp.text and 'id="orders"' in resp.text
    await console.post(f"/cases/{ids['dispatched']}/reports",
                       {"kind": "resolved", "result": "已清理占道摊点"})
    assert calls_to(console, "/reports")[-1][4] == {"kind": "resolved", "dept": "chengguan",
                                                    "result": "已清理占道摊点"}
    assert platform.cases[ids["dispatched"]]["status"] == "resolved"


async def test_a_resolution_without_result_is_not_sent(console, ids):
    await console.sign_in("tok-chengguan")
    await console.post(f"/cases/{ids['dispatched']}/reports", {"kind": "resolved"})
    assert calls_to(console, "/reports") == []


async def test_a_department_reports_only_as_itself(console, ids):
    await console.sign_in("tok-chengguan")
    resp = await console.post(f"/cases/{ids['dispatched']}/reports",
                              {"kind": "acknowledged", "dept": "huanbao"})
    assert resp.status_code == 400 and calls_to(console, "/reports") == []


async def test_a_refused_report_is_shown_not_hidden(console, ids):
    await console.sign_in("tok-chengguan")
    await console.post(f"/cases/{ids['dispatched']}/reports", {"kind": "arrived"})
    page = await console.http.get(f"/cases/{ids['dispatched']}")
    assert "操作未被接受" in page.text and "cannot report" in page.text


async def test_a_merged_case_lists_its_callers_and_a_street_office_splits_one(console, ids,
                                                                            platform):
    case = ids["dispatched"]
    extra = platform.merge_into(case, "<i>我也</i>看到摊贩占道", phone="13912345678")
    await console.sign_in("tok-street-wenchang")
    page = await console.http.get(f"/cases/{case}")
    assert "2</strong> 人反映同一问题" in page.text and "并单来电" in page.text
    assert "&lt;i&gt;我也&lt;/i&gt;看到摊贩占道" in page.text
    assert "13912345678" not in page.text and "same grid" in page.text
    refused = await console.post(f"/cases/{case}/split", {"incident_id": "not-merged"})
    assert refused.status_code == 303 and calls_to(console, "/split") == []
    done = await console.post(f"/cases/{case}/split", {"incident_id": extra})
    assert done.status_code == 303
    assert calls_to(console, "/split")[-1][4] == {"incident_id": extra}
    after = await console.http.get(f"/cases/{case}")
    assert "已拆单" in after.text and "并单来电" not in after.text


async def test_a_department_cannot_split(console, ids, platform):
    case = ids["dispatched"]
    extra = platform.merge_into(case, "又一位来电")
    await console.sign_in("tok-chengguan")
    page = await console.http.get(f"/cases/{case}")
    assert "拆单</button>" not in page.text
    await console.post(f"/cases/{case}/split", {"incident_id": extra})
    assert calls_to(console, "/split") == []


async def test_the_board_shows_the_streets_hotspots(console, ids, platform):
    platform.hotspots.append({
        "id": "h-1", "kind": "spike", "scope": "community", "place": "120119001001",
        "place_name": "府君山社区", "street": "120119001", "category": "street_vending",
        "count": 9, "baseline": {"mean": 0.4, "std": 0.5, "samples": 28, "method": "days"},
        "sample_cases": [ids["dispatched"]], "detected_at": "2026-11-25T02:10:00+00:00"})
    await console.sign_in("tok-street-wenchang")
    board = await console.http.get("/board")
    assert "热点预警" in board.text and "府君山社区" in board.text and "突增：9 件" in board.text
    assert f"/cases/{ids['dispatched']}" in board.text
    other = Console(platform)
    await other.sign_in("tok-street-chaicun")
    assert "热点预警" not in (await other.http.get("/board")).text
    await other.close()
