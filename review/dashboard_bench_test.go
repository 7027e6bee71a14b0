package review_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

// benchEnd is when the benchmark's history ends: its 30 days are 1 to 30
// March 2026.
var benchEnd = time.Date(2026, 3, 30, 23, 0, 0, 0, time.UTC)

// BenchmarkDashboard renders /dashboard for the last 30 days of
// DASH_BENCH_ORDERS (default 1,000,000) orders, generated through SQL by
// orchestration.GenerateHistory and triage.GenerateCaseHistory and folded
// into the rollups, and reports p50 and p99 of each request's time as the
// client sees it on loopback, for the whole network and narrowed to a
// channel and a node:
//
//	go test -run '^$' -bench Dashboard -benchtime 2s ./review/
//
// The history is generated once into the database omnitriage_bench_dash_N
// on DATABASE_URL's server and reused while it is complete and at the head
// migration (delete the database to generate it again).
func BenchmarkDashboard(b *testing.B) {
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("DASH_BENCH_ORDERS")); err == nil && v > 0 {
		n = v
	}
	pool := benchDashboardDB(b, n)
	srv := reviewtest.NewServer(b, reviewtest.Options{Pool: pool, Clock: func() time.Time { return benchEnd },
		CoreClock: func() time.Time { return benchEnd }})
	email := fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano())
	cl := reviewtest.NewClient(b, srv.URL)
	cl.Login(email, reviewtest.CreateUser(b, srv.Review.People(), email, review.Engineer))
	// The figures alone, as the gauges read them (no HTTP, no template).
	b.Run("figures-30d", func(b *testing.B) {
		p := orchestration.Period{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}
		for b.Loop() {
			if _, err := srv.Triage.ProcessFigures(context.Background(), p, orchestration.Filter{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct{ name, path string }{
		{"30d", "/dashboard?period=30d"},
		{"30d-channel-node", "/dashboard?period=30d&channel=web&node=loc-03"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				t0 := time.Now()
				resp, body := cl.Get(c.path)
				times = append(times, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s = %d\n%.2000s", c.path, resp.StatusCode, body)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// benchDashboardDB opens the cached benchmark database of n orders,
// generating it first when it is missing or incomplete.
func benchDashboardDB(b *testing.B, n int) *pgxpool.Pool {
	b.Helper()
	ctx := context.Background()
	server := dbtest.ServerURL(b)
	name := fmt.Sprintf("omnitriage_bench_dash_%d", n)
	u, err := url.Parse(server)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if exists {
		pool, err := database.Open(ctx, u.String(), 8)
		if err != nil {
			b.Fatal(err)
		}
		var orders, rolled int
		if database.AtHead(ctx, pool) == nil &&
			pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM case_rollup_state)`).Scan(&orders, &rolled) == nil &&
			orders == n {
			b.Cleanup(pool.Close)
			if rolled != 1 { // the history is there, the rollups are not (yet)
				benchRefresh(b, pool)
			}
			return pool
		}
		pool.Close()
		b.Logf("%s is incomplete or behind the migrations: generating it again", name)
		if _, err := admin.Exec(ctx, `DROP DATABASE `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	pool, err := database.Open(ctx, u.String(), 8)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := database.MigrateUp(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	pool.Reset() // the vector type exists now
	pol, err := rules.Default()
	if err != nil {
		b.Fatal(err)
	}
	clock := func() time.Time { return benchEnd }
	orch, err := orchestration.NewService(pool, orchestration.Config{Policy: func() *rules.Policy { return pol }, Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	for _, ch := range []orchestration.Channel{{Code: "web", Kind: orchestration.ChannelWeb}, {Code: "app", Kind: orchestration.ChannelMobile},
		{Code: "marketplace", Kind: orchestration.ChannelMarketplace}, {Code: "stores", Kind: orchestration.ChannelStore}} {
		ch.Name, ch.Active = ch.Code, true
		if _, err := orch.CreateChannel(ctx, ch); err != nil {
			b.Fatal(err)
		}
	}
	regions := []string{"northeast", "south", "midwest", "west"}
	for i := 1; i <= 12; i++ {
		l := orchestration.Location{Code: fmt.Sprintf("loc-%02d", i), Name: fmt.Sprintf("Node %d", i), Kind: "warehouse",
			Region: regions[i%4], Lat: 40, Lon: -90 + float64(i), Timezone: "UTC", CanShip: true, HandlingHours: 4, Active: true}
		if _, err := orch.CreateLocation(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	if err := orchestration.GenerateHistory(ctx, pool, orchestration.HistoryOptions{Orders: n, Days: 30, End: benchEnd,
		Progress: func(done, total int) {
			b.Logf("generated %d of %d orders (%s)", done, total, time.Since(t0).Round(time.Second))
		}}); err != nil {
		b.Fatal(err)
	}
	if err := triage.GenerateCaseHistory(ctx, pool); err != nil {
		b.Fatal(err)
	}
	b.Logf("history of %d orders generated in %s", n, time.Since(t0).Round(time.Second))
	benchRefresh(b, pool)
	return pool
}

// benchRefresh folds the benchmark's history into both rollups, and times
// a later, incremental refresh.
func benchRefresh(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	pol, err := rules.Default()
	if err != nil {
		b.Fatal(err)
	}
	clock := func() time.Time { return benchEnd }
	orch, err := orchestration.NewService(pool, orchestration.Config{Policy: func() *rules.Policy { return pol }, Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	if err := orch.RefreshRollup(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("process rollup refreshed in %s", time.Since(t1).Round(time.Millisecond))
	tri, err := triage.NewService(pool, triage.Config{Core: orch, Embedder: models.NewLocalEmbedder(0), Policy: func() *rules.Policy { return pol }, Now: clock})
	if err != nil {
		b.Fatal(err)
	}
	t2 := time.Now()
	if err := tri.RefreshCaseRollup(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("case rollup refreshed in %s", time.Since(t2).Round(time.Millisecond))
	// A later refresh, as the periodic job runs it: today (the last day).
	t3 := time.Now()
	if err := orch.RefreshRollup(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("an incremental process rollup refresh took %s", time.Since(t3).Round(time.Millisecond))
}
