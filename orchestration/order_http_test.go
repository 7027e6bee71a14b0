package orchestration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/web"
)

// testAPI is the orchestration API on a fresh database, with a key per role.
type testAPI struct {
	svc  *Service
	url  string
	keys map[auth.Role]string
}

func newTestAPI(t *testing.T, stock map[string][]int) *testAPI {
	t.Helper()
	svc, _ := newTestService(t)
	buildNetwork(t, svc, stock)
	store := auth.NewStore(svc.pool, time.Minute, nil)
	keys := map[auth.Role]string{}
	for _, r := range auth.Roles {
		_, secret, err := store.Create(context.Background(), "test-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		keys[r] = secret
	}
	errs := web.Errors{Log: slog.New(slog.DiscardHandler)}
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Route("/v1", func(v1 chi.Router) {
		NewHandlers(svc, errs, auth.Middleware{Auth: store, Render: errs.Render}, 64<<10).Register(v1)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &testAPI{svc: svc, url: srv.URL + "/v1", keys: keys}
}

func (a *testAPI) call(t *testing.T, method, path string, role auth.Role, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+a.keys[role])
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func orderJSON(t *testing.T, ext string, lines ...any) string {
	t.Helper()
	b, err := json.Marshal(order(ext, lines...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func countRows(t *testing.T, svc *Service) int {
	t.Helper()
	var n int
	err := svc.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM reservations)
		+ (SELECT count(*) FROM order_lines) + (SELECT coalesce(sum(reserved), 0) FROM stock) + (SELECT count(*) FROM idempotency_keys)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOrderAPI(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, map[string][]int{"A-1": {10, 10, 10}})
	body := orderJSON(t, "H-1", "A-1", 2)
	key := map[string]string{"Idempotency-Key": "k-1"}

	status, hdr, first := api.call(t, "POST", "/orders", auth.Orchestrator, body, key)
	if status != 201 || hdr.Get("Location") == "" {
		t.Fatalf("POST /orders = %d %s, want 201 with Location", status, first)
	}
	status, hdr, again := api.call(t, "POST", "/orders", auth.Orchestrator, body, key)
	if status != 201 || !bytes.Equal(bytes.TrimSpace(again), bytes.TrimSpace(first)) || hdr.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay = %d %s (replayed %q), want the same 201 body", status, again, hdr.Get("Idempotent-Replayed"))
	}
	status, hdr, conflict := api.call(t, "POST", "/orders", auth.Orchestrator, orderJSON(t, "H-2", "A-1", 1), key)
	if status != 409 || hdr.Get("Content-Type") != "application/problem+json" {
		t.Errorf("same key, other body = %d %s, want 409 problem", status, conflict)
	}
	// The same external id without a key answers the existing order.
	status, _, dup := api.call(t, "POST", "/orders", auth.Orchestrator, body, nil)
	var o1, o2 Order
	json.Unmarshal(first, &o1)
	json.Unmarshal(dup, &o2)
	if status != 200 || o1.ID != o2.ID {
		t.Errorf("duplicate external id = %d (order %s), want 200 with order %s", status, o2.ID, o1.ID)
	}
	status, _, got := api.call(t, "GET", "/orders/"+o1.ID.String(), auth.Support, "", nil)
	if status != 200 || !strings.Contains(string(got), `"allocations"`) {
		t.Errorf("GET order = %d %s", status, got)
	}
	status, _, plans := api.call(t, "GET", "/orders/"+o1.ID.String()+"/sourcing", auth.Engineer, "", nil)
	if status != 200 || !strings.Contains(string(plans), `"Explanation"`) && !strings.Contains(string(plans), `"explanation"`) {
		t.Errorf("GET sourcing = %d %s, want the plan with its explanation", status, plans)
	}
	if status, _, _ := api.call(t, "GET", "/orders/00000000-0000-0000-0000-000000000000", auth.Support, "", nil); status != 404 {
		t.Errorf("GET unknown order = %d, want 404", status)
	}
	if status, _, _ := api.call(t, "POST", "/orders", auth.Support, orderJSON(t, "H-3", "A-1", 1), nil); status != 403 {
		t.Errorf("POST /orders as support = %d, want 403", status)
	}
	status, _, edited := api.call(t, "PATCH", "/orders/"+o1.ID.String(), auth.Orchestrator, `{"version":1,"lines":[{"sku":"A-1","qty":3}]}`, nil)
	if status != 200 || !strings.Contains(string(edited), `"version":2`) {
		t.Errorf("PATCH order = %d %s, want version 2", status, edited)
	}
	status, _, cancelled := api.call(t, "POST", "/orders/"+o1.ID.String()+"/cancel", auth.Orchestrator, `{"reason":"customer asked"}`, nil)
	if status != 200 || !strings.Contains(string(cancelled), `"status":"cancelled"`) {
		t.Errorf("cancel = %d %s", status, cancelled)
	}
}

// TestHostileBodies: malformed, oversized and hostile bodies get a 4xx and
// change nothing.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, map[string][]int{"A-1": {10, 10, 10}})
	before := countRows(t, api.svc)
	valid := orderJSON(t, "X-1", "A-1", 1)
	tests := []struct {
		name, path, body string
		ct               string
		want             int
	}{
		{"empty", "/orders", "", "", 422},
		{"not json", "/orders", "channel=web", "", 422},
		{"wrong content type", "/orders", valid, "text/plain", 422},
		{"array", "/orders", `[1,2]`, "", 422},
		{"trailing data", "/orders", valid + `{}`, "", 422},
		{"unknown field", "/orders", strings.Replace(valid, `"channel"`, `"chanel":"x","channel"`, 1), "", 422},
		{"negative qty", "/orders", strings.Replace(valid, `"qty":1`, `"qty":-5`, 1), "", 422},
		{"huge qty", "/orders", strings.Replace(valid, `"qty":1`, `"qty":99999999999999999999`, 1), "", 422},
		{"unknown sku", "/orders", strings.Replace(valid, `"A-1"`, `"ZZZ"`, 1), "", 422},
		{"sql in sku", "/orders", strings.Replace(valid, `"A-1"`, `"A-1'; DROP TABLE stock;--"`, 1), "", 422},
		{"nested deep", "/orders", strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000), "", 422},
		{"oversized", "/orders", `{"channel":"` + strings.Repeat("x", 70<<10) + `"}`, "", 413},
		{"adjust both", "/inventory/adjustments", `{"source":"w","adjustments":[{"sku":"A-1","location":"nj-wh","count":1,"delta":1}]}`, "", 422},
		{"adjust negative", "/inventory/adjustments", `{"source":"w","adjustments":[{"sku":"A-1","location":"nj-wh","count":-1}]}`, "", 422},
		{"hold no ttl", "/reservations", `{"kind":"cart","sku":"A-1","qty":1}`, "", 422},
	}
	for _, tt := range tests {
		hdr := map[string]string{}
		if tt.ct != "" {
			hdr["Content-Type"] = tt.ct
		}
		status, h, body := api.call(t, "POST", tt.path, auth.Orchestrator, tt.body, hdr)
		if status != tt.want {
			t.Errorf("%s: POST %s = %d %s, want %d", tt.name, tt.path, status, body, tt.want)
		}
		if h.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: Content-Type = %q, want problem+json", tt.name, h.Get("Content-Type"))
		}
	}
	if after := countRows(t, api.svc); after != before {
		t.Errorf("rows changed by refused requests: %d → %d", before, after)
	}
	checkInvariants(t, api.svc.pool, true)
}

func TestValidationProblemNamesFields(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, map[string][]int{"A-1": {1, 1, 1}})
	status, _, body := api.call(t, "POST", "/orders", auth.Orchestrator,
		`{"channel":"web","external_id":"V-1","customer":{"id":""},"ship_to":{"line1":"x","city":"y","postal_code":"1","country":"usa","lat":91,"lon":0},"lines":[{"sku":"A-1","qty":0}]}`, nil)
	var p web.Problem
	if err := json.Unmarshal(body, &p); err != nil || status != 422 {
		t.Fatalf("POST = %d %s", status, body)
	}
	got := map[string]bool{}
	for _, f := range p.Fields {
		got[f.Field] = true
	}
	for _, f := range []string{"customer.id", "ship_to.country", "ship_to.lat", "lines[0].qty"} {
		if !got[f] {
			t.Errorf("problem fields %v lack %s", p.Fields, f)
		}
	}
}
