package models

import (
	"fmt"
	"math"
	"slices"
)

// ClassMetrics are the precision, recall and F1 of one label.
type ClassMetrics struct {
	Label     string
	Precision float64
	Recall    float64
	F1        float64
	Support   int // examples whose true label this is
	Predicted int // examples predicted as this label
}

// ClassificationReport summarises a multiclass classification.
type ClassificationReport struct {
	N        int
	Accuracy float64
	MacroF1  float64
	// Classes holds one entry per label seen in the true or the predicted
	// labels (never ""), sorted by label.
	Classes []ClassMetrics
}

// checkPairs validates two parallel slices.
func checkPairs(what string, a, b int) error {
	if a != b {
		return fmt.Errorf("%s: %d values and %d values: %w", what, a, b, ErrInvalid)
	}
	if a == 0 {
		return fmt.Errorf("%s: no values: %w", what, ErrInvalid)
	}
	return nil
}

// Classify compares predicted with true labels. An empty predicted label is
// an abstention: it counts as wrong and is not a class. A class without
// predictions has precision 0, as one without examples has recall 0, and
// macro-F1 averages F1 over every class the report lists.
func Classify(yTrue, yPred []string) (ClassificationReport, error) {
	if err := checkPairs("classification report", len(yTrue), len(yPred)); err != nil {
		return ClassificationReport{}, err
	}
	type counts struct{ tp, support, predicted int }
	per := make(map[string]*counts)
	get := func(l string) *counts {
		c, ok := per[l]
		if !ok {
			c = &counts{}
			per[l] = c
		}
		return c
	}
	correct := 0
	for i, t := range yTrue {
		p := yPred[i]
		if t != "" {
			get(t).support++
		}
		if p != "" {
			get(p).predicted++
		}
		if p == t && p != "" {
			get(p).tp++
			correct++
		}
	}
	r := ClassificationReport{N: len(yTrue), Accuracy: float64(correct) / float64(len(yTrue))}
	for _, l := range sortedKeys(per) {
		c := per[l]
		m := ClassMetrics{Label: l, Support: c.support, Predicted: c.predicted}
		if c.predicted > 0 {
			m.Precision = float64(c.tp) / float64(c.predicted)
		}
		if c.support > 0 {
			m.Recall = float64(c.tp) / float64(c.support)
		}
		if m.Precision+m.Recall > 0 {
			m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
		}
		r.MacroF1 += m.F1
		r.Classes = append(r.Classes, m)
	}
	if len(r.Classes) > 0 {
		r.MacroF1 /= float64(len(r.Classes))
	}
	return r, nil
}

// Accuracy is the share of predictions equal to the true label.
func Accuracy(yTrue, yPred []string) (float64, error) {
	r, err := Classify(yTrue, yPred)
	return r.Accuracy, err
}

// MacroF1 is the unweighted mean of the per-class F1 scores (see Classify).
func MacroF1(yTrue, yPred []string) (float64, error) {
	r, err := Classify(yTrue, yPred)
	return r.MacroF1, err
}

// checkProbs validates parallel probabilities and outcomes.
func checkProbs(what string, p []float64, outcomes []bool) error {
	if err := checkPairs(what, len(p), len(outcomes)); err != nil {
		return err
	}
	for i, x := range p {
		if math.IsNaN(x) || x < 0 || x > 1 {
			return fmt.Errorf("%s: value %d is %v, not a probability: %w", what, i, x, ErrInvalid)
		}
	}
	return nil
}

// ROCAUC is the area under the ROC curve of scores against the positive
// labels: the probability that a random positive scores above a random
// negative, ties counting one half. It needs at least one positive and one
// negative.
func ROCAUC(scores []float64, positive []bool) (float64, error) {
	if err := checkPairs("roc auc", len(scores), len(positive)); err != nil {
		return 0, err
	}
	order := make([]int, len(scores))
	for i := range order {
		if math.IsNaN(scores[i]) {
			return 0, fmt.Errorf("roc auc: score %d is NaN: %w", i, ErrInvalid)
		}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	// Mann-Whitney U with mid-ranks for tied scores.
	var rankSum float64
	nPos := 0
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && scores[order[j]] == scores[order[i]] {
			j++
		}
		midRank := float64(i+j+1) / 2 // ranks are 1-based: (i+1 + j) / 2
		for _, o := range order[i:j] {
			if positive[o] {
				rankSum += midRank
				nPos++
			}
		}
		i = j
	}
	nNeg := len(scores) - nPos
	if nPos == 0 || nNeg == 0 {
		return 0, fmt.Errorf("roc auc: %d positives and %d negatives, need both: %w", nPos, nNeg, ErrInvalid)
	}
	u := rankSum - float64(nPos)*float64(nPos+1)/2
	return u / (float64(nPos) * float64(nNeg)), nil
}

// BrierScore is the mean squared difference between probabilities and
// outcomes (1 for true): 0 is perfect, 0.25 is a coin flip.
func BrierScore(probs []float64, outcomes []bool) (float64, error) {
	if err := checkProbs("brier score", probs, outcomes); err != nil {
		return 0, err
	}
	var s float64
	for i, p := range probs {
		d := p
		if outcomes[i] {
			d = 1 - p
		}
		s += d * d
	}
	return s / float64(len(probs)), nil
}

// MulticlassBrier is the mean over examples of the squared distance between
// the predicted distribution over labels and the one-hot true label; labels
// missing from a distribution have probability 0. It ranges from 0 to 2.
func MulticlassBrier(dists []map[string]float64, yTrue []string) (float64, error) {
	if err := checkPairs("multiclass brier", len(dists), len(yTrue)); err != nil {
		return 0, err
	}
	var s float64
	for i, d := range dists {
		e := 1.0
		for l, p := range d {
			if math.IsNaN(p) {
				return 0, fmt.Errorf("multiclass brier: example %d label %q is NaN: %w", i, l, ErrInvalid)
			}
			e += p * p
			if l == yTrue[i] {
				e -= 2 * p
			}
		}
		s += e
	}
	return s / float64(len(dists)), nil
}

// ReliabilityBin is one row of a reliability table: the predictions whose
// confidence fell in (Lo, Hi] (the first bin also takes 0).
type ReliabilityBin struct {
	Lo, Hi         float64
	Count          int
	MeanConfidence float64
	Accuracy       float64
}

// ECE is the expected calibration error over bins equal-width confidence
// bins: the count-weighted mean of |accuracy − mean confidence|. It also
// returns the reliability table, empty bins included. Use 15 bins to
// compare with the literature.
func ECE(conf []float64, correct []bool, bins int) (float64, []ReliabilityBin, error) {
	if err := checkProbs("ece", conf, correct); err != nil {
		return 0, nil, err
	}
	if bins < 1 {
		return 0, nil, fmt.Errorf("ece: %d bins: %w", bins, ErrInvalid)
	}
	table := make([]ReliabilityBin, bins)
	for b := range table {
		table[b].Lo = float64(b) / float64(bins)
		table[b].Hi = float64(b+1) / float64(bins)
	}
	for i, c := range conf {
		b := min(max(int(math.Ceil(c*float64(bins)))-1, 0), bins-1)
		table[b].Count++
		table[b].MeanConfidence += c
		if correct[i] {
			table[b].Accuracy++
		}
	}
	var ece float64
	for b := range table {
		t := &table[b]
		if t.Count == 0 {
			continue
		}
		t.MeanConfidence /= float64(t.Count)
		t.Accuracy /= float64(t.Count)
		ece += float64(t.Count) / float64(len(conf)) * math.Abs(t.Accuracy-t.MeanConfidence)
	}
	return ece, table, nil
}
