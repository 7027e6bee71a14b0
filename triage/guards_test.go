package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// policyInput is what the policy saw for case c.
func policyInput(t *testing.T, c Case) decisionJSON {
	t.Helper()
	var in struct {
		Policy *decisionJSON `json:"policy"`
	}
	if err := json.Unmarshal(c.Inputs, &in); err != nil || in.Policy == nil {
		t.Fatalf("case %s (%s %s: %s) has no policy input (%v): %s", c.ID, c.Status, c.Action, c.Reason, err, c.Inputs)
	}
	return *in.Policy
}

func candidate(c Case, action string) *Candidate {
	for i := range c.Alternatives {
		if c.Alternatives[i].Action == action {
			return &c.Alternatives[i]
		}
	}
	return nil
}

// fraudException is the fraud_review the core raises for score (see
// orchestration's lifecycle checks).
func fraudException(o orchestration.Order, score float64, verdict, reasons string) orchestration.Exception {
	sev := orchestration.SeverityMedium
	if verdict != rules.FraudReview {
		sev = orchestration.SeverityCritical
	}
	return orchestration.Exception{Kind: orchestration.KindFraudReview, Severity: sev, Source: "fraud", OrderID: &o.ID,
		Code: "score_" + verdict, Message: fmt.Sprintf("fraud score %.2f (%s): [%s]", score, verdict, reasons),
		Payload: mustMarshal(map[string]any{"score": score, "verdict": verdict, "reasons": []string{reasons}, "amount": o.Total})}
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestGuardInputsAreTheFacts raises exceptions as the core raises them,
// triages each, and checks that every input a guard of the default policy
// reads is the fact it names; and that no guard objects to an action it is
// not about.
func TestGuardInputsAreTheFacts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{applier: &recordingApplier{}})
	f.network(t, map[string][3]int{"SKU-1": {5, 6, 0}, "SKU-2": {1, 0, 0}, "SKU-3": {0, 0, 9}},
		map[string][]string{"SKU-2": {"SKU-3"}})
	pol := f.pol
	guards := map[string]rules.Guard{}
	for _, g := range pol.Decision.Guards {
		guards[g.Name] = g
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	tests := []struct {
		name  string
		raise func(t *testing.T) (orchestration.Exception, orchestration.Order)
		check func(t *testing.T, c Case, in decisionJSON, o orchestration.Order)
	}{
		{"fraud escalate: score and band reach the policy; release is not the fix", func(t *testing.T) (orchestration.Exception, orchestration.Order) {
			o := f.order(t, "F-1", "SKU-1", 1, "gold")
			return fraudException(o, 0.83, rules.FraudEscalate, "returning customer, new shipping address as a gift"), o
		}, func(t *testing.T, c Case, in decisionJSON, o orchestration.Order) {
			if !near(in.FraudScore, 0.83) || in.FraudBand != rules.FraudEscalate {
				t.Errorf("fraud_score, fraud_band = %v, %q; want 0.83, escalate", in.FraudScore, in.FraudBand)
			}
			if c.Action == rules.ActionRelease {
				t.Errorf("recommended release at an escalated score (%s)", c.Reason)
			}
			if r := candidate(c, rules.ActionRelease); r != nil && r.Feasible {
				t.Errorf("release alternative feasible at an escalated score: %+v", r)
			}
		}},
		{"fraud review band", func(t *testing.T) (orchestration.Exception, orchestration.Order) {
			o := f.order(t, "F-2", "SKU-1", 1, "gold")
			return fraudException(o, 0.41, rules.FraudReview, "returning customer since 2019, gift to a new address"), o
		}, func(t *testing.T, c Case, in decisionJSON, o orchestration.Order) {
			if !near(in.FraudScore, 0.41) || in.FraudBand != rules.FraudReview {
				t.Errorf("fraud_score, fraud_band = %v, %q; want 0.41, review", in.FraudScore, in.FraudBand)
			}
		}},
		{"fraud score only in the message", func(t *testing.T) (orchestration.Exception, orchestration.Order) {
			o := f.order(t, "F-3", "SKU-1", 1, "standard")
			e := fraudException(o, 0.79, rules.FraudEscalate, "new account, high-value basket")
			e.Payload = nil
			return e, o
		}, func(t *testing.T, c Case, in decisionJSON, o orchestration.Order) {
			if !near(in.FraudScore, 0.79) || in.FraudBand != rules.FraudEscalate {
				t.Errorf("fraud_score, fraud_band = %v, %q; want 0.79, escalate", in.FraudScore, in.FraudBand)
			}
		}},
		{"order value, tier and delivery risk of a carrier delay", func(t *testing.T) (orchestration.Exception, orchestration.Order) {
			o := f.order(t, "D-1", "SKU-1", 3, "vip")
			return orchestration.Exception{Kind: orchestration.KindCarrierDelay, Severity: orchestration.SeverityMedium, Source: "carrier",
				OrderID: &o.ID, Carrier: "ups", Code: "WEATHER_DELAY", Message: "Severe weather in the northeast region delays delivery by 2 days",
				Payload: mustMarshal(map[string]any{"region": "northeast", "promise_date": o.PromiseDate})}, o
		}, func(t *testing.T, c Case, in decisionJSON, o orchestration.Order) {
			if !near(in.OrderValue, o.Total) || in.CustomerTier != "vip" || in.Channel != "web" {
				t.Errorf("order_value, customer_tier, channel = %v, %q, %q; want %v, vip, web", in.OrderValue, in.CustomerTier, in.Channel, o.Total)
			}
			if !near(in.DeliveryRisk, c.Risks.Delivery.Probability) {
				t.Errorf("delivery_risk = %v, want the case's delivery risk %v", in.DeliveryRisk, c.Risks.Delivery.Probability)
			}
			if in.Kind != orchestration.KindCarrierDelay || in.Action != c.Action || in.Cause != c.Cause {
				t.Errorf("kind, action, cause = %q, %q, %q; want carrier_delay, %q, %q", in.Kind, in.Action, in.Cause, c.Action, c.Cause)
			}
		}},
		{"substitute: stockout risk is the substitute's", func(t *testing.T) (orchestration.Exception, orchestration.Order) {
			o := f.order(t, "S-1", "SKU-2", 1, "standard")
			return orchestration.Exception{Kind: orchestration.KindStockout, Severity: orchestration.SeverityMedium, OrderID: &o.ID, SKU: "SKU-2",
				Code: "UNSOURCEABLE_BACKORDER", Message: "could not source 1 × SKU-2 (no single location fills the order; backordered) for order S-1; backordered",
				Location: o.Lines[0].Allocations[0].Location}, o
		}, func(t *testing.T, c Case, in decisionJSON, o orchestration.Order) {
			if c.Action != rules.ActionSubstitute {
				t.Fatalf("action %s (%s), want substitute", c.Action, c.Reason)
			}
			cc, err := f.svc.gather(context.Background(), orchestration.Exception{OrderID: &o.ID, SKU: "SKU-3"}, RecommendContext{})
			if err != nil {
				t.Fatal(err)
			}
			cc.location = ""
			want, err := f.svc.stockoutRisk(context.Background(), cc)
			if err != nil {
				t.Fatal(err)
			}
			if !near(in.StockoutRisk, want.Probability) || near(in.StockoutRisk, c.Risks.Stockout.Probability) {
				t.Errorf("stockout_risk = %v, want SKU-3's %v (not SKU-2's %v)", in.StockoutRisk, want.Probability, c.Risks.Stockout.Probability)
			}
			if slices.Contains(in.GuardsFailed, "substitute_low_stockout_risk") {
				t.Errorf("substitute guard failed on a substitute with 9 units in stock: %v", in.GuardsFailed)
			}
		}},
		{"reroute: the substitute guard does not apply", func(t *testing.T) (orchestration.Exception, orchestration.Order) {
			o := f.order(t, "R-1", "SKU-1", 2, "standard")
			from := o.Lines[0].Allocations[0].Location
			return orchestration.Exception{Kind: orchestration.KindStockout, Severity: orchestration.SeverityMedium, OrderID: &o.ID, SKU: "SKU-1",
				Location: from, Code: "SHORT_PICK", Message: "Short pick at " + from + ": system on hand 5 for SKU-1, picker found 0 on shelf; order #R-1"}, o
		}, func(t *testing.T, c Case, in decisionJSON, o orchestration.Order) {
			if c.Action != rules.ActionReroute {
				t.Fatalf("action %s (%s), want reroute", c.Action, c.Reason)
			}
			for _, g := range in.GuardsFailed {
				if gd, ok := guards[g]; ok && len(gd.Actions) > 0 && !slices.Contains(gd.Actions, in.Action) {
					t.Errorf("guard %s (about %v) failed on a %s", g, gd.Actions, in.Action)
				}
			}
			if slices.Contains(in.GuardsFailed, "substitute_low_stockout_risk") {
				t.Errorf("substitute guard failed on a reroute: %v", in.GuardsFailed)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, o := tt.raise(t)
			c := f.report(t, e)
			tt.check(t, c, policyInput(t, c), o)
		})
	}
}
