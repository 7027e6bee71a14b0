package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// embeddingsServer speaks POST /v1/embeddings. Each reply is chosen by
// respond from the 1-based request number; a nil respond answers with a
// vector of length dim whose first element is the input's length.
type embeddingsServer struct {
	dim      int
	respond  func(n int, w http.ResponseWriter, r *http.Request) bool // true when it answered
	requests atomic.Int32
	mu       sync.Mutex
	bodies   []map[string]any
	auth     []string
}

func (s *embeddingsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.requests.Add(1))
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	if s.respond != nil && s.respond(n, w, r) {
		return
	}
	inputs, _ := body["input"].([]any)
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(inputs))
	for i, in := range inputs {
		v := make([]float32, s.dim)
		v[0] = float32(len(in.(string)))
		// Answer in reverse order: clients must place vectors by index.
		data[len(inputs)-1-i] = item{Object: "embedding", Index: i, Embedding: v}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"object": "list",
		"data":   data,
		"model":  body["model"],
		"usage":  map[string]int{"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
	})
}

// apiError writes an OpenAI error body with the given status.
func apiError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":"%s happened","type":"server_error","param":null,"code":"%s"}}`, code, code)
}

// newTestEmbedder starts srv and returns an embedder whose sleeps are
// recorded instead of slept, with jitter fixed at 0.5.
func newTestEmbedder(t *testing.T, srv *embeddingsServer, cfg OpenAIConfig) (*OpenAIEmbedder, *[]time.Duration) {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg.BaseURL = hs.URL + "/v1"
	if cfg.Model == "" {
		cfg.Model = "text-embedding-3-small"
	}
	if cfg.Dimensions == 0 {
		cfg.Dimensions = srv.dim
	}
	e, err := NewOpenAIEmbedder(cfg)
	if err != nil {
		t.Fatalf("NewOpenAIEmbedder(%+v): %v", cfg, err)
	}
	var slept []time.Duration
	e.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	}
	e.jitter = func() float64 { return 0.5 }
	return e, &slept
}

func TestOpenAIEmbedBatches(t *testing.T) {
	t.Parallel()
	srv := &embeddingsServer{dim: 4}
	e, slept := newTestEmbedder(t, srv, OpenAIConfig{APIKey: "sk-test", BatchSize: 2})
	texts := []string{"a", "bb", "ccc", "", "eeeee"}
	got, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("Embed(%q): %v", texts, err)
	}
	want := []float32{1, 2, 3, 1, 5} // the empty text is sent as " "
	for i := range texts {
		if len(got[i]) != 4 || got[i][0] != want[i] {
			t.Errorf("Embed(%q)[%d] = %v, want length 4 starting %v", texts, i, got[i], want[i])
		}
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("requests for 5 texts in batches of 2 = %d, want 3", n)
	}
	if len(*slept) != 0 {
		t.Errorf("sleeps = %v, want none", *slept)
	}
	for i, a := range srv.auth {
		if a != "Bearer sk-test" {
			t.Errorf("request %d Authorization = %q, want %q", i, a, "Bearer sk-test")
		}
	}
	b := srv.bodies[0]
	if b["model"] != "text-embedding-3-small" || b["encoding_format"] != "float" {
		t.Errorf("request body = %v, want model text-embedding-3-small, encoding_format float", b)
	}
	if _, ok := b["dimensions"]; ok {
		t.Errorf("request body = %v, want no dimensions without RequestDimensions", b)
	}
	if e.Model() != "text-embedding-3-small" || e.Dim() != 4 {
		t.Errorf("Model(), Dim() = %q, %d; want text-embedding-3-small, 4", e.Model(), e.Dim())
	}
}

func TestOpenAIEmbedRequestDimensions(t *testing.T) {
	t.Parallel()
	srv := &embeddingsServer{dim: 8}
	e, _ := newTestEmbedder(t, srv, OpenAIConfig{RequestDimensions: true})
	if _, err := e.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.bodies[0]["dimensions"]; got != float64(8) {
		t.Errorf("request dimensions = %v, want 8", got)
	}
}

func TestOpenAIEmbedRetries(t *testing.T) {
	t.Parallel()
	errAny := errors.New("any error") // stands for "some error" in the table
	tests := []struct {
		name         string
		maxRetries   int
		respond      func(n int, w http.ResponseWriter, r *http.Request) bool
		wantErr      error // nil for success
		wantRequests int32
		wantSleeps   []time.Duration
	}{
		{
			name:       "429 then success",
			maxRetries: 3,
			respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					apiError(w, http.StatusTooManyRequests, "rate_limit_exceeded")
					return true
				}
				return false
			},
			wantRequests: 2,
			wantSleeps:   []time.Duration{375 * time.Millisecond},
		},
		{
			name:       "502 without a JSON body, then 503, then success",
			maxRetries: 3,
			respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
				switch n {
				case 1:
					http.Error(w, "bad gateway", http.StatusBadGateway)
					return true
				case 2:
					apiError(w, http.StatusServiceUnavailable, "overloaded")
					return true
				}
				return false
			},
			wantRequests: 3,
			wantSleeps:   []time.Duration{375 * time.Millisecond, 750 * time.Millisecond},
		},
		{
			name:       "500 until retries run out",
			maxRetries: 2,
			respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
				apiError(w, http.StatusInternalServerError, "server_error")
				return true
			},
			wantErr:      ErrUnavailable,
			wantRequests: 3,
			wantSleeps:   []time.Duration{375 * time.Millisecond, 750 * time.Millisecond},
		},
		{
			name:       "500 with retries disabled",
			maxRetries: -1,
			respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
				apiError(w, http.StatusInternalServerError, "server_error")
				return true
			},
			wantErr:      ErrUnavailable,
			wantRequests: 1,
		},
		{
			name:       "400 is not retried",
			maxRetries: 3,
			respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
				apiError(w, http.StatusBadRequest, "invalid_request_error")
				return true
			},
			wantErr:      errAny,
			wantRequests: 1,
		},
		{
			name:       "wrong dimension is refused, not retried",
			maxRetries: 3,
			respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`)
				return true
			},
			wantErr:      ErrDimension,
			wantRequests: 1,
		},
		{
			name:       "too few embeddings",
			maxRetries: 3,
			respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"object":"list","data":[],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`)
				return true
			},
			wantErr:      ErrInvalid,
			wantRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &embeddingsServer{dim: 4, respond: tt.respond}
			e, slept := newTestEmbedder(t, srv, OpenAIConfig{MaxRetries: tt.maxRetries})
			got, err := e.Embed(context.Background(), []string{"payment declined"})
			switch {
			case tt.wantErr == nil && (err != nil || len(got) != 1 || len(got[0]) != 4):
				t.Errorf("Embed() = %v, %v; want one vector of length 4", got, err)
			case tt.wantErr == errAny && err == nil,
				tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("Embed() error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == errAny && errors.Is(err, ErrUnavailable) {
				t.Errorf("Embed() error = %v, want a non-retryable error", err)
			}
			if n := srv.requests.Load(); n != tt.wantRequests {
				t.Errorf("requests = %d, want %d", n, tt.wantRequests)
			}
			if !slices.Equal(*slept, tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", *slept, tt.wantSleeps)
			}
		})
	}
}

func TestOpenAIEmbedTimeout(t *testing.T) {
	t.Parallel()
	// The first request hangs past the per-request timeout; the retry works.
	srv := &embeddingsServer{dim: 4, respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			<-r.Context().Done()
			return true
		}
		return false
	}}
	e, slept := newTestEmbedder(t, srv, OpenAIConfig{Timeout: 50 * time.Millisecond, MaxRetries: 1})
	if _, err := e.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatalf("Embed() after one timeout = %v, want success", err)
	}
	if len(*slept) != 1 {
		t.Errorf("sleeps = %v, want one", *slept)
	}

	// Every request hangs: the error says the server is unavailable and why.
	srv = &embeddingsServer{dim: 4, respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	}}
	e, _ = newTestEmbedder(t, srv, OpenAIConfig{Timeout: 20 * time.Millisecond, MaxRetries: 1})
	_, err := e.Embed(context.Background(), []string{"x"})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Embed() against a hanging server error = %v, want ErrUnavailable and context.DeadlineExceeded", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

func TestOpenAIEmbedCallerCancels(t *testing.T) {
	t.Parallel()
	srv := &embeddingsServer{dim: 4, respond: func(n int, w http.ResponseWriter, r *http.Request) bool {
		apiError(w, http.StatusTooManyRequests, "rate_limit_exceeded")
		return true
	}}
	e, _ := newTestEmbedder(t, srv, OpenAIConfig{MaxRetries: 5})
	ctx, cancel := context.WithCancel(context.Background())
	e.sleep = func(context.Context, time.Duration) error {
		cancel() // the caller gives up while we wait to retry
		return sleepContext(ctx, time.Hour)
	}
	_, err := e.Embed(ctx, []string{"x"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("Embed() cancelled during backoff error = %v, want context.Canceled", err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestOpenAIEmbedNothing(t *testing.T) {
	t.Parallel()
	srv := &embeddingsServer{dim: 4}
	e, _ := newTestEmbedder(t, srv, OpenAIConfig{})
	got, err := e.Embed(context.Background(), nil)
	if err != nil || len(got) != 0 || srv.requests.Load() != 0 {
		t.Errorf("Embed(nil) = %v, %v after %d requests; want nothing, no request", got, err, srv.requests.Load())
	}
}

func TestOpenAIBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0, 250 * time.Millisecond},
		{1, 0.999999, 500 * time.Millisecond},
		{2, 0, 500 * time.Millisecond},
		{3, 0.5, 1500 * time.Millisecond},
		{6, 0, 8 * time.Second},
		{7, 0, 10 * time.Second}, // capped at 20s
		{60, 1, 20 * time.Second},
	}
	for _, tt := range tests {
		e := &OpenAIEmbedder{jitter: func() float64 { return tt.jitter }}
		if got := e.backoff(tt.attempt); (got - tt.want).Abs() > time.Millisecond {
			t.Errorf("backoff(%d) with jitter %v = %v, want %v", tt.attempt, tt.jitter, got, tt.want)
		}
	}
}

func TestOpenAIConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg     OpenAIConfig
		wantErr string // substring; "" for valid
	}{
		{OpenAIConfig{Model: "m", Dimensions: 3}, ""},
		{OpenAIConfig{Dimensions: 3}, "model is required"},
		{OpenAIConfig{Model: "m"}, "dimensions 0"},
		{OpenAIConfig{Model: "m", Dimensions: 3, BatchSize: 5000}, "batch size 5000"},
		{OpenAIConfig{Model: "m", Dimensions: 3, BatchSize: -1}, "batch size -1"},
		{OpenAIConfig{Model: "m", Dimensions: 3, Timeout: -time.Second}, "negative timeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (tt.wantErr == "") != (err == nil) || err != nil && (!strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid)) {
			t.Errorf("%+v.Validate() = %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
	e, err := NewOpenAIEmbedder(OpenAIConfig{Model: "m", Dimensions: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := OpenAIConfig{BaseURL: "https://api.openai.com/v1", Model: "m", Dimensions: 3, BatchSize: 64, Timeout: 30 * time.Second, MaxRetries: 3}
	if e.cfg != want {
		t.Errorf("NewOpenAIEmbedder defaults = %+v, want %+v", e.cfg, want)
	}
}
