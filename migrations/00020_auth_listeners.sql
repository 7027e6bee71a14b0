-- A revoked API key must stop working at once on every instance, while each
-- instance caches key lookups. Revoke bumps api_key_revocations, updates the
-- key and notifies 'api_key_revoked' in one transaction; every instance's
-- listener drops the key from its cache and records the revocation it has
-- seen in auth_listeners. Revoke returns only when every listener whose
-- connection is alive has seen it, so the first request after it returns is
-- refused everywhere.

-- +goose Up
CREATE SEQUENCE api_key_revocations;
CREATE TABLE auth_listeners (
    backend_pid integer     PRIMARY KEY, -- the listening connection's server process
    seen        bigint      NOT NULL DEFAULT 0, -- the highest revocation applied to its cache
    started_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE auth_listeners;
DROP SEQUENCE api_key_revocations;
