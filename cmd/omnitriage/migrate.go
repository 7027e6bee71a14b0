package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/internal/database"
)

func runMigrate(ctx context.Context, env *environment, args []string) error {
	return subcommand(ctx, env, "migrate", args, map[string]command{
		"up":     {"apply every pending migration (River's job tables too)", migrateUp},
		"down":   {"roll back the newest migration, or to --to VERSION", migrateDown},
		"status": {"list migrations and whether each is applied", migrateStatus},
	})
}

// openDB loads the configuration and connects, with messages that say what to fix.
func openDB(ctx context.Context, env *environment) (config.Config, *slog.Logger, func(), *pgxpool.Pool, error) {
	cfg, err := config.Load(env.getenv)
	if err != nil {
		return cfg, nil, nil, nil, err
	}
	if err := cfg.RequireDatabase(); err != nil {
		return cfg, nil, nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	pool, err := database.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return cfg, nil, nil, nil, err
	}
	return cfg, log, pool.Close, pool, nil
}

func migrateUp(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "migrate up", "migrate up", "Apply every pending migration.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, log, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := database.MigrateUp(ctx, pool, log); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "database at version %d\n", database.HeadVersion())
	return nil
}

func migrateDown(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "migrate down", "migrate down [--to VERSION]",
		"Roll back the newest migration; with --to, every migration above VERSION (--to 0 removes everything, River's tables too).")
	to := fs.Int64("to", -1, "roll back to this version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, log, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	return database.MigrateDown(ctx, pool, *to, log)
}

func migrateStatus(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "migrate status", "migrate status", "List migrations and whether each is applied.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, _, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	st, err := database.MigrationStatus(ctx, pool)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tFILE\tAPPLIED")
	for _, s := range st {
		applied := "pending"
		if !s.AppliedAt.IsZero() {
			applied = s.AppliedAt.Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, s.File, applied)
	}
	return tw.Flush()
}
