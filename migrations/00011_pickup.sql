-- +goose Up
-- Click & collect: a pickup order's shipment is not booked with a carrier; the
-- store puts it on the pickup shelf (ready_for_pickup, at ready_at) and the
-- customer collects it (delivered). The sweep raises pickup_not_collected for
-- shipments ready longer than the policy's limits.pickup_collect_within.
ALTER TABLE shipments ADD COLUMN ready_at timestamptz;
ALTER TABLE shipments DROP CONSTRAINT shipments_status_check;
ALTER TABLE shipments ADD CONSTRAINT shipments_status_check
    CHECK (status IN ('released', 'booked', 'in_transit', 'delayed', 'exception', 'ready_for_pickup', 'delivered', 'cancelled'));
CREATE INDEX shipments_ready_idx ON shipments (ready_at) WHERE status = 'ready_for_pickup';

-- The sweeps look for unresolved exceptions of one kind at a location (one
-- open stale_inventory per location).
CREATE INDEX exceptions_unresolved_location_idx ON exceptions (kind, location) WHERE status IN ('open', 'triaged');

-- +goose Down
DROP INDEX exceptions_unresolved_location_idx;
DROP INDEX shipments_ready_idx;
-- Down is for development: pickups on the shelf go back to released.
UPDATE shipments SET status = 'released' WHERE status = 'ready_for_pickup';
ALTER TABLE shipments DROP CONSTRAINT shipments_status_check;
ALTER TABLE shipments ADD CONSTRAINT shipments_status_check
    CHECK (status IN ('released', 'booked', 'in_transit', 'delayed', 'exception', 'delivered', 'cancelled'));
ALTER TABLE shipments DROP COLUMN ready_at;
