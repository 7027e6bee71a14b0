-- The HNSW indexes of exception and example vectors are built with a
-- smaller graph (m = 16 instead of 32, ef_construction 200; see
-- triage.IndexSQL for the measurements): linking each new exception vector
-- into the old graph cost 7.9 ms of database CPU, and storing vectors after
-- the answer set the recommend API's tail latency. The indexes are dropped
-- here; the service builds each again, with its version's parameters, when
-- it first uses a model's vectors (at start, and before storing vectors).

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    ix record;
BEGIN
    FOR ix IN
        SELECT schemaname, indexname FROM pg_indexes
        WHERE schemaname = current_schema()
          AND tablename IN ('exception_vectors', 'example_embeddings')
          AND indexdef LIKE '%USING hnsw%'
    LOOP
        EXECUTE format('DROP INDEX %I.%I', ix.schemaname, ix.indexname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Nothing to undo: the service builds missing indexes at start.
SELECT 1;
