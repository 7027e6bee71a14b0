package models

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// logisticData draws n rows of (x1 ~ N(0,1), x2 ~ N(5,2), x3 = 7) with
// P(y) = σ(bias + w1·x1 + w2·(x2−5)/2).
func logisticData(n int, bias, w1, w2 float64, seed uint64) ([][]float64, []bool) {
	rng := rand.New(rand.NewPCG(seed, seed))
	x := make([][]float64, n)
	y := make([]bool, n)
	for i := range x {
		x1, x2 := rng.NormFloat64(), 5+2*rng.NormFloat64()
		x[i] = []float64{x1, x2, 7}
		y[i] = rng.Float64() < sigmoid(bias+w1*x1+w2*(x2-5)/2)
	}
	return x, y
}

func TestFitLogisticRegression(t *testing.T) {
	t.Parallel()
	x, y := logisticData(20000, -1, 2, -0.75, 1)
	m, err := FitLogisticRegression(x, y, LogisticOptions{L2: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Standardised weights: x1 has std ≈ 1, x2 std ≈ 2, so both ≈ the truth.
	want := []float64{2, -0.75, 0}
	for j, w := range want {
		if math.Abs(m.Weights[j]-w) > 0.1 {
			t.Errorf("FitLogisticRegression() weight %d = %v, want %v ± 0.1", j, m.Weights[j], w)
		}
	}
	if math.Abs(m.Bias+1) > 0.1 {
		t.Errorf("FitLogisticRegression() bias = %v, want -1 ± 0.1", m.Bias)
	}
	if m.Scaler.Std[2] != 1 || m.Scaler.Mean[2] != 7 {
		t.Errorf("constant feature scaler = mean %v std %v, want 7, 1", m.Scaler.Mean[2], m.Scaler.Std[2])
	}
	// A missing value counts as the training mean.
	full := m.Predict([]float64{0.5, m.Scaler.Mean[1], 7})
	for _, x := range [][]float64{{0.5}, {0.5, math.NaN(), 7}} {
		if got := m.Predict(x); !near(got, full) {
			t.Errorf("Predict(%v) = %v, want %v as with the mean filled in", x, got, full)
		}
	}

	// L2 shrinks the weights.
	shrunk, err := FitLogisticRegression(x, y, LogisticOptions{L2: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(shrunk.Weights[0]) >= math.Abs(m.Weights[0]) {
		t.Errorf("weight with L2 5000 = %v, want smaller than %v without", shrunk.Weights[0], m.Weights[0])
	}
}

func TestFitLogisticRegressionClassWeights(t *testing.T) {
	t.Parallel()
	x, y := logisticData(5000, -4, 1, 0, 2) // about 3% positive
	// The bias is not penalised, so at the optimum the class-weighted mean
	// prediction equals the class-weighted share of positives.
	tests := []struct {
		opts LogisticOptions
		cw   [2]float64
	}{
		{LogisticOptions{}, [2]float64{1, 1}},
		{LogisticOptions{ClassWeights: [2]float64{0, 3}}, [2]float64{1, 3}}, // 0 means 1
		{LogisticOptions{ClassWeights: [2]float64{1, 10}}, [2]float64{1, 10}},
		{LogisticOptions{Balanced: true}, [2]float64{}}, // n/(2·n_class), about 1:16 here
	}
	var nPos float64
	for _, v := range y {
		if v {
			nPos++
		}
	}
	n := float64(len(y))
	prevMean := 0.0
	for _, tt := range tests {
		m, err := FitLogisticRegression(x, y, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		cw := tt.cw
		if tt.opts.Balanced {
			cw = [2]float64{n / (2 * (n - nPos)), n / (2 * nPos)}
		}
		var sp, sy, sw, mean float64
		for i, row := range x {
			w := cw[0]
			if y[i] {
				w = cw[1]
				sy += w
			}
			p := m.Predict(row)
			sp += w * p
			sw += w
			mean += p / n
		}
		if math.Abs(sp/sw-sy/sw) > 1e-4 {
			t.Errorf("FitLogisticRegression(%+v): weighted mean prediction %v, want weighted base rate %v", tt.opts, sp/sw, sy/sw)
		}
		if mean <= prevMean {
			t.Errorf("FitLogisticRegression(%+v): mean prediction %v, want above %v with more weight on positives", tt.opts, mean, prevMean)
		}
		prevMean = mean
	}
}

func TestFitLogisticRegressionSeparable(t *testing.T) {
	t.Parallel()
	x := [][]float64{{0}, {1}, {2}, {3}}
	y := []bool{false, false, true, true}
	for _, l2 := range []float64{0, -1} {
		m, err := FitLogisticRegression(x, y, LogisticOptions{L2: l2})
		if err != nil {
			t.Fatalf("FitLogisticRegression(separable, L2 %v): %v", l2, err)
		}
		if lo, hi := m.Predict([]float64{0}), m.Predict([]float64{3}); !(lo < 0.5 && hi > 0.5) || !finite(m.Weights[0]) {
			t.Errorf("FitLogisticRegression(separable, L2 %v) predicts %v and %v with weight %v, want finite, ordered", l2, lo, hi, m.Weights[0])
		}
	}
}

func TestFitLogisticRegressionInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		x    [][]float64
		y    []bool
		opts LogisticOptions
	}{
		{"no rows", nil, nil, LogisticOptions{}},
		{"one class", [][]float64{{1}, {2}}, []bool{true, true}, LogisticOptions{}},
		{"ragged", [][]float64{{1}, {2, 3}}, []bool{true, false}, LogisticOptions{}},
		{"NaN", [][]float64{{1}, {math.NaN()}}, []bool{true, false}, LogisticOptions{}},
		{"labels", [][]float64{{1}, {2}}, []bool{true}, LogisticOptions{}},
		{"class weight", [][]float64{{1}, {2}}, []bool{true, false}, LogisticOptions{ClassWeights: [2]float64{-1, 1}}},
	}
	for _, tt := range tests {
		if _, err := FitLogisticRegression(tt.x, tt.y, tt.opts); !errors.Is(err, ErrInvalid) {
			t.Errorf("FitLogisticRegression(%s) error = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestScaler(t *testing.T) {
	t.Parallel()
	s, err := FitScaler([][]float64{{1, 5}, {3, 5}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Transform([]float64{3, 9}); !near(got[0], 1) || !near(got[1], 4) {
		t.Errorf("Transform([3 9]) = %v, want [1 4] (mean 2, std 1; constant column std 1)", got)
	}
	if got := s.Transform(nil); got[0] != 0 || got[1] != 0 {
		t.Errorf("Transform(nil) = %v, want zeros", got)
	}
}
