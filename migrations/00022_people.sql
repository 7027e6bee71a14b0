-- +goose Up
-- People who sign in to the review pages, owned by the review package.
-- Email is stored lower-cased, so UNIQUE is case-insensitive. A session
-- begun before sessions_after is void: a password reset or a disable moves
-- it to "now" and every older session stops working at once.
CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text        NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    role           text        NOT NULL CHECK (role IN ('support', 'engineer', 'admin')),
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL,
    disabled_at    timestamptz,
    sessions_after timestamptz NOT NULL
);

-- Sessions, in the layout the session library's Postgres store reads
-- (github.com/alexedwards/scs/pgxstore): token, encoded data, expiry.
CREATE TABLE sessions (
    token  text        PRIMARY KEY,
    data   bytea       NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- Failed sign-ins, counted per account and per address over a sliding
-- window to rate-limit password guessing across every replica.
CREATE TABLE login_failures (
    id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text        NOT NULL,
    addr  text        NOT NULL,
    at    timestamptz NOT NULL
);
CREATE INDEX login_failures_email_at ON login_failures (email, at);
CREATE INDEX login_failures_addr_at ON login_failures (addr, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE sessions;
DROP TABLE users;
