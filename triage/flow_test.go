package triage

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// flowClock is the core's clock in a flow scenario: it moves only when told.
type flowClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *flowClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *flowClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// flowEnv is one scenario's core: the real lifecycle on the simulator, with
// the fault rates the scenario needs, wired to triage as serve does, its
// River workers running.
type flowEnv struct {
	f     *fixture
	core  *orchestration.Service
	clock *flowClock
}

// quickRetry retries failed jobs at once.
type quickRetry struct{}

func (quickRetry) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(time.Duration(job.Attempt) * 20 * time.Millisecond)
}

func newFlowEnv(t *testing.T, f *fixture, faults adapter.SimConfig) *flowEnv {
	t.Helper()
	clock := &flowClock{t: time.Now().UTC()}
	sim := adapter.NewSimulator(faults, 1, clock.now)
	// As cmd/omnitriage/serve.go wires them: the case in the exception's transaction.
	core, err := orchestration.NewService(f.pool, orchestration.Config{Policy: func() *rules.Policy { return f.pol }, Now: clock.now,
		Systems: sim.Systems(), TrackEvery: 100 * time.Millisecond,
		OnException: func(ctx context.Context, tx pgx.Tx, e orchestration.Exception) error {
			return f.svc.Enqueue(ctx, tx, e)
		}})
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	core.RegisterWorkers(workers)
	client, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		RetryPolicy:       quickRetry{},
		Logger:            slog.New(slog.DiscardHandler),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client.Stop(ctx)
		// What this scenario left to do is not the next one's to run on
		// another simulator.
		if _, err := f.pool.Exec(context.Background(), `DELETE FROM river_job`); err != nil {
			t.Error(err)
		}
	})
	return &flowEnv{f: f, core: core, clock: clock}
}

// capture places an order through the core.
func (e *flowEnv) capture(t *testing.T, r orchestration.CaptureRequest) orchestration.Order {
	t.Helper()
	res, err := e.core.Capture(context.Background(), "test", nil, r)
	if err != nil {
		t.Fatalf("Capture(%s): %v", r.ExternalID, err)
	}
	return res.Order
}

// waitFor polls cond for at most a minute.
func (e *flowEnv) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(25 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// status is the order's status now.
func (e *flowEnv) status(t *testing.T, id uuid.UUID) string {
	t.Helper()
	o, err := e.core.GetOrder(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o.Status
}

// untilShipped waits for the order's shipments to be booked, then moves the
// clock a week on so the carrier's whole journey is told by tracking.
func (e *flowEnv) untilShipped(t *testing.T, id uuid.UUID) {
	t.Helper()
	e.waitFor(t, "the order shipped", func() bool { return e.status(t, id) == orchestration.StatusShipped })
	e.clock.advance(7 * 24 * time.Hour)
}

// sweep runs the core's periodic sweep job once, now.
func (e *flowEnv) sweep(t *testing.T) {
	t.Helper()
	if _, err := e.f.pool.Exec(context.Background(), orchestration.EnqueueSQL, []byte(`{}`), orchestration.SweepArgs{}.Kind(), 1, nil); err != nil {
		t.Fatal(err)
	}
}

// webOrder is a web order to Brooklyn.
func webOrder(ext, sku string, qty int, price *float64) orchestration.CaptureRequest {
	return orchestration.CaptureRequest{Channel: "web", ExternalID: ext, ServiceLevel: "standard", PaymentRef: "tok-" + ext, Currency: "USD",
		Customer: orchestration.Customer{ID: "c-" + ext, Email: "a@example.com", Tier: "standard"},
		ShipTo: &orchestration.Address{Line1: "1 Main St", City: "Brooklyn", PostalCode: "11201", Country: "US",
			Lat: ptr(40.69), Lon: ptr(-73.99)},
		Lines: []orchestration.LineInput{{SKU: sku, Qty: qty, UnitPrice: price}}}
}

// flowScenario makes the core raise one kind of exception.
type flowScenario struct {
	faults adapter.SimConfig
	run    func(t *testing.T, e *flowEnv)
}

// flowScenarios has one scenario per exception kind.
func flowScenarios() map[string]flowScenario {
	none := adapter.NoFaults()
	with := func(change func(c *adapter.SimConfig)) adapter.SimConfig {
		c := adapter.NoFaults()
		change(&c)
		return c
	}
	return map[string]flowScenario{
		orchestration.KindPaymentFailed: {with(func(c *adapter.SimConfig) { c.Payment.DeclineRate = 1 }), func(t *testing.T, e *flowEnv) {
			e.capture(t, webOrder("F-PAY", "SKU-1", 1, nil))
		}},
		orchestration.KindFraudReview: {with(func(c *adapter.SimConfig) { c.Fraud.ReviewRate = 1 }), func(t *testing.T, e *flowEnv) {
			e.capture(t, webOrder("F-FRAUD", "SKU-1", 1, nil))
		}},
		orchestration.KindAddressInvalid: {with(func(c *adapter.SimConfig) { c.Tax.InvalidAddressRate = 1 }), func(t *testing.T, e *flowEnv) {
			e.capture(t, webOrder("F-ADDR", "SKU-1", 1, nil))
		}},
		// More than the network holds: the line cannot be sourced at capture.
		orchestration.KindStockout: {none, func(t *testing.T, e *flowEnv) {
			e.capture(t, webOrder("F-OOS", "SKU-2", 40, nil))
		}},
		// Every location refuses the release: nowhere left to re-source.
		orchestration.KindReleaseRejected: {with(func(c *adapter.SimConfig) { c.Fulfillment.RejectRate = 1 }), func(t *testing.T, e *flowEnv) {
			e.capture(t, webOrder("F-WMS", "SKU-1", 1, nil))
		}},
		orchestration.KindCarrierDelay: {with(func(c *adapter.SimConfig) { c.Carrier.DelayRate = 1 }), func(t *testing.T, e *flowEnv) {
			e.untilShipped(t, e.capture(t, webOrder("F-LATE", "SKU-1", 1, nil)).ID)
		}},
		orchestration.KindCarrierDisruption: {with(func(c *adapter.SimConfig) { c.Carrier.ExceptionRate = 1 }), func(t *testing.T, e *flowEnv) {
			e.untilShipped(t, e.capture(t, webOrder("F-LOST", "SKU-1", 1, nil)).ID)
		}},
		orchestration.KindERPPostingFailed: {with(func(c *adapter.SimConfig) { c.ERP.RejectRate = 1 }), func(t *testing.T, e *flowEnv) {
			e.capture(t, webOrder("F-ERP", "SKU-1", 1, nil))
		}},
		// A free order: the gateway refuses an authorization of 0.00.
		orchestration.KindIntegrationError: {none, func(t *testing.T, e *flowEnv) {
			e.capture(t, webOrder("F-FREE", "SKU-1", 1, ptr(0.0)))
		}},
		// A return of 200.00, over the policy's automatic refund limit.
		orchestration.KindRefundReview: {none, func(t *testing.T, e *flowEnv) {
			ctx := context.Background()
			o := e.capture(t, webOrder("F-RMA", "SKU-1", 5, nil))
			e.untilShipped(t, o.ID)
			e.waitFor(t, "the order delivered", func() bool { return e.status(t, o.ID) == orchestration.StatusDelivered })
			r, _, err := e.core.RequestReturn(ctx, "test", o.ID, orchestration.ReturnRequest{Reason: "not as described",
				Lines: []orchestration.ReturnLineInput{{LineNo: 1, Qty: 5}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.core.ReceiveReturn(ctx, "test", r.ID, orchestration.Inspection{Condition: orchestration.ConditionDamaged}); err != nil {
				t.Fatal(err)
			}
		}},
		// Stock reserved by a waiting order, not counted for a day and more.
		orchestration.KindStaleInventory: {none, func(t *testing.T, e *flowEnv) {
			e.capture(t, webOrder("F-STALE", "SKU-3", 1, nil))
			e.clock.advance(e.f.pol.Limits.StaleInventoryAfter + time.Hour)
			e.sweep(t)
		}},
		// Ready at the store, never collected.
		orchestration.KindPickupNotCollected: {none, func(t *testing.T, e *flowEnv) {
			r := webOrder("F-PICK", "SKU-1", 1, nil)
			r.ShipTo, r.PickupLocation = nil, "nyc-store"
			o := e.capture(t, r)
			e.waitFor(t, "the pickup ready", func() bool { return e.status(t, o.ID) == orchestration.StatusReadyForPickup })
			e.clock.advance(e.f.pol.Limits.PickupCollectWithin + time.Hour)
			e.sweep(t)
		}},
	}
}

// TestEveryKindFlowsToCase drives the real core, one scenario per exception
// kind, through what makes it raise that kind, and checks that every
// exception it raised became exactly one case, which triage then decides. A
// kind added without a scenario fails here.
func TestEveryKindFlowsToCase(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the lifecycle once per exception kind")
	}
	t.Parallel()
	f := newFixture(t, fixtureOptions{applier: &recordingApplier{}})
	// SKU-3 only at pa-wh, for the stale scenario's reservation alone there.
	f.network(t, map[string][3]int{"SKU-1": {60, 60, 20}, "SKU-2": {2, 1, 0}, "SKU-3": {0, 5, 0}}, nil)
	scenarios := flowScenarios()
	for kind := range scenarios {
		if !validKind(kind) {
			t.Errorf("scenario for %q, which is not an exception kind", kind)
		}
	}
	ctx := context.Background()
	for _, kind := range orchestration.ExceptionKinds() {
		sc, ok := scenarios[kind]
		if !ok {
			t.Errorf("no scenario makes the core raise %s", kind)
			continue
		}
		t.Run(kind, func(t *testing.T) {
			before := f.count(t, `SELECT count(*) FROM exceptions WHERE kind = $1`, kind)
			e := newFlowEnv(t, f, sc.faults)
			sc.run(t, e)
			e.waitFor(t, "a "+kind+" exception", func() bool {
				return f.count(t, `SELECT count(*) FROM exceptions WHERE kind = $1`, kind) > before
			})
		})
	}

	// Every exception, of every kind, has exactly one case.
	for _, kind := range orchestration.ExceptionKinds() {
		exc := f.count(t, `SELECT count(*) FROM exceptions WHERE kind = $1`, kind)
		bad := f.count(t, `SELECT count(*) FROM exceptions e WHERE kind = $1
			AND (SELECT count(*) FROM cases c WHERE c.exception_id = e.id) <> 1`, kind)
		if exc == 0 || bad != 0 {
			t.Errorf("%s: %d exceptions, %d of them without exactly one case; want some, each with one", kind, exc, bad)
		}
	}
	// Triage decides each case.
	if _, err := f.svc.TriageOpen(ctx, 1000); err != nil {
		t.Fatalf("TriageOpen: %v", err)
	}
	rows, err := f.pool.Query(ctx, `SELECT e.kind, e.source, e.code, e.message, c.status, coalesce(c.cause, ''), c.last_error
		FROM cases c JOIN exceptions e ON e.id = c.exception_id ORDER BY e.created_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, source, code, msg, status, cause, lastErr string
		if err := rows.Scan(&kind, &source, &code, &msg, &status, &cause, &lastErr); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s from %s (%s) %.90q → case %s, cause %s", kind, source, code, msg, status, cause)
		if status == StatusOpen {
			t.Errorf("a %s case is still open after triage: %s", kind, lastErr)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// validKind reports whether kind is one of the core's exception kinds.
func validKind(kind string) bool {
	for _, k := range orchestration.ExceptionKinds() {
		if k == kind {
			return true
		}
	}
	return false
}
