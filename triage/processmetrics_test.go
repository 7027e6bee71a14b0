package triage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/metricstest"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// countingSource counts the reads of a ProcessSource.
type countingSource struct {
	ProcessSource
	reads atomic.Int64
	fail  error
}

func (c *countingSource) ProcessExport(ctx context.Context) (orchestration.ProcessExport, error) {
	c.reads.Add(1)
	if c.fail != nil {
		return orchestration.ProcessExport{}, c.fail
	}
	return c.ProcessSource.ProcessExport(ctx)
}

// scrape gathers reg into "name{l=v,…}" → value.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	return metricstest.Scrape(t, reg)
}

// TestProcessCollector drives a small scenario through the real core (ten
// orders, two of which cannot be allocated, a payment endpoint that fails
// twice in four calls), adds the history the lifecycle would write over
// days (three refunds of known duration, an ERP posting acknowledged 90 s
// late, two reviews), and checks /metrics' figures against the known
// answers.
func TestProcessCollector(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{applier: &recordingApplier{}})
	f.network(t, map[string][3]int{"A": {8, 0, 0}, "B": {0, 0, 0}}, nil)
	ctx := context.Background()
	var orders []orchestration.Order
	for i := range 10 {
		sku := "A"
		if i >= 8 {
			sku = "B" // nothing on hand anywhere: backordered
		}
		orders = append(orders, f.order(t, fmt.Sprintf("PM-%d", i), sku, 1, "standard"))
	}
	first := orders[0]

	// payment/authorize: 4 calls, 1 timeout, 1 refused.
	counter := orchestration.NewCallCounter(func() time.Time { return f.now })
	pay := counter.Systems(adapter.Systems{Payment: &failingPayment{errs: []error{nil, nil,
		&adapter.Error{System: "payment", Op: "authorize", Code: adapter.CodeTimeout, Retryable: true},
		&adapter.Error{System: "payment", Op: "authorize", Code: "card_invalid", Status: 400}}}}).Payment
	for range 4 {
		_, _ = pay.Authorize(ctx, adapter.AuthorizeRequest{})
	}
	if err := counter.Flush(ctx, f.pool); err != nil {
		t.Fatal(err)
	}
	// An outside reporter naming an endpoint no call used: counted as other.
	f.report(t, orchestration.Exception{Kind: orchestration.KindIntegrationError, Endpoint: "wms/made-up free text",
		Message: "wms said no"})

	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := f.pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, hours := range []float64{2, 6, 30} {
		received := day.Add(time.Duration(i) * 24 * time.Hour)
		exec(`INSERT INTO returns (id, order_id, rma, status, condition, amount, currency, requested_by, requested_at, received_at, refunded_at, updated_at)
			VALUES ($1, $2, $3, 'refunded', 'damaged', 20, 'USD', 'test', $4, $4, $5, $4)`,
			uuid.New(), first.ID, fmt.Sprintf("R%d", i), received, received.Add(time.Duration(hours*float64(time.Hour))))
	}
	exec(`INSERT INTO erp_postings (doc_key, kind, order_id, amount, document, status, created_at, acknowledged_at)
		VALUES ('invoice:pm', 'invoice', $1, 20, '{}', 'acknowledged', $2, $3)`, first.ID, day, day.Add(90*time.Second))
	// Two orders delivered 30 h and 50 h after capture, the first before
	// its promised day, the second two days after it.
	for i, d := range []struct{ hours, promiseHours int }{{30, 48}, {50, 0}} {
		exec(`UPDATE orders o SET status = 'delivered', promise_date = e.created_at + make_interval(hours => $2)
			FROM order_events e WHERE o.id = $1 AND e.order_id = o.id AND e.kind = 'captured'`, orders[i].ID, d.promiseHours)
		exec(`INSERT INTO order_events (order_id, kind, from_status, to_status, actor, created_at)
			SELECT order_id, 'delivered', 'shipped', 'delivered', 'test', created_at + make_interval(hours => $2)
			FROM order_events WHERE order_id = $1 AND kind = 'captured'`, orders[i].ID, d.hours)
	}
	// Two cases a person decided, 10 and 50 minutes after triage.
	for i, mins := range []int{10, 50} {
		c := f.report(t, orchestration.Exception{Kind: orchestration.KindCarrierDelay, Carrier: "ups",
			Message: fmt.Sprintf("parcel %d late", i)})
		exec(`UPDATE cases SET status = 'decided', decision = 'approve', decided_by = 'ana', triaged_at = $2, decided_at = $3 WHERE id = $1`,
			c.ID, day, day.Add(time.Duration(mins)*time.Minute))
	}

	src := &countingSource{ProcessSource: f.svc}
	clock := day
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewProcessCollector(src, ProcessCollectorConfig{TTL: 10 * time.Second, Now: func() time.Time { return clock }}))
	got := scrape(t, reg)

	var outcomes struct{ auto, manual, none float64 }
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'auto_applied'), count(*) FILTER (WHERE status IN ('queued_for_review', 'decided')),
		count(*) FILTER (WHERE status = 'no_action') FROM cases WHERE status <> 'open'`).Scan(&outcomes.auto, &outcomes.manual, &outcomes.none); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"omnitriage_allocation_orders_total{channel=web}":                                                  10,
		"omnitriage_allocation_allocated_total{channel=web}":                                               8,
		"omnitriage_allocation_success_ratio{channel=web}":                                                 0.8,
		"omnitriage_orders_in_state{node=nj-wh,state=captured}":                                            6,
		"omnitriage_order_cycle_time_hours_count{channel=web}":                                             2,
		"omnitriage_order_cycle_time_hours_sum{channel=web}":                                               80,
		"omnitriage_order_cycle_time_hours_bucket{channel=web,le=24}":                                      0,
		"omnitriage_order_cycle_time_hours_bucket{channel=web,le=48}":                                      1,
		"omnitriage_order_cycle_time_hours_bucket{channel=web,le=72}":                                      2,
		"omnitriage_promise_delivered_total{channel=web}":                                                  2,
		"omnitriage_promise_on_time_total{channel=web}":                                                    1,
		"omnitriage_promise_adherence_ratio{channel=web}":                                                  0.5,
		"omnitriage_refund_time_hours_count{}":                                                             3,
		"omnitriage_refund_time_hours_sum{}":                                                               38,
		"omnitriage_refund_time_hours_bucket{le=1}":                                                        0,
		"omnitriage_refund_time_hours_bucket{le=4}":                                                        1,
		"omnitriage_refund_time_hours_bucket{le=12}":                                                       2,
		"omnitriage_refund_time_hours_bucket{le=24}":                                                       2,
		"omnitriage_refund_time_hours_bucket{le=48}":                                                       3,
		"omnitriage_refunds_waiting{}":                                                                     0,
		"omnitriage_erp_posting_lag_seconds_count{kind=invoice}":                                           1,
		"omnitriage_erp_posting_lag_seconds_sum{kind=invoice}":                                             90,
		"omnitriage_erp_posting_lag_seconds_bucket{kind=invoice,le=60}":                                    0,
		"omnitriage_erp_posting_lag_seconds_bucket{kind=invoice,le=90}":                                    1, // le is inclusive
		"omnitriage_integration_calls_total{endpoint=payment/authorize,system=payment}":                    4,
		"omnitriage_integration_failures_total{class=transient,endpoint=payment/authorize,system=payment}": 1,
		"omnitriage_integration_failures_total{class=failed,endpoint=payment/authorize,system=payment}":    1,
		"omnitriage_integration_failure_ratio{endpoint=payment/authorize,system=payment}":                  0.5,
		"omnitriage_handoff_exceptions_total{endpoint=other,kind=integration_error,system=other}":          1,
		"omnitriage_exceptions_total{kind=carrier_delay}":                                                  2,
		"omnitriage_exceptions_total{kind=integration_error}":                                              1,
		"omnitriage_review_time_seconds_count{}":                                                           2,
		"omnitriage_review_time_seconds_sum{}":                                                             3600,
		"omnitriage_review_time_seconds_bucket{le=900}":                                                    1,
		"omnitriage_review_time_seconds_bucket{le=3600}":                                                   2,
		"omnitriage_cases_total{kind=carrier_delay,outcome=manual}":                                        2,
		"omnitriage_automation_ratio{}":                                                                    outcomes.auto / (outcomes.auto + outcomes.manual + outcomes.none),
		// The manual touch rate and the precision of automatic fixes come from
		// the dashboard's rollups (not refreshed here): TestDashboardScenario
		// in review checks them against the page.
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-w) > 1e-9 {
			t.Errorf("/metrics %s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	for k := range got {
		if strings.Contains(k, "made-up") {
			t.Errorf("/metrics has a free-text label: %s", k)
		}
	}
	if t.Failed() {
		var keys []string
		for k, v := range got {
			keys = append(keys, fmt.Sprintf("%s %v", k, v))
		}
		sort.Strings(keys)
		t.Logf("scraped:\n%s", strings.Join(keys, "\n"))
	}

	// A second scrape within the TTL reads nothing; one after it reads again.
	scrape(t, reg)
	if n := src.reads.Load(); n != 1 {
		t.Errorf("two scrapes within the TTL read the database %d times, want 1", n)
	}
	clock = clock.Add(11 * time.Second)
	scrape(t, reg)
	if n := src.reads.Load(); n != 2 {
		t.Errorf("a scrape after the TTL: %d reads, want 2", n)
	}
	// A failed read says so and exports no figures (not zeros); the rest
	// of /metrics still answers.
	src.fail = errors.New("database down")
	clock = clock.Add(11 * time.Second)
	down := scrape(t, reg)
	if len(down) != 1 || down["omnitriage_process_up{}"] != 0 {
		t.Errorf("scrape with the database down = %v, want only omnitriage_process_up 0", down)
	}
	if got["omnitriage_process_up{}"] != 1 {
		t.Errorf("omnitriage_process_up = %v with the database up, want 1", got["omnitriage_process_up{}"])
	}
}

// failingPayment answers each call with the next error of a script.
type failingPayment struct{ errs []error }

func (p *failingPayment) next() error {
	err := p.errs[0]
	p.errs = p.errs[1:]
	return err
}

func (p *failingPayment) Authorize(context.Context, adapter.AuthorizeRequest) (adapter.Authorization, error) {
	return adapter.Authorization{Status: adapter.AuthApproved}, p.next()
}

func (p *failingPayment) Capture(context.Context, adapter.TransactionRequest) (adapter.Transaction, error) {
	return adapter.Transaction{}, p.next()
}

func (p *failingPayment) Void(context.Context, adapter.TransactionRequest) (adapter.Transaction, error) {
	return adapter.Transaction{}, p.next()
}

func (p *failingPayment) Refund(context.Context, adapter.TransactionRequest) (adapter.Transaction, error) {
	return adapter.Transaction{}, p.next()
}
