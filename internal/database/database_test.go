package database_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pgvector/pgvector-go"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
)

func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	log := slog.New(slog.DiscardHandler)
	exists := func(table string) bool {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if err := database.AtHead(ctx, pool); err != nil {
		t.Fatalf("AtHead on a fresh database = %v, want nil", err)
	}
	for _, tbl := range []string{"orders", "exception_embeddings", "api_keys", "river_job"} {
		if !exists(tbl) {
			t.Fatalf("table %s missing after migrate up", tbl)
		}
	}
	if err := database.MigrateDown(ctx, pool, 0, log); err != nil {
		t.Fatalf("MigrateDown(0) = %v", err)
	}
	for _, tbl := range []string{"orders", "exception_embeddings", "api_keys", "river_job"} {
		if exists(tbl) {
			t.Errorf("table %s still there after migrate down to 0", tbl)
		}
	}
	if err := database.AtHead(ctx, pool); err == nil {
		t.Errorf("AtHead after down = nil, want behind")
	}
	if err := database.MigrateUp(ctx, pool, log); err != nil {
		t.Fatalf("MigrateUp after down = %v", err)
	}
	if err := database.AtHead(ctx, pool); err != nil {
		t.Errorf("AtHead after up again = %v, want nil", err)
	}
	// One step down and up again.
	if err := database.MigrateDown(ctx, pool, -1, log); err != nil {
		t.Fatalf("MigrateDown(-1) = %v", err)
	}
	if err := database.MigrateUp(ctx, pool, log); err != nil {
		t.Fatalf("MigrateUp = %v", err)
	}
	st, err := database.MigrationStatus(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.AppliedAt.IsZero() {
			t.Errorf("migration %d pending after up", s.Version)
		}
	}
}

func TestPgvectorHNSW(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	var v string
	var recent bool
	if err := pool.QueryRow(ctx, `SELECT extversion, string_to_array(extversion, '.')::int[] >= '{0,5,0}'
		FROM pg_extension WHERE extname = 'vector'`).Scan(&v, &recent); err != nil {
		t.Fatal(err)
	}
	if !recent {
		t.Errorf("pgvector version = %s, want >= 0.5.0", v)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE hnsw_probe (v vector(3)); CREATE INDEX ON hnsw_probe USING hnsw (v vector_cosine_ops)`); err != nil {
		t.Fatalf("creating an HNSW index: %v", err)
	}
}

// TestOpenWithoutVector pins that Open connects to a database that has no
// vector type yet (before `migrate up`) and registers the type once it
// exists, asking the catalog instead of reading pgvector-go's error text.
func TestOpenWithoutVector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	log := slog.New(slog.DiscardHandler)
	pool, err := database.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := database.MigrateDown(ctx, pool, 0, log); err != nil {
		t.Fatalf("MigrateDown(0) = %v", err)
	}
	pool.Close()
	bare, err := database.Open(ctx, url, 2)
	if err != nil {
		t.Fatalf("Open on a database without the vector type = %v, want nil", err)
	}
	if err := database.MigrateUp(ctx, bare, log); err != nil {
		t.Fatalf("MigrateUp = %v", err)
	}
	bare.Close()
	pool, err = database.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var v pgvector.Vector
	if err := pool.QueryRow(ctx, `SELECT '[1,2,3]'::vector`).Scan(&v); err != nil || len(v.Slice()) != 3 {
		t.Errorf("scanning a vector after migrate up = %v, %v; want [1 2 3]", v, err)
	}
}
