package delivery

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

func TestEvaluateSynthetic(t *testing.T) {
	t.Parallel()
	orders := synthHistory(21, 3000, date("2017-01-01"), date("2017-09-01"))
	reports := map[Moment]Report{}
	for _, m := range []Moment{AtApproval, AtHandoff} {
		opts := EvalOptions{
			Moment:      m,
			TrainBefore: date("2017-06-01"), TestFrom: date("2017-06-01"), TestBefore: date("2017-09-01"),
		}
		rep, err := Evaluate(orders, opts)
		if err != nil {
			t.Fatalf("Evaluate(%s) = %v", m, err)
		}
		t.Logf("%s: train %d test %d late %.3f; model %+v; baseline %+v; chose %+v",
			m, rep.Train, rep.Test, rep.TestLate, rep.Model, rep.Baseline, rep.Chosen)
		if rep.Fit+rep.Cal != rep.Train || rep.Cal == 0 || rep.Test == 0 || rep.Skipped == 0 {
			t.Errorf("%s: train %d = fit %d + calibration %d, test %d, skipped %d; want consistent non-empty parts",
				m, rep.Train, rep.Fit, rep.Cal, rep.Test, rep.Skipped)
		}
		for name, s := range map[string]Scores{"model": rep.Model, "baseline": rep.Baseline} {
			if !(s.AUC > 0.5 && s.AUC <= 1) || !(s.Brier > 0 && s.Brier < 0.25) || !(s.ECE >= 0 && s.ECE < 0.2) ||
				!(s.PrecisionTop10 >= 0 && s.PrecisionTop10 <= 1) {
				t.Errorf("%s %s scores = %+v, want an informative score with sane figures", m, name, s)
			}
		}
		if len(rep.Candidates) == 0 || rep.RiskModel == nil || rep.RiskModel.Validate() != nil {
			t.Errorf("%s: %d candidates, model %v; want a validated, valid model", m, len(rep.Candidates), rep.RiskModel)
		}
		again, err := Evaluate(orders, opts)
		if err != nil || again.RiskModel.Version != rep.RiskModel.Version || again.Model != rep.Model {
			t.Errorf("%s: a second run gave %v, %+v (err %v); want the same model and figures", m, again.RiskModel.Version, again.Model, err)
		}
		reports[m] = rep
	}
	// The hand-off knows more (the seller's handling), so it ranks better.
	if a, h := reports[AtApproval].Model.AUC, reports[AtHandoff].Model.AUC; h <= a || h < 0.7 {
		t.Errorf("model AUC at approval %.3f, at hand-off %.3f; want hand-off above approval and at least 0.7", a, h)
	}
}

func TestEvaluateRejects(t *testing.T) {
	t.Parallel()
	orders := synthHistory(22, 300, date("2017-01-01"), date("2017-04-01"))
	ok := EvalOptions{Moment: AtHandoff, TrainBefore: date("2017-03-01"), TestFrom: date("2017-03-01"), TestBefore: date("2017-04-01")}
	for _, tc := range []struct {
		name   string
		change func(o *EvalOptions)
	}{
		{"unknown moment", func(o *EvalOptions) { o.Moment = "delivery" }},
		{"no dates", func(o *EvalOptions) { o.TrainBefore = time.Time{} }},
		{"test overlaps training", func(o *EvalOptions) { o.TestFrom = date("2017-02-01") }},
		{"empty test window", func(o *EvalOptions) { o.TestBefore = o.TestFrom }},
		{"calibration share", func(o *EvalOptions) { o.CalibrationShare = 1 }},
		{"one fold", func(o *EvalOptions) { o.Folds = 1 }},
		{"bad penalty", func(o *EvalOptions) { o.L2 = []float64{-1} }},
		{"bad calibration", func(o *EvalOptions) { o.Calibration = "magic" }},
		{"no test orders", func(o *EvalOptions) { o.TestFrom, o.TestBefore = date("2018-01-01"), date("2018-02-01") }},
	} {
		o := ok
		tc.change(&o)
		if _, err := Evaluate(orders, o); !errors.Is(err, derrors.Invalid) {
			t.Errorf("%s: Evaluate = %v, want an Invalid error", tc.name, err)
		}
	}
}

func TestParseMoment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Moment
		ok   bool
	}{{"approval", AtApproval, true}, {"handoff", AtHandoff, true}, {"delivery", "", false}, {"", "", false}} {
		got, err := ParseMoment(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseMoment(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestEvaluateOlist runs the backtest of issue 5 on the real Olist
// subset when OMNITRIAGE_DATA_DIR points at the shared data (the folder
// holding olist/). It logs the figures; it checks only that they are sane,
// so that the report, not this test, says whether the target is met.
func TestEvaluateOlist(t *testing.T) {
	root := os.Getenv("OMNITRIAGE_DATA_DIR")
	if root == "" {
		t.Skip("OMNITRIAGE_DATA_DIR not set: the real-data backtest is skipped")
	}
	t.Parallel()
	d, err := ReadOlist(filepath.Join(root, "olist"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Moment{AtApproval, AtHandoff} {
		rep, err := Evaluate(d.Orders, EvalOptions{
			Moment:      m,
			TrainBefore: date("2017-06-01"), TestFrom: date("2017-06-01"), TestBefore: date("2017-09-01"),
		})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		t.Logf("%s: train %d (late %.3f) test %d (late %.3f); chose %s L2 %g", m, rep.Train, rep.TrainLate, rep.Test, rep.TestLate, rep.Chosen.Features, rep.Chosen.L2)
		t.Logf("%s: model    AUC %.3f Brier %.4f ECE %.4f P@10%% %.3f", m, rep.Model.AUC, rep.Model.Brier, rep.Model.ECE, rep.Model.PrecisionTop10)
		t.Logf("%s: baseline AUC %.3f Brier %.4f ECE %.4f P@10%% %.3f", m, rep.Baseline.AUC, rep.Baseline.Brier, rep.Baseline.ECE, rep.Baseline.PrecisionTop10)
		if rep.Train < 2000 || rep.Test < 2000 || rep.Model.AUC < 0.5 {
			t.Errorf("%s: %d training and %d test orders, model AUC %.3f; want the whole subset and an informative model", m, rep.Train, rep.Test, rep.Model.AUC)
		}
		if m == AtHandoff && (rep.Model.AUC < 0.70 || rep.Model.AUC-rep.Baseline.AUC < 0.03) {
			t.Logf("handoff: issue 5's target (AUC >= 0.70 and >= baseline + 0.03) is not met")
		}
	}
}
