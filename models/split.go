package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// byLabel groups example indices by label, labels in sorted order so the
// same rng gives the same split whatever the input order of labels.
func byLabel(labels []string) ([]string, map[string][]int) {
	groups := make(map[string][]int)
	for i, l := range labels {
		groups[l] = append(groups[l], i)
	}
	return sortedKeys(groups), groups
}

// StratifiedSplit splits example indices into a training and a test set
// with about trainFrac of every label in the training set (at least one
// example of each label on each side when the label has two or more). Both
// index lists are in ascending order. rng makes the split reproducible.
func StratifiedSplit(labels []string, trainFrac float64, rng *rand.Rand) (train, test []int, err error) {
	if !(trainFrac > 0 && trainFrac < 1) {
		return nil, nil, fmt.Errorf("stratified split: train fraction %v not in (0, 1): %w", trainFrac, ErrInvalid)
	}
	if len(labels) < 2 {
		return nil, nil, fmt.Errorf("stratified split of %d examples: need at least 2: %w", len(labels), ErrInvalid)
	}
	keys, groups := byLabel(labels)
	for _, l := range keys {
		idx := groups[l]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		n := int(math.Round(trainFrac * float64(len(idx))))
		if len(idx) >= 2 {
			n = min(max(n, 1), len(idx)-1)
		}
		train = append(train, idx[:n]...)
		test = append(test, idx[n:]...)
	}
	slices.Sort(train)
	slices.Sort(test)
	return train, test, nil
}

// StratifiedFolds assigns each example to one of k folds so that every
// label is spread evenly over the folds. It returns the fold of each
// example. rng makes the assignment reproducible.
func StratifiedFolds(labels []string, k int, rng *rand.Rand) ([]int, error) {
	if k < 2 {
		return nil, fmt.Errorf("stratified folds: k = %d, want at least 2: %w", k, ErrInvalid)
	}
	if len(labels) < k {
		return nil, fmt.Errorf("stratified folds: %d examples for %d folds: %w", len(labels), k, ErrInvalid)
	}
	folds := make([]int, len(labels))
	keys, groups := byLabel(labels)
	next := 0 // rotates where each label starts so small labels do not all land in fold 0
	for _, l := range keys {
		idx := groups[l]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for j, i := range idx {
			folds[i] = (next + j) % k
		}
		next = (next + len(idx)) % k
	}
	return folds, nil
}
