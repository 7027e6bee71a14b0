package triage

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// clusterBenchExceptions is the window a full run reads in the benchmark.
const clusterBenchExceptions = 100_000

// seedBenchExceptions inserts n exceptions of 320 causes over the last 13
// days in one SQL statement, the shape the core's exceptions take: each
// message carries order numbers, SKUs, amounts, durations and attempts
// that vary, spread over kinds, codes and outside systems.
func seedBenchExceptions(b *testing.B, f *fixture, n int) {
	b.Helper()
	if _, err := f.pool.Exec(context.Background(), `
		INSERT INTO exceptions (kind, severity, source, endpoint, code, sku, location, carrier, message, occurred_at, created_at)
		SELECT (ARRAY['carrier_delay','payment_failed','erp_posting_failed','integration_error','stockout'])[1 + c % 5], 'medium', 'bench',
			split_part(obj, ' ', 1) || '/call', '', 'SKU-' || (h % 5000), 'loc-' || (h % 40), (ARRAY['ups','dhl','fedex'])[1 + h % 3],
			format('%s %s for order %s sku SKU-%s amount $%s.%s after %sms (attempt %s) variant%s',
				obj, verb, 100000 + h % 900000, h % 5000, h % 500, lpad((h % 100)::text, 2, '0'), h % 30000, 1 + h % 5, c / 64),
			$1::timestamptz - (g % 13) * interval '1 day' - (g % 1440) * interval '1 minute', $1
		FROM generate_series(1, $2) g,
			LATERAL (SELECT abs(hashint4(g)) AS h, abs(hashint4(g + 7919)) % 320 AS c) r,
			LATERAL (SELECT (ARRAY['carrier api','payment gateway','erp posting','tax service','fraud screen','label printer','stock feed','address check'])[1 + c % 8] AS obj,
				(ARRAY['timeout','paused','refused','rejected','throttled','unavailable','expired','declined'])[1 + (c / 8) % 8] AS verb) t`,
		f.now, n); err != nil {
		b.Fatal(err)
	}
}

// peakHeap samples the Go heap in use until stop is closed and returns
// the highest value seen.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// BenchmarkClusterRunDB makes full clustering runs over 100,000
// exceptions in PostgreSQL: read through exception_facts, embed, cluster,
// match to the previous run and write members, clusters and events. The
// first run finds the clusters, the rest match them (the hourly job's
// case). It reports the clusters found, the peak Go heap during a run and
// the process's peak resident memory.
func BenchmarkClusterRunDB(b *testing.B) {
	f := newFixture(b, fixtureOptions{noSeed: true})
	seedBenchExceptions(b, f, clusterBenchExceptions)
	c := NewClusterer(f.svc, ClusterConfig{})
	ctx := context.Background()
	var sum RunSummary
	var peak uint64
	for b.Loop() {
		runtime.GC()
		stop := make(chan struct{})
		heap := peakHeap(stop)
		var err error
		stageAt, stage := time.Now(), ""
		sum, err = c.Run(ctx, RunOptions{Trigger: "bench", Progress: func(st string, done, total int) {
			if st != stage {
				if stage != "" {
					b.Logf("%-10s %s", stage, time.Since(stageAt).Round(time.Millisecond))
				}
				stage, stageAt = st, time.Now()
			}
		}})
		b.Logf("%-10s %s (to the commit)", stage, time.Since(stageAt).Round(time.Millisecond))
		close(stop)
		peak = max(peak, <-heap)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Exceptions != clusterBenchExceptions {
			b.Fatalf("run read %d exceptions, want %d", sum.Exceptions, clusterBenchExceptions)
		}
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(sum.Clusters), "clusters")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(ru.Maxrss)/1024, "max-RSS-MB")
}

// BenchmarkClusterAssignDB places one new exception in the clusters of a
// 100,000-exception run, as triage's intake does: the nearest cluster by
// template and centroid, then the member row and the recurrence check in
// the caller's transaction (begun and rolled back per call, so each
// exception is new again).
func BenchmarkClusterAssignDB(b *testing.B) {
	f := newFixture(b, fixtureOptions{noSeed: true})
	seedBenchExceptions(b, f, clusterBenchExceptions)
	c := NewClusterer(f.svc, ClusterConfig{})
	ctx := context.Background()
	if _, err := c.Run(ctx, RunOptions{Trigger: "bench"}); err != nil {
		b.Fatal(err)
	}
	// A thousand exceptions taken out of their clusters stand for new ones.
	rows, err := f.pool.Query(ctx, `SELECT id, kind, code, endpoint, message, occurred_at FROM exceptions ORDER BY random() LIMIT 1000`)
	if err != nil {
		b.Fatal(err)
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExceptionRef, error) {
		var e ExceptionRef
		return e, r.Scan(&e.ID, &e.Kind, &e.Code, &e.Endpoint, &e.Message, &e.OccurredAt)
	})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]uuid.UUID, len(refs))
	for j, e := range refs {
		ids[j] = e.ID
	}
	if _, err := f.pool.Exec(ctx, `DELETE FROM cluster_members WHERE exception_id = ANY($1)`, ids); err != nil {
		b.Fatal(err)
	}
	i, placed := 0, 0
	for b.Loop() {
		tx, err := f.pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		res, err := c.Assign(ctx, tx, refs[i%len(refs)])
		if err != nil {
			b.Fatal(err)
		}
		if res.ClusterID != 0 {
			placed++
		}
		_ = tx.Rollback(ctx)
		i++
	}
	b.ReportMetric(float64(placed)/float64(i), "placed/op")
}
