-- +goose Up
-- The process dashboard's daily rollup, owned by orchestration and refreshed
-- by its leader-only periodic job (orchestration.(*Service).RefreshRollup).
-- The dashboard reads these small tables, never the raw events, so a month
-- of a million orders renders in milliseconds. What each metric counts is
-- documented in orchestration/rollup.go and the README.

-- Each order's place in the network, kept by the refresh: its channel, and
-- its node (the location it was first released to, else the location of its
-- first order reservation, else its pickup store; '' while unsourced) with
-- the node's region. Read by triage's case rollup (documented view).
CREATE TABLE process_order_dims (
    order_id   uuid        PRIMARY KEY,
    channel    text        NOT NULL,
    region     text        NOT NULL,
    node       text        NOT NULL,
    updated_at timestamptz NOT NULL
);

-- One row per UTC day, metric, channel, region, node and dim (an exception
-- kind, an endpoint, a state; '' for none). n counts the facts, hits those
-- that pass (allocated in full, failed, touched by a person...), timed those
-- with a duration and sum_s the sum of their durations in seconds. Facts
-- with no channel, region or node (API calls) have ''.
CREATE TABLE process_daily (
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

-- The durations of process_daily as log histograms, one per row with durations,
-- apart so that the sums read a narrow table: element 1 of hist counts
-- [0, 1 s), element i > 1 counts [2^((i-2)/4), 2^((i-1)/4)) seconds (19%
-- wide), up to element 96 (from 194 days on). A period's histogram is
-- pgvector's sum() of its days'; medians and p90s are read from it,
-- interpolated within the bucket.
CREATE TABLE process_daily_hist (
    day     date       NOT NULL,
    metric  text       NOT NULL,
    channel text       NOT NULL,
    region  text       NOT NULL,
    node    text       NOT NULL,
    dim     text       NOT NULL,
    hist    vector(96) NOT NULL,
    PRIMARY KEY (metric, day, channel, region, node, dim)
);


-- How many orders (journey 'order', state = order status) and returns
-- (journey 'return', state = return status) sit in each unfinished state
-- now, by channel, region and node, as of the last refresh.
CREATE TABLE process_stall_now (
    journey text   NOT NULL,
    state   text   NOT NULL,
    channel text   NOT NULL,
    region  text   NOT NULL,
    node    text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (journey, state, channel, region, node)
);

-- Where each rollup got to: through is the service time up to which every
-- fact is in the rollup; the next refresh recomputes from the day before.
CREATE TABLE process_rollup_state (
    name         text        PRIMARY KEY,
    through      timestamptz NOT NULL,
    refreshed_at timestamptz NOT NULL
);

-- The order events a person wrote (support, engineer or admin staff through
-- the review pages, as opposed to system:, orchestrator:, triage: actors):
-- a manual touch. Read by triage's precision of automatic fixes.
CREATE VIEW process_person_touches AS
SELECT order_id, kind, actor, created_at FROM order_events
WHERE actor ~ '^(support|engineer|admin):';

-- Refresh finds the facts of a day by these columns.
CREATE INDEX order_events_created_idx ON order_events (created_at);
CREATE INDEX returns_refunded_idx ON returns (refunded_at) WHERE refunded_at IS NOT NULL;
CREATE INDEX returns_received_idx ON returns (received_at) WHERE received_at IS NOT NULL;
CREATE INDEX returns_approved_idx ON returns (approved_at) WHERE approved_at IS NOT NULL;
CREATE INDEX erp_postings_created_idx ON erp_postings (created_at);
CREATE INDEX erp_postings_ack_idx ON erp_postings (acknowledged_at) WHERE acknowledged_at IS NOT NULL;
CREATE INDEX exceptions_occurred_idx ON exceptions (occurred_at);

-- The histogram bucket of a duration in seconds (see process_daily_hist).
CREATE FUNCTION process_bucket(seconds double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN seconds < 1 THEN 1
        ELSE least(96, floor(4 * ln(seconds) / ln(2))::int + 2) END::smallint
$$;

-- +goose Down
DROP FUNCTION process_bucket(double precision);
DROP INDEX exceptions_occurred_idx;
DROP INDEX erp_postings_ack_idx;
DROP INDEX erp_postings_created_idx;
DROP INDEX returns_approved_idx;
DROP INDEX returns_received_idx;
DROP INDEX returns_refunded_idx;
DROP INDEX order_events_created_idx;
DROP VIEW process_person_touches;
DROP TABLE process_rollup_state;
DROP TABLE process_stall_now;
DROP TABLE process_daily_hist;
DROP TABLE process_daily;
DROP TABLE process_order_dims;
