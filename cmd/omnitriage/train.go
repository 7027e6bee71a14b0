package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

func runTrain(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "train", "train [--models stockout,delivery] [--horizon 7d] [--dry-run]",
		"Train the stockout and delivery risk models from the cases in the database. Each case stored the\n"+
			"features triage computed when it triaged it; its label is what happened next (a stockout of its\n"+
			"SKU within --horizon; the order delivered after its promise). The oldest 60% of the cases fit the\n"+
			"model, the next 20% its calibration, the newest 20% measure it beside the heuristic in use.\n"+
			"The models are stored, versioned, as the newest active ones; serve loads them when it starts.")
	modelsFlag := fs.String("models", "stockout,delivery", "which models to train, comma-separated")
	horizon := fs.String("horizon", "7d", "how long after a case a stockout of its SKU counts (e.g. 7d, 36h)")
	minRows := fs.Int("min-rows", 200, "fewest labelled cases a model is trained from")
	minPerClass := fs.Int("min-per-class", 20, "fewest cases of each outcome")
	dryRun := fs.Bool("dry-run", false, "train and measure, but store nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usagef("train: unexpected argument %q", fs.Arg(0))
	}
	h, err := parseDays(*horizon)
	if err != nil || h <= 0 {
		return usagef("train: --horizon %q: want a positive duration such as 7d or 36h", *horizon)
	}
	var names []string
	for _, n := range strings.Split(*modelsFlag, ",") {
		if n = strings.TrimSpace(n); n != triage.RiskStockout && n != triage.RiskDelivery {
			return usagef("train: --models %q: want stockout, delivery or both", *modelsFlag)
		}
		names = append(names, strings.TrimSpace(n))
	}
	if *minRows < 10 || *minPerClass < 2 {
		return usagef("train: --min-rows must be at least 10 and --min-per-class at least 2")
	}
	tri, closeDB, err := openTriage(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	reps, err := tri.TrainRiskModels(ctx, triage.RiskTrainOptions{Models: names, StockoutHorizon: h, MinRows: *minRows,
		MinPerClass: *minPerClass, DryRun: *dryRun})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	printTrainReport(env.stdout, reps)
	return nil
}

func printTrainReport(w io.Writer, reps []triage.RiskTrainReport) {
	day := func(t time.Time) string { return t.UTC().Format(time.DateOnly) }
	for i, r := range reps {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s risk model %s\n", r.Name, r.Version)
		fmt.Fprintf(w, "  positive: %s\n", r.Label)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  slice\tcases\tpositive\tfrom\tto\t")
		for _, s := range []struct {
			name string
			s    triage.Slice
		}{{"train (fit)", r.Train}, {"calibration (Platt)", r.Calibration}, {"test (measure)", r.Test}} {
			fmt.Fprintf(tw, "  %s\t%d\t%d (%.1f%%)\t%s\t%s\t\n", s.name, s.s.Rows, s.s.Positives,
				100*float64(s.s.Positives)/float64(max(1, s.s.Rows)), day(s.s.From), day(s.s.To))
		}
		tw.Flush()
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  on the test slice\tAUC\tBrier\tECE (15 bins)\t")
		fmt.Fprintf(tw, "  trained model\t%.3f\t%.4f\t%.4f\t\n", r.Model.AUC, r.Model.Brier, r.Model.ECE)
		fmt.Fprintf(tw, "  heuristic in use until now\t%.3f\t%.4f\t%.4f\t\n", r.Heuristic.AUC, r.Heuristic.Brier, r.Heuristic.ECE)
		tw.Flush()
		if r.Model.AUC < r.Heuristic.AUC && r.Model.Brier > r.Heuristic.Brier {
			fmt.Fprintf(w, "  note: the heuristic scores better on the newest cases than this model\n")
		}
		if r.Stored {
			fmt.Fprintf(w, "  stored in risk_models as the newest active %s model; a running serve picks it up when it restarts\n", r.Name)
		} else {
			fmt.Fprintf(w, "  dry run: not stored\n")
		}
	}
}

// openTriage opens the database and builds a triage service for an
// operator's command: the policy in force (POLICY_FILE or built in), no
// applier and no background work. The embedder is the local one of the
// configured dimension: these commands read stored vectors and inputs
// and embed nothing.
func openTriage(ctx context.Context, env *environment) (*triage.Service, func(), error) {
	cfg, log, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*triage.Service, func(), error) {
		closeDB()
		return nil, nil, err
	}
	if err := database.AtHead(ctx, pool); err != nil {
		return fail(err)
	}
	pol, err := loadPolicy(cfg)
	if err != nil {
		return fail(err)
	}
	policy := func() *rules.Policy { return pol }
	core, err := orchestration.NewService(pool, orchestration.Config{Log: log, Policy: policy})
	if err != nil {
		return fail(err)
	}
	lib, err := triage.LoadLibrary(cfg.CauseLibraryFile)
	if err != nil {
		return fail(err)
	}
	tri, err := triage.NewService(pool, triage.Config{Core: core, Embedder: models.NewLocalEmbedder(cfg.EmbeddingDim),
		Policy: policy, Log: log, BaseURL: cfg.BaseURL, Library: lib})
	if err != nil {
		return fail(err)
	}
	return tri, closeDB, nil
}

// parseDays reads a duration that may be given in days ("30d") or weeks
// ("2w") besides Go's units ("36h", "90m").
func parseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, err)
			}
			return time.Duration(v * float64(unit)), nil
		}
	}
	return time.ParseDuration(s)
}
