-- +goose Up
-- Returns (RMAs) and their refunds. A return moves requested → received and
-- inspected → refund_review (a person must approve) or refund_pending (approved,
-- the refund job is due) → refunded; a refund the gateway refuses is
-- refund_failed until approved again.
CREATE TABLE returns (
    id                  uuid        PRIMARY KEY,
    order_id            uuid        NOT NULL REFERENCES orders(id),
    rma                 text        NOT NULL,              -- the RMA number shown to people: <order number>-R<n>
    rma_key             text        NOT NULL DEFAULT '',   -- the client's idempotency key, if it sent one
    status              text        NOT NULL CHECK (status IN ('requested', 'refund_review', 'refund_pending', 'refunded', 'refund_failed')),
    reason              text        NOT NULL DEFAULT '',
    condition           text        CHECK (condition IN ('resellable', 'damaged', 'missing')),
    restock_location_id bigint      REFERENCES locations(id),
    note                text        NOT NULL DEFAULT '',   -- the inspector's note
    amount              numeric(14,2) NOT NULL CHECK (amount >= 0),
    currency            text        NOT NULL,
    exception_id        uuid        REFERENCES exceptions(id), -- the refund_review exception, when one was raised
    payment_key         text        NOT NULL DEFAULT '',   -- the gateway idempotency key of the refund that succeeded
    refund_id           text        NOT NULL DEFAULT '',   -- the gateway's refund transaction id
    requested_by        text        NOT NULL,
    received_by         text        NOT NULL DEFAULT '',
    approved_by         text        NOT NULL DEFAULT '',   -- system:policy when under the automatic limit
    requested_at        timestamptz NOT NULL,
    received_at         timestamptz,
    approved_at         timestamptz,
    refunded_at         timestamptz,
    updated_at          timestamptz NOT NULL,
    UNIQUE (order_id, rma),
    CHECK ((status = 'requested') = (received_at IS NULL)),
    CHECK ((condition = 'resellable') = (restock_location_id IS NOT NULL))
);
CREATE INDEX returns_order_idx ON returns (order_id);
CREATE UNIQUE INDEX returns_rma_key_idx ON returns (order_id, rma_key) WHERE rma_key <> '';
CREATE INDEX returns_open_idx ON returns (status) WHERE status <> 'refunded';

CREATE TABLE return_lines (
    return_id uuid          NOT NULL REFERENCES returns(id),
    line_id   uuid          NOT NULL REFERENCES order_lines(id),
    line_no   integer       NOT NULL,
    qty       integer       NOT NULL CHECK (qty > 0),
    reason    text          NOT NULL DEFAULT '',
    amount    numeric(12,2) NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (return_id, line_id)
);
-- A line is returned once: the ERP takes one credit memo per line
-- (erp_one_credit_memo_per_line), so a second return of the same line could
-- never be credited.
CREATE UNIQUE INDEX return_lines_line_idx ON return_lines (line_id);

-- +goose Down
DROP TABLE return_lines;
DROP TABLE returns;
