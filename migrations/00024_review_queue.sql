-- +goose Up
-- The review queue's claims and escalations. A claim is who holds a case
-- and until when; it lapses by itself when claimed_until passes (checked
-- against the caller's clock in SQL, never by a sweeper). An escalated case
-- was overdue when the SLA job ran: escalation_level raises its priority,
-- escalation_notified_at records that the webhook was told, once.
-- claimed_at times the reviewer's work on the case for the team panel.
ALTER TABLE cases
    ADD COLUMN claimed_by             text        NOT NULL DEFAULT '',
    ADD COLUMN claimed_until          timestamptz,
    ADD COLUMN claimed_at             timestamptz, -- when the holder took it, kept after the decision
    ADD COLUMN escalation_level       integer     NOT NULL DEFAULT 0,
    ADD COLUMN escalated_at           timestamptz,
    ADD COLUMN escalation_notified_at timestamptz;

-- The queue reads every case waiting for a person; the team panel reads
-- the decisions of a day.
CREATE INDEX cases_queued_idx ON cases (triaged_at, id) WHERE status = 'queued_for_review';
CREATE INDEX cases_decided_by_idx ON cases (decided_by, decided_at) WHERE status = 'decided';

-- +goose Down
DROP INDEX cases_decided_by_idx;
DROP INDEX cases_queued_idx;
ALTER TABLE cases
    DROP COLUMN escalation_notified_at,
    DROP COLUMN escalated_at,
    DROP COLUMN escalation_level,
    DROP COLUMN claimed_at,
    DROP COLUMN claimed_until,
    DROP COLUMN claimed_by;
