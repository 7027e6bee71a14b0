-- Views the orchestration core maintains over its own tables for the
-- packages that read them in SQL joined with their own (triage's cases):
-- the tables are orchestration's and only its code writes them; a reader
-- from another package goes through orchestration's methods or these
-- views, so the core can change its tables and keep the views. Owner:
-- orchestration. Readers: triage (case pages, the review queue, exception
-- lists, risk-model training).

-- +goose Up
-- Exceptions as the core wrote them.
CREATE VIEW core_exceptions AS
SELECT id, kind, severity, status, source, order_id, line_ids, sku, location, carrier, endpoint, code, message,
    payload, occurred_at, created_at, resolved_at
FROM exceptions;
COMMENT ON VIEW core_exceptions IS 'Owner: orchestration. Readers: triage. The exceptions, read-only.';

-- The SKU an exception concerns: its own, else the one SKU of the order
-- lines it names (all the order's lines when it names none); NULL when the
-- lines have more than one.
CREATE VIEW core_exception_skus AS
SELECT e.id AS exception_id, e.location,
    coalesce(nullif(e.sku, ''), (
        SELECT min(k.code) FROM order_lines l JOIN skus k ON k.id = l.sku_id
        WHERE l.order_id = e.order_id AND (cardinality(e.line_ids) = 0 OR l.id = ANY(e.line_ids))
        HAVING count(DISTINCT l.sku_id) = 1)) AS sku
FROM exceptions e;
COMMENT ON VIEW core_exception_skus IS 'Owner: orchestration. Readers: triage (stockout training). The SKU an exception concerns.';

-- What an order's triage shows in a queue: its channel, value, customer
-- and promise.
CREATE VIEW core_order_summaries AS
SELECT o.id, coalesce(ch.code, '') AS channel, o.status, o.total, o.currency,
    coalesce(o.customer->>'tier', '') AS customer_tier, coalesce(o.customer->>'name', '') AS customer_name,
    o.promised_by, o.promise_date
FROM orders o LEFT JOIN channels ch ON ch.id = o.channel_id;
COMMENT ON VIEW core_order_summaries IS 'Owner: orchestration. Readers: triage (review queue). One row an order.';

-- An order's deliveries: its shipments that are not cancelled, how many
-- are delivered and when the last was.
CREATE VIEW core_order_deliveries AS
SELECT o.id AS order_id, o.promised_by, o.promise_date, sh.shipments, sh.delivered, sh.last_delivered
FROM orders o CROSS JOIN LATERAL (
    SELECT count(*) AS shipments, count(s.delivered_at) AS delivered, max(s.delivered_at) AS last_delivered
    FROM shipments s WHERE s.order_id = o.id AND s.status <> 'cancelled') sh;
COMMENT ON VIEW core_order_deliveries IS 'Owner: orchestration. Readers: triage (delivery training). One row an order.';

-- +goose Down
DROP VIEW core_order_deliveries;
DROP VIEW core_order_summaries;
DROP VIEW core_exception_skus;
DROP VIEW core_exceptions;
