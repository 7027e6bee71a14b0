package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

func TestError(t *testing.T) {
	tests := []struct {
		err           *adapter.Error
		wantText      string
		wantRetryable bool
	}{
		{&adapter.Error{System: "payment", Op: "authorize", Code: "service_unavailable", Message: "Try again.", Status: 503, Retryable: true, Attempts: 4},
			"payment.authorize: HTTP 503 service_unavailable: Try again. (after 4 attempts) (retryable)", true},
		{&adapter.Error{System: "erp", Op: "post_invoice", Code: "invalid_request", Message: "invalid total", Status: 422},
			"erp.post_invoice: HTTP 422 invalid_request: invalid total", false},
		{&adapter.Error{System: "carrier", Op: "book", Code: "timeout", Retryable: true, Err: context.DeadlineExceeded},
			"carrier.book: timeout (retryable)", true},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.wantText {
			t.Errorf("Error() = %q, want %q", got, tt.wantText)
		}
		wrapped := fmt.Errorf("release order: %w", tt.err)
		if got := adapter.IsRetryable(wrapped); got != tt.wantRetryable {
			t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.wantRetryable)
		}
		if got := errors.Is(wrapped, derrors.Unavailable); got != tt.wantRetryable {
			t.Errorf("errors.Is(%v, derrors.Unavailable) = %v, want %v", tt.err, got, tt.wantRetryable)
		}
	}
	if !errors.Is(tests[2].err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(timeout, context.DeadlineExceeded) = false, want true")
	}
	for _, err := range []error{nil, errors.New("plain"), context.DeadlineExceeded} {
		if adapter.IsRetryable(err) {
			t.Errorf("IsRetryable(%v) = true, want false: only *Error says so", err)
		}
	}
}
