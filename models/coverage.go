package models

import (
	"fmt"
	"math"
	"slices"
)

// OperatingPoint is what a confidence threshold does to a set of
// predictions: the ones with confidence >= Threshold are accepted (applied
// automatically), the rest go to a person.
type OperatingPoint struct {
	Threshold float64
	Accepted  int
	Total     int
	// Coverage is Accepted / Total.
	Coverage float64
	// Precision is the share of accepted predictions that were correct; 1
	// when nothing is accepted.
	Precision float64
	// Risk is 1 − Precision, the error rate among accepted predictions.
	Risk float64
}

func operatingPoint(threshold float64, accepted, right, total int) OperatingPoint {
	p := OperatingPoint{Threshold: threshold, Accepted: accepted, Total: total, Precision: 1}
	if total > 0 {
		p.Coverage = float64(accepted) / float64(total)
	}
	if accepted > 0 {
		p.Precision = float64(right) / float64(accepted)
	}
	p.Risk = 1 - p.Precision
	return p
}

// checkConf validates parallel confidences and correctness flags.
func checkConf(what string, conf []float64, correct []bool) error {
	if err := checkPairs(what, len(conf), len(correct)); err != nil {
		return err
	}
	for i, c := range conf {
		if math.IsNaN(c) {
			return fmt.Errorf("%s: confidence %d is NaN: %w", what, i, ErrInvalid)
		}
	}
	return nil
}

// byConfidenceDesc returns the indices of conf from most to least confident.
func byConfidenceDesc(conf []float64) []int {
	order := make([]int, len(conf))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case conf[a] > conf[b]:
			return -1
		case conf[a] < conf[b]:
			return 1
		}
		return 0
	})
	return order
}

// RiskCoverage is the risk–coverage curve: one operating point per distinct
// confidence, from the highest threshold (least coverage) to the lowest
// (everything accepted).
func RiskCoverage(conf []float64, correct []bool) ([]OperatingPoint, error) {
	if err := checkConf("risk coverage", conf, correct); err != nil {
		return nil, err
	}
	order := byConfidenceDesc(conf)
	var curve []OperatingPoint
	right := 0
	for i := 0; i < len(order); {
		t := conf[order[i]]
		for i < len(order) && conf[order[i]] == t {
			if correct[order[i]] {
				right++
			}
			i++
		}
		curve = append(curve, operatingPoint(t, i, right, len(conf)))
	}
	return curve, nil
}

// AtThreshold is the operating point of accepting predictions with
// confidence >= threshold, e.g. one chosen on calibration data applied to
// test data.
func AtThreshold(conf []float64, correct []bool, threshold float64) (OperatingPoint, error) {
	if err := checkConf("at threshold", conf, correct); err != nil {
		return OperatingPoint{}, err
	}
	accepted, right := 0, 0
	for i, c := range conf {
		if c >= threshold {
			accepted++
			if correct[i] {
				right++
			}
		}
	}
	return operatingPoint(threshold, accepted, right, len(conf)), nil
}

// PrecisionAtCoverage returns the operating point of the highest threshold
// that accepts at least the given share of predictions. Tied confidences
// are accepted or refused together, so Coverage can exceed the one asked.
func PrecisionAtCoverage(conf []float64, correct []bool, coverage float64) (OperatingPoint, error) {
	if !(coverage > 0 && coverage <= 1) {
		return OperatingPoint{}, fmt.Errorf("precision at coverage %v: not in (0, 1]: %w", coverage, ErrInvalid)
	}
	curve, err := RiskCoverage(conf, correct)
	if err != nil {
		return OperatingPoint{}, fmt.Errorf("precision at coverage %v: %w", coverage, err)
	}
	want := int(math.Ceil(coverage*float64(len(conf)) - 1e-9))
	for _, p := range curve {
		if p.Accepted >= want {
			return p, nil
		}
	}
	return curve[len(curve)-1], nil
}

// CoverageAtPrecision finds the lowest confidence threshold whose accepted
// set (confidence >= threshold) still has precision >= target: the most
// automation the target allows. It reports false when no threshold reaches
// the target; the point returned then accepts nothing (threshold +Inf).
func CoverageAtPrecision(conf []float64, correct []bool, target float64) (OperatingPoint, bool, error) {
	if !(target > 0 && target <= 1) {
		return OperatingPoint{}, false, fmt.Errorf("coverage at precision %v: not in (0, 1]: %w", target, ErrInvalid)
	}
	curve, err := RiskCoverage(conf, correct)
	if err != nil {
		return OperatingPoint{}, false, fmt.Errorf("coverage at precision %v: %w", target, err)
	}
	for i := len(curve) - 1; i >= 0; i-- {
		// A tiny tolerance so 49/50 meets a 0.98 target despite rounding.
		if curve[i].Precision >= target-1e-12 {
			return curve[i], true, nil
		}
	}
	return operatingPoint(math.Inf(1), 0, 0, len(conf)), false, nil
}

// PrecisionAtTopK is the share of positives among the frac highest-scoring
// examples, e.g. "of the 5% of orders we flagged riskiest, how many were
// late". Examples tied with the last one taken count in proportion, which is
// the expected precision when ties are broken at random.
func PrecisionAtTopK(scores []float64, positive []bool, frac float64) (float64, error) {
	if !(frac > 0 && frac <= 1) {
		return 0, fmt.Errorf("precision at top %v: not in (0, 1]: %w", frac, ErrInvalid)
	}
	if err := checkConf("precision at top k", scores, positive); err != nil {
		return 0, err
	}
	k := max(int(math.Ceil(frac*float64(len(scores))-1e-9)), 1)
	order := byConfidenceDesc(scores)
	cut := scores[order[k-1]]
	var above, abovePos, tied, tiedPos int
	for i, s := range scores {
		switch {
		case s > cut:
			above++
			if positive[i] {
				abovePos++
			}
		case s == cut:
			tied++
			if positive[i] {
				tiedPos++
			}
		}
	}
	taken := float64(k - above) // how many of the tied group make the top k
	pos := float64(abovePos) + taken*float64(tiedPos)/float64(tied)
	return pos / float64(k), nil
}
