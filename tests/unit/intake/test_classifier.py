import json
from collections import Counter
from pathlib import Path

from whistle_intake.domain.classifier import GENERAL, Classifier
from whistle_intake.main import load_classifier

SAMPLE = (Path(__file__).resolve().parents[3] / "clients" / "whistle_clients" / "data"
          / "incident_texts.jsonl")  # written by hand; the simulator posts the same texts


def test_accuracy_on_the_labelled_sample_is_at_least_90_percent():
    classifier = load_classifier()
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 200
    assert len({r["category"] for r in rows}) >= 15
    misses = [(r["category"], classifier.classify(r["text"]).category, r["text"])
              for r in rows if classifier.classify(r["text"]).category != r["category"]]
    accuracy = 1 - len(misses) / len(rows)
    per_category = Counter(m[0] for m in misses)
    print(f"\nclassifier accuracy: {accuracy:.1%} on {len(rows)} labelled texts; "
          f"misses by true category: {dict(per_category)}")
    assert accuracy >= 0.90, misses


def test_records_rule_and_confidence():
    result = load_classifier().classify("楼下烧烤店每天晚上噪音很大")
    assert result.category == "noise"
    assert result.rule == "noise"
    assert 0 < result.confidence <= 1
    assert "噪音" in result.matched


def test_mixed_evidence_lowers_confidence():
    pure = load_classifier().classify("小区垃圾没人清运")
    mixed = load_classifier().classify("小区垃圾没人清运，还有人占道摆摊")
    assert pure.confidence == 1.0
    assert mixed.confidence < 1.0


def test_unclassifiable_text_goes_to_general_for_triage():
    result = load_classifier().classify("请问这个周末天气怎么样")
    assert (result.category, result.confidence, result.rule) == (GENERAL, 0.0, None)


def test_rules_are_data():
    classifier = Classifier.from_dict({"version": "t", "rules": [
        {"id": "r1", "category": "water", "weight": 1, "keywords": ["水"]}]})
    assert classifier.classify("没水了").category == "water"
    assert classifier.version == "t"
