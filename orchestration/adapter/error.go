package adapter

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// The outside systems, as named in errors, effects and metrics.
const (
	SystemPayment     = "payment"
	SystemFraud       = "fraud"
	SystemTax         = "tax"
	SystemFulfillment = "fulfillment"
	SystemCarrier     = "carrier"
	SystemERP         = "erp"
	SystemNotify      = "notify"
)

// SystemNames lists the outside systems.
func SystemNames() []string {
	return []string{SystemPayment, SystemFraud, SystemTax, SystemFulfillment, SystemCarrier, SystemERP, SystemNotify}
}

// Operations, as named in errors and effects; each belongs to one system.
const (
	OpAuthorize          = "authorize"
	OpCapture            = "capture"
	OpVoid               = "void"
	OpRefund             = "refund"
	OpScore              = "score"
	OpValidateAddress    = "validate_address"
	OpQuoteTax           = "quote_tax"
	OpRelease            = "release"
	OpBook               = "book"
	OpTrack              = "track"
	OpPostInvoice        = "post_invoice"
	OpPostCreditMemo     = "post_credit_memo"
	OpPostPaymentCapture = "post_payment_capture"
	OpPostRefund         = "post_refund"
	OpStatus             = "status"
	OpSend               = "send"
)

// Error codes this package assigns itself. Codes from a remote system's error
// body are passed through unchanged.
const (
	CodeTimeout          = "timeout"            // no answer in time; retryable
	CodeUnavailable      = "unavailable"        // connection failed; retryable
	CodeRateLimited      = "rate_limited"       // 429 without a code of its own; retryable
	CodeCanceled         = "canceled"           // the caller's context ended; retryable with the same key
	CodeInvalidRequest   = "invalid_request"    // the request failed validation before it was sent
	CodeNotFound         = "not_found"          // the authorization, tracking number or document is unknown
	CodeConflict         = "conflict"           // the request clashes with the remote state
	CodeIdempotencyReuse = "idempotency_reused" // the key was used before with a different request
	CodeBadResponse      = "bad_response"       // a 2xx answer that could not be decoded
	CodeNotConfigured    = "not_configured"     // no base URL for the system
)

// Error is the one error type every adapter returns. Declines and rejections are
// not errors: they are results with a status.
type Error struct {
	System    string // SystemPayment, …
	Op        string // OpAuthorize, …
	Code      string // the remote code, or one of the Code constants
	Message   string // the remote message, as the remote system phrased it
	Retryable bool   // retrying with the same idempotency key may succeed
	Status    int    // the HTTP status, 0 when there was no HTTP answer

	// RetryAfter is how long the remote system asked us to wait (429, 503);
	// a durable job should not retry sooner.
	RetryAfter time.Duration
	// Attempts is how many requests were made before giving up.
	Attempts int
	// Err is the underlying cause, if any (a network error, a validation error).
	Err error
}

// Error reads like "payment.authorize: HTTP 503 service_unavailable: Try again (retryable)".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.%s: ", e.System, e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d ", e.Status)
	}
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.Retryable {
		b.WriteString(" (retryable)")
	}
	return b.String()
}

// Unwrap exposes the cause and, for a retryable error, derrors.Unavailable, so
// errors.Is(err, derrors.Unavailable) and errors.Is(err, context.DeadlineExceeded)
// both work.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Retryable {
		errs = append(errs, derrors.Unavailable)
	}
	return errs
}

// IsRetryable reports whether err is an *Error that may succeed when the call is
// retried with the same idempotency key. Any other error is not retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// retryableStatus reports whether an HTTP status is worth retrying: request
// timeouts (408), too early (425), rate limits (429) and 5xx server errors,
// except 501 Not Implemented and 505 HTTP Version Not Supported, which the
// same request can never get past.
func retryableStatus(status int) bool {
	switch status {
	case 408, 425, 429:
		return true
	case 501, 505:
		return false
	}
	return status >= 500
}

// invalid wraps a validation failure found before anything was sent.
func invalid(system, op string, err error) *Error {
	return &Error{System: system, Op: op, Code: CodeInvalidRequest, Message: err.Error(), Err: err}
}

// cents is an amount in minor units, for exact comparisons of float amounts.
func cents(x float64) int64 { return int64(math.Round(x * 100)) }

// round2 rounds an amount to cents.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// validAmount reports whether x is a finite, non-negative amount (positive when
// positive is set).
func validAmount(x float64, positive bool) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return false
	}
	return !positive || cents(x) > 0
}

// validKey reports whether an idempotency key is usable: present, printable
// ASCII (it travels in a header) and at most 255 bytes.
func validKey(k string) bool {
	if k == "" || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// keyReason is the validation message for a bad idempotency key.
const keyReason = "required: printable ASCII without spaces, at most 255 bytes, derived from what the call does so a retry reuses it"
