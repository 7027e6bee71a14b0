package orchestration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

func TestRefundDecision(t *testing.T) {
	t.Parallel()
	pol := testPolicy(t) // auto_approve_max 150.00
	svc := &Service{policy: func() *rules.Policy { return pol }}
	tests := []struct {
		name      string
		amount    float64
		currency  string
		condition string
		wantAuto  bool
		wantCode  string
	}{
		{"small and resellable", 60, "USD", ConditionResellable, true, ""},
		{"at the limit", 150, "USD", ConditionDamaged, true, ""},
		{"a cent over", 150.01, "USD", ConditionResellable, false, "REFUND_LIMIT"},
		{"missing goods", 20, "USD", ConditionMissing, false, "RETURN_ITEM_MISSING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Return{ID: uuid.New(), RMA: "X-R1", Amount: tt.amount, Currency: tt.currency,
				Lines: []ReturnLine{{LineID: uuid.New(), SKU: "A-1", Qty: 1, Amount: tt.amount}}}
			auto, e := svc.refundDecision(Order{ID: uuid.New()}, r, tt.condition)
			if auto != tt.wantAuto || e.Code != tt.wantCode {
				t.Errorf("refundDecision(%.2f %s, %s) = %v %q, want %v %q", tt.amount, tt.currency, tt.condition, auto, e.Code, tt.wantAuto, tt.wantCode)
			}
			if !auto && (e.Kind != KindRefundReview || e.Validate() != nil || len(e.LineIDs) != 1) {
				t.Errorf("exception = %+v (%v); want a valid refund_review naming the line", e, e.Validate())
			}
		})
	}
}

func TestReturnOverLimitNeedsApproval(t *testing.T) {
	t.Parallel()
	e := newReturnEnv(t)
	ctx := context.Background()
	o := e.deliveredOrder(t, "RT-5", "A-1", 10) // 200.00 > 150.00
	r, _, err := e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{Lines: []ReturnLineInput{{LineNo: 1, Qty: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ApproveRefund(ctx, "support:bo", r.ID); !errors.Is(err, derrors.Conflict) {
		t.Errorf("approving before receipt: %v, want conflict", err)
	}
	r, err = e.svc.ReceiveReturn(ctx, "test", r.ID, Inspection{Condition: ConditionResellable, RestockLocation: "nj-wh"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != ReturnRefundReview || r.ExceptionID == nil {
		t.Fatalf("return = %s exception %v; want refund_review with an exception", r.Status, r.ExceptionID)
	}
	var kind, code, status string
	var amount float64
	if err := e.pool.QueryRow(ctx, `SELECT kind, code, status, (payload->>'refund_amount')::float8 FROM exceptions WHERE id = $1`,
		*r.ExceptionID).Scan(&kind, &code, &status, &amount); err != nil {
		t.Fatal(err)
	}
	if kind != KindRefundReview || code != "REFUND_LIMIT" || status != "open" || amount != 200 {
		t.Errorf("exception = %s %s %s %.2f; want refund_review REFUND_LIMIT open 200", kind, code, status, amount)
	}
	if n := e.count(t, `SELECT count(*) FROM river_job WHERE kind = 'return_refund'`); n != 0 {
		t.Errorf("refund jobs before approval = %d, want 0", n)
	}
	if got, _ := e.svc.GetOrder(ctx, o.ID); got.Status != StatusReturned {
		t.Errorf("order = %s, want returned while the refund waits", got.Status)
	}

	// Two people approve at once: one refund.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.ApproveRefund(ctx, fmt.Sprintf("support:%d", i), r.ID)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r = e.settled(t, r)
	if _, err := e.svc.ApproveRefund(ctx, "support:late", r.ID); err != nil {
		t.Errorf("approving a refunded return: %v, want a no-op", err)
	}
	if r.Status != ReturnRefunded {
		t.Fatalf("return = %s, want refunded", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM order_events WHERE order_id = $1 AND kind = 'refund_approved'`, o.ID); n != 1 {
		t.Errorf("refund_approved events = %d, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM exceptions WHERE id = $1 AND status = 'resolved'`, *r.ExceptionID); n != 1 {
		t.Errorf("the refund_review exception is not resolved")
	}
	if n := e.sim.Effects().Count(adapter.SystemPayment, adapter.OpRefund); n != 1 {
		t.Errorf("gateway refunds = %d, want 1", n)
	}
	if got, _ := e.svc.GetOrder(ctx, o.ID); got.Status != StatusRefunded {
		t.Errorf("order = %s, want refunded", got.Status)
	}
	checkInvariants(t, e.pool, true)
}

func TestReturnMissingGoodsNeedsApproval(t *testing.T) {
	t.Parallel()
	e := newReturnEnv(t)
	ctx := context.Background()
	o := e.deliveredOrder(t, "RT-6", "B-2", 1) // 20.00, within the limit
	r, _, err := e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{Lines: []ReturnLineInput{{LineNo: 1, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err = e.svc.ReceiveReturn(ctx, "test", r.ID, Inspection{Condition: ConditionMissing, Note: "empty box"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != ReturnRefundReview {
		t.Errorf("return with missing goods = %s, want refund_review", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM exceptions WHERE order_id = $1 AND kind = 'refund_review' AND code = 'RETURN_ITEM_MISSING'`, o.ID); n != 1 {
		t.Errorf("RETURN_ITEM_MISSING exceptions = %d, want 1", n)
	}
}

func TestReturnDoubleSubmit(t *testing.T) {
	t.Parallel()
	e := newReturnEnv(t)
	ctx := context.Background()
	o := e.deliveredOrder(t, "RT-7", "A-1", 2, "B-2", 2)
	req := ReturnRequest{RMAKey: "client-rma-1", Lines: []ReturnLineInput{{LineNo: 1, Qty: 2}}}

	// The same RMA key from two goroutines at once, then again: one return.
	var wg sync.WaitGroup
	ids := make([]uuid.UUID, 3)
	created := make([]bool, 3)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, c, err := e.svc.RequestReturn(ctx, "test", o.ID, req)
			if err != nil {
				t.Error(err)
			}
			ids[i], created[i] = r.ID, c
		}()
	}
	wg.Wait()
	r, c, err := e.svc.RequestReturn(ctx, "test", o.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	ids[2], created[2] = r.ID, c
	if ids[0] != ids[1] || ids[1] != ids[2] || created[0] == created[1] || created[2] {
		t.Errorf("three requests with one key = %v created %v; want one return created once", ids, created)
	}
	if _, _, err := e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{RMAKey: "client-rma-1",
		Lines: []ReturnLineInput{{LineNo: 2, Qty: 1}}}); !errors.Is(err, derrors.Conflict) {
		t.Errorf("the key with other lines: %v, want conflict", err)
	}

	// Receipt reported twice at once, then again: one restock, one refund.
	before := e.onHand(t, "A-1", "ct-wh")
	in := Inspection{Condition: ConditionResellable, RestockLocation: "ct-wh"}
	recvErrs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, recvErrs[i] = e.svc.ReceiveReturn(ctx, "test", r.ID, in)
		}()
	}
	wg.Wait()
	for _, err := range recvErrs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.ReceiveReturn(ctx, "test", r.ID, in); err != nil {
		t.Errorf("receiving again: %v, want a no-op", err)
	}
	if _, err := e.svc.ReceiveReturn(ctx, "test", r.ID, Inspection{Condition: ConditionDamaged}); !errors.Is(err, derrors.Conflict) {
		t.Errorf("receiving again with another inspection: %v, want conflict", err)
	}
	r = e.settled(t, r)
	if after := e.onHand(t, "A-1", "ct-wh"); after != before+2 {
		t.Errorf("on hand at ct-wh = %d, want %d + 2", after, before)
	}
	for what, q := range map[string]string{
		"restock ledger rows": `SELECT count(*) FROM stock_ledger WHERE order_id = $1 AND reason = 'return restock'`,
		"received events":     `SELECT count(*) FROM order_events WHERE order_id = $1 AND kind = 'return_received'`,
		"refund payments":     `SELECT count(*) FROM payments WHERE order_id = $1 AND kind = 'refund'`,
		"credit memos":        `SELECT count(*) FROM erp_postings WHERE order_id = $1 AND kind = 'credit_memo'`,
		"refund notices":      `SELECT count(*) FROM notifications WHERE order_id = $1 AND template = 'refund'`,
	} {
		if n := e.count(t, q, o.ID); n != 1 {
			t.Errorf("%s = %d, want 1", what, n)
		}
	}
	// Two requests for the same line at once, without a key: one wins.
	reqErrs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, reqErrs[i] = e.svc.RequestReturn(ctx, "test", o.ID, ReturnRequest{Lines: []ReturnLineInput{{LineNo: 2, Qty: 1}}})
		}()
	}
	wg.Wait()
	if (reqErrs[0] == nil) == (reqErrs[1] == nil) || !(errors.Is(reqErrs[0], derrors.Conflict) || errors.Is(reqErrs[1], derrors.Conflict)) {
		t.Errorf("concurrent requests for line 2 = %v; want one return and one conflict", reqErrs)
	}
	checkInvariants(t, e.pool, true)
}

// TestReconcileRefunds checks each way a refund can disagree with the ERP, on
// refunds written directly.
func TestReconcileRefunds(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {10, 0, 0}})
	ctx := context.Background()
	res, err := svc.Capture(ctx, "test", nil, order("RC-1", "A-1", 1))
	if err != nil {
		t.Fatal(err)
	}
	oid := res.Order.ID
	tests := []struct {
		key       string
		erpStatus string // "" for no posting
		erpAmount float64
		age       time.Duration
		want      string // "" when it reconciles
	}{
		{"refund:ok", "acknowledged", 30, 0, ""},
		{"refund:fresh", "pending", 30, time.Hour, ""},
		{"refund:missing", "", 0, 0, MismatchMissing},
		{"refund:rejected", "rejected", 30, 0, MismatchRejected},
		{"refund:short", "acknowledged", 25, 0, MismatchAmount},
		{"refund:stale", "pending", 30, 25 * time.Hour, MismatchUnacknowledged},
	}
	for i, tt := range tests {
		at := time.Date(2026, 3, 1, 0, 0, i, 0, time.UTC)
		if _, err := pool.Exec(ctx, `INSERT INTO payments (key, order_id, kind, status, amount, external_id, created_at)
			VALUES ($1, $2, 'refund', 'succeeded', 30, $3, $4)`, tt.key, oid, "re_"+tt.key, at); err != nil {
			t.Fatal(err)
		}
		if tt.erpStatus != "" {
			if _, err := pool.Exec(ctx, `INSERT INTO erp_postings (doc_key, kind, order_id, amount, document, status, created_at)
				VALUES ($1, 'refund', $2, $3, '{}', $4, now() - make_interval(secs => $5))`, tt.key, oid, tt.erpAmount, tt.erpStatus, tt.age.Seconds()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A failed refund paid nothing back: nothing to reconcile.
	if _, err := pool.Exec(ctx, `INSERT INTO payments (key, order_id, kind, status, amount) VALUES ('refund:failed', $1, 'refund', 'failed', 30)`, oid); err != nil {
		t.Fatal(err)
	}
	got, err := svc.ReconcileRefunds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, m := range got {
		reasons[m.PaymentKey] = m.Reason
	}
	for _, tt := range tests {
		if reasons[tt.key] != tt.want {
			t.Errorf("ReconcileRefunds: %s = %q, want %q", tt.key, reasons[tt.key], tt.want)
		}
	}
	if len(got) != 4 {
		t.Errorf("ReconcileRefunds = %d mismatches, want 4", len(got))
	}
}

// TestReturnsWithFaults returns every delivered order of a small run with
// faults in every outside system, and checks that each refund happened once,
// each returned line has one credit memo, and stock still reconciles.
func TestReturnsWithFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("drives orders through the whole lifecycle")
	}
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPoolSize(t, 10)
	pol := testPolicy(t)
	clock := simClock{start: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), real: time.Now()}
	sim := adapter.NewSimulator(adapter.DefaultFaults(), 11, clock.now)
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Now: clock.now,
		Systems: sim.Systems(), TrackEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	buildNetwork(t, svc, map[string][]int{"A-1": {500, 500, 500}, "B-2": {500, 500, 500}, "C-3": {500, 0, 0}})
	const n = 24
	ids := make([]uuid.UUID, n)
	for i := range n {
		res, err := svc.Capture(ctx, "test", nil, order(fmt.Sprintf("RF-%02d", i), "A-1", 1+i%3, "B-2", 1, "C-3", 1+i%5))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.Order.ID
	}
	client := startReturnWorkers(t, pool, svc)
	defer client.Stop(context.Background())
	settledQ := `SELECT count(*) FROM orders o WHERE o.status NOT IN ('delivered', 'cancelled', 'rejected', 'refunded')
		AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.order_id = o.id AND e.status = 'open')`
	waitFor(t, "orders delivered or explained", func() (bool, error) {
		var open int
		err := pool.QueryRow(ctx, settledQ).Scan(&open)
		return open == 0, err
	})

	var returns []Return
	for i, id := range ids {
		o, err := svc.GetOrder(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != StatusDelivered {
			continue
		}
		req := ReturnRequest{RMAKey: "k-" + o.ExternalID}
		for _, l := range o.Lines {
			req.Lines = append(req.Lines, ReturnLineInput{LineNo: l.LineNo, Qty: l.Qty})
		}
		r, _, err := svc.RequestReturn(ctx, "test", id, req)
		if err != nil {
			t.Fatal(err)
		}
		in := Inspection{Condition: ConditionResellable, RestockLocation: "pa-wh"}
		if i%3 == 0 {
			in = Inspection{Condition: ConditionDamaged}
		}
		if r, err = svc.ReceiveReturn(ctx, "test", r.ID, in); err != nil {
			t.Fatal(err)
		}
		if r.Status == ReturnRefundReview {
			if r, err = svc.ApproveRefund(ctx, "support:test", r.ID); err != nil {
				t.Fatal(err)
			}
		}
		returns = append(returns, r)
	}
	if len(returns) < n/2 {
		t.Fatalf("only %d of %d orders delivered", len(returns), n)
	}
	waitFor(t, "refunds done", func() (bool, error) {
		var open int
		err := pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM returns WHERE status NOT IN ('refunded', 'refund_failed')) +
			(SELECT count(*) FROM erp_postings WHERE kind IN ('credit_memo', 'refund') AND status IN ('queued', 'pending')) +
			(SELECT count(*) FROM notifications WHERE status = 'queued')`).Scan(&open)
		return open == 0, err
	})
	var refunded, badMemos, failedUnexplained int
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM returns WHERE status = 'refunded'),
		(SELECT count(*) FROM return_lines rl JOIN returns r ON r.id = rl.return_id WHERE r.status = 'refunded'
			AND (SELECT count(*) FROM erp_postings p WHERE p.line_id = rl.line_id AND p.kind = 'credit_memo') <> 1),
		(SELECT count(*) FROM returns r WHERE r.status = 'refund_failed'
			AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.order_id = r.order_id AND e.status = 'open'))`).
		Scan(&refunded, &badMemos, &failedUnexplained); err != nil {
		t.Fatal(err)
	}
	if refunded == 0 || badMemos != 0 || failedUnexplained != 0 {
		t.Errorf("refunded %d; refunded lines without exactly one credit memo %d; failed refunds without an open exception %d",
			refunded, badMemos, failedUnexplained)
	}
	seen := map[string]int{}
	for _, f := range sim.Effects().Log {
		seen[f.System+"."+f.Op+"."+f.Key]++
	}
	for k, c := range seen {
		if c > 1 {
			t.Errorf("effect %s applied %d times", k, c)
		}
	}
	if got := sim.Effects().Count(adapter.SystemPayment, adapter.OpRefund); got != refunded {
		t.Errorf("gateway refunds = %d, returns refunded = %d", got, refunded)
	}
	// Every mismatch reported is a refund whose ERP posting was rejected.
	mismatches, err := svc.ReconcileRefunds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rejected := 0
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM erp_postings WHERE kind = 'refund' AND status = 'rejected'`).Scan(&rejected); err != nil {
		t.Fatal(err)
	}
	if len(mismatches) != rejected {
		t.Errorf("ReconcileRefunds = %+v; want the %d rejected refund postings", mismatches, rejected)
	}
	t.Logf("%d orders, %d returned, %d refunded, %d refund postings rejected", n, len(returns), refunded, rejected)
	checkInvariants(t, pool, true)
}
