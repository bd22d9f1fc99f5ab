CREATE SEQUENCE incident_tracking_seq;

CREATE TABLE incidents (
    id              uuid        PRIMARY KEY,
    tracking_no     text        NOT NULL UNIQUE,
    source          text        NOT NULL,
    external_id     text        NOT NULL,
    request_hash    text        NOT NULL,
    kind            text        NOT NULL,
    category        text        NOT NULL,
    classification  jsonb       NOT NULL,
    priority        text        NOT NULL,
    description     text        NOT NULL,
    grid_code       text        NOT NULL,
    location        jsonb       NOT NULL,
    reporter        jsonb       NOT NULL,
    media_urls      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    occurred_at     timestamptz,
    received_at     timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'received',
    case_id         text,
    agency          text,
    expected_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, external_id)
);
CREATE INDEX incidents_received_at ON incidents (received_at);
CREATE INDEX incidents_category ON incidents (category);

CREATE TABLE incident_timeline (
    id          bigserial   PRIMARY KEY,
    incident_id uuid        NOT NULL REFERENCES incidents(id),
    at          timestamptz NOT NULL,
    status      text        NOT NULL,
    event_type  text        NOT NULL,
    note        text
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at);
