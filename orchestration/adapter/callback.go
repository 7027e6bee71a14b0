package adapter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Headers of the wire format, on our requests and on callbacks alike.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Omnitriage-Timestamp" // unix seconds
	HeaderSignature      = "X-Omnitriage-Signature" // sha256=<hex>
)

// MaxCallbackBytes is the largest callback body VerifyCallback accepts.
const MaxCallbackBytes = 1 << 20

// DefaultMaxSkew is how far a signed timestamp may be from our clock when the
// caller gives no limit of its own.
const DefaultMaxSkew = 5 * time.Minute

// Sign returns the signature header value for a body sent at timestamp (unix
// seconds, as sent in HeaderTimestamp): "sha256=" and the hex HMAC-SHA256 of
// timestamp + "." + body under secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, timestamp, body))
}

// mac is the raw signature.
func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyCallback checks that r was signed with secret no more than maxSkew
// (DefaultMaxSkew when 0 or less) away from now, and returns its body. The
// signature header may list several comma-separated signatures, so a sender
// can rotate its secret; one must match. Comparison is constant-time.
//
// Errors wrap derrors.Unauthorized (missing, malformed, stale or wrong
// signature), derrors.TooLarge (a body over MaxCallbackBytes) or
// derrors.Invalid (an unreadable body), so derrors.Status gives the answer.
func VerifyCallback(secret []byte, r *http.Request, maxSkew time.Duration, now time.Time) ([]byte, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("verify callback: no secret configured: %w", derrors.Unauthorized)
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if r.ContentLength > MaxCallbackBytes {
		return nil, fmt.Errorf("verify callback: body of %d bytes exceeds %d: %w", r.ContentLength, MaxCallbackBytes, derrors.TooLarge)
	}
	ts, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return nil, fmt.Errorf("verify callback: missing %s or %s header: %w", HeaderTimestamp, HeaderSignature, derrors.Unauthorized)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("verify callback: malformed timestamp %q: %w", ts, derrors.Unauthorized)
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > maxSkew || skew < -maxSkew {
		return nil, fmt.Errorf("verify callback: timestamp %s is %s from now, more than %s: %w",
			ts, skew.Round(time.Second), maxSkew, derrors.Unauthorized)
	}
	if r.Body == nil {
		return nil, fmt.Errorf("verify callback: no body: %w", derrors.Invalid)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxCallbackBytes+1))
	if err != nil {
		return nil, fmt.Errorf("verify callback: read body: %v: %w", err, derrors.Invalid)
	}
	if len(body) > MaxCallbackBytes {
		return nil, fmt.Errorf("verify callback: body exceeds %d bytes: %w", MaxCallbackBytes, derrors.TooLarge)
	}
	want := mac(secret, ts, body)
	for part := range strings.SplitSeq(sig, ",") {
		h, ok := strings.CutPrefix(strings.TrimSpace(part), "sha256=")
		if !ok {
			continue
		}
		if got, err := hex.DecodeString(h); err == nil && hmac.Equal(got, want) {
			return body, nil
		}
	}
	return nil, fmt.Errorf("verify callback: signature does not match: %w", derrors.Unauthorized)
}
