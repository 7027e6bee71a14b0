package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeIntentsCSV writes a small labelled set: three intents phrased from
// templates with varying order numbers, plus the quirks real files have (a
// byte-order mark, an extra column, quoted commas, a row without a label).
func writeIntentsCSV(t *testing.T, dir, name string, perIntent int, seed uint64) string {
	t.Helper()
	templates := map[string][]string{
		"cancel_order": {"please cancel order %d", "i want to cancel my purchase %d", "cancel order %d now, thanks", "how do i cancel order %d", "stop my order %d i changed my mind"},
		"track_order":  {"where is my order %d", "track package for order %d", "status of shipment %d?", "when will order %d arrive", "has order %d shipped yet"},
		"get_refund":   {"refund for order %d please", "i want my money back for order %d", "return item and refund %d", "how do i get a refund for %d", "refund of $%d.50 not received"},
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString("\ufeffid,Utterance,Intent\n")
	row := 0
	for _, intent := range []string{"cancel_order", "track_order", "get_refund"} {
		for range perIntent {
			tpl := templates[intent][rng.IntN(len(templates[intent]))]
			row++
			fmt.Fprintf(&b, "%d,\"%s\",%s\n", row, fmt.Sprintf(tpl, rng.IntN(1e9)), intent)
		}
	}
	b.WriteString("999,an unlabelled row,\n")
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEvalClassifySplit(t *testing.T) {
	t.Parallel()
	path := writeIntentsCSV(t, t.TempDir(), "intents.csv", 30, 1)
	var stdout, stderr bytes.Buffer
	err := runEvalClassify(context.Background(), []string{
		"--data", path, "--text", "utterance", "--label", "Intent", "--split", "0.6", "--seed", "3", "--folds", "5", "--k", "5",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("eval classify --data: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"train     54 texts  intents.csv (60% of each label, seed 3)",
		"test      36 texts",
		"classes 3",
		"accuracy",
		"macro-F1",
		"ECE (15 bins",
		"Brier (calibrated top-label confidence)",
		"reliability (test, 15 bins)",
		"risk–coverage",
		"100%    100.0%",
		"auto-apply threshold for precision >= 98.0%",
		"chosen on training folds",
		"oracle (chosen on test)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("eval classify output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "skipped 1 rows") {
		t.Errorf("eval classify stderr = %q, want a note of the skipped unlabelled row", stderr.String())
	}
}

func TestEvalClassifyTrainTest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	train := writeIntentsCSV(t, dir, "train.csv", 20, 1)
	test := writeIntentsCSV(t, dir, "test.csv", 10, 2)
	opts := classifyOptions{train: train, test: test, textCol: "Utterance", labelCol: "Intent", target: 0.9, k: 5, folds: 4, dim: 384, calibration: "isotonic", seed: 1}
	trainData, testData, err := loadClassifyData(opts, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := evaluateClassifier(context.Background(), opts, trainData, testData, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(trainData.texts) != 60 || res.report.N != 30 || res.classes != 3 {
		t.Errorf("evaluateClassifier() on %d train, %d test, %d classes; want 60, 30, 3", len(trainData.texts), res.report.N, res.classes)
	}
	if res.report.Accuracy < 0.9 {
		t.Errorf("evaluateClassifier() accuracy = %.3f, want >= 0.9 on templated intents", res.report.Accuracy)
	}
	if len(res.coverage) != 10 || res.coverage[9].Coverage != 1 {
		t.Errorf("evaluateClassifier() risk–coverage rows = %+v, want 10 ending at full coverage", res.coverage)
	}
}

func TestEvalClassifyErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := writeIntentsCSV(t, dir, "intents.csv", 10, 1)
	empty := filepath.Join(dir, "empty.csv")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args      []string
		wantUsage bool     // a usageError, exit code 2
		wantIn    []string // substrings of the error
	}{
		{[]string{"--data", data, "--text", "utterance"}, true, []string{"--text and --label"}},
		{[]string{"--data", data, "--train", data, "--text", "a", "--label", "b"}, true, []string{"either --data or --train"}},
		{[]string{"--train", data, "--text", "a", "--label", "b"}, true, []string{"--train and --test"}},
		{[]string{"--data", data, "--text", "a", "--label", "b", "--split", "1"}, true, []string{"--split"}},
		{[]string{"--data", data, "--text", "a", "--label", "b", "--target-precision", "0"}, true, []string{"--target-precision"}},
		{[]string{"--data", data, "--text", "a", "--label", "b", "--calibration", "beta"}, true, []string{"--calibration"}},
		{[]string{"--data", data, "--text", "a", "--label", "b", "extra"}, true, []string{"unexpected argument"}},
		{[]string{"--data", data, "--bogus"}, true, []string{"bogus"}},
		{[]string{"--data", data, "--text", "message", "--label", "Intent"}, false, []string{data, `no column "message"`, "id, Utterance, Intent"}},
		{[]string{"--data", data, "--text", "utterance", "--label", "cause"}, false, []string{`no column "cause"`}},
		{[]string{"--data", filepath.Join(dir, "missing.csv"), "--text", "a", "--label", "b"}, false, []string{"missing.csv"}},
		{[]string{"--data", empty, "--text", "a", "--label", "b"}, false, []string{"empty.csv is empty"}},
	}
	for _, tt := range tests {
		err := runEvalClassify(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("eval classify %q = nil error, want one", tt.args)
			continue
		}
		var ue usageError
		if errors.As(err, &ue) != tt.wantUsage {
			t.Errorf("eval classify %q error = %v (usage error: %v), want usage error %v", tt.args, err, !tt.wantUsage, tt.wantUsage)
		}
		for _, want := range tt.wantIn {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("eval classify %q error = %q, want it to mention %q", tt.args, err, want)
			}
		}
	}
}

func TestEvalClassifyHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := runEvalClassify(context.Background(), []string{"--help"}, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("eval classify --help error = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: omnitriage eval classify", "--target-precision", "--data", "cross-validated"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("eval classify --help output lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestEvalClassifyBitext checks the targets on the Bitext intents when the
// evaluation data is available (OMNITRIAGE_DATA_DIR pointing at the shared evaluation datasets).
func TestEvalClassifyBitext(t *testing.T) {
	dir := os.Getenv("OMNITRIAGE_DATA_DIR")
	if dir == "" {
		t.Skip("OMNITRIAGE_DATA_DIR not set")
	}
	t.Parallel()
	opts := classifyOptions{
		data: filepath.Join(dir, "bitext", "utterances.csv"), textCol: "instruction", labelCol: "intent",
		split: 0.6, seed: 1, target: 0.98, k: 10, folds: 10, dim: 384, calibration: "isotonic",
	}
	train, test, err := loadClassifyData(opts, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := evaluateClassifier(context.Background(), opts, train, test, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if res.report.MacroF1 < 0.93 {
		t.Errorf("bitext macro-F1 = %.4f, want >= 0.93", res.report.MacroF1)
	}
	if !res.cvOK || res.atCV.Coverage < 0.70 {
		t.Errorf("bitext coverage at the threshold chosen on training folds for 98%% precision = %.3f (found: %v), want >= 0.70", res.atCV.Coverage, res.cvOK)
	}
	t.Logf("bitext: macro-F1 %.4f, coverage %.3f at precision %.3f (threshold %.4f from training folds)",
		res.report.MacroF1, res.atCV.Coverage, res.atCV.Precision, res.cvPoint.Threshold)
}
