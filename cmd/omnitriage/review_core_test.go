package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
	"github.com/omnitriage/omnitriage/triage"
)

// coreDesk is the real app with a small network (one SKU stocked at two
// warehouses), orders captured through POST /v1/orders and exceptions
// reported about them through POST /v1/exceptions, which triage queues for
// a person.
type coreDesk struct {
	ts  *testServer
	key string // an orchestrator's API key
}

func newCoreDesk(t *testing.T) *coreDesk {
	t.Helper()
	ts := startServer(t, nil)
	ctx := context.Background()
	orch := ts.app.orch
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(orch.CreateChannel(ctx, orchestration.Channel{Code: "web", Name: "Web", Kind: orchestration.ChannelWeb, Active: true}))
	for _, l := range []orchestration.Location{
		{Code: "nj-wh", Name: "Newark", Kind: "warehouse", Region: "northeast", Lat: 40.7, Lon: -74.2, CanShip: true, Active: true},
		{Code: "pa-wh", Name: "Allentown", Kind: "warehouse", Region: "northeast", Lat: 40.6, Lon: -75.5, CanShip: true, Active: true},
	} {
		must(orch.CreateLocation(ctx, l))
	}
	must(orch.CreateSKU(ctx, orchestration.SKU{Code: "A-1", Name: "Item", Price: 10, Cost: 4, Active: true}))
	n := 50
	must(orch.AdjustInventory(ctx, "test", orchestration.AdjustmentBatch{Source: "wms", Adjustments: []orchestration.Adjustment{
		{SKU: "A-1", Location: "nj-wh", Count: &n}, {SKU: "A-1", Location: "pa-wh", Count: &n}}}))
	_, key, err := ts.app.keys.Create(ctx, "orch", auth.Orchestrator)
	if err != nil {
		t.Fatal(err)
	}
	return &coreDesk{ts: ts, key: key}
}

// pickupExpired captures an order for customer through the API and reports
// that its pickup window expired: the library's fix is cancel_order, which
// the policy never applies automatically, so the case waits for a person.
func (d *coreDesk) pickupExpired(t *testing.T, ext, customer, message string) (orderID uuid.UUID, c triage.Case) {
	t.Helper()
	order, _ := json.Marshal(map[string]any{"channel": "web", "external_id": ext,
		"customer": map[string]any{"id": "c-" + ext, "name": customer},
		"ship_to": map[string]any{"line1": "1 Main St", "city": "Brooklyn", "postal_code": "11201", "country": "US",
			"lat": 40.69, "lon": -73.99},
		"lines": []any{map[string]any{"sku": "A-1", "qty": 2}}})
	resp, b := doHeaders(t, "POST", d.ts.url+"/v1/orders", d.key, string(order), map[string]string{"Idempotency-Key": ext})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/orders = %d %s", resp.StatusCode, b)
	}
	var o orchestration.Order
	if err := json.Unmarshal(b, &o); err != nil || o.ID == uuid.Nil {
		t.Fatalf("order %s: %v", b, err)
	}
	exc, _ := json.Marshal(map[string]any{"kind": orchestration.KindPickupNotCollected, "severity": "medium",
		"code": "PICKUP_EXPIRED", "order_id": o.ID, "message": message})
	resp, b = doHeaders(t, "POST", d.ts.url+"/v1/exceptions", d.key, string(exc), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/exceptions = %d %s", resp.StatusCode, b)
	}
	var res triage.ReportResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Case.Status != triage.StatusQueued {
		t.Fatalf("case for %s is %s (%s), want queued for review", ext, res.Case.Status, res.Case.Action)
	}
	return o.ID, res.Case
}

// commands counts the core commands an order has been through.
func (d *coreDesk) commands(t *testing.T, orderID uuid.UUID) int {
	t.Helper()
	var n int
	if err := d.ts.app.pool.QueryRow(context.Background(), `SELECT count(*) FROM order_commands WHERE order_id = $1`,
		orderID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// allocatedAt is where the order's lines are reserved, per the core.
func (d *coreDesk) allocatedAt(t *testing.T, orderID uuid.UUID) []string {
	t.Helper()
	o, err := d.ts.app.orch.GetOrder(context.Background(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range o.Lines {
		for _, a := range l.Allocations {
			out = append(out, a.Location)
		}
	}
	return out
}

// casePath is the case page's path.
func casePath(id uuid.UUID) string { return "/review/cases/" + id.String() }

// TestBrowserReviewThroughCore drives the review pages in headless
// Chromium on the router `omnitriage serve` builds, with the real core
// applying the decisions, over cases the core's API raised:
//
//   - a support person signs in, opens the queue and its top case, approves
//     it with the keyboard alone and lands on the next case; the order's
//     timeline shows the applied command once, and the core holds one;
//   - a second person's browser opening that case first sees it claimed by
//     the first; once the first has decided, the second's approval answers
//     "already decided by … at …" and the order is changed once;
//   - a modify to another location reroutes the order's lines there;
//   - a reject records its reason and applies nothing.
//
// Then script in an exception message and a customer name stays text on
// the queue and the case page, and no dialog opens.
func TestBrowserReviewThroughCore(t *testing.T) {
	t.Parallel()
	browser := reviewtest.Browser(t)
	t.Run("decide", func(t *testing.T) { testDecideThroughCore(t, browser) })
	t.Run("escaping", func(t *testing.T) { testEscapingThroughCore(t, browser) })
}

func testDecideThroughCore(t *testing.T, browser context.Context) {
	d := newCoreDesk(t)
	ctx := context.Background()
	orders := map[uuid.UUID]uuid.UUID{} // case → order
	for i := range 3 {
		o, c := d.pickupExpired(t, fmt.Sprintf("P-%d", i), "Ada Lovelace",
			fmt.Sprintf("Pickup window expired for order #P-%d after 7 days and 3 reminders; items to be restocked", i))
		orders[c.ID] = o
	}
	people := d.ts.app.review.People()
	ana := reviewtest.CreateUser(t, people, "ana@example.com", review.Support)
	ben := reviewtest.CreateUser(t, people, "ben@example.com", review.Support)
	a, b := reviewtest.Session(t, browser), reviewtest.Session(t, browser)
	if err := reviewtest.Login(a, d.ts.url, "ana@example.com", ana); err != nil {
		t.Fatal(err)
	}
	if err := reviewtest.Login(b, d.ts.url, "ben@example.com", ben); err != nil {
		t.Fatal(err)
	}

	// Ana opens the queue and its top case with o.
	if err := chromedp.Do(a, chromedp.Navigate(d.ts.url+"/review"), chromedp.WaitVisible(chromedp.CSS("table.queue"))); err != nil {
		t.Fatal(err)
	}
	top, err := chromedp.Run(a, chromedp.Evaluate[string](`document.querySelector("a.case-link").getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	first, err := uuid.Parse(strings.TrimPrefix(top, "/review/cases/"))
	if err != nil || orders[first] == uuid.Nil {
		t.Fatalf("top case link %q is not one of the reported cases", top)
	}
	if _, err := chromedp.RunResponse(a, chromedp.KeyEvent("o")); err != nil {
		t.Fatal(err)
	}
	if _, err := reviewtest.WaitPath(a, func(p string) bool { return p == top }); err != nil {
		t.Fatalf("o: %v, want the top case %s", err, top)
	}

	// Ben opens the same case: Ana holds it.
	if err := chromedp.Do(b, chromedp.Navigate(d.ts.url+top), chromedp.WaitVisible(chromedp.ID("claim"))); err != nil {
		t.Fatal(err)
	}
	claim, _ := chromedp.Run(b, chromedp.Text(chromedp.ID("claim")))
	if !strings.Contains(claim, "Claimed by support:ana@example.com") {
		t.Errorf("Ben sees the claim as %q, want claimed by support:ana@example.com", claim)
	}
	if n, _ := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("#approve").length`)); n != 0 {
		t.Error("Ben is offered an approval of a case Ana holds")
	}

	// Ana approves with the keyboard alone and lands on the next case.
	if err := chromedp.Do(a, chromedp.KeyEvent("a"), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	loc, err := reviewtest.WaitPath(a, func(p string) bool { return strings.HasPrefix(p, "/review/cases/") && p != top })
	if err != nil {
		t.Fatalf("after approving by keyboard: %v, want the next case", err)
	}
	second, _ := uuid.Parse(loc[strings.LastIndex(loc, "/")+1:])
	if orders[second] == uuid.Nil {
		t.Fatalf("landed on %s, not another reported case", loc)
	}
	order := orders[first]
	if n := d.commands(t, order); n != 1 {
		t.Errorf("the approved order has %d core commands, want 1", n)
	}
	tl, err := d.ts.app.orch.OrderTimeline(ctx, order)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Commands) != 1 || !strings.Contains(string(tl.Commands[0]), `"cancel_lines"`) {
		t.Errorf("timeline commands = %s, want the one cancel", tl.Commands)
	}
	if tl.Order.Status != orchestration.StatusCancelled {
		t.Errorf("approved order is %s, want cancelled", tl.Order.Status)
	}

	// Ben's stale page sends the approval anyway (as a second tab or a
	// double submit would): already decided, nothing changes.
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`(function () {
		var f = document.createElement("form");
		f.method = "post";
		f.action = location.pathname + "/decision";
		var i = document.createElement("input");
		i.type = "hidden"; i.name = "decision"; i.value = "approve"; i.id = "stale-approve";
		f.appendChild(i);
		document.body.appendChild(f);
		return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	resp, err := chromedp.RunResponse(b, chromedp.Submit(chromedp.ID("stale-approve")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusConflict {
		t.Errorf("Ben's approval after Ana's = %d %s, want 409", resp.Status, resp.URL)
	}
	banner, _ := chromedp.Run(b, chromedp.Evaluate[string](`document.body.innerText`))
	if !strings.Contains(banner, "Already decided by support:ana@example.com at ") || !strings.Contains(banner, "Nothing was changed") {
		t.Errorf("Ben's approval after Ana's answers:\n%s\nwant already decided by ana@example.com", banner)
	}
	if n := d.commands(t, order); n != 1 {
		t.Errorf("after the second approval the order has %d core commands, want 1", n)
	}

	// Ana modifies the second case: reroute to the other warehouse.
	order = orders[second]
	from := d.allocatedAt(t, order)
	if len(from) != 1 {
		t.Fatalf("order allocated at %v, want one location", from)
	}
	to := "pa-wh"
	if from[0] == to {
		to = "nj-wh"
	}
	if err := chromedp.Do(a, chromedp.WaitVisible(chromedp.ID("approve")), chromedp.KeyEvent("m"),
		chromedp.WaitVisible(chromedp.ID("modify-action")),
		chromedp.SetValue(chromedp.ID("modify-action"), "reroute"),
		chromedp.SetValue(chromedp.ID("to_location"), to),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(a, chromedp.Click(chromedp.ID("modify-submit"))); err != nil {
		t.Fatal(err)
	}
	loc, err = reviewtest.WaitPath(a, func(p string) bool { return p != casePath(second) })
	if err != nil || strings.HasSuffix(loc, "/decision") {
		banner, _ := chromedp.Run(a, chromedp.Evaluate[string](`document.body.innerText.slice(0, 1500)`))
		t.Fatalf("after modifying at %s: %v\n%s", loc, err, banner)
	}
	if got := d.allocatedAt(t, order); len(got) != 1 || got[0] != to {
		t.Errorf("after a reroute to %s the order is allocated at %v", to, got)
	}
	if n := d.commands(t, order); n != 1 {
		t.Errorf("the rerouted order has %d core commands, want 1", n)
	}

	// Ana rejects the third with a reason: nothing is applied.
	third, _ := uuid.Parse(loc[strings.LastIndex(loc, "/")+1:])
	if orders[third] == uuid.Nil || third == first || third == second {
		t.Fatalf("after the modify landed on %s, want the third case", loc)
	}
	if err := chromedp.Do(a, chromedp.WaitVisible(chromedp.ID("approve")), chromedp.KeyEvent("r"),
		chromedp.WaitVisible(chromedp.ID("reject-reason")),
		chromedp.SetValue(chromedp.ID("reject-reason"), "customer_request"),
		chromedp.SendKeys(chromedp.CSS(`#reject-form input[name="note"]`), "customer will collect tomorrow"),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(a, chromedp.Click(chromedp.ID("reject-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := reviewtest.WaitPath(a, func(p string) bool { return p != casePath(third) }); err != nil {
		t.Fatalf("after rejecting: %v", err)
	}
	var status, decision, note string
	if err := d.ts.app.pool.QueryRow(ctx, `SELECT status, coalesce(decision, ''), decision_note FROM cases WHERE id = $1`,
		third).Scan(&status, &decision, &note); err != nil {
		t.Fatal(err)
	}
	if status != triage.StatusDecided || decision != triage.DecisionReject || !strings.Contains(note, "customer_request") ||
		!strings.Contains(note, "collect tomorrow") {
		t.Errorf("rejected case = %s %s %q, want decided, reject, with the reason and the note", status, decision, note)
	}
	if n := d.commands(t, orders[third]); n != 0 {
		t.Errorf("the rejected case's order has %d core commands, want none", n)
	}
}

func testEscapingThroughCore(t *testing.T, browser context.Context) {
	d := newCoreDesk(t)
	const script = `<script>alert("xss");window.pwned=1</script>`
	_, c := d.pickupExpired(t, "X-1", "Eve "+script, "Pickup window expired for order #X-1 "+script)
	people := d.ts.app.review.People()
	pw := reviewtest.CreateUser(t, people, "ana@example.com", review.Support)
	s := reviewtest.Session(t, browser)
	var dialogs atomic.Int32
	if err := chromedp.Listen(s, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			go func() { _, _ = chromedp.Call(s, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{}) }() // a dialog left open would stall the page
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := reviewtest.Login(s, d.ts.url, "ana@example.com", pw); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/review", casePath(c.ID)} {
		if err := chromedp.Do(s, chromedp.Navigate(d.ts.url+path), chromedp.WaitReady("body")); err != nil {
			t.Fatal(err)
		}
		text, _ := chromedp.Run(s, chromedp.Evaluate[string](`document.body.innerText`))
		if !strings.Contains(text, "Eve "+script) || !strings.Contains(text, "#X-1 "+script) {
			t.Errorf("%s does not show the customer name and the message as text:\n%s", path, text)
		}
		pwned, _ := chromedp.Run(s, chromedp.Evaluate[bool](`window.pwned !== undefined`))
		if pwned {
			t.Errorf("%s ran the script", path)
		}
		if n, _ := chromedp.Run(s, chromedp.Evaluate[int](`document.querySelectorAll("body script:not([src])").length`)); n != 0 {
			t.Errorf("%s has %d inline script elements", path, n)
		}
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d dialogs opened", n)
	}
}
