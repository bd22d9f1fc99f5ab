CREATE TABLE volunteers (
    id            uuid        PRIMARY KEY,
    name          text        NOT NULL,
    community     text        NOT NULL,
    street        text        NOT NULL,
    team_colour   text        NOT NULL,
    party_member  boolean     NOT NULL DEFAULT false,
    phone         text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX volunteers_community ON volunteers (community);

CREATE TABLE tasks (
    id             uuid        PRIMARY KEY,
    case_id        text        UNIQUE,
    community      text        NOT NULL,
    title          text        NOT NULL,
    description    text        NOT NULL DEFAULT '',
    category       text        NOT NULL,
    difficulty     text        NOT NULL,
    max_volunteers integer     NOT NULL CHECK (max_volunteers >= 1),
    claimed        integer     NOT NULL DEFAULT 0 CHECK (claimed <= max_volunteers),
    status         text        NOT NULL DEFAULT 'open',
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_open ON tasks (community, status);

CREATE TABLE task_claims (
    task_id      uuid        NOT NULL REFERENCES tasks(id),
    volunteer_id uuid        NOT NULL REFERENCES volunteers(id),
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    hours        numeric(6, 2),
    points       integer,
    verified_by  text,
    PRIMARY KEY (task_id, volunteer_id)
);

-- Double-entry ledger: a transaction's entries sum to zero; nothing is ever updated or deleted.
CREATE TABLE ledger_txns (
    id           uuid        PRIMARY KEY,
    ref          text        NOT NULL UNIQUE,   -- what caused it: one award per completion
    kind         text        NOT NULL CHECK (kind IN ('award', 'redemption')),
    volunteer_id uuid        NOT NULL REFERENCES volunteers(id),
    points       integer     NOT NULL CHECK (points > 0),
    hours        numeric(6, 2) NOT NULL DEFAULT 0,
    note         text,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_txns_volunteer ON ledger_txns (volunteer_id, at);
CREATE INDEX ledger_txns_at ON ledger_txns (kind, at);

CREATE TABLE ledger_entries (
    id      bigserial   PRIMARY KEY,
    txn_id  uuid        NOT NULL REFERENCES ledger_txns(id),
    account text        NOT NULL,
    amount  bigint      NOT NULL CHECK (amount <> 0)
);
CREATE INDEX ledger_entries_account ON ledger_entries (account);

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_txns_append_only BEFORE UPDATE OR DELETE ON ledger_txns
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE FUNCTION ledger_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT sum(amount) FROM ledger_entries WHERE txn_id = NEW.txn_id) <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', NEW.txn_id;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_balanced();

-- Balances kept with the ledger in one transaction; the CHECK makes overdrafts impossible.
CREATE TABLE balances (
    volunteer_id    uuid        PRIMARY KEY REFERENCES volunteers(id),
    points          bigint      NOT NULL DEFAULT 0 CHECK (points >= 0),
    hours_earned    numeric(8, 2) NOT NULL DEFAULT 0,
    first_earned_at timestamptz
);

-- Department assessment, event-sourced from cases.events: one row per event, so a replay
-- (the rebuild command) reaches the same numbers and a redelivery counts nothing twice.
CREATE TABLE assessment_events (
    event_id text        NOT NULL,
    dept     text        NOT NULL,
    case_id  text        NOT NULL,
    type     text        NOT NULL,
    on_time  boolean,
    rating   text,
    at       timestamptz NOT NULL,
    PRIMARY KEY (event_id, dept)
);
CREATE INDEX assessment_events_dept ON assessment_events (dept, type, at);
