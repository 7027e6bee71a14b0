-- +goose Up
-- The hash of the canonical capture request an order was created from, so a
-- second capture of the same channel and external id can tell a retry (same
-- content: the existing order) from a different order reusing the id (a
-- conflict). Orders captured before this column have none and answer as before.
ALTER TABLE orders ADD COLUMN request_hash bytea;

-- +goose Down
ALTER TABLE orders DROP COLUMN request_hash;
