"""The merge rules (并单): each rule, its edges, and a labelled day replayed through them."""

import math
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from whistle_dispatch.domain.merging import (
    Candidate,
    Incoming,
    MergePolicy,
    best_match,
    haversine_m,
    score,
    search_box,
    text_similarity,
)

from .merge_scenario import generate

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 7, 14, 8, 0, tzinfo=SH)
LAT, LON = 40.044372, 117.398929  # 府君山社区第1网格
GRID = "12011900100101"
UTIL = ("城乡建设", "公用事业")
NOISE = ("环境保护", "噪声污染")


def north(metres: float) -> float:
    return LAT + metres / 111_195.0  # one degree of latitude on the haversine sphere


def case(case_id="c1", category="water", area_klass=UTIL, lat=LAT, lon=LON, grid=GRID,
         text="小区停水了", opened_at=T0, status="dispatched") -> Candidate:
    return Candidate(case_id, category, *area_klass, lat, lon, grid, text, opened_at, status)


def incident(category="water", area_klass=UTIL, lat=LAT, lon=LON, grid=GRID,
             text="家里停水了", minutes=12) -> Incoming:
    return Incoming("i1", category, *area_klass, lat, lon, grid, text,
                    T0 + timedelta(minutes=minutes))


# ---- helpers -------------------------------------------------------------------------------

def test_haversine_is_metres_on_the_earth():
    assert haversine_m(LAT, LON, LAT, LON) == 0
    assert haversine_m(LAT, LON, north(1000), LON) == pytest.approx(1000, abs=1)
    assert haversine_m(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1_067_000, rel=0.01)


@given(lat=st.floats(-85, 85), lon=st.floats(-179, 179), metres=st.floats(1, 20_000),
       bearing=st.floats(0, 360), fraction=st.floats(0, 1))
def test_the_search_box_holds_every_point_within_the_distance(lat, lon, metres, bearing,
                                                              fraction):
    """The candidate query's box never rules out a case the place rule would accept."""
    # a point `fraction` of the distance away along `bearing` (the haversine sphere's
    # destination formula)
    d = metres * fraction / 6_371_008.8
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1),
                         math.cos(d) - math.sin(p1) * math.sin(p2))
    lat2, lon2 = math.degrees(p2), math.degrees(l2)
    assert haversine_m(lat, lon, lat2, lon2) <= metres * 1.0000001
    box = search_box(lat, lon, metres)
    assert box.lat_min <= lat2 <= box.lat_max
    assert box.lon_min is None or box.lon_min <= lon2 <= box.lon_max


def test_the_search_box_is_not_much_larger_than_the_distance():
    box = search_box(LAT, LON, 1500)
    assert haversine_m(box.lat_min, LON, box.lat_max, LON) == pytest.approx(3000, rel=0.01)
    assert haversine_m(LAT, box.lon_min, LAT, box.lon_max) == pytest.approx(3000, rel=0.01)
    assert search_box(89.99, 0, 1500).lon_min is None  # within reach of the pole: every lon


def test_text_similarity_is_bigram_jaccard_on_normalized_text():
    assert text_similarity("小区停水了！", "小区 停水了") == 1.0
    assert text_similarity("ＡＢＣ", "abc") == 1.0   # full-width folds to ASCII, lower case
    assert text_similarity("小区停水了", "楼道有煤气味") == 0.0
    assert text_similarity("", "停水") == 0.0
    assert 0 < text_similarity("小区停水了", "家里停水了") < 1


# ---- each rule ----------------------------------------------------------------------------

def test_same_category_same_grid_matches_with_reasons():
    found = best_match(incident(), [case()], MergePolicy())
    assert found is not None and found.case_id == "c1" and 0 < found.score <= 1
    assert found.reasons[:3] == ["same category", "same grid", "0 m apart"]
    assert found.reasons[-1] == "12 min after the case opened"
    assert any(r.startswith("text similarity 0.") for r in found.reasons)


def test_same_category_matches_without_similar_wording():
    assert best_match(incident(text="水管爆了路面都是水"), [case()]) is not None


def test_sibling_category_matches_only_with_similar_text():
    sibling = incident(category="drainage", text="小区停水了，路面积水")
    found = best_match(sibling, [case()])
    assert found is not None and "sibling category water" in found.reasons
    assert best_match(replace(sibling, text="下水道堵了"), [case()]) is None


def test_a_case_with_several_reports_matches_the_wording_of_any():
    reports = case(text="小区停水了\n水管爆了路面都是水")
    found = best_match(incident(category="drainage", text="路面都是水"), [reports])
    assert found is not None and "sibling category water" in found.reasons
    assert best_match(incident(category="drainage", text="路面都是水"), [case()]) is None


def test_a_different_problem_next_door_never_matches():
    noise = incident(category="noise", area_klass=NOISE, text="小区停水了")
    assert best_match(noise, [case()]) is None                  # other class, same text
    other_area = incident(category="water_x", area_klass=("环境保护", "公用事业"))
    assert best_match(other_area, [case()]) is None            # same class name, other area
    gas = incident(category="gas_leak", text="楼道里一股煤气味")
    assert best_match(gas, [case()]) is None                   # sibling, unrelated wording


def test_general_needs_similar_text_even_in_the_same_category():
    general = case(category="general", area_klass=("其他", "其他"), text="楼下有人吵架")
    assert best_match(incident(category="general", area_klass=("其他", "其他"),
                               text="公交车不准点"), [general]) is None
    assert best_match(incident(category="general", area_klass=("其他", "其他"),
                               text="楼下有人在吵架"), [general]) is not None


def test_distance_boundary():
    policy = MergePolicy(distance_m=500, distances={})
    inside = incident(lat=north(499), grid="elsewhere")
    outside = incident(lat=north(501), grid="elsewhere")
    found = best_match(inside, [case()], policy)
    assert found is not None and "499 m apart" in found.reasons
    assert "same grid" not in found.reasons
    assert best_match(outside, [case()], policy) is None
    # the same grid matches however far the points are (a grid is the finest place known)
    assert best_match(replace(outside, grid=GRID), [case()], policy) is not None


def test_per_category_distance_and_missing_points():
    policy = MergePolicy(distance_m=500, distances={"water": 1500})
    assert best_match(incident(lat=north(1200), grid="x"), [case()], policy) is not None
    assert best_match(incident(lat=north(1600), grid="x"), [case()], policy) is None
    no_point = incident(lat=None, lon=None)
    assert best_match(no_point, [case()], policy) is not None                  # same grid
    assert best_match(replace(no_point, grid="x"), [case()], policy) is None  # nothing to go on
    assert best_match(replace(no_point, grid=None), [case(grid=None)], policy) is None


def test_window_boundary_per_category():
    policy = MergePolicy()
    assert best_match(incident(minutes=6 * 60), [case()], policy) is not None   # water: 6 h
    assert best_match(incident(minutes=6 * 60 + 1), [case()], policy) is None
    noise = case(category="noise", area_klass=NOISE, text="楼上音乐声太大")
    late = incident(category="noise", area_klass=NOISE, text="楼上音乐太吵")
    assert best_match(replace(late, opened_at=T0 + timedelta(hours=2)), [noise]) is not None
    assert best_match(replace(late, opened_at=T0 + timedelta(hours=2, seconds=1)),
                      [noise]) is None
    lights = case(category="streetlight", area_klass=("城乡建设", "市政设施"), text="路灯不亮")
    report = incident(category="streetlight", area_klass=("城乡建设", "市政设施"),
                      text="路灯坏了", minutes=24 * 60)
    assert best_match(report, [lights]) is not None                            # default 24 h
    assert best_match(replace(report, opened_at=report.opened_at + timedelta(minutes=1)),
                      [lights]) is None
    found = best_match(incident(minutes=150), [case()], policy)
    assert found is not None and found.reasons[-1] == "2 h 30 min after the case opened"


def test_an_incident_before_the_case_opened_does_not_match():
    assert best_match(incident(minutes=-1), [case()]) is None


@pytest.mark.parametrize("status", ["resolved", "closed", "cancelled", "merged"])
def test_finished_cases_do_not_match(status):
    assert best_match(incident(), [case(status=status)]) is None


@pytest.mark.parametrize("status", ["triage", "pending_assignment", "dispatched",
                                    "acknowledged", "in_progress", "reopened"])
def test_open_cases_match(status):
    assert best_match(incident(), [case(status=status)]) is not None


def test_no_candidates_no_match():
    assert best_match(incident(), []) is None
    assert best_match(incident(), iter(())) is None


def test_the_highest_score_wins():
    near = case("near", lat=north(50), grid="x")
    far = case("far", lat=north(450), grid="y")
    found = best_match(incident(grid="z"), [far, near])
    assert found is not None and found.case_id == "near"
    assert score(incident(grid="z"), near, MergePolicy()).score > \
        score(incident(grid="z"), far, MergePolicy()).score


def test_ties_go_to_the_most_recent_case():
    policy = MergePolicy(weights={"category": 1.0})  # every match scores 1
    older = case("older", opened_at=T0 - timedelta(minutes=30))
    newer = case("newer")
    for order in ([older, newer], [newer, older]):
        found = best_match(incident(), order, policy)
        assert found is not None and found.case_id == "newer" and found.score == 1.0


def test_score_stays_within_zero_and_one():
    for minutes in (0, 60, 359):
        for metres in (0, 700, 1499):
            found = score(incident(minutes=minutes, lat=north(metres), grid="x",
                                   text="小区停水了"), case(), MergePolicy())
            assert found is not None and 0.0 <= found.score <= 1.0


# ---- the labelled day ---------------------------------------------------------------------

def replay(incidents, policy):
    """Feed incidents in time order: a match joins its case, no match opens a new case."""
    cases: dict[str, Candidate] = {}
    members: dict[str, list] = {}
    for item in incidents:
        incoming = Incoming(item.incident_id, item.category, item.area, item.klass, item.lat,
                            item.lon, item.grid, item.text, item.opened_at)
        found = best_match(incoming, cases.values(), policy)
        if found is None:
            case_id = f"case-{len(cases) + 1}"
            cases[case_id] = Candidate(case_id, item.category, item.area, item.klass, item.lat,
                                       item.lon, item.grid, item.text, item.opened_at)
            members[case_id] = [item]
        else:
            members[found.case_id].append(item)
            joined = cases[found.case_id]
            cases[found.case_id] = replace(joined, text=f"{joined.text}\n{item.text}")
    return members


def pairwise(members):
    case_of = {i.incident_id: cid for cid, items in members.items() for i in items}
    everything = [i for items in members.values() for i in items]
    merged = truly_merged = should = found = 0
    for a, b in combinations(everything, 2):
        same_case = case_of[a.incident_id] == case_of[b.incident_id]
        same_event = a.event_key == b.event_key
        merged += same_case
        truly_merged += same_case and same_event
        should += same_event
        found += same_event and same_case
    return truly_merged / merged, found / should


def test_the_scenario_is_labelled_and_big_enough():
    incidents = generate()
    keys = {i.event_key for i in incidents}
    assert len(incidents) >= 200
    assert sum(i.event_key == "burst-water-main" for i in incidents) == 60
    burst = [i.opened_at for i in incidents if i.event_key == "burst-water-main"]
    assert max(burst) - min(burst) <= timedelta(minutes=20)
    assert {"gas-smell", "party-noise", "construction-site", "street-light"} <= keys
    assert generate() == incidents                  # seeded: the same day every time


def test_replaying_ten_labelled_days(capsys):
    """Ten seeded days, not one: the figures are pooled over all of them and each day's is
    printed (the policy's defaults were chosen once; seeds 3 and 6 are the hard days, where a
    burst call classified as drainage opens a case of its own)."""
    lines, pooled = [], [0.0, 0.0]
    for seed in range(1, 11):
        members = replay(generate(seed=seed), MergePolicy())
        precision, recall = pairwise(members)
        pooled[0] += precision / 10
        pooled[1] += recall / 10
        lines.append(f"seed {seed}: {len(members)} cases, precision {precision:.3f}, "
                     f"recall {recall:.3f}")
        for items in members.values():   # the problems next door stay apart from the burst
            keys = {i.event_key for i in items}
            assert not ({"gas-smell", "party-noise"} & keys and "burst-water-main" in keys)
    with capsys.disabled():
        print("\nmerge scenario: " + "; ".join(lines)
              + f"\nmean precision {pooled[0]:.3f}, mean recall {pooled[1]:.3f}")
    assert pooled[0] >= 0.95
    assert pooled[1] >= 0.85


def test_the_lines_of_a_case_are_split_into_bigrams_once():
    from whistle_dispatch.domain.merging import bigrams

    candidate = case(text="3号楼水管爆了\n自来水没了\n楼下全是水")
    score(incident(text="家里停水了"), candidate, MergePolicy())
    before = bigrams.cache_info()
    for _ in range(5):
        score(incident(text="家里停水了"), candidate, MergePolicy())
    after = bigrams.cache_info()
    assert after.misses == before.misses and after.hits - before.hits == 5 * 6
