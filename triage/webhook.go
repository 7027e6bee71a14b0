package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// webhook is where triage tells people's tools of an event: the SLA
// escalations, recurring clusters and SLA alerts each POST to theirs.
type webhook struct {
	name   string // the setting, for errors: "SLA_WEBHOOK_URL"
	url    string
	secret []byte
	client *http.Client
}

// post sends ev as JSON, signed like the adapters' requests (adapter.Sign
// over the timestamp and body) and with key as its Idempotency-Key, so a
// retried delivery is recognisable as the same message. Any status but 2xx
// is an error, for the caller's job to retry.
func (w webhook) post(ctx context.Context, now time.Time, key string, ev any) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(adapter.HeaderIdempotencyKey, key)
	req.Header.Set(adapter.HeaderTimestamp, ts)
	req.Header.Set(adapter.HeaderSignature, adapter.Sign(w.secret, ts, body))
	client := w.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", w.name, resp.Status)
	}
	return nil
}
