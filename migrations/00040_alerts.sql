-- +goose Up
-- SLA alerts: one row per breach of a policy target (triage.Alerter). A
-- figure over its target for subject (an endpoint, say, or '' for the whole
-- service) fires an alert; the figure back within target resolves it. At
-- most one alert per figure and subject fires at a time. fire_sent_at and
-- resolve_sent_at record that ALERT_WEBHOOK_URL acknowledged the message, so
-- each is delivered once however often River retries the delivery job.
CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    figure          text        NOT NULL,
    subject         text        NOT NULL DEFAULT '',
    state           text        NOT NULL CHECK (state IN ('firing', 'resolved')),
    value           double precision NOT NULL, -- the figure when it fired
    last_value      double precision NOT NULL, -- at the latest evaluation (or when it resolved)
    target          double precision NOT NULL,
    comparison      text        NOT NULL CHECK (comparison IN ('above', 'below')), -- breach when the figure is above / below target
    unit            text        NOT NULL DEFAULT '',
    policy_version  text        NOT NULL DEFAULT '',
    started_at      timestamptz NOT NULL,
    resolved_at     timestamptz,
    fire_sent_at    timestamptz,
    resolve_sent_at timestamptz,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX alerts_one_firing ON alerts (figure, subject) WHERE state = 'firing';
CREATE INDEX alerts_recent_idx ON alerts (started_at DESC, id DESC);

-- +goose Down
DROP TABLE alerts;
