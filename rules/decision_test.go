package rules

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadValid(t *testing.T) *Policy {
	t.Helper()
	p, err := LoadFile(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	p := loadValid(t)
	tests := []struct {
		name          string
		in            DecisionInput
		wantAuto      bool
		wantThreshold float64
		wantFailed    []string
		wantReason    string
	}{
		{"action threshold met", DecisionInput{Action: "notify", Confidence: 0.6}, true, 0.5, nil, "(action notify)"},
		{"action threshold missed", DecisionInput{Action: "reroute", Confidence: 0.7}, false, 0.75, nil, "confidence 0.70 below threshold 0.75"},
		{"cause overrides action", DecisionInput{Action: "reroute", Cause: "carrier_delay", Confidence: 0.65}, true, 0.6, nil, "(cause carrier_delay)"},
		{"default threshold", DecisionInput{Action: "hold", Confidence: 0.79}, false, 0.8, nil, "(default)"},
		{"exactly at threshold", DecisionInput{Action: "hold", Confidence: 0.8}, true, 0.8, nil, "meets"},
		{"never automatic", DecisionInput{Action: "cancel_lines", Confidence: 0.99}, false, 0, nil, "never applied automatically"},
		{"order value guard", DecisionInput{Action: "notify", Confidence: 0.9, OrderValue: 1500}, false, 0.5, []string{"value_cap"}, "guard failed: value_cap"},
		{"refund within limit", DecisionInput{Action: "refund", Confidence: 0.9, RefundAmount: 80}, true, 0.8, nil, "all guards hold"},
		{"refund above limit", DecisionInput{Action: "refund", Confidence: 0.9, RefundAmount: 120}, false, 0.8, []string{"refund_cap"}, "refund_cap"},
		{"refund guard ignores other actions", DecisionInput{Action: "notify", Confidence: 0.9, RefundAmount: 120}, true, 0.5, nil, ""},
		{"compensation within tier", DecisionInput{Action: "compensate", Confidence: 0.9, CustomerTier: "gold", CompensationAmount: 25}, true, 0.8, nil, ""},
		{"compensation above tier", DecisionInput{Action: "compensate", Confidence: 0.9, CustomerTier: "gold", CompensationAmount: 35}, false, 0.8, []string{"compensation_cap"}, ""},
		{"compensation unknown tier gets order max", DecisionInput{Action: "compensate", Confidence: 0.9, CustomerTier: "bronze", CompensationAmount: 35}, true, 0.8, nil, ""},
		{"compensation low tier", DecisionInput{Action: "compensate", Confidence: 0.9, CustomerTier: "standard", CompensationAmount: 15}, false, 0.8, []string{"compensation_cap"}, ""},
		{"guard scoped to cause", DecisionInput{Action: "retry", Cause: "payment_declined", Confidence: 0.9, CustomerTier: "vip"}, false, 0.8, []string{"vip_by_hand"}, ""},
		{"guard out of scope", DecisionInput{Action: "retry", Cause: "address_invalid", Confidence: 0.9, CustomerTier: "vip"}, true, 0.8, nil, ""},
		{"several guards fail", DecisionInput{Action: "refund", Confidence: 0.95, OrderValue: 5000, RefundAmount: 500}, false, 0.8, []string{"value_cap", "refund_cap"}, "value_cap, refund_cap"},
		{"low confidence and guard", DecisionInput{Action: "notify", Confidence: 0.1, OrderValue: 5000}, false, 0.5, []string{"value_cap"}, "below threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Evaluate(tt.in)
			if got.Auto != tt.wantAuto || got.Threshold != tt.wantThreshold || !slices.Equal(got.GuardsFailed, tt.wantFailed) || !strings.Contains(got.Reason, tt.wantReason) {
				t.Errorf("Evaluate(%+v) = %+v, want auto %v, threshold %g, guards failed %v, reason containing %q",
					tt.in, got, tt.wantAuto, tt.wantThreshold, tt.wantFailed, tt.wantReason)
			}
		})
	}
}

func TestEvaluateDefaultPolicy(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in         DecisionInput
		wantAuto   bool
		wantFailed []string
	}{
		{DecisionInput{Action: "notify", Cause: "carrier_delay", Confidence: 0.75, OrderValue: 120}, true, nil},
		// The substitute guard is about substitutes: a reroute away from a
		// short location is not held back by that location's stockout risk.
		{DecisionInput{Action: "reroute", Confidence: 0.9, OrderValue: 80, StockoutRisk: 0.7}, true, nil},
		{DecisionInput{Action: "substitute", Confidence: 0.95, OrderValue: 80, StockoutRisk: 0.7}, false, []string{"substitute_low_stockout_risk"}},
		// Release of a fraud hold: automatic only up to the review band.
		{DecisionInput{Action: "release", Kind: "fraud_review", Confidence: 0.95, FraudScore: 0.5}, true, nil},
		{DecisionInput{Action: "release", Kind: "fraud_review", Confidence: 0.95, FraudScore: 0.8}, false, []string{"no_release_above_fraud_review"}},
		{DecisionInput{Action: "release", Kind: "fraud_review", Confidence: 0.99, FraudScore: 0.95}, false, []string{"no_release_above_fraud_review"}},
		{DecisionInput{Action: "release", Kind: "fraud_review", Confidence: 0.99, FraudScore: 0.1, FraudBand: "escalate"}, false, []string{"no_release_above_fraud_review"}},
		{DecisionInput{Action: "release", Kind: "fraud_review", Confidence: 0.99, FraudBand: "unknown"}, false, []string{"no_release_above_fraud_review"}},
		{DecisionInput{Action: "compensate", Confidence: 0.95, CustomerTier: "standard", CompensationAmount: 12}, false, []string{"compensation_within_limit"}},
		{DecisionInput{Action: "compensate", Confidence: 0.95, CustomerTier: "gold", CompensationAmount: 12}, true, nil},
		{DecisionInput{Action: "split", Confidence: 0.99, CustomerTier: "vip"}, false, []string{"vip_customers_reviewed"}},
		{DecisionInput{Action: "cancel_order", Confidence: 1}, false, nil},
		{DecisionInput{Action: "hold", Confidence: 0.9, DeliveryRisk: 0.85}, false, []string{"no_hold_on_late_orders"}},
	}
	for _, tt := range tests {
		got := p.Evaluate(tt.in)
		if got.Auto != tt.wantAuto || !slices.Equal(got.GuardsFailed, tt.wantFailed) {
			t.Errorf("Evaluate(%+v) = %+v, want auto %v, guards failed %v", tt.in, got, tt.wantAuto, tt.wantFailed)
		}
	}
}

func TestFraudVerdict(t *testing.T) {
	f := loadValid(t).Limits.Fraud // 0.3 / 0.7 / 0.9
	tests := []struct {
		score float64
		want  string
	}{
		{0, FraudAccept}, {0.29, FraudAccept}, {0.3, FraudReview}, {0.69, FraudReview},
		{0.7, FraudEscalate}, {0.89, FraudEscalate}, {0.9, FraudCancel}, {1, FraudCancel},
	}
	for _, tt := range tests {
		if got := f.Verdict(tt.score); got != tt.want {
			t.Errorf("Verdict(%g) = %q, want %q", tt.score, got, tt.want)
		}
	}
}

func TestCompensationLimit(t *testing.T) {
	l := loadValid(t).Limits // max 40, standard 10, gold 30
	tests := []struct {
		tier string
		want float64
	}{
		{"standard", 10}, {"gold", 30}, {"unknown", 40}, {"", 40},
	}
	for _, tt := range tests {
		if got := l.CompensationLimit(tt.tier); got != tt.want {
			t.Errorf("CompensationLimit(%q) = %g, want %g", tt.tier, got, tt.want)
		}
	}
}

func TestSLA(t *testing.T) {
	s := loadValid(t).SLA
	always := func(d time.Duration) func() (time.Duration, bool) {
		return func() (time.Duration, bool) { return d, true }
	}
	tests := []struct {
		name   string
		get    func() (time.Duration, bool)
		want   time.Duration
		wantOK bool
	}{
		{"FirstResponse(critical)", func() (time.Duration, bool) { return s.FirstResponse(SeverityCritical) }, 15 * time.Minute, true},
		{"FirstResponse(urgent)", func() (time.Duration, bool) { return s.FirstResponse("urgent") }, 0, false},
		{"Resolve(low)", func() (time.Duration, bool) { return s.Resolve(SeverityLow) }, 120 * time.Hour, true},
		{"Triage()", always(s.Triage()), 30 * time.Second, true},
		{"Release()", always(s.Release()), 4 * time.Hour, true},
		{"Ship()", always(s.Ship()), 24 * time.Hour, true},
		{"Refund()", always(s.Refund()), 72 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := tt.get()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s = %v, %v, want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestTransitDays(t *testing.T) {
	s := loadValid(t).Sourcing.Scoring // standard 500/1, express 1000/1, same_day 100/0
	tests := []struct {
		service string
		km      float64
		want    int
	}{
		{ServiceStandard, 0, 1}, {ServiceStandard, 499, 1}, {ServiceStandard, 500, 2}, {ServiceStandard, 1200, 3},
		{ServiceExpress, 999, 1}, {ServiceSameDay, 30, 0}, {ServiceSameDay, 150, 1}, {"overnight", 600, 2},
	}
	for _, tt := range tests {
		if got := s.TransitDays(tt.service, tt.km); got != tt.want {
			t.Errorf("TransitDays(%q, %g) = %d, want %d", tt.service, tt.km, got, tt.want)
		}
	}
}
