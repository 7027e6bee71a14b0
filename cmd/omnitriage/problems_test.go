package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/internal/web"
)

// TestCmdErrorsAreSharedProblems checks that the errors cmd's own handlers
// and middleware answer go through the shared renderer (web.Errors): a
// problem+json document naming the path and the request id.
func TestCmdErrorsAreSharedProblems(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	big := strings.NewReader(strings.Repeat("x", int(ts.app.cfg.MaxBodyBytes)+1))
	resp, body := do(t, "POST", ts.url+"/v1/orders", "", big)
	checkProblem(t, "POST /v1/orders with a big body", resp, body, http.StatusRequestEntityTooLarge, "/v1/orders")

	ts.app.pool.Close() // the database goes away
	resp, body = do(t, "GET", ts.url+"/readyz", "", nil)
	checkProblem(t, "GET /readyz, database gone", resp, body, http.StatusServiceUnavailable, "/readyz")
}

func checkProblem(t *testing.T, what string, resp *http.Response, body []byte, status int, instance string) {
	t.Helper()
	var p web.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: %v in %s", what, err, body)
	}
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" ||
		p.Status != status || p.Instance != instance || p.RequestID == "" || p.Detail == "" {
		t.Errorf("%s = %d %s %s, want %d problem+json with instance %s, a request id and a detail", what, resp.StatusCode,
			resp.Header.Get("Content-Type"), body, status, instance)
	}
}
