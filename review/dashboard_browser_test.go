package review_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestBrowserScreenshotDashboard opens the dashboard of the scripted
// scenario in Chromium at 1366×768, checks that every figure's trend chart
// was drawn with its points, and saves dashboard.png (make screenshots).
func TestBrowserScreenshotDashboard(t *testing.T) {
	t.Parallel()
	clock := &stepClock{}
	clock.Set(scenarioNow)
	srv := reviewtest.NewServer(t, reviewtest.Options{Clock: clock.Now, CoreClock: clock.Now})
	want := dashScenario(t, srv, clock)
	alertScenario(t, srv, clock)
	pw := reviewtest.CreateUser(t, srv.Review.People(), "eve@example.com", review.Engineer)
	ctx := reviewtest.Browser(t)
	if err := reviewtest.Login(ctx, srv.URL, "eve@example.com", pw); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/dashboard?period=7d"),
		chromedp.WaitVisible(chromedp.CSS(".chart.drawn canvas"))); err != nil {
		t.Fatal(err)
	}
	drawn, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".card .chart.drawn canvas").length`))
	if err != nil {
		t.Fatal(err)
	}
	if drawn != len(want) {
		t.Errorf("%d charts drawn, want one per figure (%d)", drawn, len(want))
	}
	// Allocation was measured on each of the 7 days (an order a day).
	points, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#fig-allocation .chart").dataset.points`))
	if err != nil {
		t.Fatal(err)
	}
	if points != "7" {
		t.Errorf("allocation chart has %s points, want 7", points)
	}
	states, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#alerts [data-state]")].map(e => e.dataset.state).join(",")`))
	if err != nil {
		t.Fatal(err)
	}
	if states != "firing,resolved" {
		t.Errorf("the alert panel shows %q, want firing,resolved", states)
	}
	reviewtest.Screenshot(t, ctx, filepath.Join(reviewtest.ScreenshotDir(t), "dashboard.png"))
	// No width makes the page scroll sideways (wide tables scroll in their box).
	for _, w := range [][2]int64{{1366, 768}, {1024, 768}, {768, 1024}} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w[0], w[1]), chromedp.Navigate(srv.URL+"/dashboard?period=7d"),
			chromedp.WaitVisible(chromedp.CSS(".chart.drawn canvas"))); err != nil {
			t.Fatal(err)
		}
		over, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if over > 0 {
			t.Errorf("%dx%d: the dashboard is %d px wider than the window", w[0], w[1], over)
		}
	}
}

// alertScenario has the SLA alerts evaluated twice as the periodic job
// would: three hours before scenarioNow payment/authorize fails 9 of 20
// calls (an alert fires; it resolves at the next evaluation, with no calls
// left in its window), and at scenarioNow erp/post_invoice 7 of 15 (fires).
func alertScenario(t *testing.T, srv *reviewtest.Server, clock *stepClock) {
	t.Helper()
	ctx := context.Background()
	for _, step := range []struct {
		at       time.Time
		sys, op  string
		calls, n int
	}{{scenarioNow.Add(-3 * time.Hour), "payment", "authorize", 20, 9}, {scenarioNow, "erp", "post_invoice", 15, 7}} {
		clock.Set(step.at)
		if _, err := srv.Pool.Exec(ctx, `INSERT INTO integration_calls (bucket, system, op, calls, transient, failed)
			VALUES ($1, $2, $3, $4, $5, 0)`, step.at.Add(-10*time.Minute), step.sys, step.op, step.calls, step.n); err != nil {
			t.Fatal(err)
		}
		if _, _, err := srv.Triage.EvaluateAlerts(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(scenarioNow)
}
