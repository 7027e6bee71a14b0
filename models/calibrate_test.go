package models

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestFitIsotonic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		scores   []float64
		outcomes []bool
		wantX    []float64
		wantY    []float64
	}{
		{
			name:     "violators pooled",
			scores:   []float64{1, 2, 3, 4, 5, 6},
			outcomes: []bool{false, true, false, true, true, true},
			wantX:    []float64{1, 2, 3, 4, 6},
			wantY:    []float64{0, 0.5, 0.5, 1, 1},
		},
		{
			name:     "equal scores pooled first",
			scores:   []float64{2, 1, 1},
			outcomes: []bool{true, true, false},
			wantX:    []float64{1, 2},
			wantY:    []float64{0.5, 1},
		},
		{
			name:     "decreasing data becomes one flat block",
			scores:   []float64{1, 2, 3},
			outcomes: []bool{true, true, false},
			wantX:    []float64{1, 3},
			wantY:    []float64{2.0 / 3, 2.0 / 3},
		},
	}
	for _, tt := range tests {
		m, err := FitIsotonic(tt.scores, tt.outcomes)
		if err != nil {
			t.Fatalf("%s: FitIsotonic: %v", tt.name, err)
		}
		if !slices.Equal(m.X, tt.wantX) || !slices.EqualFunc(m.Y, tt.wantY, near) {
			t.Errorf("%s: FitIsotonic(%v, %v) = %v → %v, want %v → %v", tt.name, tt.scores, tt.outcomes, m.X, m.Y, tt.wantX, tt.wantY)
		}
	}
}

func TestIsotonicCalibrate(t *testing.T) {
	t.Parallel()
	m := &Isotonic{X: []float64{1, 2, 3, 4, 6}, Y: []float64{0, 0.5, 0.5, 1, 1}}
	tests := []struct{ score, want float64 }{
		{-5, 0}, {1, 0}, {1.5, 0.25}, {2, 0.5}, {2.5, 0.5}, {3.5, 0.75}, {4, 1}, {5, 1}, {100, 1},
	}
	for _, tt := range tests {
		if got := m.Calibrate(tt.score); !near(got, tt.want) {
			t.Errorf("Isotonic.Calibrate(%v) = %v, want %v", tt.score, got, tt.want)
		}
	}
	if got := (&Isotonic{}).Calibrate(0.3); got != 0.3 {
		t.Errorf("empty Isotonic.Calibrate(0.3) = %v, want 0.3", got)
	}
}

func TestIsotonicMonotone(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	scores := make([]float64, 500)
	outcomes := make([]bool, 500)
	for i := range scores {
		scores[i] = math.Round(rng.Float64()*20) / 20 // many ties
		outcomes[i] = rng.Float64() < scores[i]
	}
	m, err := FitIsotonic(scores, outcomes)
	if err != nil {
		t.Fatal(err)
	}
	prev := -1.0
	for s := -0.1; s <= 1.1; s += 0.001 {
		p := m.Calibrate(s)
		if p < prev-1e-12 || p < 0 || p > 1 {
			t.Fatalf("Isotonic.Calibrate(%v) = %v after %v, want non-decreasing in [0, 1]", s, p, prev)
		}
		prev = p
	}
	// PAV keeps the total: calibrated values sum to the number of positives.
	var sum, pos float64
	for i, s := range scores {
		sum += m.Calibrate(s)
		if outcomes[i] {
			pos++
		}
	}
	if math.Abs(sum-pos) > 1e-6 {
		t.Errorf("sum of Isotonic.Calibrate over its training data = %v, want %v positives", sum, pos)
	}
}

func TestFitPlatt(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	const wantA, wantB = 2.0, -1.0
	n := 20000
	scores := make([]float64, n)
	outcomes := make([]bool, n)
	for i := range scores {
		scores[i] = rng.Float64()*6 - 3
		outcomes[i] = rng.Float64() < sigmoid(wantA*scores[i]+wantB)
	}
	p, err := FitPlatt(scores, outcomes)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.A-wantA) > 0.1 || math.Abs(p.B-wantB) > 0.1 {
		t.Errorf("FitPlatt(data from A=%v B=%v) = %+v, want within 0.1", wantA, wantB, p)
	}

	// Separable data: Platt's smoothed targets keep the fit finite.
	p, err = FitPlatt([]float64{0, 0, 1, 1}, []bool{false, false, true, true})
	if err != nil {
		t.Fatal(err)
	}
	if hi, lo := p.Calibrate(1), p.Calibrate(0); !(hi > 0.5 && hi < 1 && lo < 0.5 && lo > 0) || !finite(p.A) {
		t.Errorf("FitPlatt(separable) = %+v giving %v and %v, want finite, strictly inside (0, 1)", p, lo, hi)
	}

	// All scores equal: the fit is the smoothed base rate.
	p, err = FitPlatt([]float64{0.5, 0.5, 0.5, 0.5}, []bool{true, true, true, false})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Calibrate(0.5); math.Abs(got-0.7) > 0.1 {
		t.Errorf("FitPlatt(constant scores, 3 of 4 positive).Calibrate = %v, want about 0.7", got)
	}

	if _, err := FitPlatt([]float64{math.Inf(1)}, []bool{true}); !errors.Is(err, ErrInvalid) {
		t.Errorf("FitPlatt(Inf) error = %v, want ErrInvalid", err)
	}
}

func TestCalibration(t *testing.T) {
	t.Parallel()
	scores := []float64{0.1, 0.4, 0.5, 0.8, 0.9, 0.95}
	outcomes := []bool{false, false, true, true, false, true}
	for _, method := range []string{CalibrationNone, CalibrationPlatt, CalibrationIsotonic} {
		c, err := FitCalibration(method, scores, outcomes)
		if err != nil {
			t.Fatalf("FitCalibration(%q): %v", method, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("FitCalibration(%q).Validate() = %v", method, err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Calibration
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		for _, s := range []float64{0, 0.45, 0.85, 1} {
			if got, want := back.Calibrate(s), c.Calibrate(s); got != want {
				t.Errorf("%s calibration after a JSON round trip: Calibrate(%v) = %v, want %v", method, s, got, want)
			}
		}
	}
	if c, _ := FitCalibration("", scores, outcomes); c.Method != CalibrationNone || c.Calibrate(0.3) != 0.3 {
		t.Errorf(`FitCalibration("") = %v, want method none, the identity`, c)
	}
	if _, err := FitCalibration("temperature", scores, outcomes); !errors.Is(err, ErrInvalid) {
		t.Errorf("FitCalibration(unknown) error = %v, want ErrInvalid", err)
	}
	bad := []Calibration{
		{Method: "sigmoid"},
		{Method: CalibrationPlatt},
		{Method: CalibrationPlatt, Platt: &Platt{A: math.NaN()}},
		{Method: CalibrationIsotonic, Isotonic: &Isotonic{}},
		{Method: CalibrationIsotonic, Isotonic: &Isotonic{X: []float64{1, 2}, Y: []float64{0.5}}},
		{Method: CalibrationIsotonic, Isotonic: &Isotonic{X: []float64{1, 2}, Y: []float64{0.5, 0.4}}},
	}
	for _, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%v.Validate() = %v, want ErrInvalid", c, err)
		}
	}
}
