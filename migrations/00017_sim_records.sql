-- +goose Up
-- What the built-in simulator of the outside systems remembers (the result of
-- each call by its idempotency key; authorizations, bookings, ERP documents),
-- so a restart changes nothing. Written only by orchestration/adapter.
CREATE TABLE sim_records (
    seed       bigint      NOT NULL,
    kind       text        NOT NULL,
    key        text        NOT NULL,
    value      json        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (seed, kind, key)
);

-- +goose Down
DROP TABLE sim_records;
