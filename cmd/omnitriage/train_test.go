package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
)

// seedStockoutCases writes n triaged cases of SKUs whose stock cover
// decides, mostly, whether a stockout follows within days.
func seedStockoutCases(t *testing.T, url string, n int) {
	t.Helper()
	ctx := context.Background()
	pool, err := database.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, `
		WITH g AS (
			SELECT i, now() - interval '60 days' + i * (interval '50 days' / $1) AS at, (i % 4)::float8 AS cover
			FROM generate_series(1, $1) i),
		e AS (
			INSERT INTO exceptions (kind, severity, message, sku, location, occurred_at, created_at)
			SELECT 'stockout', 'medium', 'count below reserved', 'SKU-' || i, 'nj-wh', at, at FROM g
			RETURNING id, sku),
		c AS (
			INSERT INTO cases (exception_id, kind, severity, status, risks, created_at, triaged_at)
			SELECT e.id, 'stockout', 'medium', 'queued_for_review', jsonb_build_object('stockout', jsonb_build_object(
				'method', 'heuristic', 'features', jsonb_build_object('qty_needed', 1, 'cover_ratio', g.cover, 'atp_network', g.cover))),
				g.at, g.at
			FROM e JOIN g ON e.sku = 'SKU-' || g.i)
		INSERT INTO exceptions (kind, severity, message, sku, location, occurred_at, created_at)
		SELECT 'release_rejected', 'high', 'item not found', 'SKU-' || i, 'nj-wh', at + interval '2 days', at + interval '2 days'
		FROM g WHERE (cover < 1.5) <> (i % 9 = 0)`, n)
	if err != nil {
		t.Fatal(err)
	}
}

func TestTrainCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)

	env, _, _ := testEnv(url)
	err := runTrain(ctx, env, nil)
	if err == nil {
		t.Fatal("train on an empty database succeeded")
	}
	for _, want := range []string{"stockout: 0 labelled cases", "delivery: 0 labelled cases", "need at least 200 labelled rows", "run the demo or simulate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("train on an empty database: error lacks %q:\n%v", want, err)
		}
	}

	seedStockoutCases(t, url, 120)
	env, out, errb := testEnv(url)
	if err := runTrain(ctx, env, []string{"--models", "stockout", "--min-rows", "100", "--min-per-class", "10", "--dry-run"}); err != nil {
		t.Fatalf("train --dry-run: %v\n%s", err, errb)
	}
	for _, want := range []string{"stockout risk model sha256:", "train (fit)", "calibration (Platt)", "test (measure)", "trained model",
		"heuristic in use until now", "dry run: not stored"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("train --dry-run stdout lacks %q:\n%s", want, out)
		}
	}
	env, out, errb = testEnv(url)
	if err := runTrain(ctx, env, []string{"--models", "stockout", "--min-rows", "100", "--min-per-class", "10", "--horizon", "3d"}); err != nil {
		t.Fatalf("train: %v\n%s", err, errb)
	}
	if !strings.Contains(out.String(), "stored in risk_models as the newest active stockout model") {
		t.Errorf("train stdout does not say the model was stored:\n%s", out)
	}
	pool, err := database.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var version string
	if err := pool.QueryRow(ctx, `SELECT version FROM risk_models WHERE name = 'stockout' AND active`).Scan(&version); err != nil ||
		!strings.Contains(out.String(), version) {
		t.Errorf("stored stockout model %q (%v) is not the one printed:\n%s", version, err, out)
	}
	env, _, _ = testEnv(url)
	if err := runTrain(ctx, env, []string{"--models", "delivery", "--min-rows", "100", "--min-per-class", "10"}); err == nil ||
		!strings.Contains(err.Error(), "delivery: 0 labelled cases") {
		t.Errorf("train --models delivery without deliveries = %v, want a refusal", err)
	}
}

func TestTrainUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, args := range [][]string{
		{"--models", "weather"},
		{"--horizon", "soon"},
		{"--horizon", "-2d"},
		{"--min-rows", "3"},
		{"extra"},
	} {
		env, _, _ := testEnv("")
		err := runTrain(ctx, env, args)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("train %q = %v, want a usage error", args, err)
		}
	}
}

func TestParseDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"2w", 14 * 24 * time.Hour, true},
		{"36h", 36 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"d", 0, false},
		{"thirty days", 0, false},
	} {
		got, err := parseDays(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDays(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
