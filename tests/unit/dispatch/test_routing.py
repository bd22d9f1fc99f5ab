from whistle_catalogue import load_catalogue, load_territory
from whistle_dispatch.domain.routing import next_candidate, route

CAT = load_catalogue()
TERR = load_territory()
TOWN_WITHOUT_TEAM = "12011900300101"   # 下仓镇
STREET_WITH_TEAM = "12011900100101"    # 文昌街道


def routed(category: str, grid: str, kind: str = "complaint"):
    return route(CAT.category(category), TERR.path(grid).facts(), list(CAT.place_rules),
                 kind=kind)


def test_category_decides_lead_and_co():
    r = routed("noise", STREET_WITH_TEAM)
    assert (r.lead, r.co, r.resolution) == ("gongan", ("chengguan",), "lead")


def test_township_without_enforcement_team_sends_to_the_district_team():
    r = routed("street_vending", TOWN_WITHOUT_TEAM)
    assert r.lead == "chengguan_district"
    assert r.rules_applied and "乡镇" in r.rules_applied[0]
    assert routed("street_vending", STREET_WITH_TEAM).lead == "chengguan"


def test_the_place_rule_also_rewrites_co_departments():
    assert routed("noise", TOWN_WITHOUT_TEAM).co == ("chengguan_district",)


def test_whistle_categories_summon_several_departments_and_resolve_together():
    r = routed("construction_noise", STREET_WITH_TEAM)
    assert r.lead == "zhujian" and set(r.co) == {"huanbao", "chengguan"}
    assert r.resolution == "lead_and_co"


def test_service_orders_go_to_the_community():
    r = routed("elderly_care", STREET_WITH_TEAM, kind="service_order")
    assert (r.lead, r.co) == ("community", ())


def test_next_candidate_skips_departments_already_tried():
    assert next_candidate(("chengguan", "huanbao"), {"gongan", "chengguan"}) == "huanbao"
    assert next_candidate(("chengguan",), {"chengguan"}) is None
