// Package database opens omnitriage's PostgreSQL pool and runs its migrations:
// our own goose files and River's job tables.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/migrations"
)

// Open connects a pool to url with at most maxConns connections and registers
// the pgvector types and google/uuid's UUID (RegisterUUID) on each
// connection. It fails when the database does not answer within ten
// seconds.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// The vector type exists only once migrations ran; tolerate its absence
		// so that `migrate up` itself can connect. Ask the catalog first
		// rather than read pgvector-go's error text.
		var hasVector bool
		if err := c.QueryRow(ctx, `SELECT to_regtype('vector') IS NOT NULL`).Scan(&hasVector); err != nil {
			return err
		}
		if hasVector {
			if err := pgxvec.RegisterTypes(ctx, c); err != nil {
				return err
			}
		}
		RegisterUUID(c.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database at %s does not answer (is it running? is DATABASE_URL right?): %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// provider builds the goose provider over a database/sql view of pool.
func provider(pool *pgxpool.Pool) (*goose.Provider, *sql.DB, error) {
	db := stdlib.OpenDBFromPool(pool)
	sub, err := fs.Sub(migrations.FS, ".")
	if err != nil {
		return nil, nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("loading migrations: %w", err)
	}
	return p, db, nil
}

// MigrateUp applies every pending migration: River's tables, then ours.
func MigrateUp(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (err error) {
	defer derrors.Wrap(&err, "MigrateUp")
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: quiet(log)})
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := p.Up(ctx)
	if err != nil {
		return err
	}
	for _, r := range res {
		log.Info("migrated", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// MigrateDown rolls back our migrations one step, or to version to when to >= 0.
// With all (to == 0) it also removes River's tables.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, to int64, log *slog.Logger) (err error) {
	defer derrors.Wrap(&err, "MigrateDown(%d)", to)
	p, db, err := provider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	if to < 0 {
		r, err := p.Down(ctx)
		if err != nil {
			return err
		}
		log.Info("rolled back", "version", r.Source.Version, "file", r.Source.Path)
		return nil
	}
	res, err := p.DownTo(ctx, to)
	if err != nil {
		return err
	}
	for _, r := range res {
		log.Info("rolled back", "version", r.Source.Version, "file", r.Source.Path)
	}
	if to == 0 {
		m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: quiet(log)})
		if err != nil {
			return err
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
			return fmt.Errorf("river migrations down: %w", err)
		}
	}
	return nil
}

// Status is one migration and whether it is applied.
type Status struct {
	Version   int64
	File      string
	AppliedAt time.Time // zero when pending
}

// MigrationStatus lists our migrations and whether each is applied.
func MigrationStatus(ctx context.Context, pool *pgxpool.Pool) (_ []Status, err error) {
	defer derrors.Wrap(&err, "MigrationStatus")
	p, db, err := provider(pool)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		out = append(out, Status{Version: s.Source.Version, File: s.Source.Path, AppliedAt: s.AppliedAt})
	}
	return out, nil
}

// ErrBehind reports that the database's schema is older than the binary's.
var ErrBehind = errors.New("database schema is behind: run `omnitriage migrate up`")

// AtHead reports nil when the database answers and every migration is applied.
func AtHead(ctx context.Context, pool *pgxpool.Pool) error {
	var current int64
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&current)
	if err != nil {
		return fmt.Errorf("database unreachable or not migrated: %w", err)
	}
	if current < HeadVersion() {
		return fmt.Errorf("%w (at %d, binary needs %d)", ErrBehind, current, HeadVersion())
	}
	return nil
}

// HeadVersion is the newest migration version embedded in the binary.
func HeadVersion() int64 {
	var head int64
	entries, _ := fs.ReadDir(migrations.FS, ".")
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%05d_", &v); err == nil && v > head {
			head = v
		}
	}
	return head
}

func quiet(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
