CREATE TABLE contacts (
    recipient  text        PRIMARY KEY,
    phone      text,
    email      text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE preferences (
    recipient   text        PRIMARY KEY,
    channels    text[],
    quiet_start time,
    quiet_end   time,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One notification per (event, recipient, channel): a redelivered event inserts nothing.
CREATE TABLE notifications (
    id              uuid        PRIMARY KEY,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    recipient       text        NOT NULL,
    channel         text        NOT NULL,
    template        text,
    context         jsonb       NOT NULL,
    body            text,
    urgent          boolean     NOT NULL DEFAULT false,
    digest_key      text,
    status          text        NOT NULL,  -- pending deferred sending sent dead digested
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (event_id, recipient, channel)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status IN ('pending', 'deferred', 'sending');
CREATE INDEX notifications_recipient ON notifications (recipient, created_at DESC);
CREATE INDEX notifications_sent ON notifications (recipient, channel, sent_at)
    WHERE status = 'sent';

CREATE TABLE delivery_attempts (
    id              bigserial   PRIMARY KEY,
    notification_id uuid        NOT NULL REFERENCES notifications(id),
    at              timestamptz NOT NULL DEFAULT now(),
    outcome         text        NOT NULL,
    error           text,
    seconds         double precision
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id, id);
