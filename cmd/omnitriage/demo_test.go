package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/traffic"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// demoPages are the pages `make demo` must fill within a short simulated
// run, each with the CSS selector of the content it must show. A page
// whose route does not exist yet (404) is skipped, so a page family turns
// its check on by existing; the selectors of /dashboard and /clusters are
// what their pages are expected to render (uPlot charts, table rows).
var demoPages = []struct {
	path, selector, what, shot string
}{
	{"/review", "tr[data-case-row]", "queue rows", "demo-queue.png"},
	{"/dashboard", ".uplot canvas", "charts", "demo-dashboard.png"},
	{"/clusters", "table tbody tr a[href^='/clusters/']", "cluster rows", "demo-clusters.png"},
}

// TestDemoBrowser does what `make demo` does, shortened: seed the demo
// retailer with `omnitriage seed`, serve it with its workers at the demo
// time scale, drive it with the simulator (internal/traffic, as `omnitriage
// simulate` does) for a short burst, then sign in in Chromium and find
// content on every page.
func TestDemoBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo run takes about a minute")
	}
	reviewtest.Chromium(t) // skip before the long setup when there is no browser
	t.Parallel()
	ctx := context.Background()
	dbURL := dbtest.NewURL(t)
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "demo-keys.env")
	getenv := func(k string) string {
		switch k {
		case "DATABASE_URL":
			return dbURL
		case "DEMO_TIME_SCALE":
			return "2880" // make run's: a simulated day in 30 s
		case "WORKERS":
			return "4"
		case "SHUTDOWN_GRACE":
			return "5s"
		case "LOG_LEVEL":
			return "error"
		case "CLUSTER_SCHEDULE":
			return "@every 15s" // make run's is a minute; shortened as the run is
		}
		return ""
	}
	var out bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: getenv}
	if err := run(ctx, env, []string{"seed", "--people=false", "--keys-file", keysFile}); err != nil {
		t.Fatalf("omnitriage seed: %v\n%s", err, out.String())
	}
	key := envFileValue(t, keysFile, "OMNITRIAGE_ORCHESTRATOR_KEY")

	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := database.Open(ctx, dbURL, cfg.DBMaxConns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logins, err := seedPeople(ctx, &out, pool, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.DiscardHandler), pool, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	if err := a.startBackground(sctx); err != nil {
		t.Fatal(err)
	}
	if err := a.startJobs(sctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ln) }()
	t.Cleanup(func() { stop(); <-done; a.Close() })

	// make demo's rate, for 20 s, a simulated day every 30 s as the server's.
	// `make screenshots` runs it for 100 s instead, about the two minutes
	// after which make run's demo is described, so its pictures show days
	// of deliveries, returns and postings.
	shots := os.Getenv("SCREENSHOTS")
	simFor := 20 * time.Second
	if shots != "" {
		simFor = 100 * time.Second
	}
	sim, err := traffic.New(traffic.Config{URL: base, Key: key, Seed: 1, Rate: 8, Duration: simFor, Day: 30 * time.Second,
		Wait: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := sim.Run(ctx)
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	if sum.Orders == 0 {
		t.Fatalf("the simulator placed no orders: %+v", sum)
	}
	t.Logf("simulated: %d orders, %d exceptions reported, errors by status %v", sum.Orders, len(sum.ServerExceptions), sum.Errors)
	// The triage loop queues the reported exceptions within seconds.
	// until waits up to limit for query's count to be positive.
	until := func(query string, limit time.Duration, what string) {
		t.Helper()
		for deadline := time.Now().Add(limit); ; time.Sleep(250 * time.Millisecond) {
			var n int
			if err := pool.QueryRow(ctx, query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s after the simulated run", what, limit)
			}
		}
	}
	until(`SELECT count(*) FROM cases WHERE status = 'queued_for_review'`, 30*time.Second, "no case waits for a person")
	// The leader's next clustering run groups them: /clusters must list
	// clusters, not its empty state.
	until(`SELECT count(*) FROM clusters`, 45*time.Second, "no root-cause cluster (CLUSTER_SCHEDULE @every 15s)")

	// /metrics shows the run's process figures.
	_, metrics := do(t, "GET", base+"/metrics", "", nil)
	for _, want := range []string{"omnitriage_allocation_orders_total{channel=", "omnitriage_orders_in_state{", "omnitriage_process_up 1"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics after the demo run lacks %s", want)
		}
	}

	// The leader ran the SLA alert evaluation, and it did not fail.
	var ran, failed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE errors <> '{}')
		FROM river_job WHERE kind = $1`, "sla_alert_evaluate").Scan(&ran, &failed); err != nil {
		t.Fatal(err)
	}
	if ran == 0 || failed != 0 {
		t.Errorf("sla_alert_evaluate jobs: %d completed, %d with errors; want the job run on start, without errors", ran, failed)
	}

	var admin demoLogin
	for _, l := range logins {
		if l.role == review.Admin {
			admin = l
		}
	}
	probe := reviewtest.NewClient(t, base)
	probe.Login(admin.email, admin.password)
	b := reviewtest.Browser(t)
	if err := reviewtest.Login(b, base, admin.email, admin.password); err != nil {
		t.Fatal(err)
	}
	for _, p := range demoPages {
		t.Run(strings.TrimPrefix(p.path, "/"), func(t *testing.T) {
			if resp, _ := probe.Get(p.path); resp.StatusCode == http.StatusNotFound {
				t.Skipf("%s does not exist yet (404)", p.path)
			} else if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", p.path, resp.StatusCode)
			}
			wctx, cancel := context.WithTimeout(b, 15*time.Second)
			defer cancel()
			err := chromedp.Do(wctx, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.selector)))
			var n int
			if err == nil {
				n, err = chromedp.Run(wctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, p.selector)))
			}
			if err != nil || n == 0 {
				text, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS("body")))
				t.Fatalf("%s shows no %s (%s: %d, %v); the page says:\n%.2000s", p.path, p.what, p.selector, n, err, text)
			}
			t.Logf("%s: %d %s", p.path, n, p.what)
			if shots != "" {
				reviewtest.ScreenshotViewport(t, b, filepath.Join(shots, p.shot))
			}
		})
	}
	if shots != "" {
		// `make screenshots`: the top case and the biggest cluster of the
		// same demo, opened the way a person does, from the list's first link.
		for _, d := range []struct{ list, link, ready, shot string }{
			{"/review", "tr[data-case-row] a.case-link", "main h1", "demo-case.png"},
			{"/clusters", "table tbody tr a[href^='/clusters/']", "main h1", "demo-cluster.png"},
		} {
			wctx, cancel := context.WithTimeout(b, 15*time.Second)
			var href string
			err := chromedp.Do(wctx, chromedp.Navigate(base+d.list))
			if err == nil {
				href, err = chromedp.Run(wctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).getAttribute("href")`, d.link)))
			}
			if err == nil {
				err = chromedp.Do(wctx, chromedp.Navigate(base+href), chromedp.WaitVisible(chromedp.CSS(d.ready)))
			}
			cancel()
			if err != nil {
				t.Fatalf("opening the first link of %s for %s: %v", d.list, d.shot, err)
			}
			reviewtest.ScreenshotViewport(t, b, filepath.Join(shots, d.shot))
		}
	}
}

// envFileValue reads NAME=value from a file of such lines.
func envFileValue(t *testing.T, path, name string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s has no %s", path, name)
	return ""
}
