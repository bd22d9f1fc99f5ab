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


def test_nearest_grid_by_coordinates():
    terr = load_territory()
    grid = terr.path("12011900100102").grid
    assert terr.nearest(grid.lat + 0.0002, grid.lon).grid.code == "12011900100102"
    assert terr.nearest(31.23, 121.47) is None  # Shanghai is not in this district
