package adapter_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

func TestVerifyCallback(t *testing.T) {
	secret := []byte("whsec_test")
	now := start
	body := []byte(`{"tracking_number":"UPS123","events":[{"kind":"delivered"}]}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := adapter.Sign(secret, ts, body)
	tests := []struct {
		name    string
		ts, sig string
		body    []byte
		want    error // nil, or the derrors kind
	}{
		{"good", ts, good, body, nil},
		{"good, rotated secret listed second", ts, adapter.Sign([]byte("old"), ts, body) + ", " + good, body, nil},
		{"good, 4 minutes old", strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10),
			adapter.Sign(secret, strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10), body), body, nil},
		{"missing signature", ts, "", body, derrors.Unauthorized},
		{"missing timestamp", "", good, body, derrors.Unauthorized},
		{"bad signature", ts, adapter.Sign([]byte("wrong"), ts, body), body, derrors.Unauthorized},
		{"not hex", ts, "sha256=zz", body, derrors.Unauthorized},
		{"other scheme", ts, "sha1=" + strings.TrimPrefix(good, "sha256="), body, derrors.Unauthorized},
		{"body changed", ts, good, append([]byte(" "), body...), derrors.Unauthorized},
		{"timestamp changed", strconv.FormatInt(now.Unix()-1, 10), good, body, derrors.Unauthorized},
		{"stale", strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10),
			adapter.Sign(secret, strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10), body), body, derrors.Unauthorized},
		{"from the future", strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10),
			adapter.Sign(secret, strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10), body), body, derrors.Unauthorized},
		{"malformed timestamp", "yesterday", good, body, derrors.Unauthorized},
		{"oversized", ts, adapter.Sign(secret, ts, make([]byte, adapter.MaxCallbackBytes+1)), make([]byte, adapter.MaxCallbackBytes+1), derrors.TooLarge},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/callbacks/carrier", bytes.NewReader(tt.body))
		if tt.ts != "" {
			r.Header.Set(adapter.HeaderTimestamp, tt.ts)
		}
		if tt.sig != "" {
			r.Header.Set(adapter.HeaderSignature, tt.sig)
		}
		got, err := adapter.VerifyCallback(secret, r, 5*time.Minute, now)
		switch {
		case tt.want == nil && (err != nil || !bytes.Equal(got, tt.body)):
			t.Errorf("%s: VerifyCallback = %q, %v, want the body", tt.name, got, err)
		case tt.want != nil && (got != nil || !errors.Is(err, tt.want)):
			t.Errorf("%s: VerifyCallback = %q, %v, want nil and %v", tt.name, got, err, tt.want)
		}
	}
	// Oversized without a declared length is caught while reading.
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", adapter.MaxCallbackBytes+1)))
	r.ContentLength = -1
	r.Header.Set(adapter.HeaderTimestamp, ts)
	r.Header.Set(adapter.HeaderSignature, good)
	if _, err := adapter.VerifyCallback(secret, r, 0, now); !errors.Is(err, derrors.TooLarge) {
		t.Errorf("VerifyCallback(chunked oversized) = %v, want %v", err, derrors.TooLarge)
	}
	if _, err := adapter.VerifyCallback(nil, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)), 0, now); !errors.Is(err, derrors.Unauthorized) {
		t.Errorf("VerifyCallback(no secret) = %v, want %v", err, derrors.Unauthorized)
	}
}

func TestSign(t *testing.T) {
	// Known answer: printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
	got := adapter.Sign([]byte("secret"), "1700000000", []byte("{}"))
	want := "sha256=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
	if got != want {
		t.Errorf("Sign(secret, 1700000000, {}) = %q, want %q", got, want)
	}
}
