-- A person's category choice on a case (triage, after returns, a change): labelled examples
-- that `python -m whistle_intake retrain` adds to the corpus.
CREATE TABLE classification_corrections (
    event_id      text        PRIMARY KEY,
    incident_id   uuid        NOT NULL REFERENCES incidents(id),
    case_id       text,
    text          text        NOT NULL,
    from_category text        NOT NULL,
    to_category   text        NOT NULL,
    confirmed     boolean     NOT NULL,
    reason        text        NOT NULL,
    corrected_by  text        NOT NULL,
    model_version text,
    corrected_at  timestamptz NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX classification_corrections_at ON classification_corrections (corrected_at);
