import json
from pathlib import Path

import pytest
from whistle_common.envelope import new_event

SCHEMA = Path(__file__).resolve().parents[4] / "shared" / "schemas" / "cloudevents.json"


def test_envelope_matches_the_published_cloudevents_schema():
    if not SCHEMA.exists():
        pytest.skip("../shared/schemas/cloudevents.json is only on the project's own machines")
    import jsonschema

    event = json.loads(new_event("case.created.v1", source="/whistle/dispatch", subject="c-1",
                                 data={"x": 1}).to_bytes())
    jsonschema.validate(event, json.loads(SCHEMA.read_text()))
