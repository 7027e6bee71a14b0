-- +goose Up
-- The case figures of the process dashboard (automation rate, precision of
-- automatic fixes, review time), owned by triage and refreshed by its
-- leader-only periodic job (triage.(*Service).RefreshCaseRollup). Same shape
-- as orchestration's process_daily (see
-- 00037_process_rollup.sql): one row per UTC day, metric, channel, region,
-- node and dim (the exception kind).
CREATE TABLE case_daily (
    day     date             NOT NULL,
    metric  text             NOT NULL,
    channel text             NOT NULL,
    region  text             NOT NULL,
    node    text             NOT NULL,
    dim     text             NOT NULL,
    n       bigint           NOT NULL,
    hits    bigint           NOT NULL,
    timed   bigint           NOT NULL,
    sum_s   double precision NOT NULL,
    PRIMARY KEY (metric, day, channel, region, node, dim)
);

-- The durations of case_daily as log histograms, one per row with durations,
-- apart so that the sums read a narrow table: element 1 of hist counts
-- [0, 1 s), element i > 1 counts [2^((i-2)/4), 2^((i-1)/4)) seconds (19%
-- wide), up to element 96 (from 194 days on). A period's histogram is
-- pgvector's sum() of its days'; medians and p90s are read from it,
-- interpolated within the bucket.
CREATE TABLE case_daily_hist (
    day     date       NOT NULL,
    metric  text       NOT NULL,
    channel text       NOT NULL,
    region  text       NOT NULL,
    node    text       NOT NULL,
    dim     text       NOT NULL,
    hist    vector(96) NOT NULL,
    PRIMARY KEY (metric, day, channel, region, node, dim)
);


-- When the case rollup last ran (one row).
CREATE TABLE case_rollup_state (
    name         text        PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
);

-- The refresh finds the cases of a day by these columns.
CREATE INDEX cases_triaged_idx ON cases (triaged_at) WHERE triaged_at IS NOT NULL;
CREATE INDEX cases_decided_idx ON cases (decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX cases_order_kind_idx ON cases (order_id, kind, created_at) WHERE order_id IS NOT NULL;

-- +goose Down
DROP INDEX cases_order_kind_idx;
DROP INDEX cases_decided_idx;
DROP INDEX cases_triaged_idx;
DROP TABLE case_rollup_state;
DROP TABLE case_daily_hist;
DROP TABLE case_daily;
