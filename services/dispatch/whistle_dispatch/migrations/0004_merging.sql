-- Merging duplicate calls (并单): an incident that joined an open case instead of opening one.
-- A split deletes its row (the case's timeline keeps the history) and the incident gets a case
-- of its own, so an incident is in exactly one of cases.incident_id and this table.
CREATE TABLE case_incidents (
    incident_id text             PRIMARY KEY,
    case_id     uuid             NOT NULL REFERENCES cases(id),
    merged_at   timestamptz      NOT NULL,
    score       double precision NOT NULL,
    reasons     jsonb            NOT NULL
);
CREATE INDEX case_incidents_case ON case_incidents (case_id);
-- the open cases of a district first reported recently: where merge candidates are looked for
CREATE INDEX cases_merge_candidates ON cases (district, received_at DESC)
    WHERE status IN ('triage', 'pending_assignment', 'dispatched', 'acknowledged',
                     'in_progress', 'reopened');
