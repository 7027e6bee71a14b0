package orchestration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// fastRetry retries failed jobs quickly, for tests.
type fastRetry struct{}

func (fastRetry) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(time.Duration(job.Attempt) * 50 * time.Millisecond)
}

// simClock runs simulated time fast: one real second is six simulated hours,
// quick enough for deliveries and slow enough that payment authorisations
// (valid seven days) are captured in time.
type simClock struct {
	start, real time.Time
	jump        *atomic.Int64 // extra simulated time, for jumping ahead
}

func (c simClock) now() time.Time {
	var jumped time.Duration
	if c.jump != nil {
		jumped = time.Duration(c.jump.Load())
	}
	return c.start.Add(time.Since(c.real)*21600 + jumped)
}

func startWorkers(t *testing.T, pool *pgxpool.Pool, svc *Service) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	svc.RegisterWorkers(workers)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 16}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		RetryPolicy:       fastRetry{},
		Logger:            slog.New(slog.DiscardHandler),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return client
}

// TestLifecycleThousandOrders drives 1,000 simulated orders through payment,
// checks, release, shipment, tracking, ERP postings and notifications with
// faults on in every outside system, stopping and restarting the workers in
// the middle.
func TestLifecycleThousandOrders(t *testing.T) {
	if testing.Short() {
		t.Skip("long: 1,000 orders through the lifecycle")
	}
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPoolSize(t, 12)
	pol := testPolicy(t)
	clock := simClock{start: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), real: time.Now(), jump: new(atomic.Int64)}
	sim := adapter.NewSimulator(adapter.DefaultFaults(), 7, clock.now)
	calls := NewCallCounter(clock.now)
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Now: clock.now,
		Systems: calls.Systems(sim.Systems()), TrackEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SeedDemo(ctx, SeedOptions{Seed: 3, SKUs: 300}, nil); err != nil {
		t.Fatal(err)
	}
	skus, err := svc.DemoSKUs(ctx, 200)
	if err != nil {
		t.Fatal(err)
	}

	// Capture 1,000 orders from 8 clients.
	const n = 1000
	ids := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	var next atomic.Int32
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 11))
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				res, err := svc.Capture(ctx, "test", nil, DemoOrder(rng, fmt.Sprintf("LC-%04d", i), skus))
				if err != nil {
					t.Errorf("capture %d: %v", i, err)
					return
				}
				ids[i] = res.Order.ID
			}
		}(c)
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	client := startWorkers(t, pool, svc)
	// Cancel some orders while the workers run, and stop the workers half way.
	time.Sleep(1500 * time.Millisecond)
	for i := 0; i < n; i += 20 {
		if _, err := svc.Cancel(ctx, "test", ids[i], CancelRequest{Reason: "customer changed mind"}); err != nil && !isConflict(err) {
			t.Errorf("cancel: %v", err)
		}
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := client.Stop(stopCtx); err != nil {
		t.Fatalf("stopping workers: %v", err)
	}
	cancel()
	time.Sleep(300 * time.Millisecond)
	client = startWorkers(t, pool, svc)
	defer client.Stop(context.Background())

	// Wait until every order is settled: terminal, or explained by an open exception.
	deadline := time.Now().Add(150 * time.Second)
	var unsettled int
	for time.Now().Before(deadline) {
		err := pool.QueryRow(ctx, `
			SELECT count(*) FROM orders o
			WHERE o.status NOT IN ('delivered', 'cancelled', 'rejected')
			AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.order_id = o.id AND e.status = 'open')`).Scan(&unsettled)
		if err != nil {
			t.Fatal(err)
		}
		var busy int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled')
			AND kind <> 'shipment_track'`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if unsettled == 0 && busy == 0 {
			break
		}
		if busy == 0 {
			// Only parcels still on the road: a long same-day or cross-country
			// journey can take weeks of simulated time. Jump ahead.
			clock.jump.Add(int64(7 * 24 * time.Hour))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if unsettled != 0 {
		rows, _ := pool.Query(ctx, `SELECT status, count(*) FROM orders o WHERE o.status NOT IN ('delivered', 'cancelled', 'rejected')
			AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.order_id = o.id AND e.status = 'open') GROUP BY status`)
		for rows.Next() {
			var s string
			var c int
			rows.Scan(&s, &c)
			t.Logf("unsettled: %d orders %s", c, s)
		}
		rows.Close()
		rows, _ = pool.Query(ctx, `SELECT j.kind, j.state, j.attempt, j.max_attempts, coalesce(j.errors::text, ''), o.status, j.scheduled_at::text || ' now ' || now()::text
			FROM orders o JOIN river_job j ON j.args->>'order_id' = o.id::text
				OR j.args->>'shipment_id' IN (SELECT id::text FROM shipments WHERE order_id = o.id)
			WHERE o.status NOT IN ('delivered', 'cancelled', 'rejected')
			AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.order_id = o.id AND e.status = 'open')`)
		for rows.Next() {
			var kind, state, errs, shs, tn string
			var att, maxAtt int
			rows.Scan(&kind, &state, &att, &maxAtt, &errs, &shs, &tn)
			t.Logf("job %s %s attempt %d/%d shipment %s %s errors %.300s", kind, state, att, maxAtt, shs, tn, errs)
		}
		rows.Close()
		rows, _ = pool.Query(ctx, `SELECT e.kind, e.from_status, e.to_status, e.reason, e.data::text FROM order_events e JOIN orders o ON o.id = e.order_id
			WHERE o.status NOT IN ('delivered', 'cancelled', 'rejected', 'refunded')
			AND NOT EXISTS (SELECT 1 FROM exceptions x WHERE x.order_id = o.id AND x.status = 'open') ORDER BY e.id`)
		for rows.Next() {
			var k, reason, data string
			var from, to *string
			rows.Scan(&k, &from, &to, &reason, &data)
			t.Logf("event %s %v→%v %s %s", k, from, to, reason, data)
		}
		rows.Close()
		t.Fatalf("%d orders neither terminal nor explained by an open exception", unsettled)
	}
	client.Stop(context.Background())

	report := func(q string) map[string]int {
		out := map[string]int{}
		rows, err := pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var c int
			if err := rows.Scan(&k, &c); err != nil {
				t.Fatal(err)
			}
			out[k] = c
		}
		return out
	}
	t.Logf("orders by status: %v", report(`SELECT status, count(*) FROM orders GROUP BY status`))
	t.Logf("exceptions by kind: %v", report(`SELECT kind, count(*) FROM exceptions GROUP BY kind`))
	delivered := report(`SELECT status, count(*) FROM orders GROUP BY status`)[StatusDelivered]
	if delivered < n/3 {
		t.Errorf("only %d of %d orders delivered; the faults should not stop most orders", delivered, n)
	}

	// Every shipped line has exactly one invoice; every cancelled line one credit memo.
	var badInvoices, badMemos int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM order_lines l WHERE l.status IN ('shipped', 'delivered')
		AND (SELECT count(*) FROM erp_postings p WHERE p.line_id = l.id AND p.kind = 'invoice') <> 1`).Scan(&badInvoices); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM order_lines l WHERE l.status = 'cancelled'
		AND (SELECT count(*) FROM erp_postings p WHERE p.line_id = l.id AND p.kind = 'credit_memo') <> 1`).Scan(&badMemos); err != nil {
		t.Fatal(err)
	}
	if badInvoices != 0 || badMemos != 0 {
		t.Errorf("lines without exactly one invoice: %d; cancelled lines without exactly one credit memo: %d", badInvoices, badMemos)
	}
	// The outside systems saw each effect once.
	eff := sim.Effects()
	seen := map[string]int{}
	for _, e := range eff.Log {
		seen[e.System+"."+e.Op+"."+e.Key]++
	}
	for k, c := range seen {
		if c > 1 {
			t.Errorf("effect %s applied %d times", k, c)
		}
	}
	var invoices, sent int
	pool.QueryRow(ctx, `SELECT count(*) FROM erp_postings WHERE kind = 'invoice' AND status = 'acknowledged'`).Scan(&invoices)
	pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE status = 'sent'`).Scan(&sent)
	if got := eff.Count(adapter.SystemERP, adapter.OpPostInvoice); got < invoices {
		t.Errorf("ERP saw %d invoices, we recorded %d acknowledged", got, invoices)
	}
	if got := eff.Count(adapter.SystemNotify, adapter.OpSend); got != sent {
		t.Errorf("notifier sent %d, we recorded %d sent", got, sent)
	}
	t.Logf("effects: %v", eff.Counts)
	// Cancelled orders whose payment was held had it voided, once.
	var heldCancelled, voided int
	pool.QueryRow(ctx, `SELECT count(*) FROM orders o WHERE status = 'cancelled' AND EXISTS (SELECT 1 FROM payments p
		WHERE p.order_id = o.id AND p.kind = 'authorize' AND p.status = 'approved')`).Scan(&heldCancelled)
	pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE kind = 'void'`).Scan(&voided)
	if voided != heldCancelled || eff.Count(adapter.SystemPayment, adapter.OpVoid) != voided {
		t.Errorf("cancelled orders with a held payment = %d, voids recorded %d, gateway voids %d; want all equal",
			heldCancelled, voided, eff.Count(adapter.SystemPayment, adapter.OpVoid))
	}
	checkInvariants(t, pool, true)

	// Every process metric, from its view, on this run.
	if err := calls.Flush(ctx, pool); err != nil {
		t.Fatal(err)
	}
	m, err := svc.ProcessMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byChannel := func(rows []CycleTime) (CycleTime, bool) {
		for _, r := range rows {
			if r.Channel == "*" {
				return r, true
			}
		}
		return CycleTime{}, false
	}
	if ct, ok := byChannel(m.CycleTime); !ok || ct.Orders != delivered || ct.P50Hours <= 0 || ct.P95Hours < ct.P50Hours {
		t.Errorf("cycle time = %+v, want %d delivered orders with p50 > 0 ≤ p95", ct, delivered)
	}
	for _, a := range m.Allocation {
		if a.Channel == "*" && (a.Orders != n || a.Rate <= 0.5 || a.Rate > 1) {
			t.Errorf("allocation = %+v, want %d orders and a rate in (0.5, 1]", a, n)
		}
	}
	kinds := map[string]int{}
	for _, e := range m.Exceptions {
		kinds[e.Kind] += e.Exceptions
	}
	var excTotal int
	pool.QueryRow(ctx, `SELECT count(*) FROM exceptions`).Scan(&excTotal)
	sum := 0
	for _, v := range kinds {
		sum += v
	}
	if sum != excTotal && sum != 2*excTotal { // per kind, perhaps also a '*' total row
		t.Errorf("exceptions per day sum to %d, table has %d", sum, excTotal)
	}
	var lagSeen, apiSeen, promiseSeen bool
	for _, l := range m.ERPLag {
		lagSeen = lagSeen || (l.Kind == "invoice" && l.Acknowledged > 0 && l.AvgSeconds >= 0)
	}
	for _, f := range m.APIFailures {
		apiSeen = apiSeen || (f.Calls > 0 && f.FailureRate != nil && *f.FailureRate >= 0 && *f.FailureRate <= 1)
	}
	for _, p := range m.Promise {
		promiseSeen = promiseSeen || (p.Channel == "*" && p.Delivered == delivered && p.Rate >= 0 && p.Rate <= 1)
	}
	if !lagSeen || !apiSeen || !promiseSeen {
		t.Errorf("process metrics incomplete: ERP lag %v, API failures %v, promise %v", lagSeen, apiSeen, promiseSeen)
	}
	t.Logf("process: cycle %+v; allocation %+v; promise %+v", m.CycleTime, m.Allocation, m.Promise)
}

func isConflict(err error) bool { return errors.Is(err, derrors.Conflict) }
