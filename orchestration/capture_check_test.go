package orchestration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

func TestCaptureRefusesWhatTheCatalogueAndClockRuleOut(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50}})
	ctx := context.Background()
	at := func(d time.Duration) *time.Time { x := time.Now().Add(d); return &x }
	tests := []struct {
		name  string
		edit  func(*CaptureRequest)
		field string
	}{
		{"currency XXX", func(r *CaptureRequest) { r.Currency = "XXX" }, "currency"},
		{"currency EUR", func(r *CaptureRequest) { r.Currency = "EUR" }, "currency"},
		{"promised in 2001", func(r *CaptureRequest) {
			x := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			r.PromisedBy = &x
		}, "promised_by"},
		{"promised an hour ago", func(r *CaptureRequest) { r.PromisedBy = at(-time.Hour) }, "promised_by"},
		{"promised in 3 years", func(r *CaptureRequest) { r.PromisedBy = at(3 * 365 * 24 * time.Hour) }, "promised_by"},
	}
	for i, tt := range tests {
		req := order("W-CHK-"+string(rune('a'+i)), "A-1", 1)
		tt.edit(&req)
		_, err := svc.Capture(ctx, "test", nil, req)
		var ve *derrors.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != tt.field || derrors.Status(err) != 422 {
			t.Errorf("%s: Capture = %v, want 422 naming %s", tt.name, err, tt.field)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 0 {
		t.Errorf("orders after refused captures = %d, %v; want 0", n, err)
	}
	// Within the skew and the horizon is fine.
	ok := order("W-CHK-ok", "A-1", 1)
	ok.PromisedBy, ok.Currency = at(-time.Minute), "USD"
	if _, err := svc.Capture(ctx, "test", nil, ok); err != nil {
		t.Errorf("Capture(promised a minute ago, USD) = %v, want it taken", err)
	}
}

func TestCommandRefusesUnknownTemplate(t *testing.T) {
	for _, tmpl := range []string{"../../etc/passwd", "", "Confirmation", "confirmation\x00", "nope"} {
		c := Command{ID: "c1", Kind: CmdNotify, OrderID: uuid.New(), Template: tmpl}
		var ve *derrors.ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || ve.Fields[0].Field != "template" {
			t.Errorf("notify with template %q: Validate = %v, want template refused", tmpl, err)
		}
	}
	for _, tmpl := range []string{"confirmation", "delay", "payment_update_card"} {
		c := Command{ID: "c1", Kind: CmdNotify, OrderID: uuid.New(), Template: tmpl}
		if err := c.Validate(); err != nil {
			t.Errorf("notify with template %q: Validate = %v, want nil", tmpl, err)
		}
	}
}
