CREATE TABLE cases (
    id          uuid        PRIMARY KEY,
    incident_id text        NOT NULL UNIQUE,
    status      text        NOT NULL,
    category    text        NOT NULL,
    kind        text        NOT NULL,
    priority    text        NOT NULL,
    lead        text,
    street      text        NOT NULL,
    district    text        NOT NULL,
    community   text        NOT NULL,
    grid_code   text        NOT NULL,
    received_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    version     integer     NOT NULL DEFAULT 1,
    doc         jsonb       NOT NULL
);
CREATE INDEX cases_status ON cases (status);
CREATE INDEX cases_street ON cases (street);
CREATE INDEX cases_created ON cases (created_at DESC, id);

CREATE TABLE case_assignments (
    case_id    uuid        NOT NULL REFERENCES cases(id),
    seq        integer     NOT NULL,
    dept       text        NOT NULL,
    role       text        NOT NULL,
    status     text        NOT NULL,
    ordered_at timestamptz NOT NULL,
    ack_by     timestamptz NOT NULL,
    resolve_by timestamptz NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_assignments_dept ON case_assignments (dept, status);

CREATE TABLE case_timeline (
    id      bigserial   PRIMARY KEY,
    case_id uuid        NOT NULL REFERENCES cases(id),
    at      timestamptz NOT NULL,
    type    text        NOT NULL,
    dept    text,
    data    jsonb       NOT NULL
);
CREATE INDEX case_timeline_case ON case_timeline (case_id, id);
