package orchestration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/sourcing"
)

func TestCaptureReservesAndExplains(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {10, 10, 10}, "B-2": {0, 5, 0}})
	ctx := context.Background()
	res, err := svc.Capture(ctx, "test", nil, order("W-1", "A-1", 3, "B-2", 2))
	if err != nil {
		t.Fatal(err)
	}
	o := res.Order
	if !res.Created || o.Status != StatusCaptured {
		t.Fatalf("Capture = created %v status %s, want created captured", res.Created, o.Status)
	}
	for _, l := range o.Lines {
		if l.Allocated() != l.Qty || l.Status != LineAllocated {
			t.Errorf("line %s allocated %d of %d (%s)", l.SKU, l.Allocated(), l.Qty, l.Status)
		}
	}
	got, err := svc.GetOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 100 || len(got.Lines) != 2 || got.Lines[0].Allocated() != 3 || got.PromiseDate == nil {
		t.Errorf("GetOrder = %+v, want total 100 with 2 allocated lines and a promise date", got)
	}
	plans, err := svc.SourcingPlans(ctx, o.ID)
	if err != nil || len(plans) != 1 || plans[0].RuleGroup == "" || len(plans[0].Plan) < 100 {
		t.Fatalf("SourcingPlans = %v, %v; want one stored plan with its explanation", plans, err)
	}
	var events int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE order_id = $1 AND kind = 'captured'`, o.ID).Scan(&events); err != nil || events != 1 {
		t.Errorf("captured events = %d, %v; want 1", events, err)
	}
	checkInvariants(t, pool, true)
}

func TestCaptureUnsourceableRaisesException(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {1, 0, 0}})
	ctx := context.Background()
	res, err := svc.Capture(ctx, "test", nil, order("W-2", "A-1", 5))
	if err != nil {
		t.Fatal(err)
	}
	if res.Order.Status != StatusBackordered {
		t.Errorf("status = %s, want backordered", res.Order.Status)
	}
	var kind, msg string
	var lines []uuid.UUID
	err = pool.QueryRow(ctx, `SELECT kind, message, line_ids FROM exceptions WHERE order_id = $1`, res.Order.ID).Scan(&kind, &msg, &lines)
	if err != nil {
		t.Fatalf("no exception for the unsourced line: %v", err)
	}
	if kind != KindStockout || len(lines) != 1 || lines[0] != res.Order.Lines[0].ID {
		t.Errorf("exception = %s %v, want stockout naming the line", kind, lines)
	}
	checkInvariants(t, pool, true)
}

func TestCaptureValidation(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {5, 5, 5}})
	ctx := context.Background()
	bad := order("W-3", "A-1", 0, "NOPE", 1)
	bad.Customer.ID = ""
	bad.ShipTo.Lat = nil
	_, err := svc.Capture(ctx, "test", nil, bad)
	var ve *derrors.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Capture(bad) = %v, want a ValidationError", err)
	}
	want := map[string]bool{"customer.id": true, "ship_to.lat": true, "lines[0].qty": true}
	for _, f := range ve.Fields {
		delete(want, f.Field)
	}
	if len(want) > 0 {
		t.Errorf("Capture(bad) fields = %+v, missing %v", ve.Fields, want)
	}
	_, err = svc.Capture(ctx, "test", nil, order("W-4", "NOPE", 1))
	if !errors.As(err, &ve) || ve.Fields[0].Field != "lines[0].sku" {
		t.Errorf("Capture(unknown sku) = %v, want lines[0].sku", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM reservations)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows after refused captures = %d, want 0", n)
	}
}

func TestCaptureIdempotency(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50}})
	ctx := context.Background()
	req := order("W-5", "A-1", 1)
	body := []byte(`{"the":"body"}`)
	first, err := svc.Capture(ctx, "test", &Idempotency{Scope: "k1", Key: "abc", Body: body}, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.Capture(ctx, "test", &Idempotency{Scope: "k1", Key: "abc", Body: body}, req)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || string(again.Response) != string(first.Response) {
		t.Errorf("replay = %v %s, want the first response %s", again.Replayed, again.Response, first.Response)
	}
	other := order("W-6", "A-1", 2)
	_, err = svc.Capture(ctx, "test", &Idempotency{Scope: "k1", Key: "abc", Body: []byte(`{"other":1}`)}, other)
	if !errors.Is(err, derrors.Conflict) {
		t.Errorf("same key, other body = %v, want Conflict", err)
	}
	// The same key under another caller's scope is another request.
	if _, err := svc.Capture(ctx, "test", &Idempotency{Scope: "k2", Key: "abc", Body: []byte(`{"other":1}`)}, other); err != nil {
		t.Errorf("same key, other scope = %v, want nil", err)
	}

	// 50 concurrent submissions of one external id create one order.
	dup := order("W-DUP", "A-1", 1)
	var wg sync.WaitGroup
	ids := make(chan uuid.UUID, 50)
	var created atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Half with one idempotency key, half without any.
			var idem *Idempotency
			if i%2 == 0 {
				idem = &Idempotency{Scope: "k3", Key: "dup", Body: []byte("dup")}
			}
			res, err := svc.Capture(ctx, "test", idem, dup)
			if err != nil {
				t.Errorf("concurrent capture: %v", err)
				return
			}
			if res.Created {
				created.Add(1)
			}
			ids <- res.Order.ID
		}(i)
	}
	wg.Wait()
	close(ids)
	seen := map[uuid.UUID]bool{}
	for id := range ids {
		seen[id] = true
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE external_id = 'W-DUP'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("orders with external id W-DUP = %d, want 1", n)
	}
	if len(seen) != 1 || created.Load() != 1 {
		t.Errorf("concurrent duplicates answered %d distinct orders, %d created; want 1 and 1", len(seen), created.Load())
	}
	checkInvariants(t, pool, true)
}

// TestNoOversell: 200 goroutines buy one unit each of a SKU that has 100 units
// over three locations.
func TestNoOversell(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"HOT": {33, 33, 34}})
	ctx := context.Background()
	var wg sync.WaitGroup
	var allocated atomic.Int32
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := svc.Capture(ctx, "test", nil, order(fmt.Sprintf("H-%d", i), "HOT", 1))
			if err != nil {
				t.Errorf("capture %d: %v", i, err)
				return
			}
			allocated.Add(int32(res.Order.Lines[0].Allocated()))
		}(i)
	}
	wg.Wait()
	var reserved, orders, backordered int
	err := pool.QueryRow(ctx, `SELECT (SELECT sum(reserved) FROM stock), (SELECT count(*) FROM orders),
		(SELECT count(*) FROM orders WHERE status = 'backordered')`).Scan(&reserved, &orders, &backordered)
	if err != nil {
		t.Fatal(err)
	}
	if reserved != 100 || allocated.Load() != 100 {
		t.Errorf("reserved = %d, answered allocations = %d; want exactly 100", reserved, allocated.Load())
	}
	if orders != 200 || backordered != 100 {
		t.Errorf("orders = %d (%d backordered), want 200 (100 backordered)", orders, backordered)
	}
	checkInvariants(t, pool, true)
}

// TestNoOversellRacing mixes captures with edits, cancels, holds that expire,
// and inventory syncs, all at once.
func TestNoOversellRacing(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	clock := &fixedClock{t: time.Now()}
	var mu sync.Mutex
	svc.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock.now() }
	advance := func(d time.Duration) { mu.Lock(); clock.t = clock.t.Add(d); mu.Unlock() }
	buildNetwork(t, svc, map[string][]int{"HOT": {33, 33, 34}, "WARM": {20, 20, 20}})
	ctx := context.Background()

	var captured sync.Map // order id → true
	var wg sync.WaitGroup
	run := func(n int, f func(i int)) {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) { defer wg.Done(); f(i) }(i)
		}
	}
	run(120, func(i int) {
		res, err := svc.Capture(ctx, "test", nil, order(fmt.Sprintf("R-%d", i), "HOT", 1+i%2, "WARM", 1))
		if err != nil {
			t.Errorf("capture: %v", err)
			return
		}
		captured.Store(res.Order.ID, i)
	})
	run(40, func(i int) {
		_, err := svc.Hold(ctx, "test", HoldRequest{Kind: HoldCart, SKU: "HOT", Qty: 1, TTLSeconds: 60, Ref: fmt.Sprint("cart-", i)})
		if err != nil && !errors.Is(err, derrors.Conflict) {
			t.Errorf("hold: %v", err)
		}
	})
	run(20, func(i int) {
		// Receipts, and counts that only ever rise above what is reserved.
		_, err := svc.AdjustInventory(ctx, "test", AdjustmentBatch{Source: "wms", Adjustments: []Adjustment{
			{SKU: "HOT", Location: []string{"nj-wh", "pa-wh", "ct-wh"}[i%3], Delta: ptr(1)},
		}})
		if err != nil {
			t.Errorf("adjust: %v", err)
		}
	})
	run(30, func(i int) {
		// Edit or cancel whatever has been captured so far.
		var id uuid.UUID
		captured.Range(func(k, v any) bool {
			if v.(int)%30 == i {
				id = k.(uuid.UUID)
				return false
			}
			return true
		})
		if id == uuid.Nil {
			return
		}
		var err error
		if i%2 == 0 {
			_, err = svc.Cancel(ctx, "test", id, CancelRequest{Reason: "customer"})
		} else {
			_, err = svc.Edit(ctx, "test", id, EditRequest{Lines: []LineInput{{SKU: "HOT", Qty: 2}}})
		}
		if err != nil && !errors.Is(err, derrors.Conflict) {
			t.Errorf("edit/cancel: %v", err)
		}
	})
	run(10, func(i int) {
		advance(7 * time.Second) // ten of these pass the holds' 60 s
		if _, err := svc.ExpireHolds(ctx, 100); err != nil {
			t.Errorf("expire: %v", err)
		}
	})
	wg.Wait()
	advance(2 * time.Minute)
	if _, err := svc.ExpireHolds(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	var activeHolds int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM reservations WHERE kind = 'cart' AND status = 'active'`).Scan(&activeHolds); err != nil || activeHolds != 0 {
		t.Errorf("active holds after expiry = %d, want 0", activeHolds)
	}
	checkInvariants(t, pool, true)
}

func TestCancelAndEditLeaveNoReservation(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {5, 5, 5}, "B-2": {5, 5, 5}})
	ctx := context.Background()
	res, err := svc.Capture(ctx, "test", nil, order("E-1", "A-1", 2, "B-2", 1))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.ID
	// Edit: A-1 up to 4, B-2 dropped, C... none; stale version refused.
	if _, err := svc.Edit(ctx, "test", id, EditRequest{Version: ptr(7), Lines: []LineInput{{SKU: "A-1", Qty: 4}}}); !errors.Is(err, derrors.Conflict) {
		t.Errorf("Edit(stale version) = %v, want Conflict", err)
	}
	o, err := svc.Edit(ctx, "test", id, EditRequest{Version: ptr(1), Lines: []LineInput{{SKU: "A-1", Qty: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Version != 2 || o.Lines[0].Allocated() != 4 || o.Lines[1].Status != LineCancelled || o.Lines[1].Allocated() != 0 {
		t.Errorf("after edit = %+v, want v2, A-1 ×4 allocated, B-2 cancelled", o)
	}
	checkInvariants(t, pool, true)
	// Cancel one line, then the order, then again (no-op).
	if o, err = svc.Cancel(ctx, "test", id, CancelRequest{Lines: []int{1}}); err != nil || o.Status != StatusCancelled {
		t.Errorf("Cancel(line 1) = %v, %v; want the order cancelled (its last line)", o.Status, err)
	}
	if _, err := svc.Cancel(ctx, "test", id, CancelRequest{}); err != nil {
		t.Errorf("Cancel twice = %v, want nil", err)
	}
	var reserved int
	if err := pool.QueryRow(ctx, `SELECT sum(reserved) FROM stock`).Scan(&reserved); err != nil || reserved != 0 {
		t.Errorf("reserved after cancel = %d, want 0", reserved)
	}
	if _, err := svc.Edit(ctx, "test", id, EditRequest{Lines: []LineInput{{SKU: "A-1", Qty: 1}}}); !errors.Is(err, derrors.Conflict) {
		t.Errorf("Edit(cancelled) = %v, want Conflict", err)
	}
	checkInvariants(t, pool, true)
}

func TestInventorySync(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {10, 0, 0}})
	ctx := context.Background()
	if _, err := svc.Capture(ctx, "test", nil, order("S-1", "A-1", 6)); err != nil {
		t.Fatal(err)
	}
	res, err := svc.AdjustInventory(ctx, "test", AdjustmentBatch{Source: "wms", Adjustments: []Adjustment{
		{SKU: "A-1", Location: "nj-wh", Count: ptr(4), Version: ptr(int64(1))}, // stale: version 1 is stored
		{SKU: "A-1", Location: "nj-wh", Count: ptr(4), Version: ptr(int64(2))}, // applied; 2 short
		{SKU: "A-1", Location: "nope", Delta: ptr(3)},
		{SKU: "A-1", Location: "pa-wh", Delta: ptr(-1)}, // below zero
		{SKU: "A-1", Location: "pa-wh", Delta: ptr(8)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantApplied := []bool{false, true, false, false, true}
	for i, r := range res.Rows {
		if r.Applied != wantApplied[i] {
			t.Errorf("row %d applied = %v (%s), want %v", i, r.Applied, r.Reason, wantApplied[i])
		}
	}
	if res.Rows[1].Short != 2 || res.Rows[1].Reserved != 6 {
		t.Errorf("row 1 = %+v, want reserved kept at 6 and 2 short", res.Rows[1])
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM exceptions WHERE kind = 'stockout' AND code = 'COUNT_BELOW_RESERVED'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("count-below-reserved exceptions = %d, want 1", n)
	}
	checkInvariants(t, pool, false)
}

func TestHoldsExpire(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	clock := &fixedClock{t: time.Now()}
	svc.now = clock.now
	buildNetwork(t, svc, map[string][]int{"A-1": {3, 0, 0}})
	ctx := context.Background()
	h, err := svc.Hold(ctx, "test", HoldRequest{Kind: HoldCart, SKU: "A-1", Qty: 2, TTLSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Hold(ctx, "test", HoldRequest{Kind: HoldCart, SKU: "A-1", Qty: 2, TTLSeconds: 60}); !errors.Is(err, derrors.Conflict) {
		t.Errorf("second hold = %v, want Conflict (only 1 left)", err)
	}
	if n, _ := svc.ExpireHolds(ctx, 10); n != 0 {
		t.Errorf("ExpireHolds before TTL = %d, want 0", n)
	}
	clock.t = clock.t.Add(61 * time.Second)
	if n, err := svc.ExpireHolds(ctx, 10); n != 1 || err != nil {
		t.Errorf("ExpireHolds after TTL = %d, %v; want 1", n, err)
	}
	if err := svc.ReleaseHold(ctx, "test", h.ID); err != nil {
		t.Errorf("ReleaseHold(expired) = %v, want nil (no-op)", err)
	}
	checkInvariants(t, pool, true)
}

// TestBatchIsAtomic pins the property the one-round-trip capture relies on:
// a batch sent outside a transaction runs as one implicit transaction, so a
// failing check undoes the statements before it.
func TestBatchIsAtomic(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	ctx := context.Background()
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO channels (code, name, kind) VALUES ('atomic', 'A', 'web')`)
	b.Queue(`SELECT ot_check(false, 'stock_changed')`)
	err := pool.SendBatch(ctx, b).Close()
	if checkName(err) != checkStock {
		t.Fatalf("batch error = %v, want the stock_changed check", err)
	}
	chans, err := svc.ListChannels(ctx)
	if err != nil || len(chans) != 0 {
		t.Errorf("channels after a failed batch = %v, %v; want none", chans, err)
	}
}

func TestStoredPlanKeepsWhyLocationsFailed(t *testing.T) {
	p := sourcing.Plan{Explanation: sourcing.Explanation{Groups: []sourcing.GroupTrace{{Group: "g", Candidates: []sourcing.CandidateTrace{
		{Code: "ok", Passed: true, Filters: []sourcing.FilterCheck{{Filter: "capability", Passed: true, Reason: "has ship"}}},
		{Code: "far", Filters: []sourcing.FilterCheck{{Filter: "capability", Passed: true, Reason: "has ship"},
			{Filter: "max_distance_km", Reason: "distance 812 km > max 500 km"}}},
	}}}}}
	var got sourcing.Plan
	if err := json.Unmarshal(storedPlanJSON(p), &got); err != nil {
		t.Fatal(err)
	}
	c := got.Explanation.Groups[0].Candidates
	if len(c[0].Filters) != 1 || len(c[1].Filters) != 1 || c[1].Filters[0].Reason != "distance 812 km > max 500 km" {
		t.Errorf("stored candidates = %+v, want the passing one whole and the failing one with only its failed filter", c)
	}
	if len(p.Explanation.Groups[0].Candidates[1].Filters) != 2 {
		t.Errorf("storedPlanJSON changed the plan it was given")
	}
}

// TestCheckNameReadsTheConstraint pins that a failed ot_check is recognised
// by the constraint name it carries, not by its message: a message that
// merely mentions a check's name is no such check.
func TestCheckNameReadsTheConstraint(t *testing.T) {
	t.Parallel()
	_, pool := newTestService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		sql  string
		want string
	}{
		{`SELECT ot_check(false, 'stock_changed')`, checkStock},
		{`SELECT ot_check(false, 'capacity_full')`, checkCapacity},
		{`SELECT ot_check(false, 'duplicate_order')`, checkDuplicateOrder},
		{`SELECT ot_check(false, 'idempotency_key_used')`, checkIdempotency},
		{`SELECT ot_check(false, 'something else: stock_changed')`, "check"},
		{`SELECT ot_check(true, 'stock_changed')`, ""},
		{`DO $$ BEGIN RAISE EXCEPTION 'stock_changed'; END $$`, ""}, // not ot_check
	} {
		_, err := pool.Exec(ctx, tc.sql)
		if got := checkName(err); got != tc.want {
			t.Errorf("checkName(%s) = %q, want %q (err %v)", tc.sql, got, tc.want, err)
		}
	}
}
