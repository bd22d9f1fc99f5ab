-- Hotspots (未诉先办). incident_counts is the history baselines are computed from: incidents
-- per category and place (community, street) per window, counted once per event by the
-- cases.events consumer; the current window lives in the streams' windowed table.
CREATE TABLE incident_counts (
    scope        text        NOT NULL,   -- community | street
    place        text        NOT NULL,
    category     text        NOT NULL,
    window_start timestamptz NOT NULL,
    n            integer     NOT NULL,
    PRIMARY KEY (scope, place, category, window_start)
);
-- when counting began (a baseline uses no window from before it)
CREATE TABLE counting_since (
    one   boolean     PRIMARY KEY DEFAULT true CHECK (one),
    since timestamptz NOT NULL
);
CREATE TABLE hotspots (
    id           uuid             PRIMARY KEY,
    kind         text             NOT NULL,   -- spike | sustained
    scope        text             NOT NULL,
    place        text             NOT NULL,
    street       text,
    district     text,
    category     text             NOT NULL,
    window_start timestamptz      NOT NULL,
    window_end   timestamptz      NOT NULL,
    count        integer          NOT NULL,
    expected     double precision NOT NULL,
    p_value      double precision,
    baseline     jsonb            NOT NULL,
    sample_cases jsonb            NOT NULL,
    detected_at  timestamptz      NOT NULL,
    UNIQUE (scope, place, category, window_start, kind)
);
CREATE INDEX hotspots_detected ON hotspots (detected_at DESC);
