package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/triage/delivery"
)

// runImport implements "omnitriage import": loading outside datasets as history.
func runImport(ctx context.Context, env *environment, args []string) error {
	return subcommand(ctx, env, "import", args, map[string]command{
		"olist": {"load the Olist e-commerce dataset (orders, items, customers, sellers, products) as order history", runImportOlist},
	})
}

const importOlistSummary = `Load the Olist Brazilian e-commerce dataset from DIR (orders.csv, order_items.csv,
customers.csv, sellers.csv, products.csv and, if present,
product_category_name_translation.csv) into the history tables, which the
delivery backtest (eval delivery) reads. Migrations are applied first.

Importing again is safe: identical rows are skipped, changed ones replaced, and
a re-imported order's items become exactly the file's. Zip prefixes that lost
their leading zeros are padded to five digits; a malformed row stops the import
with its file and line, and nothing is written.`

func runImportOlist(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "import olist", "import olist [--dry-run] DIR", importOlistSummary)
	dryRun := fs.Bool("dry-run", false, "read and check the files, write nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("import olist: want one DIR holding the Olist CSV files, got %d arguments", fs.NArg())
	}
	dir := fs.Arg(0)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usagef("import olist: %s is not a directory", dir)
	}
	start := time.Now()
	d, err := delivery.ReadOlist(dir, env.stderr)
	if err != nil {
		return fmt.Errorf("import olist: %w", err)
	}
	var items int
	for _, o := range d.Orders {
		items += len(o.Items)
	}
	if *dryRun {
		fmt.Fprintf(env.stdout, "olist: %d orders, %d items, %d sellers read from %s; nothing written (--dry-run)\n",
			len(d.Orders), items, len(d.Sellers), dir)
		return nil
	}
	_, log, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := database.MigrateUp(ctx, pool, log); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "olist: writing %d orders, %d items, %d sellers…\n", len(d.Orders), items, len(d.Sellers))
	st, err := delivery.NewStore(pool).Import(ctx, d, env.stderr)
	if err != nil {
		return fmt.Errorf("import olist: %w", err)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "history %q imported from %s in %s\n", d.Source, dir, time.Since(start).Round(time.Millisecond))
	fmt.Fprintln(tw, "TABLE\tROWS\tNEW\tCHANGED\tUNCHANGED\tREMOVED")
	for _, t := range []struct {
		name string
		s    delivery.TableStats
	}{{"sellers", st.Sellers}, {"orders", st.Orders}, {"items", st.Items}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", t.name, t.s.Rows, t.s.New, t.s.Changed, t.s.Unchanged, t.s.Removed)
	}
	return tw.Flush()
}

const evalDeliverySummary = `Backtest the delivery-risk model on imported history (see import olist): will an
order be delivered on a later day than promised? Scored at one moment:

  approval  the payment is approved: the order, its promise, seller and customer
            places, and the lane history
  handoff   the parcel reaches the carrier: the above, the hand-off time and the
            slack left against the lane's transit history

Features use only what is known at that moment; lane history comes only from
training orders delivered before it, and the network's recent state (parcels
of any period delivered, or overdue, before it) only from what the live sweep
would have seen then. Orders purchased before --train-before
train the model; feature families and the ridge penalty are chosen by
forward-chaining validation inside the training period, and the latest
training orders (--calibration-share) are held out to calibrate it. The test
orders, purchased in [--test-from, --test-before), play no part in any choice.

Beside the model it scores a plain baseline: the slack left to the promise
minus the lane's 90th-percentile transit (seller state → customer state, else
customer state) from the training period, calibrated on the same orders.

Example:
  omnitriage eval delivery --at handoff --train-before 2017-06-01 \
      --test-from 2017-06-01 --test-before 2017-09-01`

// runEvalDelivery implements "omnitriage eval delivery".
func runEvalDelivery(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "eval delivery",
		"eval delivery --at approval|handoff --train-before DATE --test-from DATE --test-before DATE [flags]", evalDeliverySummary)
	at := fs.String("at", "", "prediction `moment`: approval or handoff (required)")
	trainBefore := fs.String("train-before", "", "train on orders purchased before this `DATE` (YYYY-MM-DD, required)")
	testFrom := fs.String("test-from", "", "test on orders purchased from this `DATE` (required)")
	testBefore := fs.String("test-before", "", "…and before this `DATE` (required)")
	source := fs.String("source", delivery.OlistSource, "history source to read")
	calShare := fs.Float64("calibration-share", 0.2, "share of training orders, the latest, held out for calibration")
	folds := fs.Int("folds", 5, "time blocks of the forward-chaining validation")
	calibration := fs.String("calibration", "platt", "calibration: platt or isotonic")
	modelOut := fs.String("model-out", "", "write the fitted risk model as JSON to this `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usagef("eval delivery: unexpected argument %q", fs.Arg(0))
	}
	opts := delivery.EvalOptions{CalibrationShare: *calShare, Folds: *folds, Calibration: *calibration, Progress: env.stderr}
	var err error
	if opts.Moment, err = delivery.ParseMoment(*at); err != nil {
		return usagef("eval delivery: --at: %v", err)
	}
	for _, d := range []struct {
		flag, value string
		dst         *time.Time
	}{
		{"train-before", *trainBefore, &opts.TrainBefore},
		{"test-from", *testFrom, &opts.TestFrom},
		{"test-before", *testBefore, &opts.TestBefore},
	} {
		if d.value == "" {
			return usagef("eval delivery: --%s is required", d.flag)
		}
		if *d.dst, err = time.Parse(time.DateOnly, d.value); err != nil {
			return usagef("eval delivery: --%s %q: want a date like 2017-06-01", d.flag, d.value)
		}
	}

	_, _, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := database.AtHead(ctx, pool); err != nil {
		return err
	}
	orders, err := delivery.NewStore(pool).Orders(ctx, *source)
	if err != nil {
		return fmt.Errorf("eval delivery: %w", err)
	}
	rep, err := delivery.Evaluate(orders, opts)
	if err != nil {
		return fmt.Errorf("eval delivery: %w", err)
	}
	printDeliveryReport(env.stdout, *source, opts, rep)
	if *modelOut != "" {
		b, err := json.MarshalIndent(rep.RiskModel, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*modelOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("eval delivery: %w", err)
		}
		fmt.Fprintf(env.stderr, "delivery: model %s written to %s\n", rep.RiskModel.Version, *modelOut)
	}
	return nil
}

// printDeliveryReport prints the backtest's figures, the model's beside the
// baseline's.
func printDeliveryReport(w io.Writer, source string, o delivery.EvalOptions, r delivery.Report) {
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	pct := func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }
	fmt.Fprintf(w, "delivery backtest at %s on %q history: late = delivered on a later day than promised\n\n", r.Moment, source)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "train\t%d orders\tpurchased before %s\tlate %s\t(fit %d, calibration %d = the latest, late %s)\n",
		r.Train, day(o.TrainBefore), pct(r.TrainLate), r.Fit, r.Cal, pct(r.CalLate))
	fmt.Fprintf(tw, "test\t%d orders\tpurchased %s to %s\tlate %s\t\n",
		r.Test, day(o.TestFrom), day(o.TestBefore.AddDate(0, 0, -1)), pct(r.TestLate))
	fmt.Fprintf(tw, "skipped\t%d orders\tnot delivered, or the %s never came\t\t\n", r.Skipped, r.Moment)
	tw.Flush()

	fmt.Fprintf(w, "\nchosen by validation inside the training period: features %s, L2 %g (mean validation AUC %.3f)\n\n",
		r.Chosen.Features, r.Chosen.L2, r.Chosen.AUC)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tAUC\tBrier\tECE (15 bins)\tprecision top 10%\t")
	for _, row := range []struct {
		name string
		s    delivery.Scores
	}{{"model", r.Model}, {"baseline", r.Baseline}} {
		fmt.Fprintf(tw, "%s\t%.3f\t%.4f\t%.4f\t%.3f\t\n", row.name, row.s.AUC, row.s.Brier, row.s.ECE, row.s.PrecisionTop10)
	}
	fmt.Fprintf(tw, "model − baseline\t%+.3f\t%+.4f\t%+.4f\t%+.3f\t\n", r.Model.AUC-r.Baseline.AUC,
		r.Model.Brier-r.Baseline.Brier, r.Model.ECE-r.Baseline.ECE, r.Model.PrecisionTop10-r.Baseline.PrecisionTop10)
	tw.Flush()
	fmt.Fprintf(w, "(baseline: slack left minus the lane's 90th-percentile transit; both calibrated with %s on the calibration orders)\n", o.Calibration)

	m := r.RiskModel
	fmt.Fprintf(w, "\nmodel %s: %s, weights on standardised features\n", m.Name, m.Version)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for j, f := range m.Features {
		fmt.Fprintf(tw, "  %s\t%+.3f\t%s\n", f.Name, m.Model.Weights[j], f.Label)
	}
	tw.Flush()
}
