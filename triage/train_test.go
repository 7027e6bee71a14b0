package triage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
)

// trainCase is a triaged case as training reads it: when, about what, and
// the features the service stored.
type trainCase struct {
	at       time.Time
	kind     string
	sku      string
	location string
	orderID  *uuid.UUID
	stockout map[string]float64 // nil: no stockout features
	delivery map[string]float64 // nil: no delivery features
}

// addCase writes an exception and its triaged case; it returns the
// exception's id.
func (f *fixture) addCase(t testing.TB, c trainCase) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	if c.kind == "" {
		c.kind = orchestration.KindStockout
	}
	risk := func(feats map[string]float64) map[string]any {
		if feats == nil {
			return map[string]any{"method": "none", "factors": []any{}}
		}
		return map[string]any{"method": "heuristic", "probability": 0.5, "factors": []any{}, "features": feats}
	}
	id := uuid.New()
	_, err := f.pool.Exec(ctx, `INSERT INTO exceptions (id, kind, severity, status, message, order_id, sku, location, occurred_at, created_at)
		VALUES ($1, $2, 'medium', 'triaged', 'test', $3, $4, $5, $6, $6)`, id, c.kind, c.orderID, c.sku, c.location, c.at)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.pool.Exec(ctx, `INSERT INTO cases (exception_id, kind, severity, order_id, status, risks, created_at, triaged_at)
		VALUES ($1, $2, 'medium', $3, 'queued_for_review', $4, $5, $5)`,
		id, c.kind, c.orderID, map[string]any{"stockout": risk(c.stockout), "delivery": risk(c.delivery)}, c.at)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// addStockout writes a stockout exception (with no case) for sku.
func (f *fixture) addStockout(t testing.TB, kind, sku, location string, at time.Time) {
	t.Helper()
	_, err := f.pool.Exec(context.Background(), `INSERT INTO exceptions (kind, severity, message, sku, location, occurred_at, created_at)
		VALUES ($1, 'high', 'test stockout', $2, $3, $4, $4)`, kind, sku, location, at)
	if err != nil {
		t.Fatal(err)
	}
}

// addShippedOrder writes an order promised by promise with one shipment per
// delivery time (nil: not delivered yet).
func (f *fixture) addShippedOrder(t testing.TB, promise time.Time, delivered ...*time.Time) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	err := f.pool.QueryRow(ctx, `INSERT INTO orders (channel_id, external_id, status, customer, service_level, promised_by, created_at)
		VALUES ((SELECT id FROM channels WHERE code = 'web'), $1, 'shipped', '{}', 'standard', $2, $3) RETURNING id`,
		"ext-"+uuid.NewString(), promise, promise.Add(-96*time.Hour)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range delivered {
		status := "in_transit"
		if d != nil {
			status = "delivered"
		}
		_, err := f.pool.Exec(ctx, `INSERT INTO shipments (id, order_id, location_id, status, carrier, delivered_at)
			VALUES ($1, $2, (SELECT min(id) FROM locations), $3, 'ups', $4)`, uuid.New(), id, status, d)
		if err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func newTrainFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, fixtureOptions{noSeed: true})
	f.network(t, map[string][3]int{"SKU-1": {5, 5, 5}}, nil)
	return f
}

func TestStockoutLabels(t *testing.T) {
	t.Parallel()
	f := newTrainFixture(t)
	ctx := context.Background()
	day := 24 * time.Hour
	at := f.now.Add(-30 * day)
	feats := map[string]float64{"qty_needed": 1, "cover_ratio": 2}
	for _, tc := range []struct {
		name  string
		setup func(sku string) // the stockouts around the case
		want  bool
	}{
		{"stockout at the location within the horizon", func(sku string) {
			f.addStockout(t, orchestration.KindStockout, sku, "nj-wh", at.Add(2*day))
		}, true},
		{"release rejected network-wide within the horizon", func(sku string) {
			f.addStockout(t, orchestration.KindReleaseRejected, sku, "", at.Add(6*day))
		}, true},
		{"stockout at another location", func(sku string) {
			f.addStockout(t, orchestration.KindStockout, sku, "pa-wh", at.Add(2*day))
		}, false},
		{"stockout before the case", func(sku string) {
			f.addStockout(t, orchestration.KindStockout, sku, "nj-wh", at.Add(-time.Hour))
		}, false},
		{"stockout after the horizon", func(sku string) {
			f.addStockout(t, orchestration.KindStockout, sku, "nj-wh", at.Add(8*day))
		}, false},
		{"other kinds of exception", func(sku string) {
			f.addStockout(t, orchestration.KindStaleInventory, sku, "nj-wh", at.Add(day))
		}, false},
		{"no stockout", func(string) {}, false},
	} {
		sku := "SKU-" + strings.ReplaceAll(tc.name, " ", "-")
		tc.setup(sku)
		f.addCase(t, trainCase{at: at, sku: sku, location: "nj-wh", stockout: feats})
		rows, err := stockoutRows(ctx, f.svc, RiskTrainOptions{}.withDefaults(), f.now)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].label != tc.want {
			t.Errorf("%s: stockoutRows = %+v, want one row labelled %v", tc.name, rows, tc.want)
		}
		if _, err := f.pool.Exec(ctx, `DELETE FROM cases`); err != nil {
			t.Fatal(err)
		}
	}

	// The case's own exception is not its outcome, a case whose horizon has
	// not passed is not labelled yet, and a case without stockout features
	// is not a row.
	f.addCase(t, trainCase{at: at, sku: "SKU-own", location: "nj-wh", stockout: feats})
	f.addCase(t, trainCase{at: f.now.Add(-2 * day), sku: "SKU-young", location: "nj-wh", stockout: feats})
	f.addCase(t, trainCase{at: at, sku: "SKU-none", location: "nj-wh"})
	rows, err := stockoutRows(ctx, f.svc, RiskTrainOptions{}.withDefaults(), f.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].label || rows[0].feats["cover_ratio"] != 2 {
		t.Errorf("stockoutRows = %+v, want one negative row with the stored features", rows)
	}
}

func TestDeliveryLabels(t *testing.T) {
	t.Parallel()
	f := newTrainFixture(t)
	ctx := context.Background()
	h := time.Hour
	promise := f.now.Add(-10 * 24 * h)
	feats := map[string]float64{"slack_hours": 5}
	for _, tc := range []struct {
		name      string
		caseAt    time.Time
		delivered []*time.Time
		want      string
	}{
		{"delivered before the promise", promise.Add(-48 * h), []*time.Time{ptr(promise.Add(-h))}, "false"},
		{"delivered after the promise", promise.Add(-48 * h), []*time.Time{ptr(promise.Add(5 * h))}, "true"},
		{"one of two shipments late", promise.Add(-48 * h), []*time.Time{ptr(promise.Add(-5 * h)), ptr(promise.Add(5 * h))}, "true"},
		{"undelivered past the promise", promise.Add(-48 * h), []*time.Time{nil}, "true"},
		{"triaged after the delivery", promise.Add(-2 * h), []*time.Time{ptr(promise.Add(-3 * h))}, "not a row"},
		{"triaged after a missed promise", promise.Add(2 * h), []*time.Time{ptr(promise.Add(5 * h))}, "not a row"},
		{"no shipment", promise.Add(-48 * h), nil, "not a row"},
	} {
		order := f.addShippedOrder(t, promise, tc.delivered...)
		f.addCase(t, trainCase{at: tc.caseAt, kind: orchestration.KindCarrierDelay, orderID: &order, delivery: feats})
		rows, err := deliveryRows(ctx, f.svc, RiskTrainOptions{}, f.now)
		if err != nil {
			t.Fatal(err)
		}
		got := "not a row"
		if len(rows) == 1 {
			got = fmt.Sprint(rows[0].label)
		}
		if len(rows) > 1 {
			got = fmt.Sprintf("%d rows", len(rows))
		}
		if got != tc.want {
			t.Errorf("%s: label = %s, want %s", tc.name, got, tc.want)
		}
		if _, err := f.pool.Exec(ctx, `DELETE FROM cases`); err != nil {
			t.Fatal(err)
		}
	}

	// An order in flight before its promise has no outcome yet.
	future := f.now.Add(48 * h)
	order := f.addShippedOrder(t, future, nil)
	f.addCase(t, trainCase{at: f.now.Add(-h), kind: orchestration.KindCarrierDelay, orderID: &order, delivery: feats})
	if rows, err := deliveryRows(ctx, f.svc, RiskTrainOptions{}, f.now); err != nil || len(rows) != 0 {
		t.Errorf("deliveryRows with an order in flight = %+v, %v; want none", rows, err)
	}
}

// seedRiskHistory writes n labelled cases of each risk whose outcome
// follows one feature (low cover → stockout, negative slack → late), with
// noise, spread over the 60 days before the horizon.
func seedRiskHistory(t *testing.T, f *fixture, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	day := 24 * time.Hour
	start := f.now.Add(-70 * day)
	sigmoid := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	for i := range n {
		at := start.Add(time.Duration(i) * 60 * day / time.Duration(n))
		cover := rng.Float64() * 4
		sku := fmt.Sprintf("SKU-H%04d", i)
		f.addCase(t, trainCase{at: at, sku: sku, location: "nj-wh", stockout: map[string]float64{
			"qty_needed": 1, "atp_network": cover, "cover_ratio": cover, "staleness_hours": rng.Float64() * 48}})
		if rng.Float64() < sigmoid(2-2*cover) {
			f.addStockout(t, orchestration.KindStockout, sku, "nj-wh", at.Add(time.Duration(1+rng.IntN(6))*day))
		}
		slack := rng.Float64()*96 - 36
		promise := at.Add(72 * time.Hour)
		delivered := promise.Add(-6 * time.Hour)
		if rng.Float64() < sigmoid(-slack/12) {
			delivered = promise.Add(6 * time.Hour)
		}
		order := f.addShippedOrder(t, promise, &delivered)
		f.addCase(t, trainCase{at: at, kind: orchestration.KindCarrierDelay, orderID: &order,
			delivery: map[string]float64{"slack_hours": slack, "service_express": float64(rng.IntN(2))}})
	}
}

func TestTrainRiskModels(t *testing.T) {
	t.Parallel()
	f := newTrainFixture(t)
	ctx := context.Background()
	seedRiskHistory(t, f, 300)

	dry, err := f.svc.TrainRiskModels(ctx, RiskTrainOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT count(*) FROM risk_models`); n != 0 {
		t.Errorf("a dry run stored %d models", n)
	}
	reps, err := f.svc.TrainRiskModels(ctx, RiskTrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 || reps[0].Name != RiskStockout || reps[1].Name != RiskDelivery {
		t.Fatalf("TrainRiskModels = %+v, want stockout and delivery", reps)
	}
	for i, r := range reps {
		t.Logf("%s %s: train %d, calibration %d, test %d (%d positive): AUC %.3f Brier %.3f ECE %.3f; heuristic AUC %.3f Brier %.3f",
			r.Name, r.Version, r.Train.Rows, r.Calibration.Rows, r.Test.Rows, r.Test.Positives, r.Model.AUC, r.Model.Brier, r.Model.ECE,
			r.Heuristic.AUC, r.Heuristic.Brier)
		if r.Train.Rows+r.Calibration.Rows+r.Test.Rows != 300 || r.Train.Rows != 180 || r.Test.Rows != 60 {
			t.Errorf("%s slices = %d/%d/%d, want 180/60/60", r.Name, r.Train.Rows, r.Calibration.Rows, r.Test.Rows)
		}
		if !r.Train.To.Before(r.Calibration.From) || !r.Calibration.To.Before(r.Test.From) {
			t.Errorf("%s slices overlap in time: %+v %+v %+v", r.Name, r.Train, r.Calibration, r.Test)
		}
		if r.Model.AUC < 0.75 {
			t.Errorf("%s test AUC = %.3f, want ≥ 0.75 on data that follows one feature", r.Name, r.Model.AUC)
		}
		if !r.Stored || r.Version == "" || r.Version != dry[i].Version {
			t.Errorf("%s: stored %v, version %q (dry run %q); want stored, the dry run's version", r.Name, r.Stored, r.Version, dry[i].Version)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM risk_models WHERE active`); n != 2 {
		t.Errorf("%d active models stored, want 2", n)
	}
	// In force at once: scores come from the models.
	f.svc.mu.RLock()
	rm := f.svc.risk
	f.svc.mu.RUnlock()
	if rm.stockout == nil || rm.delivery == nil || rm.stockout.Version != reps[0].Version {
		t.Fatalf("risk models in force = %+v, want the trained ones", rm)
	}
	low := scoreRisk(rm.stockout, map[string]float64{"cover_ratio": 0.1, "atp_network": 0.1, "qty_needed": 1}, "", 0, nil)
	high := scoreRisk(rm.stockout, map[string]float64{"cover_ratio": 3.5, "atp_network": 3.5, "qty_needed": 1}, "", 0, nil)
	if low.Method != "model" || low.Probability <= high.Probability {
		t.Errorf("stockout risk at cover 0.1 = %+v, at 3.5 = %+v; want the model's, higher at low cover", low, high)
	}
	// Training again on the same cases gives the same versions and keeps
	// one row each.
	if _, err := f.svc.TrainRiskModels(ctx, RiskTrainOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT count(*) FROM risk_models`); n != 2 {
		t.Errorf("after retraining: %d stored models, want 2", n)
	}
}

func TestTrainRiskModelsTooLittleData(t *testing.T) {
	t.Parallel()
	f := newTrainFixture(t)
	ctx := context.Background()
	seedRiskHistory(t, f, 40)
	for _, tc := range []struct {
		name string
		opts RiskTrainOptions
		want []string
	}{
		{"defaults", RiskTrainOptions{}, []string{"stockout: 40 labelled cases", "delivery: 40 labelled cases", "need at least 200 labelled rows", "run the demo or simulate"}},
		{"one model", RiskTrainOptions{Models: []string{RiskDelivery}}, []string{"delivery: 40"}},
	} {
		_, err := f.svc.TrainRiskModels(ctx, tc.opts)
		if !errors.Is(err, derrors.Invalid) {
			t.Fatalf("%s: TrainRiskModels = %v, want an Invalid error", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
	}
	if n := f.count(t, `SELECT count(*) FROM risk_models`); n != 0 {
		t.Errorf("%d models stored after refusals, want 0", n)
	}
	if _, err := f.svc.TrainRiskModels(ctx, RiskTrainOptions{Models: []string{"weather"}}); !errors.Is(err, derrors.Invalid) {
		t.Errorf("TrainRiskModels(weather) = %v, want Invalid", err)
	}
}

// TestFitRiskSlices checks a time slice with one outcome is refused: its
// calibration or its measurement would mean nothing.
func TestFitRiskSlices(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := func(positive func(i int) bool) []riskRow {
		var out []riskRow
		for i := range 100 {
			out = append(out, riskRow{id: uuid.New(), at: start.Add(time.Duration(i) * time.Hour),
				feats: map[string]float64{"slack_hours": float64(i % 7)}, label: positive(i)})
		}
		return out
	}
	spec := riskSpecs(RiskTrainOptions{}.withDefaults())[RiskDelivery]
	_, _, err := fitRisk(spec, rows(func(i int) bool { return i < 60 && i%2 == 0 }))
	if !errors.Is(err, derrors.Invalid) || !strings.Contains(err.Error(), "calibration slice") {
		t.Errorf("fitRisk with no late deliveries after the training slice = %v, want the calibration slice refused", err)
	}
	rep, m, err := fitRisk(spec, rows(func(i int) bool { return i%3 == 0 }))
	if err != nil || m == nil || rep.Test.Rows != 20 || rep.Test.From.Before(rep.Calibration.To) {
		t.Errorf("fitRisk = %+v, %v, %v; want a model measured on the newest 20 rows", rep, m, err)
	}
}
