"""The classifier's behaviour: the shipped model routes, ambiguity goes to triage, the keyword
layer overrides, a broken model leaves the rules in charge, and retrain refuses a worse model.
Figures (accuracy, latency) live in the evaluation report (`make eval`), not here."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from whistle_intake.adapters.corpus import Example, data_dir, read_dir
from whistle_intake.adapters.model_store import ClassifierHolder, ModelStore, load_overrides
from whistle_intake.adapters.textmodel import ModelUnavailable, load_model, normalize
from whistle_intake.domain.classifier import (
    GENERAL,
    Overrides,
    Suggestion,
    classify,
    department_confidence,
)
from whistle_intake.entrypoints.cli import lead_map, retrain_into
from whistle_intake.main import load_classifier

WAGES = ("来电人反映，他在城东一个工地上干了四个多月的木工活，包工头一直说年底结账，"
         "现在人联系不上了，二十多个工友都没拿到钱，希望有关部门帮忙追讨。")


@pytest.fixture(scope="module")
def holder() -> ClassifierHolder:
    return load_classifier()


def test_the_shipped_model_loads_and_serves(holder):
    assert holder.model is not None and holder.status()["mode"] == "model"
    assert set(holder.model.classes) <= set(lead_map())
    assert 0 < holder.model.threshold < 1


def test_a_wage_complaint_goes_to_the_labour_inspectorate(holder):
    found = holder.classify(WAGES)
    assert holder.lead_of[found.category] == "laodong_jiancha"
    assert not found.needs_triage
    assert [s.probability for s in found.suggestions] == sorted(
        (s.probability for s in found.suggestions), reverse=True)
    assert len(found.suggestions) == 3 and found.suggestions[0].evidence


@pytest.mark.parametrize("text", ["请问周末天气怎么样", "你好，我想问一下", "喂喂喂",
                                  "我要投诉，你们到底管不管"])
def test_an_ambiguous_text_goes_to_triage(holder, text):
    found = holder.classify(text)
    assert found.needs_triage
    assert found.category == "general" or found.department_confidence < holder.model.threshold


def test_a_low_department_confidence_means_triage_even_for_a_real_category():
    ranked = [Suggestion("noise", 0.3), Suggestion("water", 0.25), Suggestion("power", 0.2)]
    ranker = type("R", (), {"version": "m", "threshold": 0.55,
                            "rank": lambda self, text, k=None: ranked})()
    found = classify("说不清", ranker=ranker, overrides=Overrides(),
                     lead_of={"noise": "gongan", "water": "shuiwu", "power": "gongdian"})
    assert (found.category, found.needs_triage) == ("noise", True)


def test_traditional_characters_read_like_simplified(holder):
    simplified = holder.classify("小区电梯经常坏，昨天又把老人关在里面半个小时")
    traditional = holder.classify("小區電梯經常壞，昨天又把老人關在裡面半個小時")
    assert normalize("電梯") == normalize("电梯")
    assert simplified.category == traditional.category


def test_an_override_wins_over_the_model_and_unless_words_stop_it():
    overrides = Overrides.from_dict({"version": "t", "rules": [
        {"id": "gas", "category": "gas_leak", "keywords": ["煤气味"], "unless": ["演习"]}]})
    ranked = [Suggestion("noise", 0.9), Suggestion("gas_leak", 0.1)]
    ranker = type("R", (), {"version": "m", "threshold": 0.5,
                            "rank": lambda self, text, k=None: ranked})()
    lead_of = {"noise": "gongan", "gas_leak": "ranqi"}
    fired = classify("楼道里好大一股煤气味", ranker=ranker, overrides=overrides, lead_of=lead_of)
    assert (fired.category, fired.method, fired.rule) == ("gas_leak", "rule", "gas")
    assert fired.suggestions[0].category == "gas_leak" and not fired.needs_triage
    drill = classify("消防演习，有煤气味", ranker=ranker, overrides=overrides, lead_of=lead_of)
    assert (drill.category, drill.method) == ("noise", "model")


def test_department_confidence_sums_the_leaves_one_department_leads():
    ranked = [Suggestion("wage_arrears", 0.4), Suggestion("noise", 0.35),
              Suggestion("labour_relations", 0.25)]
    lead_of = {"wage_arrears": "renshe", "labour_relations": "renshe", "noise": "gongan"}
    assert department_confidence(ranked, lead_of) == pytest.approx(0.65)


def test_without_a_model_only_the_rules_classify_and_the_rest_is_triage():
    found = classify("小区门口有人摆摊", ranker=None, overrides=load_overrides(),
                     lead_of=lead_map())
    assert (found.category, found.needs_triage, found.method) == (GENERAL, True, "rules_only")
    gas = classify("楼道里一股燃气味", ranker=None, overrides=load_overrides(),
                   lead_of=lead_map())
    assert (gas.category, gas.needs_triage) == ("gas_leak", False)


def test_a_broken_model_leaves_the_rules_in_charge(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "model.json").write_text("{not json", "utf-8")
    (tmp_path / "CURRENT").write_text("v1\n", "utf-8")
    holder = ClassifierHolder(ModelStore(tmp_path), load_overrides(), lead_map())
    assert holder.refresh() is False
    assert holder.status()["mode"] == "rules_only" and "v1" in holder.status()["error"]
    assert holder.classify("随便说点什么").needs_triage


def test_a_model_that_needs_pickle_is_refused(tmp_path):
    shutil.copytree(data_dir("model"), tmp_path / "m")
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as arrays:
        parts = dict(arrays)
    parts["terms"] = np.array([object()] * len(parts["terms"]), dtype=object)
    np.savez(tmp_path / "m" / "weights.npz", **parts)
    with pytest.raises(ModelUnavailable):
        load_model(tmp_path / "m")


def test_a_promoted_model_is_picked_up_without_restart(tmp_path):
    shutil.copytree(data_dir("model"), tmp_path / "v2")
    meta = json.loads((tmp_path / "v2" / "model.json").read_text("utf-8"))
    meta["version"] = "v2"
    (tmp_path / "v2" / "model.json").write_text(json.dumps(meta), "utf-8")
    holder = ClassifierHolder(ModelStore(tmp_path), load_overrides(), lead_map())
    holder.refresh()
    shipped = holder.version
    ModelStore(tmp_path).promote("v2")
    assert holder.refresh() is True
    assert holder.version == "v2" != shipped


def test_retrain_refuses_a_model_that_scores_worse(tmp_path):
    store = ModelStore(tmp_path)
    shutil.copytree(data_dir("model"), tmp_path / "good")
    store.promote("good")
    corpus = read_dir(data_dir("corpus"))
    per_class: dict[str, list[Example]] = {}
    for example in corpus:
        per_class.setdefault(example.category, []).append(example)
    meagre = [e for examples in per_class.values() for e in examples[:5]]
    held_out = read_dir(data_dir("evaluation"))[::3]
    outcome = retrain_into(store, meagre, held_out, lead_of=lead_map(),
                           overrides=load_overrides())
    assert outcome["promoted"] is False
    assert (outcome["evaluation"]["department_accuracy"]
            < outcome["previous_evaluation"]["department_accuracy"])
    assert store.current_version() == "good"
    assert (Path(tmp_path) / outcome["version"] / "evaluation.json").exists()


def test_every_override_is_precise_on_the_corpus():
    corpus = read_dir(data_dir("corpus"))
    for rule in load_overrides().rules:
        fired = [e.category for e in corpus if rule.hits(e.text)]
        if fired:
            assert fired.count(rule.category) / len(fired) >= 0.97, (rule.id, fired)
