package adapter

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Endpoint is where one outside system answers and the secret both sides sign
// with.
type Endpoint struct {
	BaseURL string // e.g. https://payments.example.com/v1; paths are appended
	Secret  []byte
}

// HTTPConfig configures the HTTP client. Zero values take the defaults shown.
type HTTPConfig struct {
	// One endpoint per system; a system without a base URL answers every
	// call with a non-retryable not_configured error.
	Payment, Fraud, Tax, Fulfillment, Carrier, ERP, Notify Endpoint

	Timeout          time.Duration // per attempt; 10s
	MaxAttempts      int           // attempts per call, the first included; 4
	BaseBackoff      time.Duration // wait after the first failure, doubling after each; 200ms
	MaxBackoff       time.Duration // cap on the doubling; 5s
	MaxRetryAfter    time.Duration // a longer Retry-After ends the call with a retryable error carrying it; 30s
	MaxResponseBytes int64         // 1 MiB
	UserAgent        string        // "omnitriage-adapter"

	// Client sends the requests; a plain http.Client when nil. Its own Timeout,
	// if any, should exceed Timeout.
	Client *http.Client
	// Now stamps the signatures; time.Now when nil.
	Now func() time.Time
	// Sleep waits between attempts, returning early with ctx.Err() when ctx
	// ends; a timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0, 1) that spreads the backoff; math/rand/v2
	// when nil.
	Jitter func() float64
}

// Validate names each bad field.
func (c HTTPConfig) Validate() error {
	v := &derrors.ValidationError{}
	for _, sys := range SystemNames() {
		ep := c.endpoint(sys)
		if ep.BaseURL == "" {
			continue
		}
		u, err := url.Parse(ep.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Add(sys+".base_url", "want an absolute http or https URL")
		}
		if len(ep.Secret) == 0 {
			v.Add(sys+".secret", "required: every request is signed")
		}
	}
	if c.Timeout < 0 || c.MaxAttempts < 0 || c.BaseBackoff < 0 || c.MaxBackoff < 0 || c.MaxRetryAfter < 0 || c.MaxResponseBytes < 0 {
		v.Add("limits", "timeouts, attempts, backoffs and sizes may not be negative")
	}
	return v.Err()
}

// endpoint returns the endpoint of a system.
func (c HTTPConfig) endpoint(system string) Endpoint {
	switch system {
	case SystemPayment:
		return c.Payment
	case SystemFraud:
		return c.Fraud
	case SystemTax:
		return c.Tax
	case SystemFulfillment:
		return c.Fulfillment
	case SystemCarrier:
		return c.Carrier
	case SystemERP:
		return c.ERP
	case SystemNotify:
		return c.Notify
	}
	return Endpoint{}
}

// HTTPClient talks to the outside systems over HTTP (see the package
// documentation for the wire format). Each call is retried, with the same
// idempotency key, on timeouts, connection failures, 408, 425, 429 and 5xx,
// with exponential backoff and jitter, honoring Retry-After. It is safe for
// concurrent use.
type HTTPClient struct {
	cfg HTTPConfig
}

// NewHTTPClient validates cfg and fills in its defaults.
func NewHTTPClient(cfg HTTPConfig) (*HTTPClient, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("adapter.NewHTTPClient: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = 30 * time.Second
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = 1 << 20
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "omnitriage-adapter"
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}
	return &HTTPClient{cfg: cfg}, nil
}

// Systems returns the client as every system.
func (c *HTTPClient) Systems() Systems {
	return Systems{Payment: c, Fraud: c, Tax: c, Fulfillment: c, Carrier: c, ERP: c, Notifier: c}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do posts in as JSON to the system's path and decodes the answer into out,
// retrying what may be retried. key is sent as the Idempotency-Key header
// when not empty.
func (c *HTTPClient) do(ctx context.Context, system, op, path, key string, in, out any) error {
	ep := c.cfg.endpoint(system)
	if ep.BaseURL == "" {
		return &Error{System: system, Op: op, Code: CodeNotConfigured, Message: "no base URL configured for the " + system + " system"}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return invalid(system, op, err)
	}
	target := strings.TrimRight(ep.BaseURL, "/") + path
	for attempt := 1; ; attempt++ {
		e := c.attempt(ctx, ep.Secret, target, key, body, out)
		if e == nil {
			return nil
		}
		e.System, e.Op, e.Attempts = system, op, attempt
		if !e.Retryable || attempt >= c.cfg.MaxAttempts || ctx.Err() != nil {
			return e
		}
		wait := c.backoff(attempt)
		if e.RetryAfter > 0 {
			if e.RetryAfter > c.cfg.MaxRetryAfter {
				return e // the durable job waits instead of this goroutine
			}
			wait = e.RetryAfter
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return &Error{System: system, Op: op, Code: CodeCanceled, Retryable: true, Attempts: attempt, Err: err,
				Message: fmt.Sprintf("gave up waiting to retry after %s: %v", e.Code, err)}
		}
	}
}

// backoff is the wait after a failed attempt: BaseBackoff doubled per
// attempt, capped at MaxBackoff, of which a random half is jitter.
func (c *HTTPClient) backoff(attempt int) time.Duration {
	d := c.cfg.MaxBackoff
	if attempt < 31 {
		d = min(c.cfg.BaseBackoff<<(attempt-1), c.cfg.MaxBackoff)
	}
	return d/2 + time.Duration(c.cfg.Jitter()*float64(d/2))
}

// attempt makes one signed request; it returns nil on a decoded 2xx answer.
func (c *HTTPClient) attempt(ctx context.Context, secret []byte, target, key string, body []byte, out any) *Error {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &Error{Code: CodeInvalidRequest, Message: err.Error(), Err: err}
	}
	ts := strconv.FormatInt(c.cfg.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if key != "" {
		req.Header.Set(HeaderIdempotencyKey, key)
	}
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return c.transportError(ctx, err)
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return &Error{Code: CodeBadResponse, Status: resp.StatusCode,
			Message: fmt.Sprintf("response body exceeds %d bytes", c.cfg.MaxResponseBytes)}
	}
	if resp.StatusCode/100 != 2 {
		return c.statusError(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: "undecodable response: " + err.Error(), Err: err}
	}
	if chk, ok := out.(interface{ check() error }); ok {
		if err := chk.check(); err != nil {
			return &Error{Code: CodeBadResponse, Status: resp.StatusCode, Message: err.Error(), Err: err}
		}
	}
	return nil
}

// transportError classifies a failure to get an answer. All are retryable but
// certificate errors: the request may or may not have acted, and the
// idempotency key makes a retry safe.
func (c *HTTPClient) transportError(ctx context.Context, err error) *Error {
	var ne net.Error
	var cert *tls.CertificateVerificationError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return &Error{Code: CodeCanceled, Message: "the caller gave up", Retryable: true, Err: ctx.Err()}
	case ctx.Err() != nil:
		return &Error{Code: CodeTimeout, Message: "the caller's deadline passed", Retryable: true, Err: ctx.Err()}
	case errors.As(err, &cert):
		return &Error{Code: CodeUnavailable, Message: err.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &Error{Code: CodeTimeout, Message: fmt.Sprintf("no answer within %s", c.cfg.Timeout), Retryable: true, Err: err}
	}
	return &Error{Code: CodeUnavailable, Message: err.Error(), Retryable: true, Err: err}
}

// statusError reads a non-2xx answer: its code and message from a JSON body
// {"code", "message"} (or {"error": {"code", "message"}}, or {"error": "..."}),
// its Retry-After, and whether it may be retried.
func (c *HTTPClient) statusError(resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode, Retryable: retryableStatus(resp.StatusCode)}
	var body struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Message = body.Code, body.Message
		var nested struct{ Code, Message string }
		var text string
		switch {
		case len(body.Error) == 0:
		case json.Unmarshal(body.Error, &nested) == nil:
			e.Code, e.Message = cmp.Or(e.Code, nested.Code), cmp.Or(e.Message, nested.Message)
		case json.Unmarshal(body.Error, &text) == nil:
			e.Message = cmp.Or(e.Message, text)
		}
	} else if s := strings.TrimSpace(string(data)); s != "" && len(s) <= 300 {
		e.Message = s
	}
	if e.Code == "" {
		e.Code = "http_" + strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			e.Code = CodeRateLimited
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.cfg.Now())
	return e
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		return max(0, time.Duration(s)*time.Second)
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(0, t.Sub(now))
	}
	return 0
}
