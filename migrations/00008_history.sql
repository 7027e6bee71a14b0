-- +goose Up
-- Past orders from outside datasets (Olist today), with their whole delivery
-- timeline: the delivery backtests and lane transit statistics read them.
-- Rows are keyed by (source, id) so several datasets can live side by side and
-- re-importing one replaces its rows. Times are the source's wall-clock times
-- stored as UTC, so calendar days compare as the source wrote them.
CREATE TABLE history_sellers (
    source      text NOT NULL CHECK (source <> ''),
    seller_id   text NOT NULL CHECK (seller_id <> ''),
    zip_prefix  text NOT NULL CHECK (zip_prefix ~ '^[0-9]{5}$'),
    city        text NOT NULL DEFAULT '',
    state       text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, seller_id)
);

CREATE TABLE history_orders (
    source              text NOT NULL CHECK (source <> ''),
    order_id            text NOT NULL CHECK (order_id <> ''),
    customer_id         text NOT NULL DEFAULT '',
    customer_zip_prefix text NOT NULL CHECK (customer_zip_prefix ~ '^[0-9]{5}$'),
    customer_city       text NOT NULL DEFAULT '',
    customer_state      text NOT NULL CHECK (customer_state ~ '^[A-Z]{2}$'),
    status              text NOT NULL,
    purchased_at        timestamptz NOT NULL,
    approved_at         timestamptz,
    carrier_at          timestamptz, -- handed to the carrier
    delivered_at        timestamptz,
    estimated_delivery  date NOT NULL, -- the promised day: later is late
    imported_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, order_id)
);
CREATE INDEX history_orders_purchased_idx ON history_orders (source, purchased_at);

CREATE TABLE history_items (
    source           text    NOT NULL,
    order_id         text    NOT NULL,
    item_no          integer NOT NULL CHECK (item_no > 0),
    product_id       text    NOT NULL DEFAULT '',
    seller_id        text    NOT NULL,
    shipping_limit   timestamptz, -- the seller's deadline to hand over to the carrier
    price            numeric(12,2) NOT NULL CHECK (price >= 0),
    freight          numeric(12,2) NOT NULL CHECK (freight >= 0),
    product_category text    NOT NULL DEFAULT '',
    weight_g         double precision CHECK (weight_g >= 0),
    length_cm        double precision CHECK (length_cm >= 0),
    height_cm        double precision CHECK (height_cm >= 0),
    width_cm         double precision CHECK (width_cm >= 0),
    PRIMARY KEY (source, order_id, item_no),
    FOREIGN KEY (source, order_id) REFERENCES history_orders ON DELETE CASCADE,
    FOREIGN KEY (source, seller_id) REFERENCES history_sellers
);
CREATE INDEX history_items_seller_idx ON history_items (source, seller_id);

-- +goose Down
DROP TABLE history_items;
DROP TABLE history_orders;
DROP TABLE history_sellers;
