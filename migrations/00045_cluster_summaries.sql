-- +goose Up
-- The optional machine-written summary of a root-cause cluster (LLM_URL).
-- Triage owns both tables and is their only writer: the cluster_summary
-- job (triage.Clusterer.Summarize) writes them, after a full run for the
-- clusters of most impact and when an engineer asks on the cluster's page.
--
-- One summary per cluster, the newest, with the prompt exactly as sent and
-- the model that answered, and the cluster's state it was written for
-- (template, members at the last run, that run), so a summary the cluster
-- has outgrown shows as out of date.
CREATE TABLE cluster_summaries (
    cluster_id   bigint      PRIMARY KEY REFERENCES clusters (id),
    summary      text        NOT NULL, -- the model's answer, cleaned: one paragraph, no control characters, capped
    model        text        NOT NULL,
    prompt       text        NOT NULL,
    template     text        NOT NULL, -- the cluster's template when written
    cluster_size integer     NOT NULL, -- the cluster's members at its last run, when written
    cluster_run  bigint,               -- the cluster's last run, when written
    trigger      text        NOT NULL, -- run (after a full run) or page
    actor        text        NOT NULL DEFAULT '',
    written_at   timestamptz NOT NULL
);

-- The last failed attempt to write a cluster's summary (an error or a
-- timeout from the model's server); a summary written later removes it.
CREATE TABLE cluster_summary_failures (
    cluster_id bigint      PRIMARY KEY REFERENCES clusters (id),
    model      text        NOT NULL,
    error      text        NOT NULL,
    attempts   integer     NOT NULL DEFAULT 1, -- failures in a row
    failed_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE cluster_summary_failures;
DROP TABLE cluster_summaries;
