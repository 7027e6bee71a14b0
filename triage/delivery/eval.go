package delivery

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	Moment Moment
	// Orders purchased before TrainBefore train the model and make the lane
	// history; those purchased in [TestFrom, TestBefore) are scored.
	TrainBefore, TestFrom, TestBefore time.Time
	// CalibrationShare is the share of training orders, the latest
	// purchased, held out to calibrate the model and the baseline; 0 means 0.2.
	CalibrationShare float64
	// Folds is how many consecutive time blocks the training orders are cut
	// into for forward-chaining validation (fit on the blocks before, score
	// the next); 0 means 5.
	Folds int
	// L2 is the grid of ridge penalties validation chooses from; nil means
	// 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000.
	L2 []float64
	// Calibration is "platt" (the default) or "isotonic".
	Calibration string
	// Progress receives a line per step (may be nil).
	Progress io.Writer
}

// Scores are the test figures of one scorer.
type Scores struct {
	AUC   float64
	Brier float64
	// ECE is the expected calibration error over 15 equal-width bins.
	ECE float64
	// PrecisionTop10 is the share of late orders among the 10% scored riskiest.
	PrecisionTop10 float64
}

// Candidate is one model configuration tried in validation.
type Candidate struct {
	Features string // the feature families, e.g. "lane+handling"
	groups   groupSet
	L2       float64
	// AUC is the mean validation AUC over the forward-chaining folds.
	AUC float64
}

// Report is the outcome of a delivery backtest.
type Report struct {
	Moment Moment
	// Labelled orders (delivered, and the moment came) in each part: the
	// model is fitted on Fit, calibrated on Cal (the training tail); Train
	// is both.
	Train, Fit, Cal, Test int
	// Late rates of each part.
	TrainLate, CalLate, TestLate float64
	// Skipped counts orders in the periods that were not delivered or for
	// which the moment never came.
	Skipped int
	Model   Scores
	// Baseline is slack left minus the lane's 90th-percentile transit,
	// calibrated on the same tail.
	Baseline Scores
	// Candidates are the validation results; Chosen is the best of them.
	Candidates []Candidate
	Chosen     Candidate
	// RiskModel is the fitted, calibrated model.
	RiskModel *models.RiskModel
}

// example is one labelled order at the moment.
type example struct {
	id       string
	purchase time.Time
	known    known
	lane     laneStats
	// baseP90 is the baseline's yardstick: the lane's 90th-percentile
	// transit from the training period only.
	baseP90 float64
	late    bool
}

// examples builds the labelled examples of orders purchased in
// [from, before), with the model's lane statistics from h, the baseline's
// from base and the network state from net, ordered by purchase. skipped counts the orders in the window without
// a label or without the moment.
func examples(orders []Order, h, base *history, net *network, from, before time.Time) (ex []example, skipped int) {
	for i := range orders {
		o := &orders[i]
		if o.PurchasedAt.Before(from) || !o.PurchasedAt.Before(before) {
			continue
		}
		late, labelled := label(o)
		k, ok := knownAt(o, h.moment)
		if !labelled || !ok {
			skipped++
			continue
		}
		l := h.stats(&k)
		l.net = net.stats(&k)
		ex = append(ex, example{id: o.ID, purchase: o.PurchasedAt, known: k, lane: l, baseP90: base.stats(&k).p90, late: late})
	}
	slices.SortStableFunc(ex, func(a, b example) int { return a.purchase.Compare(b.purchase) })
	return ex, skipped
}

// matrix returns the feature rows and labels of ex.
func matrix(fs []feature, ex []example) ([][]float64, []bool) {
	x := make([][]float64, len(ex))
	y := make([]bool, len(ex))
	for i := range ex {
		x[i] = row(fs, &ex[i].known, &ex[i].lane)
		y[i] = ex[i].late
	}
	return x, y
}

// Evaluate backtests the delivery-risk model at one moment on
// history: it builds point-in-time features for the training and test
// orders (lane history only from training orders delivered before each
// order's moment; the network's recent state from every order, but only
// what was known at the moment), chooses the feature families and the
// ridge penalty by forward-chaining validation inside the training period,
// fits the model on the training orders but the latest, calibrates it on
// those, and scores the test orders beside the slack-minus-lane-p90
// baseline. The test orders play no part in any choice.
func Evaluate(orders []Order, opts EvalOptions) (_ Report, err error) {
	defer derrors.Wrap(&err, "Evaluate(%s)", opts.Moment)
	opts, err = defaults(opts)
	if err != nil {
		return Report{}, err
	}
	progress := opts.Progress
	var trainOrders []Order
	for _, o := range orders {
		if o.PurchasedAt.Before(opts.TrainBefore) {
			trainOrders = append(trainOrders, o)
		}
	}
	// The model's lane history is every delivery known at the moment, as
	// the live service's database holds it: the transits of test orders
	// delivered before a later test order's moment count, and no label of
	// a test order reaches the model's parameters, which are fitted on
	// training orders only. The baseline keeps the training period's lanes,
	// as the issue defines it.
	h := newHistory(orders, opts.Moment)
	base := newHistory(trainOrders, opts.Moment)
	net := newNetwork(orders)
	train, skipTrain := examples(orders, h, base, net, time.Time{}, opts.TrainBefore)
	test, skipTest := examples(orders, h, base, net, opts.TestFrom, opts.TestBefore)
	rep := Report{Moment: opts.Moment, Train: len(train), Test: len(test), Skipped: skipTrain + skipTest}
	fmt.Fprintf(progress, "delivery: %d training and %d test orders at %s (%d skipped: not delivered or no %s); lane history of %d deliveries\n",
		len(train), len(test), opts.Moment, rep.Skipped, opts.Moment, len(h.obs))
	nCal := int(float64(len(train))*opts.CalibrationShare + 0.5)
	fit, cal := train[:len(train)-nCal], train[len(train)-nCal:]
	rep.Fit, rep.Cal = len(fit), len(cal)
	rep.TrainLate, rep.CalLate, rep.TestLate = lateRate(train), lateRate(cal), lateRate(test)
	for _, part := range []struct {
		name string
		ex   []example
	}{{"fit", fit}, {"calibration", cal}, {"test", test}} {
		if n := lateCount(part.ex); n == 0 || n == len(part.ex) {
			return rep, fmt.Errorf("the %s orders (%d) need both late and on-time ones, have %d late: %w", part.name, len(part.ex), n, derrors.Invalid)
		}
	}

	rep.Candidates, err = validate(opts, train)
	if err != nil {
		return rep, err
	}
	rep.Chosen = rep.Candidates[0]
	for _, c := range rep.Candidates[1:] {
		if c.AUC > rep.Chosen.AUC+1e-9 {
			rep.Chosen = c
		}
	}
	fmt.Fprintf(progress, "delivery: chose features %s, L2 %g (validation AUC %.3f)\n", rep.Chosen.Features, rep.Chosen.L2, rep.Chosen.AUC)

	fs := featureSet(opts.Moment, rep.Chosen.groups)
	features := make([]models.Feature, len(fs))
	for j, f := range fs {
		features[j] = f.Feature
	}
	xFit, yFit := matrix(fs, fit)
	xCal, yCal := matrix(fs, cal)
	rep.RiskModel, err = models.TrainRiskModel("delivery_late_at_"+string(opts.Moment), features, xFit, yFit, xCal, yCal,
		models.RiskOptions{Logistic: models.LogisticOptions{L2: rep.Chosen.L2}, Calibration: opts.Calibration})
	if err != nil {
		return rep, err
	}
	xTest, yTest := matrix(fs, test)
	probs := make([]float64, len(xTest))
	for i, x := range xTest {
		probs[i] = rep.RiskModel.Probability(x)
	}
	if rep.Model, err = score(probs, probs, yTest); err != nil {
		return rep, fmt.Errorf("model: %w", err)
	}

	// The baseline gets the same chance: its score is calibrated on the
	// same held-out tail, so its Brier and ECE are comparable.
	baseCal := make([]float64, len(cal))
	for i := range cal {
		baseCal[i] = baselineScore(&cal[i].known, cal[i].baseP90)
	}
	baseCalib, err := models.FitCalibration(opts.Calibration, baseCal, yCal)
	if err != nil {
		return rep, fmt.Errorf("baseline: %w", err)
	}
	baseScores := make([]float64, len(test))
	baseProbs := make([]float64, len(test))
	for i := range test {
		baseScores[i] = baselineScore(&test[i].known, test[i].baseP90)
		baseProbs[i] = baseCalib.Calibrate(baseScores[i])
	}
	if rep.Baseline, err = score(baseScores, baseProbs, yTest); err != nil {
		return rep, fmt.Errorf("baseline: %w", err)
	}
	return rep, nil
}

func defaults(o EvalOptions) (EvalOptions, error) {
	var v derrors.ValidationError
	if o.Moment != AtApproval && o.Moment != AtHandoff {
		v.Add("moment", "%q: want approval or handoff", o.Moment)
	}
	if o.TrainBefore.IsZero() || o.TestFrom.IsZero() || o.TestBefore.IsZero() {
		v.Add("dates", "train-before, test-from and test-before are all required")
	} else {
		if o.TestFrom.Before(o.TrainBefore) {
			v.Add("test_from", "%s is before train-before %s: test orders would overlap training", o.TestFrom.Format(time.DateOnly), o.TrainBefore.Format(time.DateOnly))
		}
		if !o.TestBefore.After(o.TestFrom) {
			v.Add("test_before", "%s is not after test-from %s", o.TestBefore.Format(time.DateOnly), o.TestFrom.Format(time.DateOnly))
		}
	}
	if o.CalibrationShare == 0 {
		o.CalibrationShare = 0.2
	}
	if !(o.CalibrationShare > 0 && o.CalibrationShare < 1) {
		v.Add("calibration_share", "%v is not in (0, 1)", o.CalibrationShare)
	}
	if o.Folds == 0 {
		o.Folds = 5
	}
	if o.Folds < 2 {
		v.Add("folds", "%d: need at least 2", o.Folds)
	}
	if o.L2 == nil {
		o.L2 = []float64{0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000}
	}
	for _, l := range o.L2 {
		if !(l > 0) {
			v.Add("l2", "%v is not positive", l)
		}
	}
	switch o.Calibration {
	case "":
		o.Calibration = models.CalibrationPlatt
	case models.CalibrationPlatt, models.CalibrationIsotonic:
	default:
		v.Add("calibration", "%q: want platt or isotonic", o.Calibration)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o, v.Err()
}

// validate chooses the feature families and the ridge penalty by
// forward-chaining validation over the training examples, which are in
// purchase order: the examples are cut into opts.Folds consecutive blocks;
// fold k fits on blocks before k and scores block k (folds without both
// classes are skipped). It starts from the lane family and adds, one at a
// time, the family whose addition scores best, while that beats the set
// without it. It returns every candidate tried.
func validate(opts EvalOptions, train []example) ([]Candidate, error) {
	var cands []Candidate
	best, err := validateSet(opts, train, groupSetOf(groupLane), &cands)
	if err != nil {
		return nil, err
	}
	for {
		step := best
		for g := range groupCount {
			set := best.groups | groupSetOf(g)
			if set == best.groups || len(featureSet(opts.Moment, set)) == len(featureSet(opts.Moment, best.groups)) {
				continue // already in, or no features at this moment
			}
			c, err := validateSet(opts, train, set, &cands)
			if err != nil {
				return nil, err
			}
			if c.AUC > step.AUC+1e-9 {
				step = c
			}
		}
		if step.groups == best.groups {
			return cands, nil
		}
		best = step
	}
}

// validateSet scores the families groups with every penalty, appends the
// candidates to cands and returns the best of them.
func validateSet(opts EvalOptions, train []example, groups groupSet, cands *[]Candidate) (Candidate, error) {
	var best Candidate
	bounds := make([]int, opts.Folds+1)
	for k := range bounds {
		bounds[k] = k * len(train) / opts.Folds
	}
	name := groups.String()
	x, y := matrix(featureSet(opts.Moment, groups), train)
	for i, l2 := range opts.L2 {
		var sum float64
		var n int
		for k := 1; k < opts.Folds; k++ {
			lo, hi := bounds[k], bounds[k+1]
			if c := countTrue(y[:lo]); c == 0 || c == lo {
				continue
			}
			if c := countTrue(y[lo:hi]); c == 0 || c == hi-lo {
				continue
			}
			m, err := models.FitLogisticRegression(x[:lo], y[:lo], models.LogisticOptions{L2: l2})
			if err != nil {
				return best, fmt.Errorf("validating %s with L2 %g, fold %d: %w", name, l2, k, err)
			}
			scores := make([]float64, hi-lo)
			for i := range scores {
				scores[i] = m.Logit(x[lo+i])
			}
			auc, err := models.ROCAUC(scores, y[lo:hi])
			if err != nil {
				return best, err
			}
			sum += auc
			n++
		}
		if n == 0 {
			return best, fmt.Errorf("no validation fold has both late and on-time orders (%d training orders in %d folds): %w", len(train), opts.Folds, derrors.Invalid)
		}
		c := Candidate{Features: name, groups: groups, L2: l2, AUC: sum / float64(n)}
		*cands = append(*cands, c)
		fmt.Fprintf(opts.Progress, "delivery: validation %-28s L2 %-5g AUC %.3f over %d folds\n", name, l2, c.AUC, n)
		if i == 0 || c.AUC > best.AUC+1e-9 {
			best = c
		}
	}
	return best, nil
}

// score computes the test figures from ranking scores and probabilities.
func score(scores, probs []float64, y []bool) (Scores, error) {
	var s Scores
	var err error
	if s.AUC, err = models.ROCAUC(scores, y); err != nil {
		return s, err
	}
	if s.Brier, err = models.BrierScore(probs, y); err != nil {
		return s, err
	}
	if s.ECE, _, err = models.ECE(probs, y, 15); err != nil {
		return s, err
	}
	if s.PrecisionTop10, err = models.PrecisionAtTopK(scores, y, 0.1); err != nil {
		return s, err
	}
	return s, nil
}

func lateCount(ex []example) int {
	n := 0
	for _, e := range ex {
		if e.late {
			n++
		}
	}
	return n
}

func lateRate(ex []example) float64 {
	if len(ex) == 0 {
		return 0
	}
	return float64(lateCount(ex)) / float64(len(ex))
}

func countTrue(y []bool) int {
	n := 0
	for _, v := range y {
		if v {
			n++
		}
	}
	return n
}
