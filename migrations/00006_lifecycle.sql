-- +goose Up
-- The order lifecycle after capture: payment, checks, release, shipments,
-- ERP postings, notifications, returns, and the commands applied to orders.
ALTER TABLE orders ADD COLUMN hold_reason text NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN tax_amount numeric(14,2) NOT NULL DEFAULT 0;

-- Every call to the payment gateway, keyed by its idempotency key.
CREATE TABLE payments (
    key          text        PRIMARY KEY,
    order_id     uuid        NOT NULL REFERENCES orders(id),
    kind         text        NOT NULL CHECK (kind IN ('authorize', 'capture', 'void', 'refund')),
    status       text        NOT NULL,
    amount       numeric(14,2) NOT NULL,
    external_id  text        NOT NULL DEFAULT '',
    code         text        NOT NULL DEFAULT '',
    message      text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_order_idx ON payments (order_id);

-- A shipment is what one location sends for one order.
CREATE TABLE shipments (
    id                 uuid        PRIMARY KEY,
    order_id           uuid        NOT NULL REFERENCES orders(id),
    location_id        bigint      NOT NULL REFERENCES locations(id),
    status             text        NOT NULL CHECK (status IN ('released', 'booked', 'in_transit', 'delayed', 'exception', 'delivered', 'cancelled')),
    release_id         text        NOT NULL DEFAULT '',
    carrier            text        NOT NULL DEFAULT '',
    service            text        NOT NULL DEFAULT '',
    tracking_number    text        NOT NULL DEFAULT '',
    label_url          text        NOT NULL DEFAULT '',
    estimated_delivery timestamptz,
    shipped_at         timestamptz,
    delivered_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_order_idx ON shipments (order_id);
CREATE UNIQUE INDEX shipments_tracking_idx ON shipments (tracking_number) WHERE tracking_number <> '';

CREATE TABLE shipment_lines (
    shipment_id uuid    NOT NULL REFERENCES shipments(id),
    line_id     uuid    NOT NULL REFERENCES order_lines(id),
    qty         integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (shipment_id, line_id)
);

CREATE TABLE shipment_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shipment_id uuid        NOT NULL REFERENCES shipments(id),
    kind        text        NOT NULL,
    code        text        NOT NULL DEFAULT '',
    message     text        NOT NULL DEFAULT '',
    region      text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    source      text        NOT NULL DEFAULT 'carrier',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shipment_id, kind, code, at)
);

-- ERP documents. The key makes each posting happen once: invoice:<line>,
-- credit_memo:<line>, payment_capture:<shipment>, refund:<return>.
CREATE TABLE erp_postings (
    doc_key         text        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('invoice', 'credit_memo', 'payment_capture', 'refund')),
    order_id        uuid        NOT NULL REFERENCES orders(id),
    line_id         uuid        REFERENCES order_lines(id),
    amount          numeric(14,2) NOT NULL,
    document        jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'pending', 'acknowledged', 'rejected')),
    attempt         integer     NOT NULL DEFAULT 0, -- bumped by a retry: the ERP sees doc_key:rN
    document_id     text        NOT NULL DEFAULT '',
    code            text        NOT NULL DEFAULT '',
    message         text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    posted_at       timestamptz,
    acknowledged_at timestamptz
);
CREATE INDEX erp_postings_order_idx ON erp_postings (order_id);
CREATE UNIQUE INDEX erp_one_invoice_per_line ON erp_postings (line_id) WHERE kind = 'invoice';
CREATE UNIQUE INDEX erp_one_credit_memo_per_line ON erp_postings (line_id) WHERE kind = 'credit_memo';

-- Customer notifications, each sent at most once by its key.
CREATE TABLE notifications (
    key        text        PRIMARY KEY,
    order_id   uuid        NOT NULL REFERENCES orders(id),
    template   text        NOT NULL,
    channel    text        NOT NULL,
    recipient  text        NOT NULL,
    data       jsonb       NOT NULL DEFAULT '{}',
    status     text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    receipt_id text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX notifications_order_idx ON notifications (order_id);

-- Commands applied to orders (by triage or people), each once by its id.
CREATE TABLE order_commands (
    id         text        PRIMARY KEY,
    order_id   uuid        NOT NULL REFERENCES orders(id),
    kind       text        NOT NULL,
    params     jsonb       NOT NULL DEFAULT '{}',
    result     jsonb       NOT NULL DEFAULT '{}',
    actor      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_commands_order_idx ON order_commands (order_id);

CREATE TABLE compensations (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id   uuid        NOT NULL REFERENCES orders(id),
    command_id text        NOT NULL UNIQUE REFERENCES order_commands(id),
    kind       text        NOT NULL CHECK (kind IN ('credit', 'coupon')),
    amount     numeric(12,2) NOT NULL CHECK (amount > 0),
    currency   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE compensations;
DROP TABLE order_commands;
DROP TABLE notifications;
DROP TABLE erp_postings;
DROP TABLE shipment_events;
DROP TABLE shipment_lines;
DROP TABLE shipments;
DROP TABLE payments;
ALTER TABLE orders DROP COLUMN tax_amount;
ALTER TABLE orders DROP COLUMN hold_reason;
