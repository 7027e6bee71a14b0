-- +goose Up
-- The SLA alert job reads the ERP postings of its window and those still
-- waiting every minute; without these it scans every posting.
CREATE INDEX erp_postings_created_idx ON erp_postings (created_at);
CREATE INDEX erp_postings_waiting_idx ON erp_postings (created_at) WHERE status IN ('queued', 'pending');

-- +goose Down
DROP INDEX erp_postings_waiting_idx;
DROP INDEX erp_postings_created_idx;
