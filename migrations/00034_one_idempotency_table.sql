-- One table of idempotency keys for every route (internal/idempotency owns
-- it; orchestration and triage write it only through that package). The keys
-- of POST /v1/recommendations move over from recommendation_keys with their
-- rows kept: exception_id becomes resource_id (what the first request made),
-- and status/response may be NULL while the first request has not answered.
-- The foreign key to exceptions goes: the table serves every owner, and no
-- code deletes exceptions.

-- +goose Up
ALTER TABLE idempotency_keys
    ADD COLUMN resource_id uuid,
    ALTER COLUMN status DROP NOT NULL,
    ALTER COLUMN response DROP NOT NULL;
INSERT INTO idempotency_keys (scope, key, request_hash, status, response, resource_id, created_at)
SELECT scope, key, request_hash, status, response, exception_id, created_at FROM recommendation_keys
ON CONFLICT DO NOTHING;
DROP TABLE recommendation_keys;

-- +goose Down
CREATE TABLE recommendation_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    exception_id uuid        NOT NULL REFERENCES exceptions(id) ON DELETE CASCADE,
    status       integer,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
WITH moved AS (
    DELETE FROM idempotency_keys k USING exceptions e WHERE e.id = k.resource_id
    RETURNING k.scope, k.key, k.request_hash, k.resource_id, k.status, k.response, k.created_at)
INSERT INTO recommendation_keys (scope, key, request_hash, exception_id, status, response, created_at)
SELECT * FROM moved;
DELETE FROM idempotency_keys WHERE status IS NULL OR response IS NULL;
ALTER TABLE idempotency_keys
    DROP COLUMN resource_id,
    ALTER COLUMN status SET NOT NULL,
    ALTER COLUMN response SET NOT NULL;
