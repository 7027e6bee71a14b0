package review_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// alertPanel is the dashboard's SLA alert panel.
var alertPanel = regexp.MustCompile(`(?s)<section class="panel sla-alerts" id="alerts".*?</section>`)

// TestDashboardAlerts breaches the endpoint failure target, evaluates the
// SLA alerts as the periodic job does, and finds the alert firing at the
// top of the dashboard (the endpoint escaped), then resolved once the
// figure can no longer be judged, then gone a day later.
func TestDashboardAlerts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &stepClock{}
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	clock.Set(start)
	srv := reviewtest.NewServer(t, reviewtest.Options{Clock: clock.Now, CoreClock: clock.Now})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "eve@example.com", review.Engineer)
	c := reviewtest.NewClient(t, srv.URL)
	c.Login("eve@example.com", pw)
	panel := func() string {
		t.Helper()
		resp, body := c.Get("/dashboard")
		if resp.StatusCode != 200 {
			t.Fatalf("GET /dashboard = %d\n%s", resp.StatusCode, body)
		}
		p := alertPanel.FindString(body)
		if p == "" {
			t.Fatalf("the dashboard has no alert panel:\n%s", body)
		}
		if i, j := strings.Index(body, `id="alerts"`), strings.Index(body, `class="card"`); j >= 0 && i > j {
			t.Errorf("the alert panel comes after the figures")
		}
		return p
	}
	if p := panel(); !strings.Contains(p, "data-alerts-none") || strings.Contains(p, "data-state") {
		t.Errorf("with no alerts, the panel = %s", p)
	}

	// An endpoint with markup in its name fails 12 of 20 calls in the window:
	// 60% against the default target of 20%.
	if _, err := srv.Pool.Exec(ctx, `INSERT INTO integration_calls (bucket, system, op, calls, transient, failed)
		VALUES ($1, 'pay<b>', 'authorize', 20, 4, 8)`, start.Add(-5*time.Minute).Truncate(time.Minute)); err != nil {
		t.Fatal(err)
	}
	fired, _, err := srv.Triage.EvaluateAlerts(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(fired) != 1 {
		t.Fatalf("EvaluateAlerts fired %d alerts, want 1: %+v", len(fired), fired)
	}
	p := panel()
	for _, s := range []string{`data-state="firing"`, "Failure rate of pay&lt;b&gt;/authorize", "60.0% at the last check", "above the target 20.0%"} {
		if !strings.Contains(p, s) {
			t.Errorf("the firing panel lacks %q:\n%s", s, p)
		}
	}
	if strings.Contains(p, "<b>") || strings.Contains(p, "data-alerts-none") {
		t.Errorf("the firing panel is wrong:\n%s", p)
	}

	// Two hours on, no call falls in the window: the alert resolves.
	clock.Set(start.Add(2 * time.Hour))
	_, resolved, err := srv.Triage.EvaluateAlerts(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(resolved) != 1 {
		t.Fatalf("EvaluateAlerts resolved %d alerts, want 1", len(resolved))
	}
	c.Login("eve@example.com", pw) // the session idled out meanwhile
	p = panel()
	if !strings.Contains(p, `data-state="resolved"`) || strings.Contains(p, `data-state="firing"`) || !strings.Contains(p, "fired at 60.0% against the target 20.0%") {
		t.Errorf("after it resolved, the panel = %s", p)
	}

	// A day after it resolved it is off the dashboard.
	clock.Set(start.Add(27 * time.Hour))
	c.Login("eve@example.com", pw)
	if p := panel(); !strings.Contains(p, "data-alerts-none") || strings.Contains(p, "data-state") {
		t.Errorf("a day after it resolved, the panel = %s", p)
	}
}
