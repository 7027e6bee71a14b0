-- Repeated reports of one problem (the same order, kind, code and message
-- with its numbers and ids masked) while its first case is still open are
-- counted on that case instead of each opening one for people to review.

-- +goose Up
ALTER TABLE cases
    ADD COLUMN dedupe_key   bytea,
    ADD COLUMN occurrences  integer     NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    ADD COLUMN last_seen_at timestamptz;
CREATE INDEX cases_dedupe_idx ON cases (dedupe_key, created_at) WHERE dedupe_key IS NOT NULL AND status IN ('open', 'queued_for_review');

-- Each repeated report, linked to the case that answered it.
CREATE TABLE case_reports (
    case_id      uuid        NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    exception_id uuid        NOT NULL, -- the repeated report's id (not stored as an exception)
    actor        text        NOT NULL,
    reported_at  timestamptz NOT NULL,
    PRIMARY KEY (case_id, exception_id)
);

-- +goose Down
DROP TABLE case_reports;
DROP INDEX cases_dedupe_idx;
ALTER TABLE cases DROP COLUMN dedupe_key, DROP COLUMN occurrences, DROP COLUMN last_seen_at;
