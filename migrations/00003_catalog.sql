-- +goose Up
-- The retailer's network and catalog: channels, locations, SKUs and stock.
CREATE TABLE channels (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text        NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]*$'),
    name       text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('web', 'mobile', 'marketplace', 'store')),
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE locations (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text        NOT NULL UNIQUE,
    name           text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('store', 'warehouse', 'dropship', 'dark_store')),
    region         text        NOT NULL,
    lat            double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon            double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    timezone       text        NOT NULL DEFAULT 'UTC',
    can_ship       boolean     NOT NULL DEFAULT true,
    can_pickup     boolean     NOT NULL DEFAULT false,
    can_same_day   boolean     NOT NULL DEFAULT false,
    daily_capacity integer     NOT NULL DEFAULT 0 CHECK (daily_capacity >= 0), -- 0: unlimited
    handling_cost  numeric(12,2) NOT NULL DEFAULT 0 CHECK (handling_cost >= 0),
    handling_hours integer     NOT NULL DEFAULT 24 CHECK (handling_hours >= 0),
    cutoff         text        NOT NULL DEFAULT '15:00' CHECK (cutoff ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    priority       integer     NOT NULL DEFAULT 0,
    active         boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Orders sourced to a location per local day, against daily_capacity.
CREATE TABLE location_load (
    location_id bigint  NOT NULL REFERENCES locations(id),
    day         date    NOT NULL,
    orders      integer NOT NULL DEFAULT 0 CHECK (orders >= 0),
    capacity    integer NOT NULL DEFAULT 0, -- the location's daily_capacity when the day began; 0: unlimited
    PRIMARY KEY (location_id, day)
);

CREATE TABLE skus (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text          NOT NULL UNIQUE,
    name        text          NOT NULL,
    price       numeric(12,2) NOT NULL CHECK (price >= 0),
    cost        numeric(12,2) NOT NULL CHECK (cost >= 0),
    weight_kg   numeric(10,3) NOT NULL DEFAULT 0 CHECK (weight_kg >= 0),
    substitutes text[]        NOT NULL DEFAULT '{}',
    active      boolean       NOT NULL DEFAULT true,
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now()
);

-- Stock per SKU and location. reserved may exceed on_hand - safety_stock only
-- after a physical count found less than was promised (raised as an exception);
-- reservations themselves never push it there.
CREATE TABLE stock (
    sku_id         bigint      NOT NULL REFERENCES skus(id),
    location_id    bigint      NOT NULL REFERENCES locations(id),
    on_hand        integer     NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved       integer     NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    safety_stock   integer     NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
    last_synced_at timestamptz,
    source_version bigint,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sku_id, location_id)
);
CREATE INDEX stock_location_idx ON stock (location_id);

-- +goose Down
DROP TABLE stock;
DROP TABLE skus;
DROP TABLE location_load;
DROP TABLE locations;
DROP TABLE channels;
