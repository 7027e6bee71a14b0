package review_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
	"github.com/omnitriage/omnitriage/triage"
)

// clusterDemo reports a week of exceptions of a few recurring causes
// through triage's intake, as outside systems and the core would, and
// runs the clustering once.
func clusterDemo(t *testing.T, srv *reviewtest.Server) {
	t.Helper()
	ctx := context.Background()
	if err := srv.Triage.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	type cause struct {
		kind, endpoint, code, carrier, location, sku string
		// attrs, when set, gives message i its carrier, location and SKU.
		attrs  func(i int) (string, string, string)
		msg    func(i int) string
		perDay func(day int) int // day 0 is six days ago
	}
	causes := []cause{
		{kind: orchestration.KindCarrierDelay, endpoint: "carrier/track",
			attrs: func(i int) (string, string, string) {
				return []string{"ups", "ups", "ups", "dhl", "fedex"}[i%5], []string{"nj-wh", "pa-wh", "nyc-store"}[i%3], ""
			},
			msg: func(i int) string {
				return fmt.Sprintf("Carrier API timeout after %d ms tracking shipment 1Z999AA1%08d", 30000+i%7, 1000+i)
			},
			perDay: func(d int) int { return []int{0, 1, 2, 9, 14, 16, 18}[d] }},
		{kind: orchestration.KindCarrierDelay, endpoint: "carrier/track", carrier: "fedex",
			msg: func(i int) string {
				return fmt.Sprintf("Carrier API paused: tracking updates suspended for account ACC-%d", 2200+i%3)
			},
			perDay: func(d int) int { return []int{3, 3, 2, 3, 2, 3, 2}[d] }},
		{kind: orchestration.KindStockout,
			attrs: func(i int) (string, string, string) {
				return "", []string{"store-042", "store-042", "store-042", "store-017"}[i%4], fmt.Sprintf("SKU-%d", 1040+i%4)
			},
			msg: func(i int) string {
				return fmt.Sprintf("Phantom stock: SKU-%d showed %d on hand at store-042 but the pick found 0", 1040+i%4, 1+i%5)
			},
			perDay: func(d int) int { return []int{6, 7, 6, 8, 7, 9, 8}[d] }},
		{kind: orchestration.KindPaymentFailed, endpoint: "payment/authorize", code: "51",
			msg: func(i int) string {
				return fmt.Sprintf("Card declined: insufficient funds (51) for order #W-%d amount $%d.%02d", 100200+i, 20+i, i%100)
			},
			perDay: func(d int) int { return []int{4, 5, 3, 4, 4, 3, 2}[d] }},
		{kind: orchestration.KindERPPostingFailed, endpoint: "erp/invoice", code: "PERIOD_CLOSED",
			msg: func(i int) string {
				return fmt.Sprintf("ERP rejected invoice INV-%d: posting period 2026-11 is closed", 20900+i)
			},
			perDay: func(d int) int { return []int{0, 0, 0, 0, 5, 2, 0}[d] }},
		{kind: orchestration.KindIntegrationError, endpoint: "wms/sync", location: "dc-07",
			msg: func(i int) string {
				return fmt.Sprintf("WMS inventory sync failed for location dc-07: HTTP 503 after %d retries", 3+i%2)
			},
			perDay: func(d int) int { return []int{2, 1, 2, 1, 1, 2, 1}[d] }},
	}
	n := 0
	for ci, c := range causes {
		for d := range 7 {
			for k := range c.perDay(d) {
				carrier, location, sku := c.carrier, c.location, c.sku
				if c.attrs != nil {
					carrier, location, sku = c.attrs(n)
				}
				at := now.Add(-time.Duration(6-d)*24*time.Hour - time.Duration(k*37+ci*11)*time.Minute)
				if _, err := srv.Triage.Report(ctx, "test-system", orchestration.Exception{Kind: c.kind, Severity: orchestration.SeverityMedium,
					Endpoint: c.endpoint, Code: c.code, Carrier: carrier, Location: location, SKU: sku, Message: c.msg(n), OccurredAt: at}, nil); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
	}
	if _, err := srv.Clusters.Run(ctx, triage.RunOptions{Trigger: "test"}); err != nil {
		t.Fatal(err)
	}
}

// clusterIDOf finds the cluster whose template starts with prefix.
func clusterIDOf(t *testing.T, srv *reviewtest.Server, prefix string) int64 {
	t.Helper()
	var id int64
	if err := srv.Pool.QueryRow(context.Background(), `SELECT id FROM clusters WHERE template LIKE $1 || '%'`, prefix).Scan(&id); err != nil {
		t.Fatalf("cluster %q: %v", prefix, err)
	}
	return id
}

// TestClusterPages works the cluster pages over HTTP: support staff get
// the 403 page and change nothing; an engineer sees the list by impact
// with its filters, a cluster's breakdowns and numbers without
// JavaScript, messages escaped, and marks it fixed; an exception after the
// fix date flags it recurring on the list and its page.
func TestClusterPages(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	clusterDemo(t, srv)
	ctx := context.Background()
	timeout := clusterIDOf(t, srv, "carrier api timeout")
	// Arrives after the run: triage's intake puts it in its cluster.
	if _, err := srv.Triage.Report(ctx, "test-system", orchestration.Exception{Kind: orchestration.KindCarrierDelay, Severity: orchestration.SeverityLow,
		Endpoint: "carrier/track", Carrier: "ups", Message: "Carrier API timeout after 30001 ms tracking shipment 1Z999AA177777777"}, nil); err != nil {
		t.Fatal(err)
	}

	support := reviewtest.NewClient(t, srv.URL)
	support.Login("sam@example.com", reviewtest.CreateUser(t, srv.Review.People(), "sam@example.com", review.Support))
	eng := reviewtest.NewClient(t, srv.URL)
	eng.Login("eve@example.com", reviewtest.CreateUser(t, srv.Review.People(), "eve@example.com", review.Engineer))

	page := fmt.Sprintf("/clusters/%d", timeout)
	for _, p := range []string{"/clusters", page} {
		if resp, body := support.Get(p); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Not allowed") {
			t.Errorf("support GET %s = %d, want the 403 page", p, resp.StatusCode)
		}
	}
	if resp, _ := support.PostForm(page, url.Values{"status": {"ignored"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("support POST %s = %d, want 403", page, resp.StatusCode)
	}
	if _, body := support.Get("/review"); strings.Contains(body, `href="/clusters"`) {
		t.Error("support's navigation links to /clusters")
	}

	resp, body := eng.Get("/clusters")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("engineer GET /clusters = %d:\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `href="/clusters" aria-current="page"`) {
		t.Error("the engineer's navigation does not mark Clusters")
	}
	// Biggest impact first: the rows' ids in order.
	rows := regexp.MustCompile(`href="/clusters/(\d+)\?period=7d"`).FindAllStringSubmatch(body, -1)
	if len(rows) != 6 {
		t.Fatalf("the list has %d clusters, want 6", len(rows))
	}
	if rows[0][1] != fmt.Sprint(timeout) {
		t.Errorf("the top cluster is #%s, want the carrier timeouts #%d (60 exceptions, rising)", rows[0][1], timeout)
	}
	if _, body := eng.Get("/clusters?kind=stockout"); strings.Count(body, `?period=7d"`) != 1 || !strings.Contains(body, "phantom stock") {
		t.Errorf("kind=stockout does not list the one stockout cluster")
	}
	if resp, body := eng.Get("/clusters?period=forever"); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "period") {
		t.Errorf("period=forever = %d, want 422 naming period", resp.StatusCode)
	}

	resp, body = eng.Get(page)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", page, resp.StatusCode)
	}
	for _, want := range []string{"Top carriers", "<td class=\"msg\">ups</td>", "carrier/track", "Exceptions per day", "/review/cases/",
		"1Z999AA177777777", `name="status"`, "<td>2026-", "61</span> exceptions"} {
		if !strings.Contains(body, want) {
			t.Errorf("the cluster page lacks %q", want)
		}
	}
	// Fixed the day before yesterday; today's exceptions came after it.
	fixed := time.Now().UTC().Add(-2 * 24 * time.Hour).Format(time.DateOnly)
	resp, _ = eng.PostForm(page, url.Values{"status": {"fixed"}, "fixed_at": {fixed}, "owner": {"eve"},
		"notes": {"Raised the tracking timeout <script>alert(1)</script>"}, "period": {"7d"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the form = %d, want 303", resp.StatusCode)
	}
	_, body = eng.Get(page)
	if !strings.Contains(body, "badge danger\">recurring") || !strings.Contains(body, "the fix did not hold") {
		t.Error("a cluster fixed before today's exceptions is not flagged recurring on its page")
	}
	if strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the cluster page shows the notes' markup unescaped")
	}
	_, body = eng.Get("/clusters?recurring=1")
	if !strings.Contains(body, fmt.Sprintf("/clusters/%d?", timeout)) || !strings.Contains(body, "recurring</span>") {
		t.Error("the recurring filter does not list the recurring cluster")
	}
	if resp, body := eng.PostForm(page, url.Values{"status": {"fixed"}, "fixed_at": {"2999-01-01"}}); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "fixed_at") {
		t.Errorf("a fix date in the future = %d, want 422 naming fixed_at", resp.StatusCode)
	}
	if resp, body := eng.PostForm(page, url.Values{"owner": {"eve\x00"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "owner") {
		t.Errorf("an owner with NUL = %d, want 422 naming owner", resp.StatusCode)
	}
	if resp, _ := eng.Get("/clusters/999999"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /clusters/999999 = %d, want 404", resp.StatusCode)
	}
	resp, _ = eng.PostForm("/clusters/run", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("run clustering now = %d, want 303", resp.StatusCode)
	}
	if _, body := eng.Get("/clusters"); !strings.Contains(body, "Clustered ") {
		t.Error("after running clustering the list says nothing about the run")
	}
	if _, body := eng.Get(page); !strings.Contains(body, "Raised the tracking timeout") || !strings.Contains(body, "recurring") {
		t.Error("the run lost the cluster's notes or its recurring flag")
	}
}
