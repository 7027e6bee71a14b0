package database_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
)

// TestOneIdempotencyTableKeepsRows: migration 00034 moves the keys of
// POST /v1/recommendations from recommendation_keys into idempotency_keys
// with their exception as resource_id, and its down migration moves them
// back, the capture keys staying where they are both ways.
func TestOneIdempotencyTableKeepsRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	log := slog.New(slog.DiscardHandler)
	if err := database.MigrateDown(ctx, pool, 33, log); err != nil {
		t.Fatalf("MigrateDown(33) = %v", err)
	}
	exc := uuid.New()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO exceptions (id, kind, severity, message) VALUES ($1, 'carrier_delay', 'low', 'late')`, []any{exc}},
		{`INSERT INTO recommendation_keys (scope, key, request_hash, exception_id) VALUES ('1 POST /v1/recommendations', 'pending', '\x01', $1)`, []any{exc}},
		{`INSERT INTO recommendation_keys (scope, key, request_hash, exception_id, status, response) VALUES ('1 POST /v1/recommendations', 'done', '\x02', $1, 200, '{"a":1}')`, []any{exc}},
		{`INSERT INTO idempotency_keys (scope, key, request_hash, status, response) VALUES ('1 POST /v1/orders', 'order', '\x03', 201, '{"o":1}')`, nil},
	} {
		if _, err := pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := database.MigrateUp(ctx, pool, log); err != nil {
		t.Fatalf("MigrateUp = %v", err)
	}
	var n, withExc, answered int
	err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE resource_id = $1),
		count(*) FILTER (WHERE key = 'done' AND status = 200 AND response = '{"a":1}')
		FROM idempotency_keys`, exc).Scan(&n, &withExc, &answered)
	if err != nil || n != 3 || withExc != 2 || answered != 1 {
		t.Errorf("after up: %d keys, %d of the exception, %d answered (%v); want 3, 2, 1", n, withExc, answered, err)
	}
	if err := database.MigrateDown(ctx, pool, 33, log); err != nil {
		t.Fatalf("MigrateDown(33) again = %v", err)
	}
	var rec, idem int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM recommendation_keys WHERE exception_id = $1),
		(SELECT count(*) FROM idempotency_keys WHERE key = 'order')`, exc).Scan(&rec, &idem); err != nil || rec != 2 || idem != 1 {
		t.Errorf("after down: %d recommendation keys, %d capture keys (%v); want 2 and 1", rec, idem, err)
	}
}
