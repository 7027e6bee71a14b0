package orchestration

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/rules"
)

// TestFixCommand: the table refuses, before applying anything, the fixes it
// has no order or no command for, and maps the ones it can carry out.
func TestFixCommand(t *testing.T) {
	order := uuid.New()
	ret := uuid.New()
	tests := []struct {
		name    string
		fix     Fix
		want    Command
		refund  uuid.UUID
		wantErr string
	}{
		{name: "no order", fix: Fix{Action: rules.ActionNotify}, wantErr: "notify needs an order"},
		{name: "no command", fix: Fix{OrderID: &order, Action: "teleport"}, wantErr: `no command for "teleport"`},
		{name: "retry of an unknown step", fix: Fix{OrderID: &order, Action: rules.ActionRetry, Params: map[string]any{"step": "dance"}},
			wantErr: `no core step to retry for "dance"`},
		{name: "retry without a step", fix: Fix{OrderID: &order, Action: rules.ActionRetry}, wantErr: `no core step to retry for ""`},
		{name: "refund without its return", fix: Fix{OrderID: &order, Action: rules.ActionRefund}, wantErr: "needs the return"},
		{name: "refund of a bad return id", fix: Fix{OrderID: &order, Action: rules.ActionRefund, Params: map[string]any{"return_id": "r-1"}},
			wantErr: `return id "r-1"`},
		{name: "refund", fix: Fix{OrderID: &order, Action: rules.ActionRefund, Params: map[string]any{"return_id": ret.String()}}, refund: ret},
		{name: "hold", fix: Fix{ID: "c1", OrderID: &order, Action: rules.ActionHold, Reason: "r"},
			want: Command{ID: "c1", OrderID: order, Kind: CmdHold, Reason: "r"}},
		{name: "retry of the carrier booking", fix: Fix{OrderID: &order, Action: rules.ActionRetry, Params: map[string]any{"step": "carrier.ship"}},
			want: Command{OrderID: order, Kind: CmdRetry, Step: StepShip}},
		{name: "reroute", fix: Fix{OrderID: &order, Action: rules.ActionReroute, Params: map[string]any{"to_location": "nj-wh", "lines": []any{1.0, 2.0}}},
			want: Command{OrderID: order, Kind: CmdReroute, Location: "nj-wh", Lines: []int{1, 2}}},
		{name: "substitute takes one line", fix: Fix{OrderID: &order, Action: rules.ActionSubstitute, Params: map[string]any{"substitute": "B-2", "lines": []any{2.0, 3.0}}},
			want: Command{OrderID: order, Kind: CmdSubstitute, SKU: "B-2", Lines: []int{2}}},
		{name: "compensate defaults to credit", fix: Fix{OrderID: &order, Action: rules.ActionCompensate, Params: map[string]any{"amount": 5.0}},
			want: Command{OrderID: order, Kind: CmdCompensate, Credit: "credit", Amount: 5}},
		{name: "cancel order cancels every line", fix: Fix{OrderID: &order, Action: rules.ActionCancelOrder, Params: map[string]any{"lines": []any{1.0}}},
			want: Command{OrderID: order, Kind: CmdCancelLines}},
		{name: "notify", fix: Fix{OrderID: &order, Action: rules.ActionNotify, Params: map[string]any{"template": "delay", "data": map[string]any{"days": 2.0}}},
			want: Command{OrderID: order, Kind: CmdNotify, Template: "delay", Data: map[string]any{"days": 2.0}}},
	}
	for _, tt := range tests {
		got, refund, err := FixCommand(tt.fix)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, derrors.Invalid) {
				t.Errorf("%s: FixCommand = %v, want an Invalid error containing %q", tt.name, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s: FixCommand = %v, want nil", tt.name, err)
		case refund != tt.refund:
			t.Errorf("%s: FixCommand refund = %s, want %s", tt.name, refund, tt.refund)
		case got.Kind != tt.want.Kind || got.ID != tt.want.ID || got.OrderID != tt.want.OrderID && tt.refund == uuid.Nil ||
			got.Step != tt.want.Step || got.Location != tt.want.Location || got.SKU != tt.want.SKU || got.Credit != tt.want.Credit ||
			got.Amount != tt.want.Amount || got.Template != tt.want.Template || got.Reason != tt.want.Reason ||
			!slices.Equal(got.Lines, tt.want.Lines) || len(got.Data) != len(tt.want.Data):
			t.Errorf("%s: FixCommand = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestEveryActionHasACommand: every action the policy may choose, except
// the ones only a person carries out, maps to a core command, so a new
// action in rules fails here until the table has it.
func TestEveryActionHasACommand(t *testing.T) {
	order := uuid.New()
	for _, a := range rules.Actions() {
		if !slices.Contains(FixActions(), a) {
			// An action the core has no command for must be refused by
			// name, never mapped by guess.
			_, _, err := FixCommand(Fix{OrderID: &order, Action: a})
			if !errors.Is(err, derrors.Invalid) {
				t.Errorf("FixCommand(%s) = %v, want Invalid", a, err)
			}
			t.Logf("action %s has no core command: it stays with a person", a)
		}
	}
}

func TestParseRetryStep(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RetryStep
	}{
		{"carrier.ship", StepShip},
		{"carrier/book", StepShip},
		{"payment/authorize", StepChecks},
		{"authorize", StepChecks},
		{"address/validate", StepChecks},
		{"fraud_review", StepChecks},
		{"payment_failed", StepChecks},
		{"erp_post", StepPost},
		{"erp/invoice", StepPost},
		// The system decides, not a later word: an ERP posting of a
		// payment capture is a posting.
		{"erp/post_payment_capture", StepPost},
		{"erp_posting_failed", StepPost},
		{"fulfillment/release", StepRelease},
		{"release_rejected", StepRelease},
		{"WMS", StepRelease},
		{"notify/send", StepNotify},
		{"carrier_delay", StepShip},
		{"checks", StepChecks},
		{"post", StepPost},
		{"", ""},
		{"inventory_sync", ""},
		{"ETIMEDOUT", ""},
		{"integration_error", ""},
		{"tax/quote_tax", ""},
		// Substrings are not words.
		{"unauthorized", ""},
		{"postcode", ""},
		{"worship", ""},
	} {
		got, err := ParseRetryStep(tc.in)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("ParseRetryStep(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if tc.want == "" && err != nil && !errors.Is(err, derrors.Invalid) {
			t.Errorf("ParseRetryStep(%q) error = %v, want Invalid", tc.in, err)
		}
	}
}
