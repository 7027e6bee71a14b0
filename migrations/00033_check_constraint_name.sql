-- ot_check also names the failed check in the error's constraint field, so
-- Go code recognises which check failed by pgconn.PgError.ConstraintName and
-- never by the message text (the message stays the same, for logs).

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ot_check(ok boolean, msg text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION '%', msg USING ERRCODE = 'P0001', HINT = 'omnitriage:check', CONSTRAINT = msg;
    END IF;
    RETURN true;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ot_check(ok boolean, msg text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION '%', msg USING ERRCODE = 'P0001', HINT = 'omnitriage:check';
    END IF;
    RETURN true;
END $$;
-- +goose StatementEnd
