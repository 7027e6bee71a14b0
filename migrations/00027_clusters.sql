-- +goose Up
-- Root-cause clusters. Triage owns every table here and is their only
-- writer; the clustering run (triage.Clusterer) rewrites the members of
-- the window, keeps each cluster's id, status, owner and notes across runs
-- (cluster.Match) and records which ids merged and split.
--
-- exception_facts is orchestration's documented read view of its
-- exceptions for other packages: the exception's own columns plus its
-- order's channel code. Triage's clustering reads exceptions through it
-- and never writes the exceptions table.
CREATE VIEW exception_facts AS
SELECT e.id, e.kind, e.severity, e.source, e.order_id, e.sku, e.location, e.carrier, e.endpoint,
       e.code, e.message, e.occurred_at, e.created_at, coalesce(ch.code, '') AS channel
FROM exceptions e
LEFT JOIN orders o ON o.id = e.order_id
LEFT JOIN channels ch ON ch.id = o.channel_id;

-- One cluster: a recurring root cause. Its id never changes; a run that
-- finds it again keeps it. active is false once it merged into another
-- (merged_into) or no exception of the window belongs to it any more.
CREATE TABLE clusters (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text        NOT NULL,
    code           text        NOT NULL DEFAULT '',
    system         text        NOT NULL DEFAULT '', -- the outside system (the endpoint's first part)
    template       text        NOT NULL,            -- tokens joined by spaces, <*> for variables
    representative text        NOT NULL DEFAULT '', -- one member's message, as sent
    centroid       real[],                          -- normalised mean of the members' vectors
    size           integer     NOT NULL DEFAULT 0,  -- members at the last run
    first_seen     timestamptz,
    last_seen      timestamptz,
    status         text        NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'investigating', 'fixed', 'ignored')),
    owner          text        NOT NULL DEFAULT '',
    notes          text        NOT NULL DEFAULT '',
    fixed_at       date,        -- the day of the fix; set with status fixed
    -- recurring_at: when an exception of a day after fixed_at first joined
    -- the fixed cluster; recurring_notified_at: when the webhook was told.
    recurring_at          timestamptz,
    recurring_notified_at timestamptz,
    active         boolean     NOT NULL DEFAULT true,
    merged_into    bigint      REFERENCES clusters (id),
    created_run    bigint,
    last_run       bigint,
    updated_by     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'fixed') = (fixed_at IS NOT NULL))
);
CREATE INDEX clusters_active_idx ON clusters (active, kind);

-- Which cluster each exception belongs to: written by the full run for
-- the whole window, and by the triage worker as new exceptions arrive
-- (run_id NULL). occurred_at is copied so counts and trends need no join.
CREATE TABLE cluster_members (
    exception_id uuid        PRIMARY KEY REFERENCES exceptions (id) ON DELETE CASCADE,
    cluster_id   bigint      NOT NULL REFERENCES clusters (id),
    occurred_at  timestamptz NOT NULL,
    run_id       bigint,
    assigned_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cluster_members_cluster_idx ON cluster_members (cluster_id, occurred_at);
CREATE INDEX cluster_members_occurred_idx ON cluster_members (occurred_at);

-- Every full run, with what it found.
CREATE TABLE cluster_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger      text        NOT NULL, -- schedule, cli, page, api
    actor        text        NOT NULL DEFAULT '',
    window_start timestamptz NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    exceptions   integer     NOT NULL DEFAULT 0,
    clusters     integer     NOT NULL DEFAULT 0,
    created      integer     NOT NULL DEFAULT 0, -- clusters new in this run
    merges       integer     NOT NULL DEFAULT 0,
    splits       integer     NOT NULL DEFAULT 0,
    duration_ms  bigint      NOT NULL DEFAULT 0,
    error        text        NOT NULL DEFAULT ''
);

-- Merges and splits, as a run saw them: a merge took the clusters of
-- others into cluster_id (which kept its id); a split broke cluster_id
-- away from others[1], which kept its own id.
CREATE TABLE cluster_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     bigint      NOT NULL REFERENCES cluster_runs (id),
    kind       text        NOT NULL CHECK (kind IN ('merge', 'split')),
    cluster_id bigint      NOT NULL REFERENCES clusters (id),
    others     bigint[]    NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cluster_events_cluster_idx ON cluster_events (cluster_id, id);
CREATE INDEX cluster_events_others_idx ON cluster_events USING gin (others);

-- +goose Down
DROP TABLE cluster_events;
DROP TABLE cluster_runs;
DROP TABLE cluster_members;
DROP TABLE clusters;
DROP VIEW exception_facts;
