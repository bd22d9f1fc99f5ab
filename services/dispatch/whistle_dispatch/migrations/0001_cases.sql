CREATE TABLE cases (
    id           uuid        PRIMARY KEY,
    incident_id  text        NOT NULL UNIQUE,
    status       text        NOT NULL,
    category     text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
