package adapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

var secret = []byte("shared-secret")

// sleeps records the waits of a client instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

// everywhere points every system at one base URL.
func everywhere(cfg adapter.HTTPConfig, baseURL string, secret []byte) adapter.HTTPConfig {
	ep := adapter.Endpoint{BaseURL: baseURL, Secret: secret}
	cfg.Payment, cfg.Fraud, cfg.Tax, cfg.Fulfillment, cfg.Carrier, cfg.ERP, cfg.Notify = ep, ep, ep, ep, ep, ep, ep
	return cfg
}

// newClient returns a client for baseURL with a fixed clock, no jitter and
// recorded sleeps.
func newClient(t *testing.T, baseURL string, mod func(*adapter.HTTPConfig)) (*adapter.HTTPClient, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	cfg := everywhere(adapter.HTTPConfig{Now: func() time.Time { return start }, Sleep: sl.Sleep, Jitter: func() float64 { return 0 }},
		baseURL, secret)
	if mod != nil {
		mod(&cfg)
	}
	c, err := adapter.NewHTTPClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

// reply is one scripted answer.
type reply struct {
	status int
	header map[string]string
	body   string
}

// script serves replies in order and checks every request is signed and
// keyed alike.
type script struct {
	t       *testing.T
	mu      sync.Mutex
	replies []reply
	keys    []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := adapter.VerifyCallback(secret, r, time.Minute, start); err != nil {
		s.t.Errorf("request %d: %v", len(s.keys)+1, err)
	}
	s.keys = append(s.keys, r.Header.Get(adapter.HeaderIdempotencyKey))
	rep := s.replies[min(len(s.keys), len(s.replies))-1]
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

const approved = `{"id":"auth_1","status":"approved","amount":100,"currency":"USD"}`

func TestHTTPClientResponses(t *testing.T) {
	tests := []struct {
		name      string
		replies   []reply
		wantErr   adapter.Error // the fields checked when wantCode is set
		wantCode  string
		wantCalls int
		wantSleep []time.Duration
	}{
		{"success", []reply{{200, nil, approved}}, adapter.Error{}, "", 1, nil},
		{"4xx: code and message surfaced", []reply{{422, nil, `{"code":"amount_too_large","message":"Amount exceeds the limit."}`}},
			adapter.Error{Status: 422, Message: "Amount exceeds the limit."}, "amount_too_large", 1, nil},
		{"4xx: nested error object", []reply{{402, nil, `{"error":{"code":"card_declined","message":"Your card was declined."}}`}},
			adapter.Error{Status: 402, Message: "Your card was declined."}, "card_declined", 1, nil},
		{"4xx: plain text", []reply{{400, nil, "missing field amount"}},
			adapter.Error{Status: 400, Message: "missing field amount"}, "http_400", 1, nil},
		{"5xx, then success", []reply{{503, nil, `{"code":"service_unavailable","message":"busy"}`}, {200, nil, approved}},
			adapter.Error{}, "", 2, []time.Duration{100 * time.Millisecond}},
		{"5xx until attempts run out", []reply{{500, nil, ""}, {502, nil, ""}, {503, nil, ""}, {504, nil, `{"code":"gateway_timeout","message":"upstream"}`}},
			adapter.Error{Status: 504, Message: "upstream", Retryable: true, Attempts: 4}, "gateway_timeout", 4,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}},
		{"429 with Retry-After seconds", []reply{{429, map[string]string{"Retry-After": "7"}, ""}, {200, nil, approved}},
			adapter.Error{}, "", 2, []time.Duration{7 * time.Second}},
		{"429 with Retry-After date", []reply{{429, map[string]string{"Retry-After": start.Add(3 * time.Second).Format(http.TimeFormat)}, ""}, {200, nil, approved}},
			adapter.Error{}, "", 2, []time.Duration{3 * time.Second}},
		{"429 asking for longer than we wait", []reply{{429, map[string]string{"Retry-After": "120"}, ""}},
			adapter.Error{Status: 429, Message: "Too Many Requests", Retryable: true, RetryAfter: 2 * time.Minute, Attempts: 1}, adapter.CodeRateLimited, 1, nil},
		{"501 is not retried", []reply{{501, nil, ""}}, adapter.Error{Status: 501, Message: "Not Implemented"}, "http_501", 1, nil},
		{"undecodable success", []reply{{200, nil, "<html>"}}, adapter.Error{Status: 200}, adapter.CodeBadResponse, 1, nil},
		{"success that breaks the contract", []reply{{200, nil, `{"id":"auth_1","status":"maybe"}`}}, adapter.Error{Status: 200}, adapter.CodeBadResponse, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{t: t, replies: tt.replies}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c, sl := newClient(t, srv.URL, nil)
			got, err := c.Authorize(context.Background(), authReq(1))
			if tt.wantCode == "" {
				if err != nil || got.ID != "auth_1" || got.Status != adapter.AuthApproved {
					t.Errorf("Authorize = %+v, %v, want auth_1 approved", got, err)
				}
			} else {
				var e *adapter.Error
				if !errors.As(err, &e) {
					t.Fatalf("Authorize = %+v, %v, want an *adapter.Error", got, err)
				}
				want := tt.wantErr
				want.System, want.Op, want.Code = adapter.SystemPayment, adapter.OpAuthorize, tt.wantCode
				if want.Attempts == 0 {
					want.Attempts = 1
				}
				e.Err = nil
				if e.Message != want.Message && want.Message == "" {
					want.Message = e.Message // not checked
				}
				if !reflect.DeepEqual(*e, want) {
					t.Errorf("Authorize error = %+v, want %+v", *e, want)
				}
			}
			if len(s.keys) != tt.wantCalls {
				t.Errorf("requests = %d, want %d", len(s.keys), tt.wantCalls)
			}
			for i, k := range s.keys {
				if k != "auth:1" {
					t.Errorf("request %d Idempotency-Key = %q, want auth:1 on every attempt", i+1, k)
				}
			}
			if !reflect.DeepEqual(sl.d, tt.wantSleep) {
				t.Errorf("waits = %v, want %v", sl.d, tt.wantSleep)
			}
		})
	}
}

func TestHTTPClientTimeout(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		select { // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c, sl := newClient(t, srv.URL, func(cfg *adapter.HTTPConfig) { cfg.Timeout, cfg.MaxAttempts = 50*time.Millisecond, 2 })
	_, err := c.Release(context.Background(), releaseReq(1))
	var e *adapter.Error
	if !errors.As(err, &e) || e.Code != adapter.CodeTimeout || !e.Retryable || e.Attempts != 2 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Release(hanging server) = %v, want a retryable timeout after 2 attempts", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 || len(sl.d) != 1 {
		t.Errorf("requests, waits = %d, %d, want 2, 1", calls, len(sl.d))
	}
}

func TestHTTPClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := newClient(t, url, func(cfg *adapter.HTTPConfig) { cfg.MaxAttempts = 2 })
	_, err := c.Book(context.Background(), bookReq(1, atlanta, seattle))
	if code(err) != adapter.CodeUnavailable || !adapter.IsRetryable(err) {
		t.Errorf("Book(closed server) = %v, want a retryable %s", err, adapter.CodeUnavailable)
	}
}

func TestHTTPClientCanceledWhileWaiting(t *testing.T) {
	srv := httptest.NewServer(&script{t: t, replies: []reply{{503, nil, ""}}})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := newClient(t, srv.URL, func(cfg *adapter.HTTPConfig) {
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
	})
	_, err := c.PostInvoice(ctx, invoice(1))
	if code(err) != adapter.CodeCanceled || !adapter.IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("PostInvoice(canceled during backoff) = %v, want a retryable %s", err, adapter.CodeCanceled)
	}
}

func TestHTTPClientSignsRequests(t *testing.T) {
	type seen struct {
		path   string
		header http.Header
		body   []byte
	}
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.URL.Path, r.Header.Clone(), b})
		io.WriteString(w, `{"id":"msg_1"}`)
	}))
	defer srv.Close()
	c, _ := newClient(t, srv.URL+"/v2/", nil)
	n := notification(1)
	n.Template, n.Data = adapter.TemplateDelay, map[string]any{"order_number": "W-1", "eta": "Friday"}
	if _, err := c.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("requests = %d, want 1", len(got))
	}
	r := got[0]
	ts := fmt.Sprint(start.Unix())
	for h, want := range map[string]string{
		adapter.HeaderIdempotencyKey: n.Key,
		adapter.HeaderTimestamp:      ts,
		adapter.HeaderSignature:      adapter.Sign(secret, ts, r.body),
		"Content-Type":               "application/json",
	} {
		if v := r.header.Get(h); v != want {
			t.Errorf("header %s = %q, want %q", h, v, want)
		}
	}
	if r.path != "/v2"+adapter.PathSend {
		t.Errorf("path = %q, want %q", r.path, "/v2"+adapter.PathSend)
	}
	var wire struct {
		adapter.Notification
		Subject, Body string
	}
	if err := json.Unmarshal(r.body, &wire); err != nil || !reflect.DeepEqual(wire.Notification, n) ||
		wire.Subject != "Your order W-1 is delayed" || !strings.Contains(wire.Body, "New estimated delivery: Friday.") {
		t.Errorf("body = %s, %v, want the notification with its rendered subject and body", r.body, err)
	}
}

func TestHTTPClientAgainstSimulator(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	served := adapter.NewSimulator(faulty(), 7, clk.Now)
	direct := adapter.NewSimulator(faulty(), 7, clk.Now)
	srv := httptest.NewServer(adapter.NewSimHandler(served, secret, func() time.Time { return start }))
	defer srv.Close()
	c, _ := newClient(t, srv.URL, nil)
	// check makes the same call through HTTP and directly (retrying as the
	// client does) and wants the same answer.
	check := func(name string, viaHTTP func() (any, error), directly func() (any, error)) {
		t.Helper()
		got, err := viaHTTP()
		want, _, werr := retry(4, directly)
		if code(err) != code(werr) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s over HTTP = %+v, %v, want %+v, %v", name, got, err, want, werr)
		}
	}
	for i := range 40 {
		h, d := c.Systems(), direct.Systems()
		check("Authorize", func() (any, error) { return h.Payment.Authorize(ctx, authReq(i)) }, func() (any, error) { return d.Payment.Authorize(ctx, authReq(i)) })
		check("Score", func() (any, error) { return h.Fraud.Score(ctx, fraudReq(i)) }, func() (any, error) { return d.Fraud.Score(ctx, fraudReq(i)) })
		check("ValidateAddress", func() (any, error) { return h.Tax.ValidateAddress(ctx, addrReq(i, goodAddress())) },
			func() (any, error) { return d.Tax.ValidateAddress(ctx, addrReq(i, goodAddress())) })
		check("Release", func() (any, error) { return h.Fulfillment.Release(ctx, releaseReq(i)) }, func() (any, error) { return d.Fulfillment.Release(ctx, releaseReq(i)) })
		check("Book", func() (any, error) { return h.Carrier.Book(ctx, bookReq(i, atlanta, seattle)) }, func() (any, error) { return d.Carrier.Book(ctx, bookReq(i, atlanta, seattle)) })
		check("PostInvoice", func() (any, error) { return h.ERP.PostInvoice(ctx, invoice(i)) }, func() (any, error) { return d.ERP.PostInvoice(ctx, invoice(i)) })
		check("Send", func() (any, error) { return h.Notifier.Send(ctx, notification(i)) }, func() (any, error) { return d.Notifier.Send(ctx, notification(i)) })
	}
	clk.Advance(30 * 24 * time.Hour)
	for i := range 40 {
		b, _ := direct.Book(ctx, bookReq(i, atlanta, seattle))
		check("Track", func() (any, error) { return c.Track(ctx, b.TrackingNumber) }, func() (any, error) { return direct.Track(ctx, b.TrackingNumber) })
		check("Status", func() (any, error) { return c.Status(ctx, invoice(i).DocumentKey) }, func() (any, error) { return direct.Status(ctx, invoice(i).DocumentKey) })
	}
	// Retries over HTTP acted once per key, exactly like the direct calls.
	if got, want := served.Effects().Counts, direct.Effects().Counts; !reflect.DeepEqual(got, want) {
		t.Errorf("effects over HTTP = %v, want %v", got, want)
	}
	if _, err := c.Capture(ctx, adapter.TransactionRequest{IdempotencyKey: "c", OrderID: orderID(1), AuthorizationID: "auth_x", Amount: 1, Currency: "USD"}); code(err) != "resource_missing" {
		t.Errorf("Capture(unknown) over HTTP = %v, want resource_missing", err)
	}
}

func TestSimHandlerRefuses(t *testing.T) {
	sim := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
	srv := httptest.NewServer(adapter.NewSimHandler(sim, secret, func() time.Time { return start }))
	defer srv.Close()
	c, _ := newClient(t, srv.URL, func(cfg *adapter.HTTPConfig) { *cfg = everywhere(*cfg, srv.URL, []byte("wrong")) })
	_, err := c.Authorize(context.Background(), authReq(1))
	var e *adapter.Error
	if !errors.As(err, &e) || e.Status != 401 || e.Code != "invalid_signature" || e.Retryable {
		t.Errorf("Authorize(wrong secret) = %v, want a non-retryable 401 invalid_signature", err)
	}
	body, _ := json.Marshal(authReq(1))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+adapter.PathAuthorize, strings.NewReader(string(body)))
	ts := fmt.Sprint(start.Unix())
	req.Header.Set(adapter.HeaderTimestamp, ts)
	req.Header.Set(adapter.HeaderSignature, adapter.Sign(secret, ts, body))
	req.Header.Set(adapter.HeaderIdempotencyKey, "another-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || len(sim.Effects().Log) != 0 {
		t.Errorf("key header unlike the body's = %d, %d effects, want 400 and none", resp.StatusCode, len(sim.Effects().Log))
	}
}

func TestHTTPClientNotConfigured(t *testing.T) {
	c, err := adapter.NewHTTPClient(adapter.HTTPConfig{Payment: adapter.Endpoint{BaseURL: "https://pay.example.com", Secret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Score(context.Background(), fraudReq(1)); code(err) != adapter.CodeNotConfigured || adapter.IsRetryable(err) {
		t.Errorf("Score(no fraud endpoint) = %v, want a permanent %s", err, adapter.CodeNotConfigured)
	}
}

func TestNewHTTPClientValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  adapter.HTTPConfig
		want string // a field named in the error, "" for valid
	}{
		{"nothing configured", adapter.HTTPConfig{}, ""},
		{"good", adapter.HTTPConfig{ERP: adapter.Endpoint{BaseURL: "https://erp.example.com/api", Secret: secret}}, ""},
		{"relative URL", adapter.HTTPConfig{ERP: adapter.Endpoint{BaseURL: "erp.example.com", Secret: secret}}, "erp.base_url"},
		{"other scheme", adapter.HTTPConfig{Carrier: adapter.Endpoint{BaseURL: "ftp://c.example.com", Secret: secret}}, "carrier.base_url"},
		{"no secret", adapter.HTTPConfig{Notify: adapter.Endpoint{BaseURL: "https://n.example.com"}}, "notify.secret"},
		{"negative timeout", adapter.HTTPConfig{Timeout: -time.Second}, "limits"},
	}
	for _, tt := range tests {
		_, err := adapter.NewHTTPClient(tt.cfg)
		if (tt.want == "") != (err == nil) || !strings.Contains(fmt.Sprint(err), tt.want) || (err != nil && !errors.Is(err, derrors.Invalid)) {
			t.Errorf("%s: NewHTTPClient = %v, want an invalid error naming %q", tt.name, err, tt.want)
		}
	}
}
