package orchestration

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// march is 2026-03-d at hh:mm UTC.
func march(d, hh, mm int) time.Time { return time.Date(2026, 3, d, hh, mm, 0, 0, time.UTC) }

// metricsFixture writes a small history straight into the tables the views read.
type metricsFixture struct {
	t    *testing.T
	pool *pgxpool.Pool
	loc  int64
}

func (f metricsFixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// order writes an order captured at capturedAt with the status it had then,
// and, when delivered is set, a delivered shipment and the delivered event
// (written 5 minutes after the carrier's delivery time, which is the one
// that counts).
func (f metricsFixture) order(channel, ext string, capturedAt time.Time, atCapture string, promise, delivered *time.Time) uuid.UUID {
	f.t.Helper()
	id := uuid.New()
	status := atCapture
	if delivered != nil {
		status = StatusDelivered
	}
	f.exec(`INSERT INTO orders (id, channel_id, external_id, status, customer, service_level, total, promise_date, created_at, updated_at)
		VALUES ($1, (SELECT id FROM channels WHERE code = $2), $3, $4, '{"id":"c"}', 'standard', 40, $5, $6, $6)`,
		id, channel, ext, status, promise, capturedAt)
	f.exec(`INSERT INTO order_events (order_id, kind, to_status, actor, created_at) VALUES ($1, 'captured', $2, 'test', $3)`, id, atCapture, capturedAt)
	if delivered != nil {
		f.exec(`INSERT INTO shipments (id, order_id, location_id, status, delivered_at) VALUES ($1, $2, $3, 'delivered', $4)`,
			uuid.New(), id, f.loc, *delivered)
		f.exec(`INSERT INTO order_events (order_id, kind, from_status, to_status, actor, created_at)
			VALUES ($1, 'delivered', 'shipped', 'delivered', 'test', $2)`, id, delivered.Add(5*time.Minute))
	}
	return id
}

func (f metricsFixture) exception(kind, endpoint string, at time.Time) {
	f.t.Helper()
	f.exec(`INSERT INTO exceptions (kind, severity, endpoint, message, occurred_at) VALUES ($1, 'medium', $2, 'test', $3)`, kind, endpoint, at)
}

func (f metricsFixture) refund(orderID uuid.UUID, rma string, received time.Time, refunded *time.Time) {
	f.t.Helper()
	status := ReturnRefundPending
	if refunded != nil {
		status = ReturnRefunded
	}
	f.exec(`INSERT INTO returns (id, order_id, rma, status, condition, amount, currency, requested_by, requested_at, received_at, refunded_at, updated_at)
		VALUES ($1, $2, $3, $4, 'damaged', 20, 'USD', 'test', $5, $5, $6, $5)`, uuid.New(), orderID, rma, status, received, refunded)
}

func (f metricsFixture) posting(orderID uuid.UUID, key, kind, status string, created time.Time, ackAfter time.Duration) {
	f.t.Helper()
	var ack *time.Time
	if status == "acknowledged" {
		a := created.Add(ackAfter)
		ack = &a
	}
	f.exec(`INSERT INTO erp_postings (doc_key, kind, order_id, amount, document, status, created_at, acknowledged_at)
		VALUES ($1, $2, $3, 20, '{}', $4, $5, $6)`, key, kind, orderID, status, created, ack)
}

// scriptedPayment answers each call with the next error of a script (nil for success).
type scriptedPayment struct{ errs []error }

func (p *scriptedPayment) next() error {
	err := p.errs[0]
	p.errs = p.errs[1:]
	return err
}

func (p *scriptedPayment) Authorize(context.Context, adapter.AuthorizeRequest) (adapter.Authorization, error) {
	return adapter.Authorization{Status: adapter.AuthDeclined}, p.next()
}

func (p *scriptedPayment) Capture(context.Context, adapter.TransactionRequest) (adapter.Transaction, error) {
	return adapter.Transaction{}, p.next()
}

func (p *scriptedPayment) Void(context.Context, adapter.TransactionRequest) (adapter.Transaction, error) {
	return adapter.Transaction{}, p.next()
}

func (p *scriptedPayment) Refund(context.Context, adapter.TransactionRequest) (adapter.Transaction, error) {
	return adapter.Transaction{}, p.next()
}

// TestProcessMetrics checks every metric on a small history with known answers.
func TestProcessMetrics(t *testing.T) {
	t.Parallel()
	pool := newProcessPool(t)
	ctx := context.Background()
	f := metricsFixture{t: t, pool: pool}
	if err := pool.QueryRow(ctx, `SELECT id FROM locations WHERE code = 'nj-wh'`).Scan(&f.loc); err != nil {
		t.Fatal(err)
	}
	at := func(tm time.Time) *time.Time { return &tm }

	// web: 48 h on time (same day as promised), 24 h late (a day after), one backordered.
	w1 := f.order("web", "W1", march(1, 10, 0), StatusCaptured, at(march(3, 8, 0)), at(march(3, 10, 0)))
	f.order("web", "W2", march(1, 12, 0), StatusCaptured, at(march(1, 23, 0)), at(march(2, 12, 0)))
	f.order("web", "W3", march(2, 0, 0), StatusBackordered, nil, nil)
	// amazon: 72 h, early; one rejected at capture.
	f.order("amazon", "A1", march(1, 0, 0), StatusCaptured, at(march(5, 0, 0)), at(march(4, 0, 0)))
	f.order("amazon", "A2", march(1, 0, 0), StatusRejected, nil, nil)

	f.exception(KindStockout, "", march(1, 1, 0))
	f.exception(KindStockout, "", march(1, 23, 59))
	f.exception(KindCarrierDelay, "", march(1, 5, 0))
	f.exception(KindStockout, "", march(2, 0, 0))
	f.exception(KindIntegrationError, "payment/authorize", march(2, 3, 0))
	f.exception(KindERPPostingFailed, "erp/invoice", march(2, 4, 0))

	f.refund(w1, "W1-R1", march(5, 10, 0), at(march(5, 12, 0))) // 2 h
	f.refund(w1, "W1-R2", march(6, 0, 0), at(march(6, 6, 0)))   // 6 h
	f.refund(w1, "W1-R3", march(7, 0, 0), nil)                  // waiting

	f.posting(w1, "invoice:1", "invoice", "acknowledged", march(3, 0, 0), 60*time.Second)
	f.posting(w1, "invoice:2", "invoice", "acknowledged", march(3, 0, 0), 180*time.Second)
	f.posting(w1, "invoice:3", "invoice", "rejected", march(3, 0, 0), 0)
	f.posting(w1, "invoice:4", "invoice", "pending", march(3, 0, 0), 0)
	f.posting(w1, "credit_memo:1", "credit_memo", "acknowledged", march(3, 0, 0), 30*time.Second)

	// payment/authorize: 4 calls, 1 transient, 1 failed; a cancelled call is not counted.
	counter := NewCallCounter(func() time.Time { return march(2, 3, 0) })
	pay := counter.Systems(adapter.Systems{Payment: &scriptedPayment{errs: []error{nil, nil,
		&adapter.Error{System: "payment", Op: "authorize", Code: adapter.CodeTimeout, Retryable: true},
		&adapter.Error{System: "payment", Op: "authorize", Code: "card_invalid", Status: 400},
		&adapter.Error{System: "payment", Op: "authorize", Code: adapter.CodeCanceled, Retryable: true, Err: context.Canceled}}}}).Payment
	for range 5 {
		_, _ = pay.Authorize(ctx, adapter.AuthorizeRequest{})
	}
	if err := counter.Flush(ctx, pool); err != nil {
		t.Fatal(err)
	}

	pol := testPolicy(t)
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Now: func() time.Time { return march(10, 0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := svc.ProcessMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}

	wantCycle := []CycleTime{
		{Channel: "*", Orders: 3, AvgHours: 48, P50Hours: 48, P95Hours: 69.6, MaxHours: 72},
		{Channel: "amazon", Orders: 1, AvgHours: 72, P50Hours: 72, P95Hours: 72, MaxHours: 72},
		{Channel: "web", Orders: 2, AvgHours: 36, P50Hours: 36, P95Hours: 46.8, MaxHours: 48},
	}
	wantAlloc := []AllocationRate{
		{Channel: "*", Orders: 5, FullyAllocated: 3, Rate: 0.6},
		{Channel: "amazon", Orders: 2, FullyAllocated: 1, Rate: 0.5},
		{Channel: "web", Orders: 3, FullyAllocated: 2, Rate: 2.0 / 3},
	}
	wantExc := []ExceptionCount{
		{"2026-03-01", KindCarrierDelay, 1}, {"2026-03-01", KindStockout, 2},
		{"2026-03-02", KindERPPostingFailed, 1}, {"2026-03-02", KindIntegrationError, 1}, {"2026-03-02", KindStockout, 1},
	}
	wantRefund := RefundTime{Refunds: 2, AvgHours: 4, P50Hours: 4, P95Hours: 5.8, MaxHours: 6, Waiting: 1}
	wantLag := []PostingLag{
		{Kind: "*", Postings: 5, Acknowledged: 3, Rejected: 1, Waiting: 1, AvgSeconds: 90, P50Seconds: 60, P95Seconds: 168},
		{Kind: "credit_memo", Postings: 1, Acknowledged: 1, AvgSeconds: 30, P50Seconds: 30, P95Seconds: 30},
		{Kind: "invoice", Postings: 4, Acknowledged: 2, Rejected: 1, Waiting: 1, AvgSeconds: 120, P50Seconds: 120, P95Seconds: 174},
	}
	half := 0.5
	wantAPI := []EndpointFailures{
		{Endpoint: "erp/post_invoice", ERPPostingFailures: 1},
		{Endpoint: "payment/authorize", Calls: 4, Transient: 1, Failed: 1, FailureRate: &half, IntegrationErrors: 1},
	}
	wantPromise := []PromiseAdherence{
		{Channel: "*", Delivered: 3, OnTime: 2, Rate: 2.0 / 3},
		{Channel: "amazon", Delivered: 1, OnTime: 1, Rate: 1},
		{Channel: "web", Delivered: 2, OnTime: 1, Rate: 0.5},
	}
	checkRows(t, "cycle_time", m.CycleTime, wantCycle, func(a, b CycleTime) bool {
		return a.Channel == b.Channel && a.Orders == b.Orders && sameFloat(a.AvgHours, b.AvgHours) && sameFloat(a.P50Hours, b.P50Hours) &&
			sameFloat(a.P95Hours, b.P95Hours) && sameFloat(a.MaxHours, b.MaxHours)
	})
	checkRows(t, "allocation", m.Allocation, wantAlloc, func(a, b AllocationRate) bool {
		return a.Channel == b.Channel && a.Orders == b.Orders && a.FullyAllocated == b.FullyAllocated && sameFloat(a.Rate, b.Rate)
	})
	checkRows(t, "exceptions", m.Exceptions, wantExc, func(a, b ExceptionCount) bool { return a == b })
	checkRows(t, "refund_time", []RefundTime{m.RefundTime}, []RefundTime{wantRefund}, func(a, b RefundTime) bool {
		return a.Refunds == b.Refunds && a.Waiting == b.Waiting && sameFloat(a.AvgHours, b.AvgHours) && sameFloat(a.P50Hours, b.P50Hours) &&
			sameFloat(a.P95Hours, b.P95Hours) && sameFloat(a.MaxHours, b.MaxHours)
	})
	checkRows(t, "erp_posting_lag", m.ERPLag, wantLag, func(a, b PostingLag) bool {
		return a.Kind == b.Kind && a.Postings == b.Postings && a.Acknowledged == b.Acknowledged && a.Rejected == b.Rejected &&
			a.Waiting == b.Waiting && sameFloat(a.AvgSeconds, b.AvgSeconds) && sameFloat(a.P50Seconds, b.P50Seconds) && sameFloat(a.P95Seconds, b.P95Seconds)
	})
	checkRows(t, "api_failures", m.APIFailures, wantAPI, func(a, b EndpointFailures) bool {
		return a.Endpoint == b.Endpoint && a.Calls == b.Calls && a.Transient == b.Transient && a.Failed == b.Failed &&
			a.IntegrationErrors == b.IntegrationErrors && a.ERPPostingFailures == b.ERPPostingFailures &&
			(a.FailureRate == nil) == (b.FailureRate == nil) && (a.FailureRate == nil || sameFloat(*a.FailureRate, *b.FailureRate))
	})
	checkRows(t, "promise_adherence", m.Promise, wantPromise, func(a, b PromiseAdherence) bool {
		return a.Channel == b.Channel && a.Delivered == b.Delivered && a.OnTime == b.OnTime && sameFloat(a.Rate, b.Rate)
	})

	// Exceptions older than ExceptionDays before now are left out.
	svc.now = func() time.Time { return march(2, 0, 0).AddDate(0, 0, ExceptionDays) }
	if m, err := svc.ProcessMetrics(ctx); err != nil || len(m.Exceptions) != 3 {
		t.Errorf("ProcessMetrics %d days on = %v, %v; want only 2026-03-02's 3 rows", ExceptionDays, m.Exceptions, err)
	}
}

// TestProcessMetricsEmpty checks that an empty database answers zeros, not errors.
func TestProcessMetricsEmpty(t *testing.T) {
	t.Parallel()
	svc, _ := newTestService(t)
	m, err := svc.ProcessMetrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.CycleTime) != 1 || m.CycleTime[0] != (CycleTime{Channel: "*"}) || len(m.Exceptions) != 0 || len(m.APIFailures) != 0 ||
		m.RefundTime != (RefundTime{}) || len(m.Promise) != 1 || m.Promise[0] != (PromiseAdherence{Channel: "*"}) {
		t.Errorf("ProcessMetrics on nothing = %+v", m)
	}
}

// TestCallCounterKeepsCountsWhenFlushFails checks that counts survive a failed write.
func TestCallCounterKeepsCountsWhenFlushFails(t *testing.T) {
	t.Parallel()
	pool := newProcessPool(t)
	ctx := context.Background()
	c := NewCallCounter(func() time.Time { return march(2, 3, 30).Add(45 * time.Second) })
	pay := c.Systems(adapter.Systems{Payment: &scriptedPayment{errs: []error{nil, errors.New("boom")}}}).Payment
	_, _ = pay.Capture(ctx, adapter.TransactionRequest{})
	_, _ = pay.Capture(ctx, adapter.TransactionRequest{})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Flush(cancelled, pool); err == nil {
		t.Fatal("Flush with a cancelled context succeeded")
	}
	if err := c.Flush(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var calls, failed int
	var bucket time.Time
	if err := pool.QueryRow(ctx, `SELECT calls, failed, bucket FROM integration_calls WHERE system = 'payment' AND op = 'capture'`).
		Scan(&calls, &failed, &bucket); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || failed != 1 || !bucket.Equal(march(2, 3, 30)) {
		t.Errorf("integration_calls = %d calls, %d failed at %v; want 2, 1 at the minute %v", calls, failed, bucket, march(2, 3, 30))
	}
}

func newProcessPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {1}})
	return pool
}

func sameFloat(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func checkRows[T any](t *testing.T, name string, got, want []T, eq func(a, b T) bool) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = eq(got[i], want[i])
	}
	if !ok {
		t.Errorf("ProcessMetrics %s =\n%+v\nwant\n%+v", name, got, want)
	}
}
