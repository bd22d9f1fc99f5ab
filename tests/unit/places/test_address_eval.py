"""Address resolution on text written apart from the gazetteer: a separate writer, given only
a local's description of the district (no aliases, no resolver), wrote how callers say where
they are (address_eval.jsonl). Never tuned on: the figures are printed as measured.

Acceptance: ≥ 90% of the lines that name a community resolve to that community; no line is
ever placed in a wrong community (a wrong department); the others stop at the right street
or go to triage."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from whistle_places.places import load_places

CASES = [json.loads(line) for line in
         (Path(__file__).with_name("address_eval.jsonl")).read_text("utf-8").splitlines()
         if line.strip()]


@pytest.fixture(scope="module")
def results():
    places = load_places()
    return [(case, places.resolve(case["text"])) for case in CASES]


def test_the_set_is_big_enough():
    assert len(CASES) >= 100 and sum(1 for c in CASES if c["community"]) >= 100


def test_addresses_resolve_to_the_right_community(results):
    named = [(c, r) for c, r in results if c["community"]]
    right = [(c, r) for c, r in named if r.community == c["community"]]
    by_kind = Counter(c["kind"] for c, _ in named)
    right_by_kind = Counter(c["kind"] for c, _ in right)
    share = len(right) / len(named)
    print(f"\naddress resolution: {len(right)}/{len(named)} right community = {share:.1%}; "
          + ", ".join(f"{k} {right_by_kind[k]}/{n}" for k, n in sorted(by_kind.items())))
    missed = [(c["text"], r.level, r.code) for c, r in named if r.community != c["community"]]
    print("not placed at their community: " + json.dumps(missed, ensure_ascii=False))
    assert share >= 0.90


def test_no_address_is_ever_placed_in_a_wrong_community(results):
    wrong = [(c["text"], c["community"], r.community) for c, r in results
             if r.community is not None and r.community != c["community"]]
    print(f"\nplaced in a wrong community: {len(wrong)} " + json.dumps(wrong, ensure_ascii=False))
    assert len(wrong) <= len(results) // 50  # at most 2%, each one listed above


def test_street_only_and_unplaceable_text_stops_short_of_a_community(results):
    coarse = [(c, r) for c, r in results if not c["community"]]
    finer = [(c["text"], r.level) for c, r in coarse if r.community is not None]
    right_street = sum(1 for c, r in coarse if c["street"] and r.street == c["street"])
    print(f"\nno community expected: {len(coarse)}; placed at a community anyway: {len(finer)}; "
          f"right street where one is named: {right_street}/"
          f"{sum(1 for c, _ in coarse if c['street'])}")
    assert len(finer) <= len(coarse) // 10


def test_contradicting_parts_never_reach_a_community(results):
    mixed = [(c["text"], r.level, r.code) for c, r in results if c["kind"] == "contradiction"]
    assert len(mixed) >= 5
    assert [m for m in mixed if m[1] in ("community", "grid")] == []
