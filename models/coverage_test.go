package models

import (
	"errors"
	"math"
	"testing"
)

// coverageData is five predictions: two at 0.9 (both right), then 0.8
// (wrong), 0.7 (right), 0.6 (wrong).
func coverageData() ([]float64, []bool) {
	return []float64{0.9, 0.8, 0.9, 0.7, 0.6}, []bool{true, false, true, true, false}
}

func pointEqual(a, b OperatingPoint) bool {
	return near(a.Threshold, b.Threshold) && a.Accepted == b.Accepted && a.Total == b.Total &&
		near(a.Coverage, b.Coverage) && near(a.Precision, b.Precision) && near(a.Risk, b.Risk)
}

func TestRiskCoverage(t *testing.T) {
	t.Parallel()
	covConf, covCorrect := coverageData()
	got, err := RiskCoverage(covConf, covCorrect)
	if err != nil {
		t.Fatal(err)
	}
	want := []OperatingPoint{
		{Threshold: 0.9, Accepted: 2, Total: 5, Coverage: 0.4, Precision: 1, Risk: 0},
		{Threshold: 0.8, Accepted: 3, Total: 5, Coverage: 0.6, Precision: 2.0 / 3, Risk: 1.0 / 3},
		{Threshold: 0.7, Accepted: 4, Total: 5, Coverage: 0.8, Precision: 0.75, Risk: 0.25},
		{Threshold: 0.6, Accepted: 5, Total: 5, Coverage: 1, Precision: 0.6, Risk: 0.4},
	}
	if len(got) != len(want) {
		t.Fatalf("RiskCoverage() = %+v, want %+v", got, want)
	}
	for i := range want {
		if !pointEqual(got[i], want[i]) {
			t.Errorf("RiskCoverage()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := RiskCoverage([]float64{math.NaN()}, []bool{true}); !errors.Is(err, ErrInvalid) {
		t.Errorf("RiskCoverage(NaN) error = %v, want ErrInvalid", err)
	}
}

func TestCoverageAtPrecision(t *testing.T) {
	t.Parallel()
	covConf, covCorrect := coverageData()
	tests := []struct {
		conf    []float64
		correct []bool
		target  float64
		want    OperatingPoint
		wantOK  bool
	}{
		{covConf, covCorrect, 0.75, OperatingPoint{Threshold: 0.7, Accepted: 4, Total: 5, Coverage: 0.8, Precision: 0.75, Risk: 0.25}, true},
		{covConf, covCorrect, 0.8, OperatingPoint{Threshold: 0.9, Accepted: 2, Total: 5, Coverage: 0.4, Precision: 1}, true},
		{covConf, covCorrect, 0.5, OperatingPoint{Threshold: 0.6, Accepted: 5, Total: 5, Coverage: 1, Precision: 0.6, Risk: 0.4}, true},
		// Precision is not monotone in the threshold: the lowest qualifying
		// threshold wins even when a higher one fails.
		{[]float64{0.9, 0.8, 0.7}, []bool{false, true, true}, 2.0 / 3, OperatingPoint{Threshold: 0.7, Accepted: 3, Total: 3, Coverage: 1, Precision: 2.0 / 3, Risk: 1.0 / 3}, true},
		{[]float64{0.9, 0.5}, []bool{false, true}, 0.6, OperatingPoint{Threshold: math.Inf(1), Total: 2, Precision: 1}, false},
	}
	for _, tt := range tests {
		got, ok, err := CoverageAtPrecision(tt.conf, tt.correct, tt.target)
		if err != nil || ok != tt.wantOK || !(pointEqual(got, tt.want) || math.IsInf(got.Threshold, 1) && math.IsInf(tt.want.Threshold, 1) && got.Accepted == 0) {
			t.Errorf("CoverageAtPrecision(%v, %v, %v) = %+v, %v, %v; want %+v, %v", tt.conf, tt.correct, tt.target, got, ok, err, tt.want, tt.wantOK)
		}
	}
	for _, target := range []float64{0, 1.01, math.NaN()} {
		if _, _, err := CoverageAtPrecision(covConf, covCorrect, target); !errors.Is(err, ErrInvalid) {
			t.Errorf("CoverageAtPrecision(target %v) error = %v, want ErrInvalid", target, err)
		}
	}
}

func TestPrecisionAtCoverage(t *testing.T) {
	t.Parallel()
	covConf, covCorrect := coverageData()
	tests := []struct {
		coverage      float64
		wantThreshold float64
		wantCoverage  float64
		wantPrecision float64
	}{
		{0.1, 0.9, 0.4, 1}, // ties at 0.9 are accepted together
		{0.4, 0.9, 0.4, 1},
		{0.5, 0.8, 0.6, 2.0 / 3},
		{0.8, 0.7, 0.8, 0.75},
		{1, 0.6, 1, 0.6},
	}
	for _, tt := range tests {
		got, err := PrecisionAtCoverage(covConf, covCorrect, tt.coverage)
		if err != nil || !near(got.Threshold, tt.wantThreshold) || !near(got.Coverage, tt.wantCoverage) || !near(got.Precision, tt.wantPrecision) {
			t.Errorf("PrecisionAtCoverage(%v) = %+v, %v; want threshold %v, coverage %v, precision %v", tt.coverage, got, err, tt.wantThreshold, tt.wantCoverage, tt.wantPrecision)
		}
	}
	if _, err := PrecisionAtCoverage(covConf, covCorrect, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("PrecisionAtCoverage(0) error = %v, want ErrInvalid", err)
	}
}

func TestAtThreshold(t *testing.T) {
	t.Parallel()
	covConf, covCorrect := coverageData()
	tests := []struct {
		threshold float64
		want      OperatingPoint
	}{
		{0.75, OperatingPoint{Threshold: 0.75, Accepted: 3, Total: 5, Coverage: 0.6, Precision: 2.0 / 3, Risk: 1.0 / 3}},
		{0.9, OperatingPoint{Threshold: 0.9, Accepted: 2, Total: 5, Coverage: 0.4, Precision: 1}},
		{2, OperatingPoint{Threshold: 2, Accepted: 0, Total: 5, Coverage: 0, Precision: 1}},
		{math.Inf(1), OperatingPoint{Threshold: math.Inf(1), Accepted: 0, Total: 5, Coverage: 0, Precision: 1}},
	}
	for _, tt := range tests {
		got, err := AtThreshold(covConf, covCorrect, tt.threshold)
		if err != nil || got.Accepted != tt.want.Accepted || !near(got.Coverage, tt.want.Coverage) || !near(got.Precision, tt.want.Precision) {
			t.Errorf("AtThreshold(%v) = %+v, %v; want %+v", tt.threshold, got, err, tt.want)
		}
	}
}

func TestPrecisionAtTopK(t *testing.T) {
	t.Parallel()
	scores := []float64{0.9, 0.8, 0.8, 0.8, 0.1}
	pos := []bool{true, true, false, false, true}
	tests := []struct {
		frac    float64
		want    float64
		wantErr error
	}{
		{0.2, 1, nil},
		{0.4, (1 + 1.0/3) / 2, nil}, // one of three tied examples taken: a third of a positive
		{0.8, (1 + 1) / 4.0, nil},
		{1, 0.6, nil},
		{0.01, 1, nil}, // at least one example
		{0, 0, ErrInvalid},
		{1.5, 0, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := PrecisionAtTopK(scores, pos, tt.frac)
		if !errors.Is(err, tt.wantErr) || !near(got, tt.want) {
			t.Errorf("PrecisionAtTopK(%v) = %v, %v; want %v, %v", tt.frac, got, err, tt.want, tt.wantErr)
		}
	}
}
