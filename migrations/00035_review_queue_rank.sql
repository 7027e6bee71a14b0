-- +goose Up
-- The review queue as a narrow table the database keeps in step with cases,
-- so the queue page reads an index instead of scoring every waiting case on
-- every request (10,000 waiting cases cost a scan of their wide rows, three
-- times per page).
--
-- A case is in review_queue exactly while its status is queued_for_review
-- (cases_review_queue_sync below). Each row carries what the queue filters
-- and counts on, and the case's rank: rank_at, its effective due time, the
-- SLA due time brought forward by customer impact and risk. rank_at does not
-- move with the clock, so "highest priority first" is an index scan on
-- (rank_at, case_id), and the keyset page continues from the last row.
--
-- score is the impact in priority points (triage/queue.go names them):
-- order value (one point per 100, at most 20), tier (vip 15, gold 8,
-- silver 4), a promise due within a day of the SLA due time (10), 15 × the
-- larger of the stockout and delivery risk, 25 per escalation. One point is
-- worth 2% of the case's SLA target: rank_at = queued_at + target × (1 −
-- score/50). At a moment t the priority is 50 + 50 × (t − rank_at)/target,
-- which is the share of the SLA used plus the impact.
--
-- The targets are the policy's first-response minutes by severity; the
-- service writes them to review_sla_targets and re-ranks every row when the
-- policy's differ (triage's syncQueueTargets). A severity without a target
-- gets 1440 minutes, as before.
CREATE TABLE review_sla_targets (
    severity text    PRIMARY KEY,
    minutes  integer NOT NULL CHECK (minutes > 0)
);

CREATE TABLE review_queue (
    case_id          uuid        PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
    severity         text        NOT NULL,
    kind             text        NOT NULL,
    cause            text        NOT NULL DEFAULT '',
    channel          text        NOT NULL DEFAULT '',
    location         text        NOT NULL DEFAULT '',
    carrier          text        NOT NULL DEFAULT '',
    queued_at        timestamptz NOT NULL,
    target_min       integer     NOT NULL,
    score            float8      NOT NULL,
    escalation_level integer     NOT NULL DEFAULT 0,
    due_at           timestamptz NOT NULL,
    rank_at          timestamptz NOT NULL
);
CREATE INDEX review_queue_rank_idx ON review_queue (rank_at, case_id);
CREATE INDEX review_queue_due_idx ON review_queue (due_at);

-- How many waiting cases have each value of each filter (dim is kind,
-- cause, channel, location or carrier), kept by review_queue_counting, so
-- the unfiltered queue's counts are a read of a few rows. A row may hold 0.
CREATE TABLE review_queue_counts (
    dim   text   NOT NULL,
    value text   NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (dim, value)
);

-- "Assigned to me" looks up the few cases a reviewer holds.
CREATE INDEX cases_claimed_idx ON cases (claimed_by, claimed_until)
    WHERE status = 'queued_for_review' AND claimed_by <> '';

-- +goose StatementBegin
CREATE FUNCTION review_queue_row(c cases) RETURNS review_queue
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r review_queue;
    tier text;
    total float8;
    promised timestamptz;
BEGIN
    r.case_id := c.id;
    r.severity := c.severity;
    r.kind := c.kind;
    r.cause := coalesce(c.cause, '');
    r.queued_at := coalesce(c.triaged_at, c.created_at);
    r.escalation_level := c.escalation_level;
    SELECT e.location, e.carrier INTO r.location, r.carrier FROM exceptions e WHERE e.id = c.exception_id;
    r.location := coalesce(r.location, '');
    r.carrier := coalesce(r.carrier, '');
    SELECT coalesce(ch.code, ''), o.total::float8, coalesce(o.customer->>'tier', ''), o.promised_by
        INTO r.channel, total, tier, promised
        FROM orders o LEFT JOIN channels ch ON ch.id = o.channel_id WHERE o.id = c.order_id;
    r.channel := coalesce(r.channel, '');
    r.target_min := coalesce((SELECT t.minutes FROM review_sla_targets t WHERE t.severity = c.severity), 1440);
    r.due_at := r.queued_at + make_interval(mins => r.target_min);
    r.score := least(coalesce(total, 0) / 100, 20)
        + CASE tier WHEN 'vip' THEN 15 WHEN 'gold' THEN 8 WHEN 'silver' THEN 4 ELSE 0 END
        + CASE WHEN promised < r.due_at + interval '1 day' THEN 10 ELSE 0 END
        + 15 * greatest(coalesce((c.risks->'stockout'->>'probability')::float8, 0),
                        coalesce((c.risks->'delivery'->>'probability')::float8, 0))
        + 25 * c.escalation_level;
    r.rank_at := r.queued_at + make_interval(secs => 60 * r.target_min * (1 - r.score / 50));
    RETURN r;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION cases_review_queue_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'queued_for_review' THEN
        INSERT INTO review_queue SELECT (review_queue_row(NEW)).*
        ON CONFLICT (case_id) DO UPDATE SET
            severity = EXCLUDED.severity, kind = EXCLUDED.kind, cause = EXCLUDED.cause,
            channel = EXCLUDED.channel, location = EXCLUDED.location, carrier = EXCLUDED.carrier,
            queued_at = EXCLUDED.queued_at, target_min = EXCLUDED.target_min, score = EXCLUDED.score,
            escalation_level = EXCLUDED.escalation_level, due_at = EXCLUDED.due_at, rank_at = EXCLUDED.rank_at;
    ELSIF TG_OP = 'UPDATE' AND OLD.status = 'queued_for_review' THEN
        DELETE FROM review_queue WHERE case_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- One statement's changes are summed and written in key order, so two
-- statements never wait on each other's counter rows in opposite orders.
-- +goose StatementBegin
CREATE FUNCTION review_queue_counting() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO review_queue_counts (dim, value, n)
        SELECT d.dim, d.value, count(*) FROM new_rows r
            CROSS JOIN LATERAL (VALUES ('kind', r.kind), ('cause', r.cause), ('channel', r.channel),
                ('location', r.location), ('carrier', r.carrier)) d(dim, value)
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (dim, value) DO UPDATE SET n = review_queue_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE review_queue_counts c SET n = c.n - x.k FROM (
            SELECT d.dim, d.value, count(*) AS k FROM old_rows r
                CROSS JOIN LATERAL (VALUES ('kind', r.kind), ('cause', r.cause), ('channel', r.channel),
                    ('location', r.location), ('carrier', r.carrier)) d(dim, value)
            GROUP BY 1, 2 ORDER BY 1, 2) x
        WHERE c.dim = x.dim AND c.value = x.value;
    ELSE
        INSERT INTO review_queue_counts (dim, value, n)
        SELECT dim, value, sum(k) FROM (
            SELECT d.dim, d.value, 1 AS k FROM new_rows r
                CROSS JOIN LATERAL (VALUES ('kind', r.kind), ('cause', r.cause), ('channel', r.channel),
                    ('location', r.location), ('carrier', r.carrier)) d(dim, value)
            UNION ALL
            SELECT d.dim, d.value, -1 FROM old_rows r
                CROSS JOIN LATERAL (VALUES ('kind', r.kind), ('cause', r.cause), ('channel', r.channel),
                    ('location', r.location), ('carrier', r.carrier)) d(dim, value)) x
        GROUP BY 1, 2 HAVING sum(k) <> 0 ORDER BY 1, 2
        ON CONFLICT (dim, value) DO UPDATE SET n = review_queue_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER review_queue_counting_insert AFTER INSERT ON review_queue
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_queue_counting();
CREATE TRIGGER review_queue_counting_update AFTER UPDATE ON review_queue
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_queue_counting();
CREATE TRIGGER review_queue_counting_delete AFTER DELETE ON review_queue
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION review_queue_counting();

CREATE TRIGGER cases_review_queue_insert AFTER INSERT ON cases
    FOR EACH ROW WHEN (NEW.status = 'queued_for_review') EXECUTE FUNCTION cases_review_queue_sync();
-- Claims and other bookkeeping leave the queue row alone.
CREATE TRIGGER cases_review_queue_update AFTER UPDATE ON cases
    FOR EACH ROW WHEN (
        (OLD.status = 'queued_for_review' OR NEW.status = 'queued_for_review') AND (
            OLD.status IS DISTINCT FROM NEW.status OR OLD.severity IS DISTINCT FROM NEW.severity
            OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.cause IS DISTINCT FROM NEW.cause
            OR OLD.risks IS DISTINCT FROM NEW.risks OR OLD.order_id IS DISTINCT FROM NEW.order_id
            OR OLD.triaged_at IS DISTINCT FROM NEW.triaged_at OR OLD.escalation_level IS DISTINCT FROM NEW.escalation_level))
    EXECUTE FUNCTION cases_review_queue_sync();

INSERT INTO review_queue SELECT (review_queue_row(c)).* FROM cases c WHERE c.status = 'queued_for_review';

-- +goose Down
DROP TRIGGER review_queue_counting_delete ON review_queue;
DROP TRIGGER review_queue_counting_update ON review_queue;
DROP TRIGGER review_queue_counting_insert ON review_queue;
DROP FUNCTION review_queue_counting();
DROP TRIGGER cases_review_queue_update ON cases;
DROP TRIGGER cases_review_queue_insert ON cases;
DROP FUNCTION cases_review_queue_sync();
DROP FUNCTION review_queue_row(cases);
DROP INDEX cases_claimed_idx;
DROP TABLE review_queue_counts;
DROP TABLE review_queue;
DROP TABLE review_sla_targets;
