package orchestration

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// stepClock is a clock that moves only when told, safe for the workers.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// returnEnv is a service on a fresh database with the simulator as every
// outside system and River workers running.
type returnEnv struct {
	svc   *Service
	pool  *pgxpool.Pool
	sim   *adapter.Simulator
	clock *stepClock
}

// newReturnEnv builds the test network with A-1 and B-2 at every warehouse
// (price 20 each) and C-3 at nj-wh only, under a clock that stands still:
// shipments are delivered by the test (tracking polls wait an hour).
func newReturnEnv(t *testing.T) *returnEnv {
	t.Helper()
	pool := dbtest.NewPoolSize(t, 10)
	pol := testPolicy(t)
	clock := &stepClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	sim := adapter.NewSimulator(adapter.NoFaults(), 5, clock.now)
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Now: clock.now,
		Systems: sim.Systems(), TrackEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50}, "B-2": {50, 50, 50}, "C-3": {50, 0, 0}})
	client := startReturnWorkers(t, pool, svc)
	t.Cleanup(func() { client.Stop(context.Background()) })
	return &returnEnv{svc: svc, pool: pool, sim: sim, clock: clock}
}

// startReturnWorkers runs River with the lifecycle's and the returns' workers.
func startReturnWorkers(t *testing.T, pool *pgxpool.Pool, svc *Service) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	svc.RegisterWorkers(workers)
	// RegisterWorkers adds the refund worker once the lead wires it in; until
	// then add it here.
	_ = river.AddWorkerSafely(workers, &refundWorker{s: svc})
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

// waitFor polls cond until it holds, failing t after 60 seconds.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *returnEnv) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// deliveredOrder captures an order, lets the workers ship it, and delivers
// every shipment.
func (e *returnEnv) deliveredOrder(t *testing.T, ext string, lines ...any) Order {
	t.Helper()
	ctx := context.Background()
	res, err := e.svc.Capture(ctx, "test", nil, order(ext, lines...))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.ID
	waitFor(t, ext+" shipped", func() (bool, error) {
		o, err := e.svc.GetOrder(ctx, id)
		return o.Status == StatusShipped, err
	})
	rows, err := e.pool.Query(ctx, `SELECT id FROM shipments WHERE order_id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	shipments, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shipments {
		if _, err := e.svc.ApplyTracking(ctx, sh, "carrier", []adapter.TrackingEvent{
			{Kind: adapter.TrackDelivered, At: e.clock.now(), Code: "delivered", Message: "Delivered, front door"}}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := e.svc.GetOrder(ctx, id)
	if err != nil || o.Status != StatusDelivered {
		t.Fatalf("order %s = %s, %v; want delivered", ext, o.Status, err)
	}
	return o
}

// settled waits until a return's refund is done and its ERP postings and
// notifications have left.
func (e *returnEnv) settled(t *testing.T, r Return) Return {
	t.Helper()
	ctx := context.Background()
	waitFor(t, "refund of "+r.RMA, func() (bool, error) {
		got, err := e.svc.GetReturn(ctx, r.ID)
		if err != nil || (got.Status != ReturnRefunded && got.Status != ReturnRefundFailed) {
			return false, err
		}
		var busy int
		err = e.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM erp_postings WHERE order_id = $1 AND status IN ('queued', 'pending')) +
			(SELECT count(*) FROM notifications WHERE order_id = $1 AND status = 'queued')`, r.OrderID).Scan(&busy)
		return busy == 0, err
	})
	got, err := e.svc.GetReturn(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (e *returnEnv) onHand(t *testing.T, sku, loc string) int {
	t.Helper()
	return e.count(t, `SELECT coalesce((SELECT st.on_hand FROM stock st JOIN skus k ON k.id = st.sku_id JOIN locations l ON l.id = st.location_id
		WHERE k.code = $1 AND l.code = $2), 0)`, sku, loc)
}

func (e *returnEnv) events(t *testing.T, orderID uuid.UUID, kinds ...string) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT kind || coalesce(':' || to_status, '') FROM order_events
		WHERE order_id = $1 AND kind = ANY($2) ORDER BY id`, orderID, kinds)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var returnEventKinds = []string{"return_requested", "return_received", "refund_approved", "refund_review", "refunded", "refund_failed"}

func TestReturnFullRefund(t *testing.T) {
	t.Parallel()
	e := newReturnEnv(t)
	ctx := context.Background()
	o := e.deliveredOrder(t, "RT-1", "A-1", 2, "B-2", 1)
	before := map[string]int{"A-1": e.onHand(t, "A-1", "pa-wh"), "B-2": e.onHand(t, "B-2", "pa-wh")}

	r, created, err := e.svc.RequestReturn(ctx, "support:ann", o.ID, ReturnRequest{Reason: "too small",
		Lines: []ReturnLineInput{{LineNo: 1, Qty: 2}, {LineNo: 2, Qty: 1, Reason: "wrong colour"}}})
	if err != nil || !created {
		t.Fatalf("RequestReturn = %v, %v; want created", created, err)
	}
	if r.Status != ReturnRequested || r.Amount != 60 || r.RMA != "RT-1-R1" || len(r.Lines) != 2 {
		t.Fatalf("RequestReturn = %+v; want RT-1-R1 requested for 60.00 with 2 lines", r)
	}
	if got, _ := e.svc.GetOrder(ctx, o.ID); got.Status != StatusReturnRequested || got.Lines[0].Status != LineReturnRequested {
		t.Errorf("order after request = %s, line 1 %s; want return_requested", got.Status, got.Lines[0].Status)
	}
	r, err = e.svc.ReceiveReturn(ctx, "store:pa", r.ID, Inspection{Condition: ConditionResellable, RestockLocation: "pa-wh"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != ReturnRefundPending || r.ApprovedBy != "system:policy" || r.ExceptionID != nil {
		t.Errorf("ReceiveReturn = %s approved by %q exception %v; want refund_pending by system:policy", r.Status, r.ApprovedBy, r.ExceptionID)
	}
	r = e.settled(t, r)
	if r.Status != ReturnRefunded || r.RefundID == "" || r.RefundedAt == nil {
		t.Fatalf("return = %+v; want refunded", r)
	}
	got, err := e.svc.GetOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusRefunded || got.Lines[0].Status != LineRefunded || got.Lines[1].Status != LineRefunded {
		t.Errorf("order = %s, lines %s %s; want refunded", got.Status, got.Lines[0].Status, got.Lines[1].Status)
	}
	for sku, n := range map[string]int{"A-1": 2, "B-2": 1} {
		if after := e.onHand(t, sku, "pa-wh"); after != before[sku]+n {
			t.Errorf("%s on hand at pa-wh = %d, want %d + %d restocked", sku, after, before[sku], n)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM stock_ledger WHERE order_id = $1 AND kind = 'delta' AND reason = 'return restock'`, o.ID); n != 2 {
		t.Errorf("restock ledger rows = %d, want 2 (one per SKU)", n)
	}
	checks := []struct {
		what string
		q    string
		want int
	}{
		{"acknowledged credit memos, one per line", `SELECT count(*) FROM erp_postings WHERE order_id = $1 AND kind = 'credit_memo' AND status = 'acknowledged'`, 2},
		{"credit memo total", `SELECT sum(amount)::int FROM erp_postings WHERE order_id = $1 AND kind = 'credit_memo'`, 60},
		{"acknowledged refund postings of 60", `SELECT count(*) FROM erp_postings WHERE order_id = $1 AND kind = 'refund' AND amount = 60 AND status = 'acknowledged'`, 1},
		{"refund payments", `SELECT count(*) FROM payments WHERE order_id = $1 AND kind = 'refund' AND status = 'succeeded' AND amount = 60`, 1},
		{"return notifications sent", `SELECT count(*) FROM notifications WHERE order_id = $1 AND template IN ('return_status', 'refund') AND status = 'sent'`, 3},
	}
	for _, c := range checks {
		if got := e.count(t, c.q, o.ID); got != c.want {
			t.Errorf("%s = %d, want %d", c.what, got, c.want)
		}
	}
	eff := e.sim.Effects()
	if n := eff.Applied(adapter.SystemPayment, adapter.OpRefund, "refund:"+r.ID.String()); n != 1 {
		t.Errorf("gateway refunds under refund:<return> = %d, want 1", n)
	}
	if n := eff.Count(adapter.SystemERP, adapter.OpPostCreditMemo); n != 2 {
		t.Errorf("ERP credit memos = %d, want 2", n)
	}
	wantEvents := []string{"return_requested:return_requested", "return_received:returned", "refund_approved", "refunded:refunded"}
	if got := e.events(t, o.ID, returnEventKinds...); strings.Join(got, ",") != strings.Join(wantEvents, ",") {
		t.Errorf("events = %v, want %v", got, wantEvents)
	}
	// Nothing left to return, and nothing to reconcile.
	if _, _, err := e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{Lines: []ReturnLineInput{{LineNo: 1, Qty: 1}}}); !errors.Is(err, derrors.Conflict) {
		t.Errorf("second return of a refunded order: %v, want conflict", err)
	}
	if m, err := e.svc.ReconcileRefunds(ctx); err != nil || len(m) != 0 {
		t.Errorf("ReconcileRefunds = %+v, %v; want none", m, err)
	}
	// An ERP posting of another amount shows in the reconciliation.
	if _, err := e.pool.Exec(ctx, `UPDATE erp_postings SET amount = 55 WHERE doc_key = $1`, "refund:"+r.ID.String()); err != nil {
		t.Fatal(err)
	}
	m, err := e.svc.ReconcileRefunds(ctx)
	if err != nil || len(m) != 1 || m[0].Reason != MismatchAmount || m[0].ReturnID == nil || *m[0].ReturnID != r.ID ||
		m[0].Refunded != 60 || *m[0].ERPAmount != 55 {
		t.Errorf("ReconcileRefunds = %+v, %v; want one amount_mismatch for %s (60 paid, 55 posted)", m, err, r.RMA)
	}
	checkInvariants(t, e.pool, true)
}

func TestReturnPartial(t *testing.T) {
	t.Parallel()
	e := newReturnEnv(t)
	ctx := context.Background()
	o := e.deliveredOrder(t, "RT-2", "A-1", 3, "B-2", 1)
	r, _, err := e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{RMAKey: "rma-77", Lines: []ReturnLineInput{{LineNo: 1, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Amount != 20 {
		t.Errorf("amount = %v, want 20 (1 × 20)", r.Amount)
	}
	got, _ := e.svc.GetOrder(ctx, o.ID)
	if got.Status != StatusDelivered || got.Lines[0].Status != LineDelivered {
		t.Errorf("after a partial return: order %s, line 1 %s; want both delivered", got.Status, got.Lines[0].Status)
	}
	// Line 1 is in a return: it cannot be returned again, even its other 2 units.
	_, _, err = e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{Lines: []ReturnLineInput{{LineNo: 1, Qty: 2}}})
	if !errors.Is(err, derrors.Conflict) {
		t.Errorf("second return of line 1: %v, want conflict", err)
	}
	r, err = e.svc.ReceiveReturn(ctx, "test", r.ID, Inspection{Condition: ConditionResellable, RestockLocation: "nj-wh"})
	if err != nil {
		t.Fatal(err)
	}
	r = e.settled(t, r)
	if r.Status != ReturnRefunded {
		t.Fatalf("return = %s, want refunded", r.Status)
	}
	// Return the other line in full: the order still has 2 units of line 1 kept.
	r2, _, err := e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{Lines: []ReturnLineInput{{LineNo: 2, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if r2.RMA != "RT-2-R2" {
		t.Errorf("second RMA = %s, want RT-2-R2", r2.RMA)
	}
	got, _ = e.svc.GetOrder(ctx, o.ID)
	if got.Status != StatusDelivered || got.Lines[0].Status != LineDelivered || got.Lines[1].Status != LineReturnRequested {
		t.Errorf("order %s, lines %s %s; want delivered, delivered, return_requested", got.Status, got.Lines[0].Status, got.Lines[1].Status)
	}
	var qty, amount int
	if err := e.pool.QueryRow(ctx, `SELECT (document->'lines'->0->>'qty')::int, amount::int FROM erp_postings WHERE doc_key = $1`,
		"credit_memo:"+o.Lines[0].ID.String()).Scan(&qty, &amount); err != nil || qty != 1 || amount != 20 {
		t.Errorf("credit memo of line 1 = qty %d amount %d, %v; want 1 and 20", qty, amount, err)
	}
	if n := e.count(t, `SELECT count(*) FROM erp_postings WHERE order_id = $1 AND kind = 'credit_memo'`, o.ID); n != 1 {
		t.Errorf("credit memos = %d, want 1 (line 2 not refunded yet)", n)
	}
	want := []string{"return_requested", "return_received", "refund_approved", "refunded", "return_requested"}
	if got := e.events(t, o.ID, returnEventKinds...); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events = %v, want %v (no status change)", got, want)
	}
	checkInvariants(t, e.pool, true)
}

func TestRequestReturnRefused(t *testing.T) {
	t.Parallel()
	e := newReturnEnv(t)
	ctx := context.Background()
	o := e.deliveredOrder(t, "RT-3", "A-1", 2, "B-2", 1)
	undelivered, err := e.svc.Capture(ctx, "test", nil, order("RT-3b", "A-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cancel(ctx, "test", undelivered.Order.ID, CancelRequest{Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		order uuid.UUID
		lines []ReturnLineInput
		want  error
		field string
	}{
		{"no lines", o.ID, nil, derrors.Invalid, "lines"},
		{"zero quantity", o.ID, []ReturnLineInput{{LineNo: 1, Qty: 0}}, derrors.Invalid, "lines[0].qty"},
		{"line twice", o.ID, []ReturnLineInput{{LineNo: 1, Qty: 1}, {LineNo: 1, Qty: 1}}, derrors.Invalid, "lines[1].line_no"},
		{"no such line", o.ID, []ReturnLineInput{{LineNo: 9, Qty: 1}}, derrors.Invalid, "lines[0].line_no"},
		{"more than delivered", o.ID, []ReturnLineInput{{LineNo: 2, Qty: 2}}, derrors.Invalid, "lines[0].qty"},
		{"order not delivered", undelivered.Order.ID, []ReturnLineInput{{LineNo: 1, Qty: 1}}, derrors.Conflict, ""},
		{"no such order", uuid.New(), []ReturnLineInput{{LineNo: 1, Qty: 1}}, derrors.NotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.RequestReturn(ctx, "test", tt.order, ReturnRequest{Lines: tt.lines})
			if !errors.Is(err, tt.want) {
				t.Fatalf("RequestReturn = %v, want %v", err, tt.want)
			}
			var ve *derrors.ValidationError
			if tt.field != "" && (!errors.As(err, &ve) || ve.Fields[0].Field != tt.field) {
				t.Errorf("RequestReturn = %v, want the field %s named", err, tt.field)
			}
		})
	}
	if n := e.count(t, `SELECT count(*) FROM returns`); n != 0 {
		t.Errorf("returns written = %d, want 0", n)
	}
}

func TestReturnDamagedNotRestocked(t *testing.T) {
	t.Parallel()
	e := newReturnEnv(t)
	ctx := context.Background()
	o := e.deliveredOrder(t, "RT-4", "C-3", 1)
	before := e.onHand(t, "C-3", "nj-wh")
	ledger := e.count(t, `SELECT count(*) FROM stock_ledger`)
	r, _, err := e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{Lines: []ReturnLineInput{{LineNo: 1, Qty: 1, Reason: "arrived broken"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ReceiveReturn(ctx, "test", r.ID, Inspection{Condition: ConditionDamaged, RestockLocation: "nj-wh"}); !errors.Is(err, derrors.Invalid) {
		t.Errorf("damaged with a restock location: %v, want invalid", err)
	}
	r, err = e.svc.ReceiveReturn(ctx, "test", r.ID, Inspection{Condition: ConditionDamaged, Note: "screen cracked"})
	if err != nil {
		t.Fatal(err)
	}
	r = e.settled(t, r)
	if r.Status != ReturnRefunded || r.Condition != ConditionDamaged || r.RestockLocation != "" {
		t.Errorf("return = %s %s %q; want refunded, damaged, no restock location", r.Status, r.Condition, r.RestockLocation)
	}
	if after := e.onHand(t, "C-3", "nj-wh"); after != before {
		t.Errorf("on hand = %d, want %d: damaged goods are not restocked", after, before)
	}
	if n := e.count(t, `SELECT count(*) FROM stock_ledger`); n != ledger {
		t.Errorf("ledger rows = %d, want %d", n, ledger)
	}
	if n := e.count(t, `SELECT count(*) FROM erp_postings WHERE order_id = $1 AND kind IN ('credit_memo', 'refund') AND status = 'acknowledged'`, o.ID); n != 2 {
		t.Errorf("credit memo + refund postings = %d, want 2", n)
	}
	checkInvariants(t, e.pool, true)
}
