package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/orchestration"
)

// readmeOrder is the README's first order, word for word.
const readmeOrder = `{
    "channel": "web", "external_id": "demo-1",
    "customer": {"id": "c1", "email": "ada@example.com", "tier": "gold"},
    "ship_to": {"line1": "1 Main St", "city": "Brooklyn", "postal_code": "11201", "country": "US", "lat": 40.69, "lon": -73.99},
    "lines": [{"sku": "SKU-000009", "qty": 1}]}`

// TestREADMETour follows the README's "Trying it" on the real app at the
// demo time scale (as make run serves it): the order is delivered, a return
// is received and its refund posted. Faults are off, so the one order's
// fate is not left to its random id.
func TestREADMETour(t *testing.T) {
	if testing.Short() {
		t.Skip("the README's tour takes about a minute")
	}
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"SHUTDOWN_GRACE": "5s", "WORKERS": "4", "DEMO_TIME_SCALE": "2880", "SIM_FAULTS": "none"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.DiscardHandler), pool, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if _, err := a.orch.SeedDemo(ctx, orchestration.SeedOptions{Seed: 1}, nil); err != nil {
		t.Fatal(err)
	}
	_, orch, err := a.keys.Create(ctx, "demo-orchestrator", auth.Orchestrator)
	if err != nil {
		t.Fatal(err)
	}
	_, support, err := a.keys.Create(ctx, "demo-support", auth.Support)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.startJobs(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ln) }()
	t.Cleanup(func() { stop(); <-done })
	base := "http://" + ln.Addr().String()

	call := func(method, path, key, body string, want int, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if method == http.MethodPost && path == "/v1/orders" {
			req.Header.Set("Idempotency-Key", "demo-1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, buf.String(), want)
		}
		if out != nil {
			if err := json.Unmarshal(buf.Bytes(), out); err != nil {
				t.Fatalf("%s %s: %v in %s", method, path, err, buf.String())
			}
		}
	}
	waitFor := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(within); !cond(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %s", what, within)
			}
		}
	}

	var created struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	call("GET", "/v1/stock?location=nyc-wh-01", orch, "", 200, nil)
	call("POST", "/v1/orders", orch, readmeOrder, 201, &created)
	waitFor("delivered order", 90*time.Second, func() bool {
		var o struct{ Status string }
		call("GET", "/v1/orders/"+created.ID, support, "", 200, &o)
		if o.Status == orchestration.StatusOnHold || o.Status == orchestration.StatusCancelled {
			t.Fatalf("order went %s", o.Status)
		}
		return o.Status == orchestration.StatusDelivered
	})
	var timeline json.RawMessage
	call("GET", "/v1/orders/"+created.ID+"/timeline", support, "", 200, &timeline)
	for _, step := range []string{"authorised", "released", "shipped", "delivered"} {
		if !bytes.Contains(timeline, []byte(`"`+step+`"`)) {
			t.Errorf("timeline lacks %s: %s", step, timeline)
		}
	}

	var ret struct{ ID, Status string }
	call("POST", "/v1/orders/"+created.ID+"/returns", orch, `{"reason": "too small", "lines": [{"line_no": 1, "qty": 1}]}`, 201, &ret)
	call("POST", "/v1/returns/"+ret.ID+"/receive", orch, `{"condition": "resellable", "restock_location": "nyc-wh-01"}`, 200, nil)
	waitFor("refund", 30*time.Second, func() bool {
		call("GET", "/v1/returns/"+ret.ID, support, "", 200, &ret)
		return ret.Status == orchestration.ReturnRefunded
	})

	// serve counts the outside calls the tour made, for the API failure rate.
	waitFor("counted payment calls", 30*time.Second, func() bool {
		m, err := a.orch.ProcessMetrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range m.APIFailures {
			if e.Endpoint == "payment/authorize" && e.Calls >= 1 && e.FailureRate != nil {
				return true
			}
		}
		return false
	})
}
