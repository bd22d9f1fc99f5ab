-- Deadlines being watched. One row per (case, assignment, kind): `stage` is the next stage
-- to fire (0 overdue, 1 street, 2 district, 3 city); `due_at` when it fires. Workers claim
-- due rows with FOR UPDATE SKIP LOCKED, so each stage fires once however many run.
CREATE TABLE supervision (
    case_id uuid        NOT NULL REFERENCES cases(id),
    seq     integer     NOT NULL,   -- assignment index; -1 for the case's auto-close
    kind    text        NOT NULL,   -- ack | resolve | autoclose
    stage   integer     NOT NULL DEFAULT 0,
    due_at  timestamptz NOT NULL,
    PRIMARY KEY (case_id, seq, kind)
);
CREATE INDEX supervision_due ON supervision (due_at);
