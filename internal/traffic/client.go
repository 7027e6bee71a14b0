package traffic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrStop marks a failure no retry can mend (the server is not there, the
// key is wrong): the run stops and the message says what to fix.
var ErrStop = errors.New("simulation stopped")

// errNotReady marks a server that is not there or not ready yet.
var errNotReady = errors.New("not ready")

// apiError is a response outside 2xx, with the server's problem detail.
type apiError struct {
	Method, Path string
	Status       int
	Detail       string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Detail)
}

// statusOf is the HTTP status of an error from the client, or 0.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// client calls the public API with one key, an Idempotency-Key on every
// POST, PATCH and DELETE, and retries on 429 and 5xx with backoff. It records
// a digest of every request it sends (method, path and body, with server ids
// and times replaced by stable names) so two runs can be compared.
type client struct {
	base     string
	key      string
	http     *http.Client
	sleep    func(ctx context.Context, d time.Duration) error
	retries  int
	backoff  time.Duration
	runToken string
	start    time.Time

	mu       sync.Mutex
	alias    map[string]string
	digest   hash.Hash
	requests int
	retried  int
}

func newClient(base, key string, hc *http.Client, sleep func(context.Context, time.Duration) error, runToken string, start time.Time) *client {
	return &client{base: strings.TrimRight(base, "/"), key: key, http: hc, sleep: sleep, retries: 5,
		backoff: 200 * time.Millisecond, runToken: runToken, start: start, alias: map[string]string{}, digest: sha256.New()}
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
)

// name gives a server id a stable name ("order#3"), used in the digest.
func (c *client) name(id, as string) {
	if id == "" {
		return
	}
	c.mu.Lock()
	if _, ok := c.alias[id]; !ok {
		c.alias[id] = as
	}
	c.mu.Unlock()
}

// record adds one request to the digest, with ids, times and the run's
// token written the same way in every run.
func (c *client) record(method, path string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := method + " " + path + "\n" + string(body) + "\n"
	s = strings.ReplaceAll(s, c.runToken, "RUN")
	s = uuidRE.ReplaceAllStringFunc(s, func(id string) string {
		if a, ok := c.alias[id]; ok {
			return a
		}
		return "?" + id
	})
	s = timeRE.ReplaceAllStringFunc(s, func(ts string) string {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return ts
		}
		return "t" + strconv.FormatInt(t.Sub(c.start).Milliseconds(), 10) + "ms"
	})
	c.digest.Write([]byte(s))
	c.requests++
}

// Digest is the hex SHA-256 of the requests sent so far.
func (c *client) Digest() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return hex.EncodeToString(c.digest.Sum(nil))
}

// call sends one request and decodes a 2xx answer into out (when not nil).
// idemKey is sent as Idempotency-Key on writes, so a retry is safe.
func (c *client) call(ctx context.Context, method, path, idemKey string, in, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("%s %s: encoding the body: %w", method, path, err)
		}
	}
	c.record(method, path, body)
	var lastErr error
	for attempt := 0; ; attempt++ {
		status, err := c.once(ctx, method, path, idemKey, body, out)
		if err == nil || !retryable(status, err) || attempt >= c.retries || ctx.Err() != nil {
			if err != nil && lastErr != nil && status == 0 {
				return status, fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return status, err
		}
		lastErr = err
		c.mu.Lock()
		c.retried++
		c.mu.Unlock()
		d := c.backoff << attempt
		if d > 5*time.Second {
			d = 5 * time.Second
		}
		if err := c.sleep(ctx, d); err != nil {
			return status, lastErr
		}
	}
}

func retryable(status int, err error) bool {
	if status == http.StatusTooManyRequests || status >= 500 {
		return true
	}
	// A connection reset mid-run is worth a retry; a refused connection
	// at the start is answered by checkServer.
	var ne net.Error
	return status == 0 && errors.As(err, &ne)
}

func (c *client) once(ctx context.Context, method, path, idemKey string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "omnitriage-simulate")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &apiError{Method: method, Path: path, Status: resp.StatusCode, Detail: problemDetail(b)}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// problemDetail is the detail of a problem+json body (with its bad
// fields), or the start of whatever else came back.
func problemDetail(b []byte) string {
	var p struct {
		Detail string `json:"detail"`
		Fields []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"fields"`
	}
	if json.Unmarshal(b, &p) == nil && p.Detail != "" {
		s := p.Detail
		for _, f := range p.Fields {
			s += "; " + f.Field + ": " + f.Message
		}
		return s
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// checkServer asks /readyz and /v1/whoami, turning the usual set-up
// mistakes into a message that says what to fix.
func (c *client) checkServer(ctx context.Context) (role string, err error) {
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q is not an http(s) URL such as http://localhost:8080: %w", c.base, ErrStop)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/readyz", nil)
	if err != nil {
		return "", fmt.Errorf("--url %q: %v: %w", c.base, err, ErrStop)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("no omnitriage server answers at --url %s (%v); start one with `omnitriage serve` or `make run`, or pass --url: %w",
			c.base, err, errors.Join(ErrStop, errNotReady))
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("%s/readyz answers 404: --url does not point at an omnitriage server: %w", c.base, ErrStop)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("the server at %s is not ready (%d %s); wait for /readyz or check its log: %w", c.base, resp.StatusCode, problemDetail(b),
			errors.Join(ErrStop, errNotReady))
	}
	var who struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	status, err := c.once(ctx, http.MethodGet, "/v1/whoami", "", nil, &who)
	switch {
	case status == http.StatusUnauthorized:
		return "", fmt.Errorf("the server refuses the API key (401 %s): pass an orchestrator key with --key or OMNITRIAGE_ORCHESTRATOR_KEY (the demo keys are in .data/demo-keys.env): %w",
			detailOf(err), ErrStop)
	case err != nil:
		return "", fmt.Errorf("checking the API key: %v: %w", err, ErrStop)
	case who.Role != "orchestrator" && who.Role != "admin":
		return "", fmt.Errorf("the API key %q has role %s; the simulator needs an orchestrator (or admin) key: pass it with --key or OMNITRIAGE_ORCHESTRATOR_KEY: %w",
			who.Name, who.Role, ErrStop)
	}
	return who.Role, nil
}

func detailOf(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Detail
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
