-- The exception kinds are one list in Go (orchestration.ExceptionKinds);
-- every column holding one accepts exactly that list, so a kind the code
-- does not know is refused at the door. Adding a kind adds it here, in a
-- new migration that replaces these constraints (README: "Adding an
-- exception kind"); orchestration's TestDatabaseAcceptsTheKinds fails until
-- it does. NOT VALID then VALIDATE checks the existing rows without
-- holding the table's write lock for the scan.

-- +goose Up
ALTER TABLE exceptions ADD CONSTRAINT exceptions_kind_check CHECK (kind IN ('payment_failed', 'fraud_review', 'address_invalid',
    'stockout', 'release_rejected', 'carrier_delay', 'carrier_disruption', 'erp_posting_failed', 'integration_error', 'refund_review',
    'stale_inventory', 'pickup_not_collected')) NOT VALID;
ALTER TABLE exceptions VALIDATE CONSTRAINT exceptions_kind_check;
ALTER TABLE cases ADD CONSTRAINT cases_kind_check CHECK (kind IN ('payment_failed', 'fraud_review', 'address_invalid',
    'stockout', 'release_rejected', 'carrier_delay', 'carrier_disruption', 'erp_posting_failed', 'integration_error', 'refund_review',
    'stale_inventory', 'pickup_not_collected')) NOT VALID;
ALTER TABLE cases VALIDATE CONSTRAINT cases_kind_check;
ALTER TABLE causes ADD CONSTRAINT causes_kind_check CHECK (kind IN ('payment_failed', 'fraud_review', 'address_invalid',
    'stockout', 'release_rejected', 'carrier_delay', 'carrier_disruption', 'erp_posting_failed', 'integration_error', 'refund_review',
    'stale_inventory', 'pickup_not_collected')) NOT VALID;
ALTER TABLE causes VALIDATE CONSTRAINT causes_kind_check;
ALTER TABLE example_embeddings ADD CONSTRAINT example_embeddings_kind_check CHECK (kind IN ('payment_failed', 'fraud_review',
    'address_invalid', 'stockout', 'release_rejected', 'carrier_delay', 'carrier_disruption', 'erp_posting_failed', 'integration_error',
    'refund_review', 'stale_inventory', 'pickup_not_collected')) NOT VALID;
ALTER TABLE example_embeddings VALIDATE CONSTRAINT example_embeddings_kind_check;

-- +goose Down
ALTER TABLE example_embeddings DROP CONSTRAINT example_embeddings_kind_check;
ALTER TABLE causes DROP CONSTRAINT causes_kind_check;
ALTER TABLE cases DROP CONSTRAINT cases_kind_check;
ALTER TABLE exceptions DROP CONSTRAINT exceptions_kind_check;
