-- +goose Up
-- Reservations hold stock: soft ones (cart, pickup) expire; firm ones belong to order lines.
CREATE TABLE reservations (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    kind          text        NOT NULL CHECK (kind IN ('cart', 'pickup', 'order')),
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'released', 'expired', 'consumed')),
    sku_id        bigint      NOT NULL REFERENCES skus(id),
    location_id   bigint      NOT NULL REFERENCES locations(id),
    qty           integer     NOT NULL CHECK (qty > 0),
    order_id      uuid        REFERENCES orders(id),
    line_id       uuid        REFERENCES order_lines(id),
    ref           text        NOT NULL DEFAULT '',
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    CHECK ((kind = 'order') = (line_id IS NOT NULL)),
    CHECK (kind = 'order' OR expires_at IS NOT NULL)
);
CREATE INDEX reservations_line_idx ON reservations (line_id) WHERE status = 'active';
CREATE INDEX reservations_order_idx ON reservations (order_id);
CREATE INDEX reservations_expiry_idx ON reservations (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;
CREATE INDEX reservations_stock_idx ON reservations (sku_id, location_id) WHERE status = 'active';

-- Every change to stock, so reserved and on hand can be recomputed and audited.
CREATE TABLE stock_ledger (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku_id         bigint      NOT NULL,
    location_id    bigint      NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('reserve', 'release', 'expire', 'consume', 'count', 'delta')),
    reservation_id uuid,
    order_id       uuid,
    d_on_hand      integer     NOT NULL DEFAULT 0,
    d_reserved     integer     NOT NULL DEFAULT 0,
    on_hand_after  integer     NOT NULL,
    reserved_after integer     NOT NULL,
    actor          text        NOT NULL,
    reason         text        NOT NULL DEFAULT '',
    source_version bigint,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_ledger_stock_idx ON stock_ledger (sku_id, location_id, id);

-- Sourcing plans with their explanation: rule group, each candidate's filters and scores, the choice.
CREATE TABLE sourcing_plans (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id       uuid        NOT NULL REFERENCES orders(id),
    policy_version text        NOT NULL,
    rule_group     text        NOT NULL,
    complete       boolean     NOT NULL,
    plan           json        NOT NULL, -- json, not jsonb: written on every capture, read rarely
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sourcing_plans_order_idx ON sourcing_plans (order_id, id);

-- Idempotency keys: a replay with the same key and body gets the stored answer.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       integer     NOT NULL,
    response     bytea       NOT NULL, -- the exact bytes first answered
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- ot_check raises when ok is false, so one pipelined statement can abort its
-- whole transaction (a reservation that found too little stock, say).
-- +goose StatementBegin
CREATE FUNCTION ot_check(ok boolean, msg text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION '%', msg USING ERRCODE = 'P0001', HINT = 'omnitriage:check';
    END IF;
    RETURN true;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ot_check(boolean, text);
DROP TABLE idempotency_keys;
DROP TABLE sourcing_plans;
DROP TABLE stock_ledger;
DROP TABLE reservations;
