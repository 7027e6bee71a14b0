package orchestration

import (
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

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/web"
)

// returnRoutes mounts the returns and metrics routes as Handlers.Register
// does (the same lines), so they can be tested on their own.
func returnRoutes(h *Handlers, r chi.Router) {
	e := h.errs.H
	readers := h.guard.Require(auth.Orchestrator, auth.Support, auth.Engineer)
	returners := h.guard.Require(auth.Orchestrator, auth.Support)
	support := h.guard.Require(auth.Support)
	engineers := h.guard.Require(auth.Engineer)

	r.With(returners).Post("/orders/{id}/returns", e(h.handleRequestReturn))
	r.With(readers).Get("/orders/{id}/returns", e(h.handleListReturns))
	r.With(readers).Get("/returns/{id}", e(h.handleGetReturn))
	r.With(returners).Post("/returns/{id}/receive", e(h.handleReceiveReturn))
	r.With(support).Post("/returns/{id}/approve", e(h.handleApproveRefund))
	r.With(h.guard.Require(auth.Support, auth.Engineer)).Get("/refunds/mismatches", e(h.handleRefundMismatches))
	r.With(engineers).Get("/metrics/process", e(h.handleProcessMetrics))
}

func TestReturnsHTTP(t *testing.T) {
	t.Parallel()
	env := newReturnEnv(t)
	ctx := context.Background()
	store := auth.NewStore(env.pool, time.Minute, nil)
	keys := map[auth.Role]string{}
	for _, r := range auth.Roles {
		_, secret, err := store.Create(ctx, "test-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		keys[r] = secret
	}
	errs := web.Errors{Log: slog.New(slog.DiscardHandler)}
	router := chi.NewRouter()
	router.Route("/v1", func(v1 chi.Router) {
		returnRoutes(NewHandlers(env.svc, errs, auth.Middleware{Auth: store, Render: errs.Render}, 64<<10), v1)
	})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	call := func(method, path string, role auth.Role, body string, hdr ...string) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/v1"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+keys[role])
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}

	o := env.deliveredOrder(t, "RH-1", "A-1", 8) // 160.00: over the automatic limit
	body := `{"reason":"did not fit","lines":[{"line_no":1,"qty":8}]}`
	code, hdr, b := call("POST", "/orders/"+o.ID.String()+"/returns", auth.Orchestrator, body, "Idempotency-Key", "rh-1")
	if code != http.StatusCreated || !strings.HasPrefix(hdr.Get("Location"), "/v1/returns/") {
		t.Fatalf("POST returns = %d %s", code, b)
	}
	var r Return
	if err := json.Unmarshal(b, &r); err != nil || r.RMAKey != "rh-1" || r.Amount != 160 {
		t.Fatalf("POST returns body = %s, %v", b, err)
	}
	if code, hdr, _ := call("POST", "/orders/"+o.ID.String()+"/returns", auth.Orchestrator, body, "Idempotency-Key", "rh-1"); code != http.StatusOK || hdr.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed POST returns = %d %v, want 200 replayed", code, hdr)
	}
	tests := []struct {
		name   string
		method string
		path   string
		role   auth.Role
		body   string
		want   int
	}{
		{"bad line", "POST", "/orders/" + o.ID.String() + "/returns", auth.Support, `{"lines":[{"line_no":0,"qty":1}]}`, http.StatusUnprocessableEntity},
		{"engineers do not open returns", "POST", "/orders/" + o.ID.String() + "/returns", auth.Engineer, body, http.StatusForbidden},
		{"list", "GET", "/orders/" + o.ID.String() + "/returns", auth.Engineer, "", http.StatusOK},
		{"get", "GET", "/returns/" + r.ID.String(), auth.Support, "", http.StatusOK},
		{"no such return", "GET", "/returns/" + o.ID.String(), auth.Support, "", http.StatusNotFound},
		{"bad inspection", "POST", "/returns/" + r.ID.String() + "/receive", auth.Orchestrator, `{"condition":"resellable"}`, http.StatusUnprocessableEntity},
		{"receive", "POST", "/returns/" + r.ID.String() + "/receive", auth.Orchestrator, `{"condition":"resellable","restock_location":"nj-wh"}`, http.StatusOK},
		{"machines do not approve", "POST", "/returns/" + r.ID.String() + "/approve", auth.Orchestrator, "", http.StatusForbidden},
		{"approve", "POST", "/returns/" + r.ID.String() + "/approve", auth.Support, "", http.StatusOK},
		{"mismatches", "GET", "/refunds/mismatches", auth.Engineer, "", http.StatusOK},
		{"metrics", "GET", "/metrics/process", auth.Engineer, "", http.StatusOK},
		{"metrics are for engineers", "GET", "/metrics/process", auth.Orchestrator, "", http.StatusForbidden},
	}
	for _, tt := range tests {
		code, _, b := call(tt.method, tt.path, tt.role, tt.body)
		if code != tt.want {
			t.Errorf("%s: %s %s as %s = %d %s, want %d", tt.name, tt.method, tt.path, tt.role, code, b, tt.want)
		}
	}
	r = env.settled(t, r)
	if r.Status != ReturnRefunded || r.ApprovedBy != "support:test-support" {
		t.Errorf("return = %s approved by %q, want refunded by support:test-support", r.Status, r.ApprovedBy)
	}
	_, _, b = call("GET", "/metrics/process", auth.Engineer, "")
	var m Metrics
	if err := json.Unmarshal(b, &m); err != nil || m.RefundTime.Refunds != 1 || len(m.CycleTime) != 2 {
		t.Errorf("GET /metrics/process = %s, %v; want one refund and cycle times for * and web", b, err)
	}
}
