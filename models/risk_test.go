package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func stockoutFeatures() []Feature {
	return []Feature{
		{Name: "days_of_cover", Label: "days of stock cover"},
		{Name: "lead_time_days", Label: "supplier lead time (days)"},
		{Name: "on_promo", Label: "on promotion"},
		{Name: "noise", Label: "noise"},
	}
}

// stockoutData: risk falls with days of cover, rises with lead time and
// promotions; the last feature is noise.
func stockoutData(n int, seed uint64) ([][]float64, []bool) {
	rng := rand.New(rand.NewPCG(seed, 99))
	x := make([][]float64, n)
	y := make([]bool, n)
	for i := range x {
		cover := rng.Float64() * 20
		lead := 2 + rng.Float64()*10
		promo := 0.0
		if rng.Float64() < 0.2 {
			promo = 1
		}
		x[i] = []float64{cover, lead, promo, rng.NormFloat64()}
		y[i] = rng.Float64() < sigmoid(-1-0.4*(cover-10)+0.3*(lead-7)+1.5*promo)
	}
	return x, y
}

func trainStockout(t *testing.T, method string) *RiskModel {
	t.Helper()
	xTrain, yTrain := stockoutData(3000, 1)
	xCal, yCal := stockoutData(1000, 2)
	m, err := TrainRiskModel("stockout", stockoutFeatures(), xTrain, yTrain, xCal, yCal, RiskOptions{Calibration: method})
	if err != nil {
		t.Fatalf("TrainRiskModel(%q): %v", method, err)
	}
	return m
}

func TestRiskModelScore(t *testing.T) {
	t.Parallel()
	m := trainStockout(t, "")
	if m.Calibration.Method != CalibrationPlatt || m.TopK != 3 {
		t.Errorf("TrainRiskModel defaults: calibration %q, top k %d; want platt, 3", m.Calibration.Method, m.TopK)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{16}$`).MatchString(m.Version) {
		t.Errorf("Version = %q, want sha256: and 16 hex digits", m.Version)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}

	// Two days of cover, a long lead time, no promotion.
	risky := []float64{2, 11, 0, 0}
	p, factors := m.Score(risky)
	if p < 0.8 {
		t.Errorf("Score(%v) = %v, want a high risk", risky, p)
	}
	if len(factors) != 3 {
		t.Fatalf("Score(%v) factors = %+v, want 3", risky, factors)
	}
	if factors[0].Name != "days_of_cover" || factors[1].Name != "lead_time_days" {
		t.Errorf("Score(%v) factors = %+v, want days_of_cover then lead_time_days first", risky, factors)
	}
	for i, f := range factors {
		if i > 0 && f.Contribution > 0 && factors[i-1].Contribution < 0 {
			t.Errorf("Score() factors = %+v, want those raising the risk first", factors)
		}
		if i > 0 && (f.Contribution > 0) == (factors[i-1].Contribution > 0) && math.Abs(f.Contribution) > math.Abs(factors[i-1].Contribution) {
			t.Errorf("Score() factors = %+v, want each sign's factors largest first", factors)
		}
	}
	if want := "days of stock cover 2 (typically "; !strings.HasPrefix(factors[0].Description, want) {
		t.Errorf("default description = %q, want it to start %q", factors[0].Description, want)
	}

	// A caller's wording.
	if err := m.SetDescriber("days_of_cover", func(v, typical float64) string {
		return fmt.Sprintf("only %.0f days of cover left", v)
	}); err != nil {
		t.Fatal(err)
	}
	if _, f := m.Score(risky); f[0].Description != "only 2 days of cover left" {
		t.Errorf("described factor = %q, want %q", f[0].Description, "only 2 days of cover left")
	}
	if err := m.SetDescriber("colour", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetDescriber(unknown feature) = %v, want ErrInvalid", err)
	}

	// Plenty of cover: low risk, and the cover is what lowers it.
	safe := []float64{19, 3, 0, 0}
	p, factors = m.Score(safe)
	if p > 0.05 || factors[len(factors)-1].Contribution >= 0 {
		t.Errorf("Score(%v) = %v, %+v; want a low risk with a negative factor", safe, p, factors)
	}

	// Missing values are typical: they contribute nothing.
	_, factors = m.Score([]float64{2})
	if len(factors) != 1 || factors[0].Name != "days_of_cover" {
		t.Errorf("Score([2]) factors = %+v, want only days_of_cover", factors)
	}
	if _, factors := m.Score([]float64{math.NaN(), math.NaN()}); len(factors) != 0 {
		t.Errorf("Score(NaN, NaN) factors = %+v, want none", factors)
	}
}

func TestRiskModelCalibrated(t *testing.T) {
	t.Parallel()
	for _, method := range []string{CalibrationPlatt, CalibrationIsotonic} {
		m := trainStockout(t, method)
		x, y := stockoutData(5000, 3) // fresh data
		probs := make([]float64, len(x))
		for i, row := range x {
			probs[i] = m.Probability(row)
		}
		ece, _, err := ECE(probs, y, 15)
		if err != nil {
			t.Fatal(err)
		}
		auc, err := ROCAUC(probs, y)
		if err != nil {
			t.Fatal(err)
		}
		if ece > 0.03 || auc < 0.9 {
			t.Errorf("%s risk model on fresh data: ECE %.3f, AUC %.3f; want ECE <= 0.03, AUC >= 0.9", method, ece, auc)
		}
	}
}

func TestRiskModelJSON(t *testing.T) {
	t.Parallel()
	for _, method := range []string{CalibrationNone, CalibrationPlatt, CalibrationIsotonic} {
		m := trainStockout(t, method)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := LoadRiskModel(b)
		if err != nil {
			t.Fatalf("LoadRiskModel(%s model): %v", method, err)
		}
		if back.Version != m.Version {
			t.Errorf("Version after a JSON round trip = %q, want %q", back.Version, m.Version)
		}
		for _, x := range [][]float64{{2, 11, 0, 0}, {10, 7, 1, 0.5}} {
			p1, f1 := m.Score(x)
			p2, f2 := back.Score(x)
			if p1 != p2 || len(f1) != len(f2) || f1[0] != f2[0] {
				t.Errorf("%s model Score(%v) = %v, %v before and %v, %v after a JSON round trip", method, x, p1, f1, p2, f2)
			}
		}
	}
}

func TestRiskModelVersion(t *testing.T) {
	t.Parallel()
	m := trainStockout(t, CalibrationPlatt)
	again := trainStockout(t, CalibrationPlatt)
	if m.Version != again.Version {
		t.Errorf("Version of the same training = %q and %q, want equal", m.Version, again.Version)
	}
	changed := *m
	changed.Model.Weights = append([]float64(nil), m.Model.Weights...)
	changed.Model.Weights[0] += 1e-9
	if v := changed.ComputeVersion(); v == m.Version {
		t.Errorf("ComputeVersion() after changing a weight = %q, want different from %q", v, m.Version)
	}

	// A stored model edited by hand is refused.
	b, _ := json.Marshal(m)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["top_k"] = 5
	tampered, _ := json.Marshal(raw)
	if _, err := LoadRiskModel(tampered); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "version") {
		t.Errorf("LoadRiskModel(edited) error = %v, want a version mismatch", err)
	}
	if _, err := LoadRiskModel([]byte("{")); err == nil {
		t.Errorf("LoadRiskModel(bad JSON) = nil error, want one")
	}
}

func TestRiskModelValidate(t *testing.T) {
	t.Parallel()
	base := trainStockout(t, CalibrationPlatt)
	tests := []struct {
		name   string
		change func(m *RiskModel)
	}{
		{"no features", func(m *RiskModel) { m.Features = nil }},
		{"weights short", func(m *RiskModel) { m.Model.Weights = m.Model.Weights[:2] }},
		{"unnamed feature", func(m *RiskModel) { m.Features[1].Name = "" }},
		{"zero std", func(m *RiskModel) { m.Model.Scaler.Std[0] = 0 }},
		{"NaN bias", func(m *RiskModel) { m.Model.Bias = math.NaN() }},
		{"calibration", func(m *RiskModel) { m.Calibration = Calibration{Method: "magic"} }},
	}
	for _, tt := range tests {
		b, _ := json.Marshal(base)
		m, err := LoadRiskModel(b)
		if err != nil {
			t.Fatal(err)
		}
		tt.change(m)
		m.Version = m.ComputeVersion()
		if err := m.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate() with %s = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestTrainRiskModelInvalid(t *testing.T) {
	t.Parallel()
	x, y := stockoutData(200, 4)
	tests := []struct {
		name     string
		features []Feature
		xCal     [][]float64
		yCal     []bool
		opts     RiskOptions
	}{
		{"no features", nil, x, y, RiskOptions{}},
		{"feature count", stockoutFeatures()[:2], x, y, RiskOptions{}},
		{"no calibration rows", stockoutFeatures(), nil, nil, RiskOptions{Calibration: CalibrationIsotonic}},
		{"short calibration row", stockoutFeatures(), [][]float64{{1}}, []bool{true}, RiskOptions{}},
		{"unknown calibration", stockoutFeatures(), x, y, RiskOptions{Calibration: "beta"}},
	}
	for _, tt := range tests {
		if _, err := TrainRiskModel("stockout", tt.features, x, y, tt.xCal, tt.yCal, tt.opts); !errors.Is(err, ErrInvalid) {
			t.Errorf("TrainRiskModel(%s) error = %v, want ErrInvalid", tt.name, err)
		}
	}
	if _, err := TrainRiskModel("stockout", stockoutFeatures(), x, y, nil, nil, RiskOptions{Calibration: CalibrationNone}); err != nil {
		t.Errorf("TrainRiskModel(no calibration) = %v, want success", err)
	}
}
