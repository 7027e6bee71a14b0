package models

import (
	"errors"
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestClassify(t *testing.T) {
	t.Parallel()
	yTrue := []string{"a", "a", "a", "b", "b", "c"}
	yPred := []string{"a", "a", "b", "b", "c", ""} // "" abstains
	r, err := Classify(yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	want := []ClassMetrics{
		{Label: "a", Precision: 1, Recall: 2.0 / 3, F1: 0.8, Support: 3, Predicted: 2},
		{Label: "b", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2, Predicted: 2},
		{Label: "c", Precision: 0, Recall: 0, F1: 0, Support: 1, Predicted: 1},
	}
	if r.N != 6 || !near(r.Accuracy, 0.5) || !near(r.MacroF1, 1.3/3) || len(r.Classes) != len(want) {
		t.Fatalf("Classify() = %+v, want N 6, accuracy 0.5, macro-F1 0.4333, 3 classes", r)
	}
	for i, w := range want {
		g := r.Classes[i]
		if g.Label != w.Label || !near(g.Precision, w.Precision) || !near(g.Recall, w.Recall) || !near(g.F1, w.F1) ||
			g.Support != w.Support || g.Predicted != w.Predicted {
			t.Errorf("Classify().Classes[%d] = %+v, want %+v", i, g, w)
		}
	}

	tests := []struct {
		yTrue, yPred    []string
		wantAcc, wantF1 float64
		wantErr         error
	}{
		{[]string{"x", "y"}, []string{"x", "y"}, 1, 1, nil},
		{[]string{"x"}, []string{"y"}, 0, 0, nil}, // a predicted-only class counts in macro-F1
		{[]string{"x", "x", "y"}, []string{"x", "x", "x"}, 2.0 / 3, 0.4, nil},
		{nil, nil, 0, 0, ErrInvalid},
		{[]string{"x"}, []string{"x", "y"}, 0, 0, ErrInvalid},
	}
	for _, tt := range tests {
		acc, err := Accuracy(tt.yTrue, tt.yPred)
		f1, _ := MacroF1(tt.yTrue, tt.yPred)
		if !errors.Is(err, tt.wantErr) || !near(acc, tt.wantAcc) || !near(f1, tt.wantF1) {
			t.Errorf("Accuracy, MacroF1(%q, %q) = %v, %v, %v; want %v, %v, %v", tt.yTrue, tt.yPred, acc, f1, err, tt.wantAcc, tt.wantF1, tt.wantErr)
		}
	}
}

func TestROCAUC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scores  []float64
		pos     []bool
		want    float64
		wantErr error
	}{
		{[]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75, nil},
		{[]float64{1, 2, 3, 4}, []bool{false, false, true, true}, 1, nil},
		{[]float64{4, 3, 2, 1}, []bool{false, false, true, true}, 0, nil},
		{[]float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, true, false}, 0.5, nil}, // all tied
		{[]float64{1, 2, 2, 3}, []bool{false, true, false, true}, 0.875, nil},       // one tied pair counts half
		{[]float64{1, 2}, []bool{true, true}, 0, ErrInvalid},
		{[]float64{1, math.NaN()}, []bool{true, false}, 0, ErrInvalid},
		{nil, nil, 0, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := ROCAUC(tt.scores, tt.pos)
		if !errors.Is(err, tt.wantErr) || !near(got, tt.want) {
			t.Errorf("ROCAUC(%v, %v) = %v, %v; want %v, %v", tt.scores, tt.pos, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestBrierScore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p       []float64
		o       []bool
		want    float64
		wantErr error
	}{
		{[]float64{1, 0, 0.5}, []bool{true, true, false}, 1.25 / 3, nil},
		{[]float64{1, 0}, []bool{true, false}, 0, nil},
		{[]float64{1.5}, []bool{true}, 0, ErrInvalid},
		{[]float64{0.5}, []bool{true, false}, 0, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := BrierScore(tt.p, tt.o)
		if !errors.Is(err, tt.wantErr) || !near(got, tt.want) {
			t.Errorf("BrierScore(%v, %v) = %v, %v; want %v, %v", tt.p, tt.o, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMulticlassBrier(t *testing.T) {
	t.Parallel()
	dists := []map[string]float64{{"a": 0.7, "b": 0.3}, {"a": 1}, {}}
	yTrue := []string{"a", "b", "c"}
	got, err := MulticlassBrier(dists, yTrue)
	if want := (0.18 + 2 + 1) / 3; err != nil || !near(got, want) {
		t.Errorf("MulticlassBrier(%v, %v) = %v, %v; want %v", dists, yTrue, got, err, want)
	}
	if _, err := MulticlassBrier(dists, yTrue[:1]); !errors.Is(err, ErrInvalid) {
		t.Errorf("MulticlassBrier(3 dists, 1 label) error = %v, want ErrInvalid", err)
	}
}

func TestECE(t *testing.T) {
	t.Parallel()
	conf := []float64{0.95, 0.95, 0.55, 0.05, 1, 0}
	correct := []bool{true, false, true, false, true, false}
	ece, table, err := ECE(conf, correct, 15)
	if err != nil {
		t.Fatal(err)
	}
	// Bin 14 holds .95, .95 and 1 (accuracy 2/3, confidence .9667); bin 8
	// holds .55 (right); bin 0 holds .05 and 0 (wrong).
	want := (3*math.Abs(2.0/3-2.9/3) + 1*0.45 + 2*0.025) / 6
	if !near(ece, want) {
		t.Errorf("ECE(%v, %v, 15) = %v, want %v", conf, correct, ece, want)
	}
	if len(table) != 15 || !near(table[0].Lo, 0) || !near(table[14].Hi, 1) || !near(table[1].Lo, 1.0/15) {
		t.Fatalf("ECE() table has %d bins from %v to %v, want 15 from 0 to 1", len(table), table[0].Lo, table[len(table)-1].Hi)
	}
	wantBins := map[int]ReliabilityBin{
		0:  {Count: 2, MeanConfidence: 0.025, Accuracy: 0},
		8:  {Count: 1, MeanConfidence: 0.55, Accuracy: 1},
		14: {Count: 3, MeanConfidence: 2.9 / 3, Accuracy: 2.0 / 3},
	}
	for b, got := range table {
		w := wantBins[b]
		if got.Count != w.Count || !near(got.MeanConfidence, w.MeanConfidence) || !near(got.Accuracy, w.Accuracy) {
			t.Errorf("ECE() bin %d = %+v, want %+v", b, got, w)
		}
	}
	if _, _, err := ECE(conf, correct, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("ECE(bins=0) error = %v, want ErrInvalid", err)
	}
	// A perfectly calibrated set has no error.
	if e, _, _ := ECE([]float64{1, 1, 0}, []bool{true, true, false}, 15); !near(e, 0) {
		t.Errorf("ECE(perfect) = %v, want 0", e)
	}
}
