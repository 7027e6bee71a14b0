// Package dbtest gives each test its own real PostgreSQL database, cloned from
// a migrated template, so database tests run in parallel and never see each
// other's rows.
//
// The server comes from OMNITRIAGE_TEST_DATABASE_URL, else DATABASE_URL
// (`make test` sets it). Without either, tests skip, unless CI is set, when
// they fail: CI must never pass by skipping the database.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/migrations"
)

var (
	once     sync.Once
	tmplName string
	tmplErr  error
)

// ServerURL returns the test server's URL, skipping or failing t when none is set.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("OMNITRIAGE_TEST_DATABASE_URL")
	if u == "" {
		u = os.Getenv("DATABASE_URL")
	}
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no database: set DATABASE_URL (CI must run the database tests; `make test` starts one)")
		}
		t.Skip("no database: set DATABASE_URL or run `make test`")
	}
	return u
}

// withDB returns base with its database name replaced by name.
func withDB(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parsing database URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// migrationsHash names the template by the migrations' content, so a changed
// migration builds a fresh template.
func migrationsHash() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(migrations.FS, p)
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func ensureTemplate(ctx context.Context, server string) (string, error) {
	name := "omnitriage_tmpl_" + migrationsHash()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", fmt.Errorf("connecting to test server: %w", err)
	}
	defer admin.Close(ctx)
	// Test binaries of several packages run at once: one builds the template.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(724231)`); err != nil {
		return "", err
	}
	defer admin.Exec(ctx, `SELECT pg_advisory_unlock(724231)`)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("creating template: %w", err)
	}
	tu, err := withDB(server, name)
	if err != nil {
		return "", err
	}
	pool, err := database.Open(ctx, tu, 2)
	if err != nil {
		return "", err
	}
	err = database.MigrateUp(ctx, pool, slog.New(slog.DiscardHandler))
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrating template: %w", err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` WITH is_template true ALLOW_CONNECTIONS false`); err != nil {
		return "", err
	}
	return name, nil
}

// NewURL creates a fresh, migrated database for t, dropped when t ends, and
// returns its URL.
func NewURL(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	ctx := context.Background()
	once.Do(func() { tmplName, tmplErr = ensureTemplate(ctx, server) })
	if tmplErr != nil {
		t.Fatalf("test database template: %v", tmplErr)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "omnitriage_test_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connecting to test server: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tmplName)); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), server)
		if err != nil {
			t.Logf("dropping %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	u, err := withDB(server, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// NewPool returns a pool of 8 connections on a fresh, migrated database for t.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return NewPoolSize(t, 8)
}

// NewPoolSize is NewPool with a pool of size connections.
func NewPoolSize(t testing.TB, size int32) *pgxpool.Pool {
	t.Helper()
	pool, err := database.Open(context.Background(), NewURL(t), size)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
