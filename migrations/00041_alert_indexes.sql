-- +goose Up
-- The SLA alert job reads the ERP postings of its window (by created_at:
-- erp_postings_created_idx, made by 00037 for the process rollup) and those
-- still waiting every minute; without this it scans every posting.
CREATE INDEX erp_postings_waiting_idx ON erp_postings (created_at) WHERE status IN ('queued', 'pending');

-- +goose Down
DROP INDEX erp_postings_waiting_idx;
