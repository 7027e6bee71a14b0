package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/triage/cluster"
)

const evalClusterSummary = `Backtest the root-cause clustering engine, the same code the clustering job
runs with the same configuration, on labelled messages: each --input CSV is
clustered on its own, and the grouping is compared with the --label column.

GA (grouping accuracy) is the share of messages whose predicted group has
exactly the members of their true group; FGA is the F1 over groups (a group
counts when it matches a true group exactly). With several inputs the
averages are printed too.

Example:
  omnitriage eval cluster --input $DATA/HDFS/HDFS_2k.log_structured_corrected.csv \
      --input $DATA/BGL/BGL_2k.log_structured_corrected.csv --text Content --label EventId`

// inputList is a repeatable --input flag.
type inputList []string

func (l *inputList) String() string     { return strings.Join(*l, ",") }
func (l *inputList) Set(v string) error { *l = append(*l, v); return nil }

// clusterEvalOptions are the flags of eval cluster.
type clusterEvalOptions struct {
	inputs            inputList
	textCol, labelCol string
	noEmbed           bool
}

// runEvalCluster implements "omnitriage eval cluster".
func runEvalCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o clusterEvalOptions
	fs := flag.NewFlagSet("eval cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.inputs, "input", "labelled `CSV` to cluster (repeat for several)")
	fs.StringVar(&o.textCol, "text", "", "name of the message `column` (required)")
	fs.StringVar(&o.labelCol, "label", "", "name of the true group `column` (required)")
	fs.BoolVar(&o.noEmbed, "no-embed", false, "skip the embedding refinement (templates only)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: omnitriage eval cluster --input CSV [--input CSV ...] --text COLUMN --label COLUMN\n\n%s\n\nFlags:\n", evalClusterSummary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case len(o.inputs) == 0:
		return usagef("eval cluster: --input is required")
	case o.textCol == "":
		return usagef("eval cluster: --text is required (the column holding the message)")
	case o.labelCol == "":
		return usagef("eval cluster: --label is required (the column holding the true group)")
	case fs.NArg() > 0:
		return usagef("eval cluster: unexpected argument %q", fs.Arg(0))
	}
	var emb models.Embedder
	if !o.noEmbed {
		emb = models.NewLocalEmbedder(models.DefaultLocalDim)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "input\tmessages\tGA\tFGA\tprecision\trecall\tgroups found\ttrue groups\t")
	var sum cluster.Score
	for _, path := range o.inputs {
		texts, labels, err := readLabelled(path, o.textCol, o.labelCol)
		if err != nil {
			return err
		}
		msgs, err := evalMessages(ctx, emb, texts)
		if err != nil {
			return fmt.Errorf("eval cluster: %s: %w", path, err)
		}
		groups := cluster.Run(msgs, cluster.DefaultConfig())
		s, err := cluster.Evaluate(cluster.Labels(groups, len(msgs)), labels)
		if err != nil {
			return fmt.Errorf("eval cluster: %s: %w", path, err)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t\n", inputName(path), s.Messages, s.GA, s.FGA, s.Precision, s.Recall, s.Found, s.True)
		sum.Messages += s.Messages
		sum.GA += s.GA
		sum.FGA += s.FGA
		sum.Precision += s.Precision
		sum.Recall += s.Recall
		sum.Found += s.Found
		sum.True += s.True
	}
	if n := float64(len(o.inputs)); n > 1 {
		fmt.Fprintf(tw, "average\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t\n", sum.Messages, sum.GA/n, sum.FGA/n, sum.Precision/n, sum.Recall/n, sum.Found, sum.True)
	}
	return tw.Flush()
}

// inputName names an input in the table: its file name without the
// loghub-style suffix, or the directory when that says more.
func inputName(path string) string {
	base := filepath.Base(path)
	if i := strings.IndexAny(base, "_."); i > 0 {
		return base[:i]
	}
	return base
}

// evalMessages turns texts into messages, with vectors of the masked text
// when emb is set: the clustering job embeds exceptions the same way.
func evalMessages(ctx context.Context, emb models.Embedder, texts []string) ([]cluster.Message, error) {
	msgs := make([]cluster.Message, len(texts))
	for i, t := range texts {
		msgs[i] = cluster.Message{Text: t}
	}
	if emb == nil {
		return msgs, nil
	}
	masked := make([]string, len(texts))
	for i, t := range texts {
		masked[i] = models.Mask(t)
	}
	vecs, err := emb.Embed(ctx, masked)
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		msgs[i].Vector = vecs[i]
	}
	return msgs, nil
}

// readLabelled reads the text and label columns of a CSV with a header.
func readLabelled(path, textCol, labelCol string) (texts, labels []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("eval cluster: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("eval cluster: %s: reading the header: %w", path, err)
	}
	ti, li := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case textCol:
			ti = i
		case labelCol:
			li = i
		}
	}
	if ti < 0 {
		return nil, nil, fmt.Errorf("eval cluster: %s has no column %q for --text (columns: %s)", path, textCol, strings.Join(header, ", "))
	}
	if li < 0 {
		return nil, nil, fmt.Errorf("eval cluster: %s has no column %q for --label (columns: %s)", path, labelCol, strings.Join(header, ", "))
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("eval cluster: %s: %w", path, err)
		}
		if ti >= len(rec) || li >= len(rec) {
			return nil, nil, fmt.Errorf("eval cluster: %s line %d has %d fields; columns %q and %q need %d", path, line, len(rec), textCol, labelCol, max(ti, li)+1)
		}
		texts, labels = append(texts, rec[ti]), append(labels, rec[li])
	}
	if len(texts) == 0 {
		return nil, nil, fmt.Errorf("eval cluster: %s has no rows", path)
	}
	return texts, labels, nil
}
