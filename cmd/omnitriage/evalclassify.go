package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omnitriage/omnitriage/models"
)

const evalClassifySummary = `Measure the cause classifier: embed labelled texts with the local embedder,
classify each test text by a similarity-weighted vote of its k nearest training
texts, and calibrate the vote's confidence with a calibrator fitted on
cross-validated folds of the training data (never on test data).

Give --train and --test, or one --data file that is split by label (--split,
--seed). The auto-apply threshold for --target-precision is chosen on the
training folds and then measured on the test set; the threshold chosen on the
test set itself is shown as "oracle" for comparison only.

Example:
  omnitriage eval classify --data utterances.csv --text instruction --label intent`

// classifyOptions are the flags of eval classify.
type classifyOptions struct {
	train, test, data string
	split             float64
	seed              uint64
	textCol, labelCol string
	target            float64
	k, folds, dim     int
	calibration       string
}

// runEvalClassify implements "omnitriage eval classify".
func runEvalClassify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseClassifyFlags(args, stderr)
	if err != nil {
		return err
	}
	train, test, err := loadClassifyData(opts, stderr)
	if err != nil {
		return err
	}
	res, err := evaluateClassifier(ctx, opts, train, test, stderr)
	if err != nil {
		return fmt.Errorf("eval classify: %w", err)
	}
	printClassifyReport(stdout, opts, train, test, res)
	return nil
}

func parseClassifyFlags(args []string, stderr io.Writer) (classifyOptions, error) {
	var o classifyOptions
	fs := flag.NewFlagSet("eval classify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.train, "train", "", "training `CSV` (with --test)")
	fs.StringVar(&o.test, "test", "", "test `CSV` (with --train)")
	fs.StringVar(&o.data, "data", "", "one labelled `CSV` to split into training and test sets")
	fs.Float64Var(&o.split, "split", 0.6, "share of each label put in the training set (with --data)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed for the split and the cross-validation folds")
	fs.StringVar(&o.textCol, "text", "", "name of the text `column` (required)")
	fs.StringVar(&o.labelCol, "label", "", "name of the label `column` (required)")
	fs.Float64Var(&o.target, "target-precision", 0.98, "precision the auto-apply threshold must reach")
	fs.IntVar(&o.k, "k", models.DefaultVoteOptions().K, "neighbours in each vote")
	fs.IntVar(&o.folds, "folds", 10, "cross-validation folds of the training data for calibration")
	fs.IntVar(&o.dim, "dim", models.DefaultLocalDim, "local embedder vector length")
	fs.StringVar(&o.calibration, "calibration", models.CalibrationIsotonic, "confidence calibration: isotonic, platt or none")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: omnitriage eval classify (--train CSV --test CSV | --data CSV [--split 0.6] [--seed N])\n")
		fmt.Fprintf(stderr, "                                --text COLUMN --label COLUMN [--target-precision 0.98] [--k N]\n\n%s\n\nFlags:\n", evalClassifySummary)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, usagef("eval classify: unexpected argument %q", fs.Arg(0))
	case o.textCol == "" || o.labelCol == "":
		return o, usagef("eval classify: --text and --label name the CSV columns and are required")
	case o.data != "" && (o.train != "" || o.test != ""):
		return o, usagef("eval classify: give either --data or --train and --test, not both")
	case o.data == "" && (o.train == "" || o.test == ""):
		return o, usagef("eval classify: give --train and --test, or --data to split one file")
	case !(o.split > 0 && o.split < 1):
		return o, usagef("eval classify: --split %v must be between 0 and 1", o.split)
	case !(o.target > 0 && o.target <= 1):
		return o, usagef("eval classify: --target-precision %v must be in (0, 1]", o.target)
	case o.k < 1:
		return o, usagef("eval classify: --k %d must be at least 1", o.k)
	case o.folds < 2:
		return o, usagef("eval classify: --folds %d must be at least 2", o.folds)
	case o.dim < 1:
		return o, usagef("eval classify: --dim %d must be at least 1", o.dim)
	}
	switch o.calibration {
	case models.CalibrationIsotonic, models.CalibrationPlatt, models.CalibrationNone:
	default:
		return o, usagef("eval classify: --calibration %q: want isotonic, platt or none", o.calibration)
	}
	return o, nil
}

// classifyData is a labelled text set.
type classifyData struct {
	source string
	texts  []string
	labels []string
}

func (d classifyData) subset(idx []int, source string) classifyData {
	s := classifyData{source: source, texts: make([]string, len(idx)), labels: make([]string, len(idx))}
	for i, j := range idx {
		s.texts[i], s.labels[i] = d.texts[j], d.labels[j]
	}
	return s
}

// loadClassifyData reads the training and test sets, splitting --data.
func loadClassifyData(o classifyOptions, stderr io.Writer) (train, test classifyData, err error) {
	if o.data == "" {
		if train, err = readLabelledCSV(o.train, o.textCol, o.labelCol, stderr); err != nil {
			return train, test, err
		}
		test, err = readLabelledCSV(o.test, o.textCol, o.labelCol, stderr)
		return train, test, err
	}
	all, err := readLabelledCSV(o.data, o.textCol, o.labelCol, stderr)
	if err != nil {
		return train, test, err
	}
	trainIdx, testIdx, err := models.StratifiedSplit(all.labels, o.split, rand.New(rand.NewPCG(o.seed, 0x5eed)))
	if err != nil {
		return train, test, fmt.Errorf("eval classify: split %s: %w", o.data, err)
	}
	name := filepath.Base(o.data)
	train = all.subset(trainIdx, fmt.Sprintf("%s (%.0f%% of each label, seed %d)", name, 100*o.split, o.seed))
	test = all.subset(testIdx, fmt.Sprintf("%s (the other %.0f%%)", name, 100*(1-o.split)))
	return train, test, nil
}

// readLabelledCSV reads the text and label columns of a CSV with a header
// row, skipping rows where either is empty.
func readLabelledCSV(path, textCol, labelCol string, stderr io.Writer) (classifyData, error) {
	d := classifyData{source: filepath.Base(path)}
	f, err := os.Open(path)
	if err != nil {
		return d, fmt.Errorf("eval classify: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return d, fmt.Errorf("eval classify: %s is empty; it needs a header row naming columns %q and %q", path, textCol, labelCol)
		}
		return d, fmt.Errorf("eval classify: read header of %s: %w", path, err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	textIdx, err := classifyColumn(path, cols, textCol)
	if err != nil {
		return d, err
	}
	labelIdx, err := classifyColumn(path, cols, labelCol)
	if err != nil {
		return d, err
	}
	skipped := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d, fmt.Errorf("eval classify: read %s: %w", path, err)
		}
		text, label := strings.TrimSpace(rec[textIdx]), strings.TrimSpace(rec[labelIdx])
		if text == "" || label == "" {
			skipped++
			continue
		}
		d.texts = append(d.texts, text)
		d.labels = append(d.labels, label)
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "%s: skipped %d rows with an empty %q or %q\n", path, skipped, textCol, labelCol)
	}
	if len(d.texts) == 0 {
		return d, fmt.Errorf("eval classify: %s has no rows with both %q and %q", path, textCol, labelCol)
	}
	return d, nil
}

// classifyColumn finds a column by name, exactly or ignoring case.
func classifyColumn(path string, cols []string, name string) (int, error) {
	for i, c := range cols {
		if c == name {
			return i, nil
		}
	}
	for i, c := range cols {
		if strings.EqualFold(c, name) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("eval classify: %s has no column %q; its columns are %s", path, name, strings.Join(cols, ", "))
}

// classifyResult holds every figure the report prints.
type classifyResult struct {
	model       string
	classes     int
	unseen      int // test examples whose label is not in the training set
	report      models.ClassificationReport
	ece         float64
	reliability []models.ReliabilityBin
	brierTop    float64
	brierMulti  float64
	coverage    []models.OperatingPoint // at 10%, 20%, … 100%
	cvF1        float64
	cvPoint     models.OperatingPoint // threshold chosen on the training folds
	cvOK        bool
	atCV        models.OperatingPoint // that threshold on test
	oracle      models.OperatingPoint // threshold chosen on test
	oracleOK    bool
}

func evaluateClassifier(ctx context.Context, o classifyOptions, train, test classifyData, stderr io.Writer) (classifyResult, error) {
	var res classifyResult
	emb := models.NewLocalEmbedder(o.dim)
	res.model = emb.Model()
	trainVecs, err := embedClassifyTexts(ctx, emb, train.texts, "training", stderr)
	if err != nil {
		return res, err
	}
	testVecs, err := embedClassifyTexts(ctx, emb, test.texts, "test", stderr)
	if err != nil {
		return res, err
	}
	vote := models.DefaultVoteOptions()
	vote.K = o.k

	// Calibration data: every training text classified by the other folds.
	fmt.Fprintf(stderr, "cross-validating on %d training folds…\n", o.folds)
	folds, err := models.StratifiedFolds(train.labels, o.folds, rand.New(rand.NewPCG(o.seed, 0xf01d)))
	if err != nil {
		return res, fmt.Errorf("training folds: %w", err)
	}
	cv, err := models.CrossValidateVotes(trainVecs, train.labels, folds, o.k, vote)
	if err != nil {
		return res, err
	}
	cvPred, cvScore, cvCorrect := votesAgainst(cv, train.labels)
	if res.cvF1, err = models.MacroF1(train.labels, cvPred); err != nil {
		return res, fmt.Errorf("cross-validation: %w", err)
	}
	cal, err := models.FitCalibration(o.calibration, cvScore, cvCorrect)
	if err != nil {
		return res, err
	}
	cvConf := calibrateAll(cal, cvScore)
	if res.cvPoint, res.cvOK, err = models.CoverageAtPrecision(cvConf, cvCorrect, o.target); err != nil {
		return res, fmt.Errorf("threshold on training folds: %w", err)
	}

	// The test set, against an index of the whole training set.
	fmt.Fprintf(stderr, "classifying %d test texts…\n", len(test.texts))
	ix := models.NewIndex(emb.Dim())
	seen := make(map[string]bool)
	for i, v := range trainVecs {
		if err := ix.Add(train.labels[i], v); err != nil {
			return res, err
		}
		seen[train.labels[i]] = true
	}
	res.classes = len(seen)
	results := make([]models.VoteResult, len(testVecs))
	dists := make([]map[string]float64, len(testVecs))
	for i, v := range testVecs {
		if i%1024 == 0 && ctx.Err() != nil {
			return res, fmt.Errorf("classify test texts: %w", ctx.Err())
		}
		label, score, dist := models.Vote(ix.Search(v, o.k), vote)
		results[i], dists[i] = models.VoteResult{Label: label, Score: score, Dist: dist}, dist
		if !seen[test.labels[i]] {
			res.unseen++
		}
	}
	pred, score, correct := votesAgainst(results, test.labels)
	conf := calibrateAll(cal, score)
	if res.report, err = models.Classify(test.labels, pred); err != nil {
		return res, err
	}
	if res.ece, res.reliability, err = models.ECE(conf, correct, 15); err != nil {
		return res, err
	}
	if res.brierTop, err = models.BrierScore(conf, correct); err != nil {
		return res, err
	}
	if res.brierMulti, err = models.MulticlassBrier(dists, test.labels); err != nil {
		return res, err
	}
	for c := 1; c <= 10; c++ {
		p, err := models.PrecisionAtCoverage(conf, correct, float64(c)/10)
		if err != nil {
			return res, err
		}
		res.coverage = append(res.coverage, p)
	}
	if res.atCV, err = models.AtThreshold(conf, correct, res.cvPoint.Threshold); err != nil {
		return res, err
	}
	if res.oracle, res.oracleOK, err = models.CoverageAtPrecision(conf, correct, o.target); err != nil {
		return res, err
	}
	return res, nil
}

// embedClassifyTexts embeds texts in batches, reporting progress on long runs.
func embedClassifyTexts(ctx context.Context, emb models.Embedder, texts []string, what string, stderr io.Writer) ([][]float32, error) {
	const batch = 2048
	start := time.Now()
	fmt.Fprintf(stderr, "embedding %d %s texts with %s…\n", len(texts), what, emb.Model())
	out := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += batch {
		vecs, err := emb.Embed(ctx, texts[i:min(i+batch, len(texts))])
		if err != nil {
			return nil, fmt.Errorf("embed %s texts: %w", what, err)
		}
		out = append(out, vecs...)
		if len(texts) > 4*batch {
			fmt.Fprintf(stderr, "  %d/%d (%.0fs)\n", len(out), len(texts), time.Since(start).Seconds())
		}
	}
	return out, nil
}

// votesAgainst splits vote results into labels, raw scores and whether
// each matched the true label.
func votesAgainst(votes []models.VoteResult, truth []string) (pred []string, score []float64, correct []bool) {
	pred = make([]string, len(votes))
	score = make([]float64, len(votes))
	correct = make([]bool, len(votes))
	for i, v := range votes {
		pred[i], score[i], correct[i] = v.Label, v.Score, v.Label == truth[i]
	}
	return pred, score, correct
}

func calibrateAll(c models.Calibrator, scores []float64) []float64 {
	out := make([]float64, len(scores))
	for i, s := range scores {
		out[i] = c.Calibrate(s)
	}
	return out
}

func printClassifyReport(w io.Writer, o classifyOptions, train, test classifyData, r classifyResult) {
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	fmt.Fprintf(w, "eval classify: %s embeddings, %d-NN softmax vote, %s calibration on %d-fold CV of the training set\n\n",
		r.model, o.k, o.calibration, o.folds)
	fmt.Fprintf(w, "train  %5d texts  %s\n", len(train.texts), train.source)
	fmt.Fprintf(w, "test   %5d texts  %s\n", len(test.texts), test.source)
	fmt.Fprintf(w, "classes %d", r.classes)
	if r.unseen > 0 {
		fmt.Fprintf(w, " (%d test texts have a label the training set lacks)", r.unseen)
	}
	fmt.Fprintf(w, "\n\n")

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "test metric\tvalue\n")
	fmt.Fprintf(tw, "accuracy\t%.4f\n", r.report.Accuracy)
	fmt.Fprintf(tw, "macro-F1\t%.4f\n", r.report.MacroF1)
	fmt.Fprintf(tw, "ECE (15 bins, calibrated top-label confidence)\t%.4f\n", r.ece)
	fmt.Fprintf(tw, "Brier (calibrated top-label confidence)\t%.4f\n", r.brierTop)
	fmt.Fprintf(tw, "Brier (multiclass, raw vote shares)\t%.4f\n", r.brierMulti)
	fmt.Fprintf(tw, "macro-F1 on training folds (CV)\t%.4f\n", r.cvF1)
	tw.Flush()

	fmt.Fprintf(w, "\nper class (test)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "label\tprecision\trecall\tF1\tsupport\t\n")
	for _, c := range r.report.Classes {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\t\n", c.Label, c.Precision, c.Recall, c.F1, c.Support)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nreliability (test, 15 bins)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "confidence\tn\tmean conf\taccuracy\t\n")
	for _, b := range r.reliability {
		if b.Count == 0 {
			fmt.Fprintf(tw, "%.3f–%.3f\t0\t-\t-\t\n", b.Lo, b.Hi)
			continue
		}
		fmt.Fprintf(tw, "%.3f–%.3f\t%d\t%.3f\t%.3f\t\n", b.Lo, b.Hi, b.Count, b.MeanConfidence, b.Accuracy)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nrisk–coverage (test; tied confidences are accepted together)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "asked\tcoverage\tthreshold\taccepted\tprecision\trisk\t\n")
	for i, p := range r.coverage {
		fmt.Fprintf(tw, "%d%%\t%s\t%.4f\t%d\t%s\t%s\t\n", 10*(i+1), pct(p.Coverage), p.Threshold, p.Accepted, pct(p.Precision), pct(p.Risk))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nauto-apply threshold for precision >= %s\n", pct(o.target))
	if !r.cvOK {
		fmt.Fprintf(w, "  chosen on training folds: none reaches the target; nothing would be applied automatically\n")
	} else {
		fmt.Fprintf(w, "  chosen on training folds: confidence >= %.4f (CV coverage %s, CV precision %s)\n",
			r.cvPoint.Threshold, pct(r.cvPoint.Coverage), pct(r.cvPoint.Precision))
		fmt.Fprintf(w, "  on test:                  coverage %s (%d/%d), precision %s\n",
			pct(r.atCV.Coverage), r.atCV.Accepted, r.atCV.Total, pct(r.atCV.Precision))
	}
	if r.oracleOK {
		fmt.Fprintf(w, "  oracle (chosen on test):  confidence >= %.4f, coverage %s, precision %s\n",
			r.oracle.Threshold, pct(r.oracle.Coverage), pct(r.oracle.Precision))
	} else {
		fmt.Fprintf(w, "  oracle (chosen on test):  no threshold reaches the target\n")
	}
}
