package orchestration

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// pickupOrder is a click & collect order at nyc-store.
func pickupOrder(ext string, lines ...any) CaptureRequest {
	r := order(ext, lines...)
	r.ShipTo, r.PickupLocation = nil, "nyc-store"
	return r
}

// TestPickupLifecycle: a pickup order goes on the store's shelf without a
// carrier, the sweep raises pickup_not_collected once after the policy's
// limit, and collecting it delivers the order and resolves the exception.
func TestPickupLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPoolSize(t, 10)
	pol := testPolicy(t)
	clock := &stepClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	sim := adapter.NewSimulator(adapter.NoFaults(), 5, clock.now)
	var mu sync.Mutex
	var raised []Exception
	hook := func(_ context.Context, _ pgx.Tx, e Exception) error {
		mu.Lock()
		defer mu.Unlock()
		raised = append(raised, e)
		return nil
	}
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Now: clock.now, Systems: sim.Systems(), TrackEvery: time.Hour,
		OnException: hook})
	if err != nil {
		t.Fatal(err)
	}
	buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50, 10}})
	client := startReturnWorkers(t, pool, svc)
	t.Cleanup(func() { client.Stop(context.Background()) })
	readyAt := clock.now()

	res, err := svc.Capture(ctx, "test", nil, pickupOrder("P-1", "A-1", 2))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.ID
	waitFor(t, "the pickup ready at the store", func() (bool, error) {
		o, err := svc.GetOrder(ctx, id)
		return o.Status == StatusReadyForPickup, err
	})
	var shID uuid.UUID
	var status string
	var ready *time.Time
	if err := pool.QueryRow(ctx, `SELECT id, status, ready_at FROM shipments WHERE order_id = $1`, id).Scan(&shID, &status, &ready); err != nil {
		t.Fatal(err)
	}
	if status != "ready_for_pickup" || ready == nil || !ready.Equal(readyAt) {
		t.Errorf("shipment = %s ready at %v, want ready_for_pickup at %v", status, ready, readyAt)
	}
	if n := sim.Effects().Count(adapter.SystemCarrier, adapter.OpBook); n != 0 {
		t.Errorf("carrier bookings = %d, want 0 for a pickup", n)
	}
	var notes, captures int
	pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE order_id = $1 AND template = 'pickup_ready'`, id).Scan(&notes)
	pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE order_id = $1 AND kind = 'capture'`, id).Scan(&captures)
	if notes != 1 || captures != 1 {
		t.Errorf("pickup_ready notifications = %d, payment captures = %d; want 1 and 1", notes, captures)
	}
	if _, err := svc.ApplyTracking(ctx, shID, "ups", []adapter.TrackingEvent{{Kind: adapter.TrackDelivered, At: clock.now()}}); !errors.Is(err, derrors.Conflict) {
		t.Errorf("ApplyTracking(pickup shipment) = %v, want Conflict", err)
	}

	// Within the limit nothing is raised; past it once, and only once. The
	// first sweep past the limit is the periodic job's.
	limit := pol.Limits.PickupCollectWithin
	sweeps := []struct {
		at   time.Duration
		want int
		job  bool
	}{{0, 0, false}, {limit - time.Minute, 0, false}, {limit + time.Minute, 1, true}, {limit + time.Hour, 0, false}, {2 * limit, 0, false}}
	for _, sw := range sweeps {
		clock.mu.Lock()
		clock.t = readyAt.Add(sw.at)
		clock.mu.Unlock()
		if sw.job {
			if _, err := pool.Exec(ctx, EnqueueSQL, []byte(`{}`), SweepArgs{}.Kind(), 1, nil); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the sweep job's exception", func() (bool, error) {
				var n int
				err := pool.QueryRow(ctx, `SELECT count(*) FROM exceptions WHERE kind = $1`, KindPickupNotCollected).Scan(&n)
				return n == sw.want, err
			})
			continue
		}
		if n, err := svc.RaiseUncollectedPickups(ctx, 100); err != nil || n != sw.want {
			t.Errorf("RaiseUncollectedPickups(ready +%s) = %d, %v; want %d", sw.at, n, err, sw.want)
		}
	}
	var e Exception
	var payload map[string]any
	err = pool.QueryRow(ctx, `SELECT kind, severity, status, order_id, location, sku, code, message, payload FROM exceptions WHERE kind = $1`,
		KindPickupNotCollected).Scan(&e.Kind, &e.Severity, &e.Status, &e.OrderID, &e.Location, &e.SKU, &e.Code, &e.Message, &payload)
	if err != nil {
		t.Fatal(err)
	}
	if *e.OrderID != id || e.Location != "nyc-store" || e.SKU != "A-1" || e.Status != "open" || payload["shipment"] != shID.String() ||
		!strings.Contains(e.Message, "#P-1") || !strings.Contains(e.Message, "not collected after 72h1m (policy: 72h)") {
		t.Errorf("exception = %+v payload %v; want open, on P-1 at nyc-store, naming the wait and the limit", e, payload)
	}
	mu.Lock()
	if len(raised) != 1 || raised[0].Kind != KindPickupNotCollected {
		t.Errorf("exception hook saw %d exceptions, want the one pickup_not_collected", len(raised))
	}
	mu.Unlock()

	// The customer collects: the order is delivered by the store's key and
	// the exception resolved; collecting again changes nothing.
	got, err := svc.Collect(ctx, "api:store-7", id)
	if err != nil || got.Already || got.Order.Status != StatusDelivered {
		t.Fatalf("Collect = %s already %v, %v; want delivered", got.Order.Status, got.Already, err)
	}
	for _, l := range got.Order.Lines {
		if l.Status != LineDelivered {
			t.Errorf("line %d = %s, want delivered", l.LineNo, l.Status)
		}
	}
	var actor, reason string
	if err := pool.QueryRow(ctx, `SELECT actor, reason FROM order_events WHERE order_id = $1 AND to_status = 'delivered'`, id).Scan(&actor, &reason); err != nil ||
		actor != "api:store-7" || reason != "collected at nyc-store" {
		t.Errorf("delivered event = %q %q, %v; want the store's actor, collected at nyc-store", actor, reason, err)
	}
	var excStatus string
	pool.QueryRow(ctx, `SELECT status FROM exceptions WHERE kind = $1`, KindPickupNotCollected).Scan(&excStatus)
	if excStatus != "resolved" {
		t.Errorf("pickup_not_collected after collection = %s, want resolved", excStatus)
	}
	var events int
	pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE order_id = $1`, id).Scan(&events)
	again, err := svc.Collect(ctx, "api:store-7", id)
	var after int
	pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE order_id = $1`, id).Scan(&after)
	if err != nil || !again.Already || again.Order.Status != StatusDelivered || after != events {
		t.Errorf("Collect again = %s already %v, %v, events %d → %d; want delivered, already, no new event", again.Order.Status, again.Already, err, events, after)
	}
	if n, err := svc.RaiseUncollectedPickups(ctx, 100); err != nil || n != 0 {
		t.Errorf("RaiseUncollectedPickups after collection = %d, %v; want 0", n, err)
	}
	checkInvariants(t, pool, true)
}

// TestCollectRefused: collecting what is not a ready pickup is a clear error.
func TestCollectRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50, 10}})
	shipped, err := svc.Capture(ctx, "test", nil, order("W-1", "A-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := svc.Capture(ctx, "test", nil, pickupOrder("P-2", "A-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		id      uuid.UUID
		want    error
		wantMsg string
	}{
		{"unknown order", uuid.New(), derrors.NotFound, "no order"},
		{"shipped order", shipped.Order.ID, derrors.Conflict, "order W-1 is shipped to an address, not collected at a store"},
		{"pickup not ready", waiting.Order.ID, derrors.Conflict, "order P-2 is captured; it can be collected once every line is ready for pickup"},
	}
	for _, tt := range tests {
		_, err := svc.Collect(ctx, "test", tt.id)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("Collect(%s) = %v, want %v saying %q", tt.name, err, tt.want, tt.wantMsg)
		}
	}
}

// TestStaleInventory: stock relied on by reservations and not synced within
// the policy's limit raises stale_inventory, one per location while it is
// unresolved; fresh or unreserved stock raises nothing.
func TestStaleInventory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	pol := testPolicy(t)
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := &stepClock{t: start}
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	// A-1 counted at every warehouse; D-4 only ever received by delta at ct-wh.
	buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50}, "D-4": {}})
	if _, err := svc.AdjustInventory(ctx, "test", AdjustmentBatch{Source: "receiving", Adjustments: []Adjustment{
		{SKU: "D-4", Location: "ct-wh", Delta: ptr(5), Reason: "receipt"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Capture(ctx, "test", nil, order("W-1", "A-1", 3))
	if err != nil || len(res.Order.Lines[0].Allocations) != 1 {
		t.Fatalf("Capture = %+v, %v; want one allocation", res.Order.Lines, err)
	}
	orderLoc := res.Order.Lines[0].Allocations[0].Location
	if orderLoc == "ct-wh" {
		t.Fatalf("the order was sourced at ct-wh; the test needs it elsewhere")
	}
	set := func(d time.Duration) {
		clock.mu.Lock()
		clock.t = start.Add(d)
		clock.mu.Unlock()
	}
	sweep := func(want int) {
		t.Helper()
		if n, err := svc.RaiseStaleInventory(ctx, 100); err != nil || n != want {
			t.Errorf("RaiseStaleInventory(at +%s) = %d, %v; want %d", clock.now().Sub(start), n, err, want)
		}
	}
	limit := pol.Limits.StaleInventoryAfter
	sweep(0) // fresh counts; D-4 is not reserved
	if _, err := svc.Hold(ctx, "test", HoldRequest{Kind: HoldCart, SKU: "D-4", Qty: 1, Location: "ct-wh", TTLSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	sweep(1) // a hold on stock never counted: at once
	var code, sev string
	pool.QueryRow(ctx, `SELECT code, severity FROM exceptions WHERE kind = 'stale_inventory' AND location = 'ct-wh'`).Scan(&code, &sev)
	if code != "NEVER_SYNCED" || sev != SeverityHigh {
		t.Errorf("ct-wh exception = %s %s, want NEVER_SYNCED high", code, sev)
	}
	set(limit - time.Minute)
	sweep(0)
	set(limit + time.Hour)
	sweep(1) // the order's location; ct-wh already has one open
	var e Exception
	var payload struct {
		Reserved   int        `json:"reserved"`
		SKUCount   int        `json:"sku_count"`
		LastSynced time.Time  `json:"last_synced_at"`
		SKUs       []staleSKU `json:"skus"`
	}
	var raw []byte
	if err := pool.QueryRow(ctx, `SELECT sku, code, message, payload FROM exceptions WHERE kind = 'stale_inventory' AND location = $1`, orderLoc).
		Scan(&e.SKU, &e.Code, &e.Message, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	if e.SKU != "A-1" || e.Code != "SYNC_STALE" || payload.Reserved != 3 || payload.SKUCount != 1 || !payload.LastSynced.Equal(start) ||
		len(payload.SKUs) != 1 || !strings.Contains(e.Message, "25h ago (policy: 24h): 3 reserved units of 1 SKU (A-1) rely on it") {
		t.Errorf("exception at %s = %s %s %q, payload %+v", orderLoc, e.SKU, e.Code, e.Message, payload)
	}
	sweep(0) // open ones are not raised again
	if _, err := pool.Exec(ctx, `UPDATE exceptions SET status = 'triaged' WHERE kind = 'stale_inventory'`); err != nil {
		t.Fatal(err)
	}
	sweep(0) // nor triaged ones waiting for a person
	if _, err := pool.Exec(ctx, `UPDATE exceptions SET status = 'resolved' WHERE kind = 'stale_inventory' AND location = $1`, orderLoc); err != nil {
		t.Fatal(err)
	}
	sweep(1) // resolved but still stale: raised again
	// A fresh count makes the location current.
	if _, err := pool.Exec(ctx, `UPDATE exceptions SET status = 'resolved' WHERE kind = 'stale_inventory' AND location = $1`, orderLoc); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AdjustInventory(ctx, "test", AdjustmentBatch{Source: "test-wms", Adjustments: []Adjustment{
		{SKU: "A-1", Location: orderLoc, Count: ptr(50), Version: ptr(int64(2))}}}); err != nil {
		t.Fatal(err)
	}
	sweep(0)
}
