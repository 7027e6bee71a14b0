-- +goose Up
-- Triage: the cause library and its labelled examples, one case per exception,
-- the audit of every decision on a case, and the classifier's calibration.

-- Causes an exception can have, each belonging to one exception kind.
CREATE TABLE causes (
    code           text        PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    kind           text        NOT NULL,
    title          text        NOT NULL CHECK (title <> ''),
    description    text        NOT NULL DEFAULT '',
    default_action text        NOT NULL,
    actions        text[]      NOT NULL DEFAULT '{}', -- candidate actions, best first
    params         jsonb       NOT NULL DEFAULT '{}', -- default parameters by action
    source         text        NOT NULL DEFAULT 'seed' CHECK (source IN ('seed', 'custom')),
    active         boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX causes_kind_idx ON causes (kind);

-- Labelled examples: an exception's code and message with its cause. They do
-- not depend on any embedding model; example_embeddings holds their vectors.
CREATE TABLE cause_examples (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cause      text        NOT NULL REFERENCES causes(code),
    code       text        NOT NULL DEFAULT '',
    message    text        NOT NULL,                  -- as the outside system sent it
    text       text        NOT NULL CHECK (text <> ''), -- what is embedded (triage.ExceptionText)
    text_hash  bytea       NOT NULL,                  -- sha256 of text, for idempotent inserts
    source     text        NOT NULL CHECK (source IN ('seed', 'review', 'import')),
    case_id    uuid,                 -- the reviewed case it came from
    created_by text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cause, text_hash)
);

-- One vector per example and model. As in exception_embeddings the column has
-- no fixed dimension; triage creates a partial HNSW index on
-- embedding::vector(dim) per model the first time it uses the model. cause and
-- kind are copied from the example (which never changes) so a kNN search
-- filters and labels its hits without a join.
CREATE TABLE example_embeddings (
    example_id bigint      NOT NULL REFERENCES cause_examples(id) ON DELETE CASCADE,
    model      text        NOT NULL,
    dim        integer     NOT NULL CHECK (dim > 0),
    cause      text        NOT NULL,
    kind       text        NOT NULL,
    embedding  vector      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (example_id, model),
    CHECK (vector_dims(embedding) = dim)
);

-- One case per exception: what triage concluded and what became of it.
CREATE TABLE cases (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    exception_id       uuid        NOT NULL UNIQUE REFERENCES exceptions(id) ON DELETE CASCADE,
    status             text        NOT NULL DEFAULT 'open'
                       CHECK (status IN ('open', 'auto_applied', 'queued_for_review', 'decided', 'no_action')),
    kind               text        NOT NULL,
    severity           text        NOT NULL,
    order_id           uuid,
    context            jsonb       NOT NULL DEFAULT '{}', -- facts the reporter sent with the exception
    cause              text,
    confidence         double precision,
    raw_score          double precision,
    risks              jsonb       NOT NULL DEFAULT '{}',
    action             text,
    params             jsonb       NOT NULL DEFAULT '{}',
    expected_effect    text        NOT NULL DEFAULT '',
    alternatives       jsonb       NOT NULL DEFAULT '[]',
    reason             text        NOT NULL DEFAULT '', -- why it was or was not applied automatically
    inputs             jsonb       NOT NULL DEFAULT '{}', -- the policy's inputs and the text embedded
    neighbours         jsonb       NOT NULL DEFAULT '[]',
    embedding_model    text        NOT NULL DEFAULT '',
    classifier_version text        NOT NULL DEFAULT '',
    risk_versions      jsonb       NOT NULL DEFAULT '{}',
    policy_version     text        NOT NULL DEFAULT '',
    result             jsonb,      -- what the applier answered
    decision           text        CHECK (decision IN ('approve', 'modify', 'reject')),
    decided_action     text,
    decided_params     jsonb,
    decision_note      text        NOT NULL DEFAULT '',
    attempts           integer     NOT NULL DEFAULT 0, -- failed triage attempts of an open case
    last_error         text        NOT NULL DEFAULT '',
    next_attempt_at    timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    triaged_at         timestamptz,
    decided_at         timestamptz,
    decided_by         text        NOT NULL DEFAULT ''
);
CREATE INDEX cases_status_idx ON cases (status, created_at, id);
CREATE INDEX cases_created_idx ON cases (created_at, id);
CREATE INDEX cases_open_idx ON cases (next_attempt_at, created_at) WHERE status = 'open';

-- Every decision on a case, automatic or human, in order: the audit trail.
CREATE TABLE case_decisions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id        uuid        NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    actor          text        NOT NULL,
    decision       text        NOT NULL
                   CHECK (decision IN ('auto_applied', 'queued_for_review', 'no_action', 'approve', 'modify', 'reject')),
    action         text,
    params         jsonb       NOT NULL DEFAULT '{}',
    cause          text,
    reason         text        NOT NULL DEFAULT '',
    note           text        NOT NULL DEFAULT '',
    applied        boolean     NOT NULL DEFAULT false,
    result         jsonb,
    policy_version text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_decisions_case_idx ON case_decisions (case_id, id);

-- Idempotency keys of POST /v1/recommendations: a replay with the same key and
-- body gets the same case (and, once answered, the same bytes).
CREATE TABLE recommendation_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    exception_id uuid        NOT NULL REFERENCES exceptions(id) ON DELETE CASCADE,
    status       integer,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- The classifier's confidence calibration per embedding model, fitted by
-- cross-validation over the labelled examples. The newest row is in force.
CREATE TABLE classifier_calibrations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model        text             NOT NULL,
    version      text             NOT NULL,
    method       text             NOT NULL,
    params       jsonb            NOT NULL,
    examples     integer          NOT NULL, -- how many, and the newest, of the model's
    last_example bigint           NOT NULL, -- example vectors it was fitted on
    causes       integer          NOT NULL,
    cv_accuracy  double precision NOT NULL,
    created_at   timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX classifier_calibrations_model_idx ON classifier_calibrations (model, id);

-- Trained risk models (stockout, delivery) as models.RiskModel JSON. The newest
-- active row per name is in force; without one triage scores by a heuristic.
CREATE TABLE risk_models (
    name       text        NOT NULL CHECK (name IN ('stockout', 'delivery')),
    version    text        NOT NULL,
    params     jsonb       NOT NULL,
    metrics    jsonb       NOT NULL DEFAULT '{}',
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- The delivery risk reads a carrier's recent delay exceptions and deliveries.
CREATE INDEX exceptions_carrier_idx ON exceptions (carrier, occurred_at) WHERE carrier <> '';
CREATE INDEX shipments_carrier_idx ON shipments (carrier, delivered_at) WHERE delivered_at IS NOT NULL;

-- +goose Down
DROP INDEX shipments_carrier_idx;
DROP INDEX exceptions_carrier_idx;
DROP TABLE risk_models;
DROP TABLE classifier_calibrations;
DROP TABLE recommendation_keys;
DROP TABLE case_decisions;
DROP TABLE cases;
DROP TABLE example_embeddings;
DROP TABLE cause_examples;
DROP TABLE causes;
