package models

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

func labelsOf(counts map[string]int) []string {
	var labels []string
	for _, l := range sortedKeys(counts) {
		for range counts[l] {
			labels = append(labels, l)
		}
	}
	// Interleave so the split cannot rely on input order.
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	return labels
}

func TestStratifiedSplit(t *testing.T) {
	t.Parallel()
	labels := labelsOf(map[string]int{"a": 100, "b": 10, "c": 2, "d": 1})
	train, test, err := StratifiedSplit(labels, 0.6, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(train)+len(test) != len(labels) {
		t.Fatalf("StratifiedSplit() = %d + %d indices, want %d", len(train), len(test), len(labels))
	}
	all := slices.Concat(train, test)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("StratifiedSplit() indices = %v, want each of 0..%d once", all, len(labels)-1)
		}
	}
	if !slices.IsSorted(train) || !slices.IsSorted(test) {
		t.Errorf("StratifiedSplit() returned unsorted indices")
	}
	count := func(idx []int) map[string]int {
		m := map[string]int{}
		for _, i := range idx {
			m[labels[i]]++
		}
		return m
	}
	wantTrain := map[string]int{"a": 60, "b": 6, "c": 1, "d": 1}
	if got := count(train); !maps.Equal(got, wantTrain) {
		t.Errorf("StratifiedSplit(0.6) training counts = %v, want %v", got, wantTrain)
	}
	// Same seed, same split.
	train2, _, _ := StratifiedSplit(labels, 0.6, rand.New(rand.NewPCG(1, 1)))
	if !slices.Equal(train, train2) {
		t.Errorf("StratifiedSplit() with the same seed gave different splits")
	}
	for _, frac := range []float64{0, 1, -0.5, 1.5} {
		if _, _, err := StratifiedSplit(labels, frac, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, ErrInvalid) {
			t.Errorf("StratifiedSplit(%v) error = %v, want ErrInvalid", frac, err)
		}
	}
}

func TestStratifiedFolds(t *testing.T) {
	t.Parallel()
	labels := labelsOf(map[string]int{"a": 50, "b": 23, "c": 3, "d": 3, "e": 3})
	folds, err := StratifiedFolds(labels, 5, rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	perFold := make([]int, 5)
	perLabel := map[string][]int{}
	for i, f := range folds {
		perFold[f]++
		if perLabel[labels[i]] == nil {
			perLabel[labels[i]] = make([]int, 5)
		}
		perLabel[labels[i]][f]++
	}
	for l, counts := range perLabel {
		if slices.Max(counts)-slices.Min(counts) > 1 {
			t.Errorf("StratifiedFolds() spreads label %q as %v, want within one of even", l, counts)
		}
	}
	if slices.Max(perFold)-slices.Min(perFold) > 1 {
		t.Errorf("StratifiedFolds() fold sizes = %v, want within one of each other", perFold)
	}
	if _, err := StratifiedFolds(labels, 1, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, ErrInvalid) {
		t.Errorf("StratifiedFolds(k=1) error = %v, want ErrInvalid", err)
	}
	if _, err := StratifiedFolds([]string{"a"}, 2, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, ErrInvalid) {
		t.Errorf("StratifiedFolds(1 example, k=2) error = %v, want ErrInvalid", err)
	}
}
