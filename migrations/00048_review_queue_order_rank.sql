-- +goose Up
-- A waiting case's rank reads its order (value, the customer's tier, the
-- promise: review_queue_row in 00035), so an order edit that changes those
-- re-ranks the order's waiting cases in the edit's own transaction. The
-- trigger and its function are triage's, as review_queue is: orchestration's
-- code never names review_queue. Lock order stays the one a decision takes
-- (the order row, then the queue row), so the edit and Decide cannot
-- deadlock on each other.
CREATE INDEX cases_queued_order_idx ON cases (order_id) WHERE status = 'queued_for_review';

-- +goose StatementBegin
CREATE FUNCTION review_queue_order_rerank() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE review_queue q SET channel = r.channel, score = r.score, due_at = r.due_at, rank_at = r.rank_at
    FROM (SELECT (review_queue_row(c)).* FROM cases c
          WHERE c.order_id = NEW.id AND c.status = 'queued_for_review' ORDER BY c.id) r
    WHERE q.case_id = r.case_id
      AND (q.score, q.rank_at, q.channel) IS DISTINCT FROM (r.score, r.rank_at, r.channel);
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER orders_review_queue_rerank AFTER UPDATE OF total, customer, promised_by, channel_id ON orders
    FOR EACH ROW WHEN (OLD.total IS DISTINCT FROM NEW.total OR OLD.customer IS DISTINCT FROM NEW.customer
        OR OLD.promised_by IS DISTINCT FROM NEW.promised_by OR OLD.channel_id IS DISTINCT FROM NEW.channel_id)
    EXECUTE FUNCTION review_queue_order_rerank();

-- +goose Down
DROP TRIGGER orders_review_queue_rerank ON orders;
DROP FUNCTION review_queue_order_rerank();
DROP INDEX cases_queued_order_idx;
