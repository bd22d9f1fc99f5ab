"""A city's own map and catalogue: each kind of broken file is refused with the feature or row
and the reason; a valid one is written as a new version the services can load."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from whistle_catalogue.catalogue import parse_catalogue
from whistle_catalogue.territory import parse_territory
from whistle_places import cli
from whistle_places.onboarding import Invalid, check_catalogue, import_catalogue, import_territory

SHIPPED = Path(__file__).resolve().parents[3] / "libs/catalogue/whistle_catalogue/data"


def box(x0: float, y0: float, x1: float, y1: float) -> list:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def grid(code: str, community: str, rings: list) -> dict:
    return {"type": "Feature", "id": code,
            "properties": {"code": code, "name": f"{code}网格", "community": community},
            "geometry": {"type": "Polygon", "coordinates": rings}}


def city() -> dict:
    """Two streets, one community each, two grids per community, side by side."""
    return {"type": "FeatureCollection", "whistle": {
        "version": "2027.1.0", "city": {"code": "990000", "name": "样例市"},
        "districts": [{"code": "990101", "name": "东区", "aliases": [], "streets": [
            {"code": "990101001", "name": "甲街道", "kind": "street",
             "has_enforcement_team": True,
             "communities": [{"code": "990101001001", "name": "甲社区", "aliases": []}]},
            {"code": "990101002", "name": "乙镇", "kind": "township",
             "has_enforcement_team": False,
             "communities": [{"code": "990101002001", "name": "乙村", "aliases": []}]}]}]},
        "features": [grid("99010100100101", "990101001001", box(117.0, 40.0, 117.01, 40.01)),
                     grid("99010100100102", "990101001001", box(117.01, 40.0, 117.02, 40.01)),
                     grid("99010100200101", "990101002001", box(117.02, 40.0, 117.03, 40.01)),
                     grid("99010100200102", "990101002001", box(117.03, 40.0, 117.04, 40.01))]}


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else
                    json.dumps(content, ensure_ascii=False), "utf-8")
    return path


def refused(tmp_path: Path, collection: dict) -> list[str]:
    with pytest.raises(Invalid) as raised:
        import_territory(write(tmp_path, "city.geojson", collection), tmp_path / "out")
    assert not (tmp_path / "out").exists(), "a refused file writes nothing"
    return raised.value.problems


def test_a_valid_territory_is_written_as_a_new_version_and_loads(tmp_path):
    written = import_territory(write(tmp_path, "city.geojson", city()), tmp_path / "out")
    assert written.name == "territory-2027.1.0.geojson"
    territory = parse_territory(json.loads(written.read_text("utf-8")))
    assert len(territory.grids) == 4 and territory.place("990101002").street_kind == "township"
    again = import_territory(write(tmp_path, "city.geojson", city()), tmp_path / "out")
    assert again == written  # the same version with the same content: nothing changes


def test_a_self_intersecting_grid_is_refused_naming_it(tmp_path):
    broken = city()
    bowtie = [[[117.0, 40.0], [117.01, 40.01], [117.01, 40.0], [117.0, 40.01], [117.0, 40.0]]]
    broken["features"][0]["geometry"]["coordinates"] = bowtie
    [problem] = refused(tmp_path, broken)
    assert "99010100100101" in problem and "Self-intersection" in problem


def test_overlapping_grids_are_refused_as_a_pair(tmp_path):
    broken = city()
    broken["features"][1]["geometry"]["coordinates"] = box(117.005, 40.0, 117.02, 40.01)
    assert refused(tmp_path, broken) == ["grids 99010100100101 and 99010100100102 overlap"]


def test_a_grid_outside_its_community_is_refused(tmp_path):
    broken = city()
    broken["features"][1]["geometry"]["coordinates"] = box(117.5, 40.5, 117.51, 40.51)
    [problem] = refused(tmp_path, broken)
    assert "99010100100102" in problem and "outside community 990101001001" in problem


def test_duplicate_codes_are_refused(tmp_path):
    broken = city()
    broken["features"][3]["properties"]["code"] = "99010100200101"
    assert any("99010100200101 is used twice" in p for p in refused(tmp_path, broken))
    broken = city()
    broken["whistle"]["districts"][0]["streets"][1]["code"] = "990101001"
    assert any("990101001 is used twice" in p for p in refused(tmp_path, broken))


def test_a_grid_of_an_unknown_community_and_a_non_polygon_are_refused(tmp_path):
    broken = city()
    broken["features"][0]["properties"]["community"] = "990101009009"
    broken["features"][2]["geometry"] = {"type": "Point", "coordinates": [117.0, 40.0]}
    problems = refused(tmp_path, broken)
    assert any("990101009009" in p and "not in the hierarchy" in p for p in problems)
    assert any("a grid is a Polygon, not Point" in p for p in problems)


def test_the_shipped_territory_passes_its_own_import(tmp_path):
    written = import_territory(SHIPPED / "territory.geojson", tmp_path)
    assert len(parse_territory(json.loads(written.read_text("utf-8"))).grids) >= 60


# -- catalogue ------------------------------------------------------------------------------------

def shipped_catalogue() -> dict:
    return json.loads((SHIPPED / "catalogue.json").read_text("utf-8"))


def test_a_valid_yaml_catalogue_is_written_and_parses(tmp_path):
    import yaml

    raw = shipped_catalogue()
    raw["version"] = "2027.1.0"
    source = write(tmp_path, "catalogue.yaml", yaml.safe_dump(raw, allow_unicode=True))
    written = import_catalogue(source, tmp_path / "out")
    loaded = parse_catalogue(json.loads(written.read_text("utf-8")))
    assert loaded.version == "2027.1.0" and "general" in loaded.categories


def test_a_catalogue_naming_an_unknown_department_is_refused_with_the_row(tmp_path):
    deps = write(tmp_path, "departments.csv",
                 "code,name,level,duty\nchengguan,城管执法队,street,执法\n"
                 "street_office,街道办,street,吹哨\n")
    header = ("area,class,code,name,description,lead,co,priority,urgent_ack_hours,"
              "urgent_resolve_hours,normal_ack_workdays,normal_resolve_workdays,whistle,"
              "default_kind,resolution\n")
    rows = ("城乡建设,市容,street_vending,占道经营,摆摊,chengguan,shichang,normal,2,24,1,3,"
            "false,complaint,lead\n"
            "其他,其他,general,其他,说不清,street_office,,normal,2,24,1,3,false,complaint,"
            "lead\n")
    source = write(tmp_path, "catalogue.csv", header + rows)
    with pytest.raises(Invalid) as raised:
        import_catalogue(source, tmp_path / "out", departments=deps, version="2027.1.0")
    assert raised.value.problems == [
        "category street_vending (row 2): unknown department 'shichang'"]
    fixed = source.read_text("utf-8").replace(",shichang,", ",,")
    written = import_catalogue(write(tmp_path, "catalogue.csv", fixed), tmp_path / "out",
                               departments=deps, version="2027.1.0")
    assert parse_catalogue(json.loads(written.read_text("utf-8"))).category(
        "street_vending").deadlines["normal"]["resolve_workdays"] == 3


def test_missing_deadlines_are_refused_with_what_is_missing():
    raw = shipped_catalogue()
    del raw["categories"][0]["deadlines"]["normal"]["resolve_workdays"]
    raw["categories"][1]["deadlines"] = None
    problems = check_catalogue(raw)
    code0, code1 = raw["categories"][0]["code"], raw["categories"][1]["code"]
    assert f"category {code0}: missing deadline normal.resolve_workdays" in problems
    assert f"category {code1}: deadlines are missing" in problems


def test_a_cycle_of_replacements_is_refused():
    raw = shipped_catalogue()
    raw["place_rules"].append({"description": "loop", "match": {"street_kind": "township"},
                               "replace": {"chengguan_district": "chengguan"}})
    assert any("cycle: chengguan → chengguan_district → chengguan" in p
               for p in check_catalogue(raw))


def test_the_shipped_catalogue_has_no_problem():
    assert check_catalogue(copy.deepcopy(shipped_catalogue())) == []


def test_the_command_exits_2_with_the_reasons(tmp_path, capsys):
    broken = city()
    broken["features"][1]["geometry"]["coordinates"] = box(117.005, 40.0, 117.02, 40.01)
    code = cli.main(["import-territory", str(write(tmp_path, "c.geojson", broken)),
                     "--out", str(tmp_path / "out")])
    assert code == 2 and "overlap" in capsys.readouterr().err
    assert cli.main(["import-territory", str(write(tmp_path, "c.geojson", city())),
                     "--out", str(tmp_path / "out")]) == 0
    assert "WHISTLE_TERRITORY=" in capsys.readouterr().out
