package orchestration

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
)

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestDatabaseAcceptsTheKinds holds the database to the Go lists: every
// column with an exception kind or status accepts exactly
// ExceptionKinds() and ExceptionStatuses(), and refuses anything else.
func TestDatabaseAcceptsTheKinds(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	tests := []struct {
		table, constraint string
		want              []string
	}{
		{"exceptions", "exceptions_kind_check", ExceptionKinds()},
		{"cases", "cases_kind_check", ExceptionKinds()},
		{"causes", "causes_kind_check", ExceptionKinds()},
		{"example_embeddings", "example_embeddings_kind_check", ExceptionKinds()},
		{"exceptions", "exceptions_status_check", ExceptionStatuses()},
		{"exceptions", "exceptions_severity_check", Severities()},
	}
	for _, tt := range tests {
		if got := dbtest.CheckValues(t, pool, tt.table, tt.constraint); !slices.Equal(got, sorted(tt.want)) {
			t.Errorf("%s.%s accepts %v, want the Go list %v", tt.table, tt.constraint, got, sorted(tt.want))
		}
	}
	// And enforces it.
	ctx := context.Background()
	for _, kind := range append(ExceptionKinds(), "not_a_kind") {
		_, err := pool.Exec(ctx, `INSERT INTO exceptions (id, kind, severity, source, message, occurred_at)
			VALUES ($1, $2, 'low', 'test', 'm', now())`, uuid.New(), kind)
		var pe *pgconn.PgError
		refused := errors.As(err, &pe) && pe.Code == "23514"
		if want := kind == "not_a_kind"; refused != want || (err != nil && !refused) {
			t.Errorf("inserting an exception of kind %q: %v; want refused %v", kind, err, want)
		}
	}
}
