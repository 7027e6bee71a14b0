package orchestration

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// applyTwiceAndConcurrently applies cmd from two goroutines at once and then
// once more, and returns the results: exactly one must not be a replay.
func applyTwiceAndConcurrently(t *testing.T, svc *Service, cmd Command) []CommandResult {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	res := make([]CommandResult, 3)
	errs := make([]error, 3)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res[i], errs[i] = svc.Apply(ctx, "test", cmd)
		}(i)
	}
	wg.Wait()
	res[2], errs[2] = svc.Apply(ctx, "test", cmd)
	fresh := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Apply(%s) #%d = %v", cmd.Kind, i, err)
		}
		if !res[i].Replayed {
			fresh++
		}
		if res[i].Summary != res[0].Summary {
			t.Errorf("Apply(%s) #%d summary %q, want the first %q", cmd.Kind, i, res[i].Summary, res[0].Summary)
		}
	}
	if fresh != 1 {
		t.Errorf("Apply(%s) three times: %d applied, want exactly 1", cmd.Kind, fresh)
	}
	return res
}

func commandCount(t *testing.T, svc *Service, orderID uuid.UUID, kind string) int {
	t.Helper()
	var n int
	if err := svc.pool.QueryRow(context.Background(), `SELECT count(*) FROM order_events WHERE order_id = $1 AND kind = $2`,
		orderID, "command_"+kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCommandsApplyOnce(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {5, 5, 5}, "B-2": {5, 5, 5}, "C-3": {0, 4, 0}})
	ctx := context.Background()
	if _, err := svc.CreateSKU(ctx, SKU{Code: "A-1", Name: "Item A-1", Price: 20, Cost: 8, Substitutes: []string{"C-3"}, Active: true}); err != nil {
		t.Fatal(err)
	}
	capture := func(ext string) Order {
		res, err := svc.Capture(ctx, "test", nil, order(ext, "A-1", 2, "B-2", 1))
		if err != nil {
			t.Fatal(err)
		}
		return res.Order
	}
	o := capture("CMD-1")
	tests := []Command{
		{ID: "c-reroute", Kind: CmdReroute, OrderID: o.ID, Lines: []int{1}, Location: "ct-wh"},
		{ID: "c-split", Kind: CmdSplit, OrderID: o.ID, Lines: []int{2}},
		{ID: "c-subst", Kind: CmdSubstitute, OrderID: o.ID, Lines: []int{1}, SKU: "C-3"},
		{ID: "c-notify", Kind: CmdNotify, OrderID: o.ID, Template: adapter.TemplateDelay, Data: map[string]any{"reason": "weather"}},
		{ID: "c-comp", Kind: CmdCompensate, OrderID: o.ID, Amount: 5, Credit: "credit"},
		{ID: "c-hold", Kind: CmdHold, OrderID: o.ID, Reason: "customer called"},
		{ID: "c-release", Kind: CmdReleaseHold, OrderID: o.ID},
		{ID: "c-cancel", Kind: CmdCancelLines, OrderID: o.ID, Lines: []int{2}},
	}
	for _, cmd := range tests {
		applyTwiceAndConcurrently(t, svc, cmd)
		if n := commandCount(t, svc, o.ID, cmd.Kind); n != 1 {
			t.Errorf("%s: %d command events, want 1", cmd.Kind, n)
		}
		checkInvariants(t, pool, true)
	}
	got, err := svc.GetOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Lines[0].SKU != "C-3" || got.Lines[0].Allocated() != 2 || got.Lines[1].Status != LineCancelled {
		t.Errorf("after commands: line 1 %s ×%d allocated, line 2 %s; want C-3 ×2 allocated, line 2 cancelled",
			got.Lines[0].SKU, got.Lines[0].Allocated(), got.Lines[1].Status)
	}
	var notes, comps int
	pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE order_id = $1`, o.ID).Scan(&notes)
	pool.QueryRow(ctx, `SELECT count(*) FROM compensations WHERE order_id = $1`, o.ID).Scan(&comps)
	if notes != 3 || comps != 1 { // delay, substitution, compensation
		t.Errorf("notifications = %d, compensations = %d; want 3 and 1", notes, comps)
	}
}

func TestCommandRefusals(t *testing.T) {
	t.Parallel()
	svc, _ := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {5, 0, 0}})
	ctx := context.Background()
	res, err := svc.Capture(ctx, "test", nil, order("CMD-2", "A-1", 2))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.ID
	tests := []struct {
		cmd  Command
		want error
	}{
		{Command{ID: "r1", Kind: CmdReroute, OrderID: id, Lines: []int{1}, Location: "pa-wh"}, derrors.Conflict}, // no stock there
		{Command{ID: "r2", Kind: CmdCompensate, OrderID: id, Amount: 100000, Credit: "coupon"}, derrors.Forbidden},
		{Command{ID: "r3", Kind: CmdReleaseHold, OrderID: id}, derrors.Conflict}, // not on hold
		{Command{ID: "r4", Kind: "teleport", OrderID: id}, derrors.Invalid},
		{Command{ID: "r5", Kind: CmdRetry, OrderID: id, Step: "release"}, nil},
		{Command{ID: "r5", Kind: CmdHold, OrderID: id}, derrors.Conflict}, // id reused for another command
	}
	for _, tt := range tests {
		_, err := svc.Apply(ctx, "test", tt.cmd)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("Apply(%s %s) = %v, want %v", tt.cmd.ID, tt.cmd.Kind, err, tt.want)
		}
	}
	checkInvariants(t, svc.pool, true)
}

func TestRebookOnce(t *testing.T) {
	t.Parallel()
	pool := newPoolFor(t)
	pol := testPolicy(t)
	sim := adapter.NewSimulator(adapter.NoFaults(), 1, time.Now)
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Systems: sim.Systems()})
	if err != nil {
		t.Fatal(err)
	}
	buildNetwork(t, svc, map[string][]int{"A-1": {5, 5, 5}})
	ctx := context.Background()
	res, err := svc.Capture(ctx, "test", nil, order("CMD-3", "A-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	shID := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO shipments (id, order_id, location_id, status, carrier, service, tracking_number)
		SELECT $1, $2, id, 'delayed', 'ups', 'standard', 'T-1' FROM locations WHERE code = 'nj-wh'`, shID, res.Order.ID); err != nil {
		t.Fatal(err)
	}
	applyTwiceAndConcurrently(t, svc, Command{ID: "rb-1", Kind: CmdRebook, OrderID: res.Order.ID, Shipment: shID, Carrier: "fedex", Service: "express"})
	if n := sim.Effects().Count(adapter.SystemCarrier, adapter.OpBook); n != 1 {
		t.Errorf("carrier bookings = %d, want 1", n)
	}
	sh, err := svc.GetShipment(ctx, shID)
	if err != nil || sh.Carrier != "fedex" || sh.Status != "booked" || sh.TrackingNumber == "T-1" {
		t.Errorf("shipment after rebook = %+v, %v", sh, err)
	}
}
