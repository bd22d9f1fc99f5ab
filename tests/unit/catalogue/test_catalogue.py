import pytest
from whistle_catalogue import load_catalogue, load_territory
from whistle_catalogue.catalogue import parse_catalogue


def test_catalogue_is_consistent():
    cat = load_catalogue()
    assert cat.version
    assert "general" in cat.categories and "noise" in cat.categories
    for c in cat.categories.values():
        assert c.lead in cat.departments
        assert set(c.deadlines) == {"urgent", "normal"}


def test_unknown_department_in_a_category_is_refused():
    raw = {"version": "x", "timezone": "Asia/Shanghai",
           "departments": [{"code": "a", "name": "A", "level": "street", "duty": ""}],
           "categories": [{"code": "general", "name": "g", "lead": "zz", "co": [],
                           "priority": "normal", "deadlines": {}, "whistle": False,
                           "default_kind": "complaint", "resolution": "lead"}]}
    with pytest.raises(ValueError, match="unknown departments"):
        parse_catalogue(raw)


def test_territory_has_five_levels_and_dozens_of_grids():
    terr = load_territory()
    assert len(terr.grids) >= 36
    path = terr.path("12011900300101")
    assert [n["level"] for n in path.as_list()] == ["city", "district", "street", "community",
                                                     "grid"]
    assert path.street.name == "下仓镇" and path.street_has_enforcement_team is False
    assert terr.path("999") is None


def test_places_above_the_grid_have_paths_too():
    terr = load_territory()
    community = terr.place("120119001002")
    assert community.grid is None and community.community.name == "鼓楼社区"
    assert [n["level"] for n in community.as_list()] == ["city", "district", "street",
                                                          "community"]
    street = terr.place("120119002")
    assert street.community is None and street.street_kind == "township"
    assert terr.place("nope") is None and terr.path("120119001002") is None


def test_the_sample_district_is_a_real_map():
    terr = load_territory()
    assert len(terr.streets) >= 3 and len(terr.communities) >= 12 and len(terr.grids) >= 60
    assert all(p.grid.lat and p.grid.lon for p in terr.grids.values())


FIRST_ROUND_CODES = {
    "noise", "construction_noise", "street_vending", "sanitation", "illegal_parking",
    "illegal_construction", "pollution", "food_safety", "public_security", "road_facility",
    "power", "water", "property", "elderly_care", "group_rental", "service_order", "general"}


def test_catalogue_is_a_three_level_tree_of_a_real_district():
    cat = load_catalogue()
    leaves = [c for c in cat.categories.values() if c.code not in ("general", "service_order")]
    assert len(leaves) >= 80
    assert len({c.lead for c in leaves} | {d for c in leaves for d in c.co}) >= 30
    for needed in ("renshe", "laodong_jiancha", "yibao", "jiaoyu", "weijian", "wenlv",
                   "nongye", "yingji", "xiaofang", "ranqi", "reli", "yuanlin", "shizheng",
                   "guihua", "gongjiao", "tax"):
        assert any(c.lead == needed for c in leaves), needed
    tree = cat.tree()
    areas = {a["area"] for a in tree}
    assert {"劳动和社会保障", "卫生计生", "教育文体", "农村农业", "交通运输"} <= areas
    assert sum(len(k["categories"]) for a in tree for k in a["classes"]) == len(cat.categories)
    assert all(c.description and c.area and c.klass for c in leaves)


def test_first_round_codes_stay_valid():
    cat = load_catalogue()
    assert all(cat.canonical(code) == code for code in FIRST_ROUND_CODES)


def test_an_alias_names_its_leaf_and_must_point_at_one():
    raw = {"version": "x", "timezone": "Asia/Shanghai",
           "departments": [{"code": "a", "name": "A", "level": "street", "duty": ""}],
           "categories": [{"code": c, "name": c, "lead": "a", "co": [], "priority": "normal",
                           "deadlines": {}, "whistle": False, "default_kind": "complaint",
                           "resolution": "lead"} for c in ("general", "gas_leak")],
           "aliases": {"gas": "gas_leak"}}
    cat = parse_catalogue(raw)
    assert cat.category("gas").code == "gas_leak" and cat.canonical("gas") == "gas_leak"
    assert cat.canonical("nothing") is None
    with pytest.raises(ValueError, match="aliases"):
        parse_catalogue({**raw, "aliases": {"gas": "missing"}})
