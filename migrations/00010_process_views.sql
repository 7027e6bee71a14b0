-- +goose Up
-- Process metrics: one view per metric, computed from the order events,
-- shipments, exceptions, returns and ERP postings the lifecycle writes, plus a
-- table of outside calls counted by the process that made them. Rows whose
-- channel or kind is '*' are the totals over every channel or kind.

-- Outside calls by minute, system and operation, as counted by
-- orchestration.CallCounter (flushed every few seconds; a crash loses at most
-- the unflushed counts). transient are failures a retry may cure (timeouts,
-- 5xx, 429); failed are the rest (4xx, requests refused before sending).
-- Declines and rejections are answers, not failures: they are not counted here.
CREATE TABLE integration_calls (
    bucket    timestamptz NOT NULL, -- the minute
    system    text        NOT NULL,
    op        text        NOT NULL,
    calls     bigint      NOT NULL DEFAULT 0 CHECK (calls >= 0),
    transient bigint      NOT NULL DEFAULT 0 CHECK (transient >= 0),
    failed    bigint      NOT NULL DEFAULT 0 CHECK (failed >= 0),
    PRIMARY KEY (bucket, system, op)
);

-- When each delivered order was captured and delivered, and what was promised.
-- Delivered is the carrier's time of the last delivered shipment, else the
-- time the order became delivered; an order later returned still counts.
CREATE VIEW process_deliveries AS
WITH ev AS (
    SELECT order_id,
        min(created_at) FILTER (WHERE kind = 'captured') AS captured_at,
        min(created_at) FILTER (WHERE kind = 'delivered' AND to_status = 'delivered') AS delivered_at
    FROM order_events WHERE kind IN ('captured', 'delivered')
    GROUP BY order_id
)
SELECT o.id AS order_id, c.code AS channel, coalesce(ev.captured_at, o.created_at) AS captured_at,
    coalesce((SELECT max(sh.delivered_at) FROM shipments sh WHERE sh.order_id = o.id AND sh.status = 'delivered'), ev.delivered_at) AS delivered_at,
    o.promise_date
FROM ev JOIN orders o ON o.id = ev.order_id JOIN channels c ON c.id = o.channel_id
WHERE ev.delivered_at IS NOT NULL;

-- Order cycle time by channel: capture to delivery, in hours.
CREATE VIEW process_cycle_time AS
WITH d AS (
    SELECT channel, extract(epoch FROM delivered_at - captured_at)::float8 / 3600 AS hours FROM process_deliveries
)
SELECT coalesce(channel, '*') AS channel, count(*)::int AS orders,
    avg(hours) AS avg_hours,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS p50_hours,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY hours) AS p95_hours,
    max(hours) AS max_hours
FROM d GROUP BY GROUPING SETS ((channel), ());

-- Allocation success rate by channel: orders every line of which was reserved
-- at capture (captured, not backordered or rejected), over all orders captured.
CREATE VIEW process_allocation AS
SELECT coalesce(c.code, '*') AS channel, count(*)::int AS orders,
    count(*) FILTER (WHERE e.to_status = 'captured')::int AS fully_allocated,
    (count(*) FILTER (WHERE e.to_status = 'captured'))::float8 / nullif(count(*), 0) AS rate
FROM order_events e JOIN orders o ON o.id = e.order_id JOIN channels c ON c.id = o.channel_id
WHERE e.kind = 'captured'
GROUP BY GROUPING SETS ((c.code), ());

-- Exceptions by kind per day (UTC) of occurrence.
CREATE VIEW process_exception_daily AS
SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, kind, count(*)::int AS exceptions
FROM exceptions
GROUP BY 1, 2;

-- Refund processing time: a return received to its refund succeeded, in
-- hours; waiting counts returns received and not refunded yet.
CREATE VIEW process_refund_time AS
WITH r AS (
    SELECT extract(epoch FROM refunded_at - received_at)::float8 / 3600 AS hours
    FROM returns WHERE refunded_at IS NOT NULL AND received_at IS NOT NULL
)
SELECT count(*)::int AS refunds,
    avg(hours) AS avg_hours,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS p50_hours,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY hours) AS p95_hours,
    max(hours) AS max_hours,
    (SELECT count(*) FROM returns WHERE received_at IS NOT NULL AND refunded_at IS NULL)::int AS waiting
FROM r;

-- ERP posting lag by document kind: created to acknowledged, in seconds, over
-- the acknowledged postings; with the rejected ones and those still waiting.
CREATE VIEW process_erp_lag AS
WITH p AS (
    SELECT kind, status, extract(epoch FROM acknowledged_at - created_at)::float8 AS seconds FROM erp_postings
)
SELECT coalesce(kind, '*') AS kind, count(*)::int AS postings,
    count(seconds)::int AS acknowledged,
    count(*) FILTER (WHERE status = 'rejected')::int AS rejected,
    count(*) FILTER (WHERE status IN ('queued', 'pending'))::int AS waiting,
    avg(seconds) AS avg_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50_seconds,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95_seconds
FROM p GROUP BY GROUPING SETS ((kind), ());

-- API failure rate by endpoint (system/op): the calls counted in
-- integration_calls, with their transient and failed shares, next to the
-- exceptions raised for the endpoint (integration_error: a call failed for
-- good; erp_posting_failed: the ERP rejected a document, or its post failed).
-- The exceptions are what needed a decision; the rates are per call attempt,
-- retries included. An endpoint without counted calls has no rates.
CREATE VIEW process_api_failures AS
WITH calls AS (
    SELECT system || '/' || op AS endpoint, sum(calls)::bigint AS calls, sum(transient)::bigint AS transient, sum(failed)::bigint AS failed
    FROM integration_calls GROUP BY 1
), exc AS (
    SELECT CASE WHEN endpoint ~ '^erp/(invoice|credit_memo|payment_capture|refund)$' THEN 'erp/post_' || substr(endpoint, 5)
                WHEN endpoint = '' THEN source ELSE endpoint END AS endpoint,
        count(*) FILTER (WHERE kind = 'integration_error')::bigint AS integration_errors,
        count(*) FILTER (WHERE kind = 'erp_posting_failed')::bigint AS erp_posting_failures
    FROM exceptions WHERE kind IN ('integration_error', 'erp_posting_failed')
    GROUP BY 1
)
SELECT coalesce(calls.endpoint, exc.endpoint) AS endpoint,
    coalesce(calls.calls, 0) AS calls, coalesce(calls.transient, 0) AS transient, coalesce(calls.failed, 0) AS failed,
    CASE WHEN calls.calls > 0 THEN (calls.transient + calls.failed)::float8 / calls.calls END AS failure_rate,
    coalesce(exc.integration_errors, 0) AS integration_errors,
    coalesce(exc.erp_posting_failures, 0) AS erp_posting_failures
FROM calls FULL JOIN exc ON exc.endpoint = calls.endpoint;

-- Promise adherence by channel: delivered orders (with a promise date)
-- delivered on or before the promised day (UTC), over all of them.
CREATE VIEW process_promise AS
SELECT coalesce(channel, '*') AS channel, count(*)::int AS delivered,
    count(*) FILTER (WHERE (delivered_at AT TIME ZONE 'UTC')::date <= (promise_date AT TIME ZONE 'UTC')::date)::int AS on_time,
    (count(*) FILTER (WHERE (delivered_at AT TIME ZONE 'UTC')::date <= (promise_date AT TIME ZONE 'UTC')::date))::float8 / nullif(count(*), 0) AS rate
FROM process_deliveries WHERE promise_date IS NOT NULL
GROUP BY GROUPING SETS ((channel), ());

-- +goose Down
DROP VIEW process_promise;
DROP VIEW process_api_failures;
DROP VIEW process_erp_lag;
DROP VIEW process_refund_time;
DROP VIEW process_exception_daily;
DROP VIEW process_allocation;
DROP VIEW process_cycle_time;
DROP VIEW process_deliveries;
DROP TABLE integration_calls;
