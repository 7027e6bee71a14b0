-- +goose Up
CREATE TABLE orders (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    channel_id         bigint      NOT NULL REFERENCES channels(id),
    external_id        text        NOT NULL CHECK (external_id <> ''),
    status             text        NOT NULL,
    customer           jsonb       NOT NULL,
    ship_to            jsonb,
    pickup_location_id bigint      REFERENCES locations(id),
    service_level      text        NOT NULL,
    payment_ref        text        NOT NULL DEFAULT '',
    currency           text        NOT NULL DEFAULT 'USD',
    total              numeric(14,2) NOT NULL DEFAULT 0,
    promised_by        timestamptz,
    promise_date       timestamptz,
    rule_group         text        NOT NULL DEFAULT '',
    version            integer     NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, external_id)
);
CREATE INDEX orders_status_idx ON orders (status, created_at);

CREATE TABLE order_lines (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id    uuid        NOT NULL REFERENCES orders(id),
    line_no     integer     NOT NULL CHECK (line_no > 0),
    sku_id      bigint      NOT NULL REFERENCES skus(id),
    ordered_sku_id bigint   NOT NULL REFERENCES skus(id),
    qty         integer     NOT NULL CHECK (qty >= 0),
    unit_price  numeric(12,2) NOT NULL CHECK (unit_price >= 0),
    status      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, line_no)
);

-- The audit trail: every state change of an order, with who, why and the correlation id.
CREATE TABLE order_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id       uuid        NOT NULL REFERENCES orders(id),
    kind           text        NOT NULL,
    from_status    text,
    to_status      text,
    actor          text        NOT NULL,
    reason         text        NOT NULL DEFAULT '',
    correlation_id text        NOT NULL DEFAULT '',
    data           jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);
CREATE INDEX order_events_kind_idx ON order_events (kind, created_at);

-- Exceptions in the canonical model. Every step that needs a decision writes one.
CREATE TABLE exceptions (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    kind        text        NOT NULL,
    severity    text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status      text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'triaged', 'resolved', 'dismissed')),
    source      text        NOT NULL DEFAULT 'core',
    order_id    uuid        REFERENCES orders(id),
    line_ids    uuid[]      NOT NULL DEFAULT '{}',
    sku         text        NOT NULL DEFAULT '',
    location    text        NOT NULL DEFAULT '',
    carrier     text        NOT NULL DEFAULT '',
    endpoint    text        NOT NULL DEFAULT '',
    code        text        NOT NULL DEFAULT '',
    message     text        NOT NULL,
    payload     jsonb       NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE INDEX exceptions_kind_idx ON exceptions (kind, created_at);
CREATE INDEX exceptions_order_idx ON exceptions (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX exceptions_open_idx ON exceptions (created_at) WHERE status = 'open';

-- One embedding per exception and model. The column has no fixed dimension so a
-- new model needs no schema change; each model gets its own partial HNSW index
-- on embedding::vector(dim), created when the model is first used.
CREATE TABLE exception_embeddings (
    exception_id uuid        NOT NULL REFERENCES exceptions(id) ON DELETE CASCADE,
    model        text        NOT NULL,
    dim          integer     NOT NULL CHECK (dim > 0),
    embedding    vector      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (exception_id, model),
    CHECK (vector_dims(embedding) = dim)
);

-- +goose Down
DROP TABLE exception_embeddings;
DROP TABLE exceptions;
DROP TABLE order_events;
DROP TABLE order_lines;
DROP TABLE orders;
