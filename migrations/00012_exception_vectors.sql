-- +goose Up
-- Each distinct vector is stored, and HNSW-indexed, once per model. Exception
-- messages repeat: once ids, amounts and dates are masked, a history of
-- 100,000 exceptions held about 25,000 distinct vectors. Indexing every copy
-- made each insert walk the graph for nothing and crowded the graph with
-- exact ties, which cost recall; now an exception whose vector is known
-- already only links to it. vector_hash is SHA-256 of the vector's float32
-- values (little-endian), computed by triage.
CREATE TABLE exception_vectors (
    model       text        NOT NULL,
    vector_hash bytea       NOT NULL CHECK (length(vector_hash) = 32),
    dim         integer     NOT NULL CHECK (dim > 0),
    embedding   vector      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, vector_hash),
    CHECK (vector_dims(embedding) = dim)
);

-- The vectors written before are not carried over: the triage worker re-embeds
-- every triaged exception that has no vector for its model from the text its
-- case keeps (inputs->>'text'), in the background.
DELETE FROM exception_embeddings;
ALTER TABLE exception_embeddings DROP COLUMN embedding, DROP COLUMN dim,
    ADD COLUMN vector_hash bytea NOT NULL,
    ADD FOREIGN KEY (model, vector_hash) REFERENCES exception_vectors (model, vector_hash);
CREATE INDEX exception_embeddings_vector_idx ON exception_embeddings (model, vector_hash);

-- Triage stores an exception's vector after the fact: the case is marked and
-- the triage worker inserts the vectors of marked cases in batches, so no
-- request waits on the HNSW graph.
ALTER TABLE cases ADD COLUMN vector_pending boolean NOT NULL DEFAULT false;
CREATE INDEX cases_vector_pending_idx ON cases (triaged_at) WHERE vector_pending;

-- +goose Down
ALTER TABLE cases DROP COLUMN vector_pending;
DELETE FROM exception_embeddings;
ALTER TABLE exception_embeddings DROP COLUMN vector_hash,
    ADD COLUMN dim integer NOT NULL CHECK (dim > 0),
    ADD COLUMN embedding vector NOT NULL,
    ADD CHECK (vector_dims(embedding) = dim);
DROP TABLE exception_vectors;
