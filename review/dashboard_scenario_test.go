package review_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// stepClock is a clock a test sets.
type stepClock struct{ ns atomic.Int64 }

func (c *stepClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *stepClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func day(d, hh int) time.Time                { return time.Date(2026, 3, d, hh, 0, 0, 0, time.UTC) }
func ptrTo[T any](v T) *T                    { return &v }
func (c *stepClock) At(d, hh int) *stepClock { c.Set(day(d, hh)); return c }

// scenarioNow is when the dashboard is read: 10 March 2026, noon. The
// period "last 7 days" is 4 to 10 March; the one before, 25 February to 3
// March.
var scenarioNow = day(10, 12)

// dashScenario builds the dashboard's scripted scenario on srv and returns
// the figures the dashboard must show for the last 7 days, as formatted on
// the page (with the previous period's where there is one).
//
// Through the real core, with its clock set for each step: the network, 12
// orders (10 in the period: 8 fully reserved, 2 backordered because their
// SKU has 1 unit of the 5 asked; 2 in the period before), and a person's
// notify command on two orders. The rest of the journey (deliveries,
// refunds, ERP acknowledgements, counted outside calls, exceptions and
// their cases) comes from simulators and jobs with their own timing, so it
// is written as rows with known times, as the lifecycle writes them.
func dashScenario(t *testing.T, srv *reviewtest.Server, clock *stepClock) map[string][2]string {
	t.Helper()
	ctx := context.Background()
	orch := srv.Orch
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := srv.Pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	clock.At(1, 8)
	for _, ch := range []orchestration.Channel{{Code: "web", Name: "Web shop", Kind: orchestration.ChannelWeb, Active: true},
		{Code: "app", Name: "Mobile app", Kind: orchestration.ChannelMobile, Active: true}} {
		_, err := orch.CreateChannel(ctx, ch)
		must(err)
	}
	for _, l := range []orchestration.Location{
		{Code: "nj-wh", Name: "Newark DC", Kind: "warehouse", Region: "northeast", Lat: 40.73, Lon: -74.17, Timezone: "America/New_York", CanShip: true, HandlingHours: 4, Priority: 1, Active: true},
		{Code: "ca-wh", Name: "Ontario DC", Kind: "warehouse", Region: "west", Lat: 34.06, Lon: -117.65, Timezone: "America/Los_Angeles", CanShip: true, HandlingHours: 4, Priority: 2, Active: true},
	} {
		_, err := orch.CreateLocation(ctx, l)
		must(err)
	}
	for sku, n := range map[string]int{"SKU-A": 100, "SKU-B": 1} {
		_, err := orch.CreateSKU(ctx, orchestration.SKU{Code: sku, Name: "Item " + sku, Price: 40, Cost: 15, WeightKg: 1, Active: true})
		must(err)
		res, err := orch.AdjustInventory(ctx, "test", orchestration.AdjustmentBatch{Source: "test-wms",
			Adjustments: []orchestration.Adjustment{{SKU: sku, Location: "nj-wh", Count: ptrTo(n), Version: ptrTo(int64(1))}}})
		must(err)
		if res.Refused != 0 {
			t.Fatalf("stock refused: %+v", res.Rows)
		}
	}
	capture := func(ext, channel, sku string, qty int) orchestration.Order {
		t.Helper()
		res, err := orch.Capture(ctx, "orchestrator:test", nil, orchestration.CaptureRequest{
			Channel: channel, ExternalID: ext, Customer: orchestration.Customer{ID: "c-" + ext, Email: "a@example.com"},
			ShipTo: &orchestration.Address{Line1: "1 Main St", City: "Brooklyn", PostalCode: "11201", Country: "US",
				Lat: ptrTo(40.69), Lon: ptrTo(-73.99)},
			ServiceLevel: "standard", Lines: []orchestration.LineInput{{SKU: sku, Qty: qty}},
		})
		must(err)
		return res.Order
	}
	// The period before: two orders on 1 March, both reserved; one stockout.
	capture("P-1", "web", "SKU-A", 1)
	capture("P-2", "web", "SKU-A", 1)
	exec(`INSERT INTO exceptions (kind, severity, message, occurred_at) VALUES ('stockout', 'medium', 'earlier', $1)`, day(2, 9))

	// The period: O1..O10, one a day from 4 March (O8 to O10 wrap round).
	o := make([]uuid.UUID, 11)
	for i := 1; i <= 10; i++ {
		clock.At(4+(i-1)%7, 9)
		channel := "web"
		if i >= 6 {
			channel = "app"
		}
		sku, qty := "SKU-A", 1
		if i >= 9 {
			sku, qty = "SKU-B", 5 // 1 unit in stock: backordered
		}
		ord := capture(fmt.Sprintf("O%d", i), channel, sku, qty)
		o[i] = ord.ID
		want := orchestration.StatusCaptured
		if i >= 9 {
			want = orchestration.StatusBackordered
		}
		if ord.Status != want {
			t.Fatalf("O%d captured as %s, want %s", i, ord.Status, want)
		}
	}
	// A person notifies the customers of O2 (before it is delivered: a
	// manual touch) and of O5 (after its automatic fix: not a fix that held).
	for _, c := range []struct {
		i    int
		at   time.Time
		whom string
	}{{2, day(5, 12), "support:ana@example.com"}, {5, day(8, 12), "engineer:eve@example.com"}} {
		clock.Set(c.at)
		_, err := orch.Apply(ctx, c.whom, orchestration.Command{ID: fmt.Sprintf("notify-%d", c.i), Kind: orchestration.CmdNotify,
			OrderID: o[c.i], Template: adapter.TemplateDelay, Reason: "customer called"})
		must(err)
	}
	// O1..O4 go through the journey: authorised 1 h after capture, released
	// 1 h later at nj-wh, shipped 3 h later, delivered 48, 24, 72 and 48 h
	// after capture (mean 48 h).
	for i, hours := range map[int]int{1: 48, 2: 24, 3: 72, 4: 48} {
		captured := day(4+(i-1)%7, 9)
		for _, ev := range []struct {
			kind, from, to string
			at             time.Time
		}{
			{"authorised", "captured", "authorised", captured.Add(time.Hour)},
			{"released", "authorised", "released", captured.Add(2 * time.Hour)},
			{"shipped", "released", "shipped", captured.Add(5 * time.Hour)},
			{"delivered", "shipped", "delivered", captured.Add(time.Duration(hours) * time.Hour)},
		} {
			exec(`INSERT INTO order_events (order_id, kind, from_status, to_status, actor, data, created_at)
				VALUES ($1, $2, $3, $4, 'system:lifecycle', $5, $6)`, o[i], ev.kind, ev.from, ev.to, `{"location":"nj-wh"}`, ev.at)
		}
		exec(`UPDATE orders SET status = 'delivered' WHERE id = $1`, o[i])
	}
	// Three refunds of 1, 2 and 6 hours from receipt (mean 3 h).
	for i, h := range map[int]int{1: 1, 2: 2, 3: 6} {
		received := day(9, 8)
		exec(`INSERT INTO returns (id, order_id, rma, status, condition, amount, currency, requested_by, requested_at, received_at,
			approved_at, approved_by, refunded_at, updated_at)
			VALUES ($1, $2, $3, 'refunded', 'damaged', 20, 'USD', 'test', $4, $5, $5, 'system:policy', $6, $6)`,
			uuid.New(), o[i], fmt.Sprintf("O%d-R1", i), received.Add(-24*time.Hour), received, received.Add(time.Duration(h)*time.Hour))
	}
	// Five ERP postings: four acknowledged in 30 s, one 90 s later (120 s).
	for k, lag := range []int{30, 30, 30, 30, 120} {
		created := day(6, 10)
		exec(`INSERT INTO erp_postings (doc_key, kind, order_id, amount, document, status, created_at, acknowledged_at)
			VALUES ($1, 'payment_capture', $2, 40, '{}', 'acknowledged', $3, $4)`,
			fmt.Sprintf("capture:%d", k), o[1], created, created.Add(time.Duration(lag)*time.Second))
	}
	// Outside calls: payment/authorize 20 (2 failed), erp/post_invoice 10 (5 failed).
	exec(`INSERT INTO integration_calls (bucket, system, op, calls, transient, failed) VALUES
		($1, 'payment', 'authorize', 20, 2, 0), ($1, 'erp', 'post_invoice', 10, 3, 2)`, day(7, 10))
	// Each case's exception occurred a minute before its triage.
	exc := func(kind string, i int, at time.Time) uuid.UUID {
		t.Helper()
		var id uuid.UUID
		if err := srv.Pool.QueryRow(ctx, `INSERT INTO exceptions (kind, severity, message, order_id, occurred_at)
			VALUES ($1, 'medium', 'scenario', $2, $3) RETURNING id`, kind, o[i], at).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// Cases: O5, O6, O7 fixed automatically (O5's touched by a person two
	// days later); O8 and O9 decided by a person after 10 and 30 minutes.
	for _, c := range []struct {
		i            int
		kind, status string
		triaged      time.Time
		decidedAfter time.Duration
	}{
		{5, "carrier_delay", "auto_applied", day(6, 10), 0},
		{6, "stockout", "auto_applied", day(7, 10), 0},
		{7, "stockout", "auto_applied", day(8, 10), 0},
		{8, "stockout", "decided", day(9, 10), 10 * time.Minute},
		{9, "payment_failed", "decided", day(9, 11), 30 * time.Minute},
	} {
		id := exc(c.kind, c.i, c.triaged.Add(-time.Minute))
		var decidedAt *time.Time
		decision, by := "", ""
		if c.status == "decided" {
			decidedAt = ptrTo(c.triaged.Add(c.decidedAfter))
			decision, by = "approve", "support:ana@example.com"
		}
		exec(`INSERT INTO cases (exception_id, status, kind, severity, order_id, triaged_at, decided_at, decided_by, decision, created_at)
			VALUES ($1, $2, $3, 'medium', $4, $5, $6, $7, nullif($8, ''), $5)`, id, c.status, c.kind, o[c.i], c.triaged, decidedAt, by, decision)
	}
	clock.Set(scenarioNow)
	must(orch.RefreshRollup(ctx))
	must(srv.Triage.RefreshCaseRollup(ctx))
	// Exceptions: the five cases' (a carrier delay, three stockouts, a
	// payment declined) and the two stockouts the core raised itself when it
	// backordered O9 and O10; the period before had one stockout.
	return map[string][2]string{
		orchestration.MetricCycleTime:   {"2.0 days", "–"},
		orchestration.MetricAllocation:  {"80.0%", "100.0%"},
		orchestration.MetricExceptions:  {"7", "1"},
		orchestration.MetricRefundTime:  {"3.0 h", "–"},
		orchestration.MetricAPI:         {"23.3%", "–"},
		orchestration.MetricManualTouch: {"25.0%", "–"},
		orchestration.MetricERPLag:      {"48 s", "–"},
		"automation":                    {"60.0%", "–"},
		"precision":                     {"66.7%", "–"},
		"review_time":                   {"20.0 min", "–"},
	}
}

var cardRE = regexp.MustCompile(`(?s)<article class="card" id="fig-([a-z_]+)".*?<span class="value" data-value>([^<]*)</span>.*?<span data-previous>([^<]*)</span>`)

// pageFigures reads each card's value and previous value from the page.
func pageFigures(body string) map[string][2]string {
	out := map[string][2]string{}
	for _, m := range cardRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = [2]string{m[2], m[3]}
	}
	return out
}

// TestDashboardScenario reads the dashboard of the scripted scenario as an
// engineer and checks every figure against its known answer, then the stall
// view and a channel filter, then the same figures in /metrics (see
// scenarioMetrics).
func TestDashboardScenario(t *testing.T) {
	t.Parallel()
	clock := &stepClock{}
	clock.Set(scenarioNow)
	srv := reviewtest.NewServer(t, reviewtest.Options{Clock: clock.Now, CoreClock: clock.Now})
	want := dashScenario(t, srv, clock)
	pw := reviewtest.CreateUser(t, srv.Review.People(), "eve@example.com", review.Engineer)
	c := reviewtest.NewClient(t, srv.URL)
	c.Login("eve@example.com", pw)
	resp, body := c.Get("/dashboard?period=7d")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /dashboard = %d\n%s", resp.StatusCode, body)
	}
	got := pageFigures(body)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("figure %s = %q (was %q), want %q (was %q)", k, got[k][0], got[k][1], w[0], w[1])
		}
	}
	if len(got) != len(want) {
		t.Errorf("page shows %d figures, want %d: %v", len(got), len(want), got)
	}
	for _, s := range []string{
		"8 of 10 orders", "3 refunds", "5 postings", "7 of 30 calls failed", "1 of 4 finished orders",
		"3 of 5 cases", "2 of 3 fixes held", "2 decided",
		"4 Mar – 10 Mar 2026", // the period
		`href="/review?kind=stockout"`, `href="/clusters?kind=stockout"`,
		`href="/dashboard/orders?journey=order&amp;state=backordered"`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("the page does not say %q", s)
		}
	}
	// The stall view: every node's row first; 2 backordered orders now; the
	// 4 orders of nj-wh spent 1 h captured, read from the histogram bucket
	// of 3444 to 4096 s at its middle: 62.8 min.
	stall := regexp.MustCompile(`(?s)<table class="table stall" data-journey="order">.*?</table>`).FindString(body)
	for _, s := range []string{"all nodes", ">nj-wh</a>", "2 now</a>", "62.8 min", "3.0 h"} {
		if !strings.Contains(stall, s) {
			t.Errorf("the order stall table lacks %q:\n%s", s, stall)
		}
	}
	// Narrowed to the app channel (O6..O10): 3 of 5 reserved, no deliveries.
	_, body = c.Get("/dashboard?period=7d&channel=app")
	got = pageFigures(body)
	if g := got[orchestration.MetricAllocation][0]; g != "60.0%" {
		t.Errorf("app allocation = %q, want 60.0%%", g)
	}
	if g := got[orchestration.MetricCycleTime][0]; g != "–" {
		t.Errorf("app cycle time = %q, want none", g)
	}
	// Narrowed to node nj-wh, or its region: O1..O8 were reserved there (the
	// backordered O9 and O10 have no node yet); API calls are not narrowed.
	for _, q := range []string{"node=nj-wh", "region=northeast", "region=northeast&node=nj-wh&channel=web"} {
		_, body = c.Get("/dashboard?period=7d&" + q)
		got = pageFigures(body)
		wantAlloc := "100.0%"
		if g := got[orchestration.MetricAllocation][0]; g != wantAlloc {
			t.Errorf("%s: allocation = %q, want %s", q, g, wantAlloc)
		}
		if g := got[orchestration.MetricAPI][0]; g != "23.3%" {
			t.Errorf("%s: API failure rate = %q, want 23.3%% (not narrowed)", q, g)
		}
	}
	_, body = c.Get("/dashboard?period=7d&region=west")
	if g := pageFigures(body)[orchestration.MetricAllocation][0]; g != "–" {
		t.Errorf("west: allocation = %q, want none", g)
	}
	// The same numbers through the one method the gauges read.
	figs, err := srv.Triage.ProcessFigures(context.Background(), orchestration.Period{From: day(4, 0), To: day(11, 0)}, orchestration.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figs.Headline {
		if f.Key == orchestration.MetricERPLag && (f.Value == nil || *f.Value != 48) {
			t.Errorf("ProcessFigures ERP lag = %v, want 48 s", f.Value)
		}
	}
	// The same scenario's figures in /metrics, worked out by hand.
	checkScenarioMetrics(t, srv)
	// The drill-down lists the two backordered orders.
	_, body = c.Get("/dashboard/orders?journey=order&state=backordered")
	if !strings.Contains(body, "<td>O9</td>") || !strings.Contains(body, "<td>O10</td>") {
		t.Errorf("the drill-down does not list O9 and O10:\n%s", body)
	}
}
