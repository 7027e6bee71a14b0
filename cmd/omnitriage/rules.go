package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

func runRules(ctx context.Context, env *environment, args []string) error {
	return subcommand(ctx, env, "rules", args, map[string]command{
		"check":    {"validate a policy file and print its version", runRulesCheck},
		"simulate": {"replay recent cases under a policy file beside the policy in force", runRulesSimulate},
	})
}

// parseWithFile parses flags that may come before or after the one
// positional FILE argument, as in "rules simulate FILE --since 30d".
func parseWithFile(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", usagef("%s: want one policy FILE, got %d arguments", fs.Name(), len(pos))
	}
	return pos[0], nil
}

// loadPolicyFile loads a policy file; an invalid file's problems are
// printed one a line, each with its file and line.
func loadPolicyFile(w io.Writer, path string) (*rules.Policy, error) {
	p, err := rules.LoadFile(path)
	var le *rules.LoadError
	if errors.As(err, &le) {
		for _, pr := range le.Problems {
			fmt.Fprintln(w, pr.String())
		}
		return nil, fmt.Errorf("%s is not a valid policy: %d problem(s)", path, len(le.Problems))
	}
	return p, err
}

func runRulesCheck(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "rules check", "rules check FILE",
		"Validate a policy file: every problem is printed as FILE:LINE: path: message. A valid file's\n"+
			"version (a hash of its content, which every decision records) is printed beside the policy in force.")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return err
	}
	p, err := loadPolicyFile(env.stderr, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s: valid, version %s\n", file, p.Version)
	d := p.Decision
	fmt.Fprintf(env.stdout, "  decision: default threshold %.2f, %d action and %d cause thresholds, %d guards, never automatic: %v\n",
		d.DefaultThreshold, len(d.Actions), len(d.Causes), len(d.Guards), d.NeverAuto)
	if cfg, err := config.Load(env.getenv); err == nil {
		if cur, err := loadPolicy(cfg); err == nil {
			same := "differs from"
			if cur.Version == p.Version {
				same = "is the same as"
			}
			fmt.Fprintf(env.stdout, "  %s the policy in force (%s, version %s)\n", same, cur.Name, cur.Version)
		}
	}
	return nil
}

func runRulesSimulate(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "rules simulate", "rules simulate FILE [--since 30d]",
		"Replay the cases of the last --since under the policy FILE and under the policy in force\n"+
			"(POLICY_FILE, or the built-in one), from the inputs each case stored when it was triaged: how\n"+
			"many each would apply automatically, by action and by cause, and their precision on the cases\n"+
			"people decided (a decision with the recommended action counts as right). Nothing is changed.")
	since := fs.String("since", "30d", "how far back to replay (30d, 2w, 36h) or a date (2006-01-02)")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return err
	}
	from, err := parseSince(*since, time.Now())
	if err != nil {
		return usagef("rules simulate: --since %q: want a duration such as 30d or 36h, or a date such as 2025-01-31", *since)
	}
	proposed, err := loadPolicyFile(env.stderr, file)
	if err != nil {
		return err
	}
	tri, closeDB, err := openTriage(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	sim, err := tri.SimulatePolicy(ctx, proposed, from)
	if err != nil {
		return fmt.Errorf("rules simulate: %w", err)
	}
	printSimulation(env.stdout, sim, file, *since)
	return nil
}

// parseSince reads --since: a duration back from now, or a date.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseDays(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("since %q: want a positive duration or a date", s)
	}
	return now.Add(-d), nil
}

func printSimulation(w io.Writer, sim triage.Simulation, file, since string) {
	judged := sim.Total.Cases
	fmt.Fprintf(w, "replayed %d cases created since %s (%s): %d with a fix for the policy to judge, %d without (no cause, no feasible fix, nothing to do)\n",
		sim.CasesInWindow, sim.Since.UTC().Format("2006-01-02 15:04 MST"), since, judged, sim.NotJudged)
	fmt.Fprintf(w, "current policy %s (in force); proposed policy %s (%s)\n", sim.CurrentPolicy, sim.ProposedPolicy, file)
	fmt.Fprintf(w, "a case is automatic when the policy allows it and its nearest labelled example is at least %.2f similar\n\n", sim.MinSimilarity)
	if judged == 0 {
		fmt.Fprintf(w, "nothing to compare: no case in the window reached the policy\n")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tcases\tdecided\tauto now\tauto proposed\tchange\tprecision now\tprecision proposed\t")
	row := func(label string, g triage.SimulationGroup) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%+d\t%s\t%s\t\n", label, g.Cases, g.Decided, g.Current.Auto, g.Proposed.Auto,
			g.Proposed.Auto-g.Current.Auto, precision(g.Current), precision(g.Proposed))
	}
	row("all", sim.Total)
	fmt.Fprintln(tw, "by action\t\t\t\t\t\t\t\t")
	for _, g := range sim.ByAction {
		row("  "+g.Key, g)
	}
	fmt.Fprintln(tw, "by cause\t\t\t\t\t\t\t\t")
	for _, g := range sim.ByCause {
		row("  "+g.Key, g)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nprecision: of the automatic cases a person decided, the share decided with the recommended action (right/decided)\n")
	fmt.Fprintf(w, "verdicts changed: %d cases become automatic, %d stop being automatic\n", sim.Gained, sim.Lost)
	for _, c := range sim.Examples {
		verdict := "no longer automatic"
		if c.Proposed {
			verdict = "automatic"
		}
		decided := "not decided by a person"
		if c.Decided != "" {
			decided = "person: " + c.Decided
		}
		fmt.Fprintf(w, "  case %s  %s / %s -> %s: %s; %s\n", c.CaseID, c.Cause, c.Action, verdict, c.Reason, decided)
	}
}

func precision(t triage.PolicyTally) string {
	p, ok := t.Precision()
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.3f (%d/%d)", p, t.Correct, t.Decided)
}
