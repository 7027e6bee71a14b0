package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/triage"
)

// runCluster implements "omnitriage cluster": one full clustering run now,
// the same the leader makes on CLUSTER_SCHEDULE.
func runCluster(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "cluster", "cluster [--window 14d] [--quiet]",
		"Group the recent exceptions into root-cause clusters now: the full run the server makes on\n"+
			"CLUSTER_SCHEDULE. Clusters keep their ids, status, owner and notes from the run before; merges\n"+
			"and splits are recorded. Prints a summary: exceptions, clusters, new, merges, splits, duration.")
	window := fs.String("window", "", "how far back to read exceptions (e.g. 14d, 36h); default CLUSTER_WINDOW")
	quiet := fs.Bool("quiet", false, "no progress bar, only the summary")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usagef("cluster: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := config.Load(env.getenv)
	if err != nil {
		return err
	}
	w := cfg.ClusterWindow
	if *window != "" {
		if w, err = parseDays(*window); err != nil || w <= 0 {
			return usagef("cluster: --window %q: want a positive duration such as 14d or 36h", *window)
		}
	}
	tri, closeDB, err := openTriage(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	ccfg, err := clusterSummaries(cfg, triage.ClusterConfig{Window: w})
	if err != nil {
		return err
	}
	c := triage.NewClusterer(tri, ccfg)
	var bar *progressbar.ProgressBar
	stage := ""
	opt := triage.RunOptions{Trigger: "cli", Actor: "cli"}
	if !*quiet {
		opt.Progress = func(s string, done, total int) {
			if s != stage || bar == nil {
				if bar != nil {
					_ = bar.Finish()
					fmt.Fprintln(env.stdout)
				}
				stage = s
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(env.stdout), progressbar.OptionSetWidth(24),
					progressbar.OptionSetDescription(fmt.Sprintf("%-10s", s)), progressbar.OptionShowCount(),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetPredictTime(false),
					progressbar.OptionSetRenderBlankState(true))
			}
			bar.ChangeMax(max(total, 1))
			_ = bar.Set(done)
		}
	}
	sum, err := c.Run(ctx, opt)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(env.stdout)
	}
	if errors.Is(err, triage.ErrRunInProgress) {
		return fmt.Errorf("cluster: another clustering run is in progress (the schedule, or someone on the /clusters page); try again when it has finished")
	}
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	printClusterSummary(env.stdout, sum, w)
	return nil
}

// printClusterSummary prints what a run did.
func printClusterSummary(out io.Writer, s triage.RunSummary, window time.Duration) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "run\t%d\n", s.RunID)
	fmt.Fprintf(tw, "window\t%s (from %s)\n", window, s.Started.Add(-window).UTC().Format(time.DateTime))
	fmt.Fprintf(tw, "exceptions\t%d\n", s.Exceptions)
	fmt.Fprintf(tw, "clusters\t%d\n", s.Clusters)
	fmt.Fprintf(tw, "new\t%d\n", s.New)
	fmt.Fprintf(tw, "merged\t%d\n", s.Merges)
	fmt.Fprintf(tw, "split\t%d\n", s.Splits)
	if s.Summaries > 0 {
		fmt.Fprintf(tw, "summaries\t%d asked of the model (LLM_URL), written by the server's jobs\n", s.Summaries)
	}
	fmt.Fprintf(tw, "duration\t%s\n", s.Duration.Round(time.Millisecond))
	_ = tw.Flush()
}

// clusterSummaries adds the summary writer LLM_URL configures to cc: a
// chat model that writes each cluster's optional summary. Without LLM_URL
// cc is returned as it is, and no summary is ever asked for.
func clusterSummaries(cfg config.Config, cc triage.ClusterConfig) (triage.ClusterConfig, error) {
	if cfg.LLMURL == "" {
		return cc, nil
	}
	chat, err := models.NewChat(models.ChatConfig{BaseURL: cfg.LLMURL, APIKey: cfg.LLMKey, Model: cfg.LLMModel, Timeout: cfg.LLMTimeout})
	if err != nil {
		return cc, fmt.Errorf("LLM_URL: %w", err)
	}
	cc.Writer, cc.SummaryTimeout, cc.SummaryTop = chat, cfg.LLMTimeout, cfg.LLMSummaryTop
	if cc.SummaryTop == 0 {
		cc.SummaryTop = -1 // LLM_SUMMARY_TOP=0: only when an engineer asks
	}
	return cc, nil
}
