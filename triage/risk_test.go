package triage

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
)

func TestHeuristicRisk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		terms      func(map[string]float64) (float64, []term)
		low, high  map[string]float64
		topFactor  string // of high
		wantFactor int    // factors of high
	}{
		{"stockout: no cover vs plenty", stockoutTerms,
			map[string]float64{"qty_needed": 1, "atp_network": 40, "cover_ratio": 40, "days_of_cover": 30, "staleness_hours": 1},
			map[string]float64{"qty_needed": 3, "atp_network": 0, "cover_ratio": 0, "days_of_cover": 0, "overcommitted": 1, "staleness_hours": 50},
			"cover_ratio", 3},
		{"delivery: late and disrupted vs slack", deliveryTerms,
			map[string]float64{"slack_hours": 48, "carrier_on_time": 0.97},
			map[string]float64{"slack_hours": -30, "delay_hours": 30, "active_disruptions": 2, "lane_on_time": 0.5, "carrier_on_time": 0.95},
			"lane_on_time", 3},
	}
	for _, tt := range tests {
		lb, lt := tt.terms(tt.low)
		hb, ht := tt.terms(tt.high)
		low := scoreRisk(nil, tt.low, "v", lb, lt)
		high := scoreRisk(nil, tt.high, "v", hb, ht)
		if !(low.Probability < 0.2 && high.Probability > 0.8) {
			t.Errorf("%s: probabilities %.3f and %.3f, want below 0.2 and above 0.8", tt.name, low.Probability, high.Probability)
		}
		if len(high.Factors) != tt.wantFactor || high.Factors[0].Name != tt.topFactor || high.Method != "heuristic" {
			t.Errorf("%s: factors %+v, want %d led by %s", tt.name, high.Factors, tt.wantFactor, tt.topFactor)
		}
		for i := 1; i < len(high.Factors); i++ {
			a, b := high.Factors[i-1], high.Factors[i]
			if a.Contribution > 0 == (b.Contribution > 0) && math.Abs(a.Contribution) < math.Abs(b.Contribution) {
				t.Errorf("%s: factors out of order: %+v", tt.name, high.Factors)
			}
		}
	}
}

// TestRiskUsesTrainedModel checks that a trained model, once stored, scores
// instead of the heuristic, with missing features counted as typical.
func TestRiskUsesTrainedModel(t *testing.T) {
	t.Parallel()
	feats := StockoutFeatures()
	var x [][]float64
	var y []bool
	for i := range 200 {
		row := make([]float64, len(feats))
		row[3] = float64(i%20) / 4 // cover_ratio
		row[0] = 1
		x, y = append(x, row), append(y, i%20 < 6)
	}
	m, err := models.TrainRiskModel("stockout", feats, x, y, x, y, models.RiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOptions{noSeed: true})
	ctx := context.Background()
	params, _ := json.Marshal(m)
	if _, err := f.pool.Exec(ctx, `INSERT INTO risk_models (name, version, params) VALUES ('stockout', $1, $2)`, m.Version, params); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.LoadRiskModels(ctx); err != nil {
		t.Fatal(err)
	}
	got := scoreRisk(f.svc.risk.stockout, map[string]float64{"cover_ratio": 0}, "v", 0, nil)
	if got.Method != "model" || got.Version != m.Version || got.Probability < 0.5 {
		t.Errorf("scored %+v, want the model's high risk for no cover", got)
	}
}

// TestDeliveryRiskCarrierRecord gives the order's lane a poor record and
// expects it among the delivery risk's factors.
func TestDeliveryRiskCarrierRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.network(t, map[string][3]int{"SKU-5": {10, 10, 0}}, nil)
	o := f.order(t, "W-3001", "SKU-5", 1, "gold")
	ctx := context.Background()
	var locID int64
	if err := f.pool.QueryRow(ctx, `SELECT id FROM locations WHERE code = $1`, o.Lines[0].Allocations[0].Location).Scan(&locID); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		due := f.now.Add(-time.Duration(i+1) * 24 * time.Hour)
		delivered := due.Add(-time.Hour)
		if i < 5 { // half of them late
			delivered = due.Add(20 * time.Hour)
		}
		if _, err := f.pool.Exec(ctx, `INSERT INTO shipments (id, order_id, location_id, status, carrier, estimated_delivery, delivered_at)
			VALUES ($1, $2, $3, 'delivered', 'ups', $4, $5)`, uuid.New(), o.ID, locID, due, delivered); err != nil {
			t.Fatal(err)
		}
	}
	c := f.report(t, orchestration.Exception{Kind: orchestration.KindCarrierDelay, OrderID: &o.ID, Code: "DELAYED",
		Payload: []byte(`{"delay_hours": 36}`),
		Message: "Your package is running late. New estimated delivery: Friday 2025-06-13. Tracking 1Z8E2W410396577777"})
	d := c.Risks.Delivery
	if d.Features["lane_on_time"] != 0.5 || d.Features["carrier_on_time"] != 0.5 || d.Features["delay_hours"] != 36 {
		t.Fatalf("delivery features = %v, want lane and carrier on time 0.5 and 36 hours of delay", d.Features)
	}
	found := false
	for _, fac := range d.Factors {
		found = found || fac.Name == "lane_on_time" && fac.Contribution > 0
	}
	if !found || d.Probability < 0.5 {
		t.Errorf("delivery risk %.3f with factors %+v, want the lane's record among them", d.Probability, d.Factors)
	}
}
