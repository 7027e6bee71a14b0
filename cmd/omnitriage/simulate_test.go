package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/traffic"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// seededServer is the real app on a loopback port over a fresh database
// with a small demo retailer, and an orchestrator key. Its workers do not
// run, so the server's state depends only on the requests it gets.
func seededServer(t *testing.T) (*testServer, string) {
	t.Helper()
	ts := startServer(t, nil)
	ctx := context.Background()
	pol, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := orchestration.NewService(ts.app.pool, orchestration.Config{Policy: func() *rules.Policy { return pol }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SeedDemo(ctx, orchestration.SeedOptions{Seed: 1, SKUs: 300, Locations: 16}, nil); err != nil {
		t.Fatal(err)
	}
	_, key, err := ts.app.keys.Create(ctx, "sim", auth.Orchestrator)
	if err != nil {
		t.Fatal(err)
	}
	return ts, key
}

func simulateOnce(t *testing.T, ts *testServer, key string) (traffic.Summary, string) {
	t.Helper()
	sim, err := traffic.New(traffic.Config{URL: ts.url, Key: key, Seed: 7, Rate: 20, Duration: 6 * time.Second, Day: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := sim.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum, sim.Digest()
}

// TestSimulate runs the simulator against two identically seeded servers
// with the same seed: the traffic is varied, the summary matches what the
// server holds, nothing fails, and both runs send the same requests.
func TestSimulate(t *testing.T) {
	t.Parallel()
	ts, key := seededServer(t)
	sum, digest := simulateOnce(t, ts, key)

	if sum.ErrorCount() != 0 {
		t.Errorf("errors by status = %v, want none", sum.Errors)
	}
	for _, kind := range []string{"web", "mobile", "marketplace", "store"} {
		if sum.OrdersByChannel[kind] == 0 {
			t.Errorf("no %s orders: by channel %v", kind, sum.OrdersByChannel)
		}
	}
	if len(sum.ServerExceptions) < 4 {
		t.Errorf("exceptions of %d kinds (%v), want at least 4", len(sum.ServerExceptions), sum.ServerExceptions)
	}
	if len(sum.Decisions) == 0 {
		t.Errorf("no recommendations asked")
	}
	if sum.StatesAsLastSeen {
		t.Errorf("the states were not read back from the server")
	}

	// What the server holds.
	if states := simulatedStates(t, ts); !equalCounts(states, sum.OrdersByState) {
		t.Errorf("orders by state: server %v, summary %v", states, sum.OrdersByState)
	}
	kinds, cases := map[string]int{}, map[string]int{}
	get := func(ctx context.Context, path string, out any) error {
		_, body := do(t, "GET", ts.url+path, key, nil)
		return json.Unmarshal(body, out)
	}
	var page struct {
		Exceptions []struct {
			Kind       string    `json:"kind"`
			CreatedAt  time.Time `json:"created_at"`
			CaseStatus string    `json:"case_status"`
		} `json:"exceptions"`
	}
	if err := get(context.Background(), "/v1/exceptions?limit=500", &page); err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Exceptions {
		kinds[e.Kind]++
		cases[e.CaseStatus]++
	}
	if !equalCounts(kinds, sum.ServerExceptions) {
		t.Errorf("exceptions by kind: server %v, summary %v", kinds, sum.ServerExceptions)
	}
	if !equalCounts(cases, sum.CaseStatus) {
		t.Errorf("cases by status: server %v, summary %v", cases, sum.CaseStatus)
	}
	if sum.CaseStatus["auto_applied"]+sum.CaseStatus["queued_for_review"] == 0 {
		t.Errorf("no case auto-applied or queued: %v", sum.CaseStatus)
	}

	var out bytes.Buffer
	sum.Print(&out)
	for _, want := range []string{"orders by state", "exceptions on the server", "auto-applied", "errors by HTTP status"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	ts2, key2 := seededServer(t)
	sum2, digest2 := simulateOnce(t, ts2, key2)
	if digest2 != digest {
		t.Errorf("the same seed against the same state sent other requests: digest %s, then %s (%d and %d requests)",
			digest, digest2, sum.Requests, sum2.Requests)
	}
}

// simulatedStates counts the simulator's orders on the server by status
// (orders have no list route).
func simulatedStates(t *testing.T, ts *testServer) map[string]int {
	t.Helper()
	rows, err := ts.app.pool.Query(context.Background(), `SELECT status, count(*) FROM orders WHERE external_id LIKE 'SIM%' GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSimulateBadKey: a wrong key stops the run at once, naming the key.
func TestSimulateBadKey(t *testing.T) {
	t.Parallel()
	ts, _ := seededServer(t)
	var stdout, stderr bytes.Buffer
	env := &environment{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	err := run(context.Background(), env, []string{"simulate", "--url", ts.url, "--key", "ot_wrong", "--orders", "5", "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "API key") || !strings.Contains(err.Error(), "OMNITRIAGE_ORCHESTRATOR_KEY") {
		t.Fatalf("simulate with a bad key = %v, want an error naming the key to fix", err)
	}
	err = run(context.Background(), env, []string{"simulate", "--url", "http://127.0.0.1:1", "--key", "x", "--orders", "5", "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "no omnitriage server answers") {
		t.Fatalf("simulate with no server = %v, want an error saying none answers", err)
	}
	err = run(context.Background(), env, []string{"simulate", "--url", ts.url, "--orders", "5", "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "--key") {
		t.Fatalf("simulate without a key = %v, want a usage error naming --key", err)
	}
}
