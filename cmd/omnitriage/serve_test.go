package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
)

// testServer is the real app on a loopback port.
type testServer struct {
	url  string
	app  *app
	stop context.CancelFunc
	done chan error
}

func testConfig(t *testing.T, dbURL string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "DATABASE_URL":
			return dbURL
		case "SHUTDOWN_GRACE":
			return "5s"
		case "WORKERS":
			return "0"
		case "CANCEL_WINDOW", "PICK_PACK_TIME": // orders move on at once
			return "1ms"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startServer serves a with its own fresh database, or the given app setup.
func startServer(t *testing.T, setup func(a *app)) *testServer {
	t.Helper()
	pool := dbtest.NewPool(t)
	cfg := testConfig(t, "")
	a, err := newApp(cfg, slog.New(slog.DiscardHandler), pool, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if setup != nil {
		setup(a)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{url: "http://" + ln.Addr().String(), app: a, stop: cancel, done: make(chan error, 1)}
	go func() { ts.done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-ts.done })
	return ts
}

func do(t *testing.T, method, url, key string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, body := do(t, "GET", ts.url+path, "", nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d %s, want 200", path, resp.StatusCode, body)
		}
	}
	resp, body := do(t, "GET", ts.url+"/metrics", "", nil)
	for _, want := range []string{"omnitriage_http_requests_total", "omnitriage_db_pool_conns", "go_goroutines",
		"omnitriage_automation_ratio", "omnitriage_refund_time_hours_bucket"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics (%d) lacks %s", resp.StatusCode, want)
		}
	}
	if !strings.Contains(string(body), `route="/readyz"`) {
		t.Errorf("GET /metrics does not count requests by route")
	}
}

func TestReadyzDatabaseDown(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	ts.app.pool.Close() // the database goes away
	resp, body := do(t, "GET", ts.url+"/readyz", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz with the database gone = %d, want 503", resp.StatusCode)
	}
	var p struct{ Detail string }
	if err := json.Unmarshal(body, &p); err != nil || p.Detail == "" {
		t.Errorf("GET /readyz body = %s, want a problem with the reason", body)
	}
	if resp, _ := do(t, "GET", ts.url+"/healthz", "", nil); resp.StatusCode != 200 {
		t.Errorf("GET /healthz with the database gone = %d, want 200 (the process is up)", resp.StatusCode)
	}
}

func TestReadyzBehind(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	if err := database.MigrateDown(context.Background(), ts.app.pool, -1, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "GET", ts.url+"/readyz", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "migrate up") {
		t.Errorf("GET /readyz with a pending migration = %d %s, want 503 saying to migrate", resp.StatusCode, body)
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	ctx := context.Background()
	store := ts.app.keys
	_, adminKey, err := store.Create(ctx, "ops", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	supportKey, supportSecret, err := store.Create(ctx, "agent", auth.Support)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, key string
		want            int
	}{
		{"no key", "/v1/whoami", "", 401},
		{"garbage key", "/v1/whoami", "not-a-key", 401},
		{"unknown key", "/v1/whoami", "ot_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 401},
		{"right role", "/v1/whoami", supportSecret, 200},
		{"wrong role", "/v1/apikeys", supportSecret, 403},
		{"admin", "/v1/apikeys", adminKey, 200},
	}
	for _, tt := range tests {
		resp, body := do(t, "GET", ts.url+tt.path, tt.key, nil)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: GET %s = %d %s, want %d", tt.name, tt.path, resp.StatusCode, body, tt.want)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: Content-Type = %q, want application/problem+json", tt.name, resp.Header.Get("Content-Type"))
		}
	}
	// The secret is never stored: only its hash.
	var n int
	if err := ts.app.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE secret_hash = convert_to($1, 'UTF8') OR prefix = $1`, supportSecret).Scan(&n); err != nil || n != 0 {
		t.Errorf("secret found in api_keys (n=%d, err=%v)", n, err)
	}
	if err := store.Revoke(ctx, supportKey.ID); err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, "GET", ts.url+"/v1/whoami", supportSecret, nil); resp.StatusCode != 401 {
		t.Errorf("revoked key: GET /v1/whoami = %d %s, want 401", resp.StatusCode, body)
	}
	// A second process (a fresh store, nothing cached) also refuses it.
	other := auth.NewStore(ts.app.pool, time.Minute, nil)
	if _, err := other.Authenticate(ctx, supportSecret); err == nil {
		t.Errorf("Authenticate(revoked) in a fresh store = nil, want error")
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	ts := startServer(t, func(a *app) {
		a.router.Get("/slow", func(w http.ResponseWriter, r *http.Request) {
			close(started)
			time.Sleep(500 * time.Millisecond)
			io.WriteString(w, "finished")
		})
	})
	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(ts.url + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-started
	ts.stop() // as SIGTERM does
	r := <-got
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Errorf("in-flight request during shutdown = %d %q %v, want 200 finished", r.status, r.body, r.err)
	}
	if err := <-ts.done; err != nil {
		t.Errorf("Serve after shutdown = %v, want nil", err)
	}
	ts.done <- nil // for the cleanup
	if _, err := http.Get(ts.url + "/healthz"); err == nil {
		t.Errorf("server still answers after shutdown")
	}
}

func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"serve", "--help"}, {"migrate", "up", "--help"}, {"migrate", "down", "--help"}, {"migrate", "status", "--help"},
		{"apikey", "create", "--help"}, {"apikey", "list", "--help"}, {"apikey", "revoke", "--help"}, {"version", "--help"},
	} {
		var out, errb strings.Builder
		err := run(context.Background(), &environment{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, args)
		if exitCode(err) != 0 || !strings.Contains(errb.String(), "Usage: omnitriage") {
			t.Errorf("omnitriage %v: exit %d, stderr %q; want usage and exit 0", args, exitCode(err), errb.String())
		}
	}
	var out, errb strings.Builder
	err := run(context.Background(), &environment{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, []string{"apikey", "create", "--name", "x", "--role", "boss"})
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "orchestrator, support, engineer, admin") && !strings.Contains(err.Error(), "want orchestrator") {
		t.Errorf("apikey create --role boss = %v (exit %d), want a usage error listing the roles", err, exitCode(err))
	}
	err = run(context.Background(), &environment{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, []string{"migrate", "status"})
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL is not set") {
		t.Errorf("migrate status without DATABASE_URL = %v, want a message about DATABASE_URL", err)
	}
}
