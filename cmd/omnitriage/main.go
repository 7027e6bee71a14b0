// Command omnitriage is the order orchestration and exception triage service:
// one binary that serves the API and review pages, runs the job workers, and
// carries the operator's tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *environment, args []string) error
}

// environment is what every subcommand is handed: its streams and the getenv
// the configuration is read from.
type environment struct {
	stdin          io.Reader // nil reads as empty
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() map[string]command {
	return map[string]command{
		"serve":           {"serve the API, review pages and job workers", runServe},
		"migrate":         {"apply, roll back or list database migrations (up|down|status)", runMigrate},
		"apikey":          {"create, list or revoke API keys (create|list|revoke)", runAPIKey},
		"version":         {"print the version", runVersion},
		"seed":            {"create the demo retailer (locations, SKUs, stock, channels, demo API keys)", runSeed},
		"bench":           {"measure order capture over HTTP against raw SQL on this machine", runBench},
		"eval":            {"measure the models on labelled data (classify, delivery)", runEval},
		"import":          {"load outside datasets as history (olist)", runImport},
		"bench-recommend": {"measure POST /v1/recommendations (latency, highest sustained rate) and HNSW recall@10", runBenchRecommend},
		"train":           {"train the stockout and delivery risk models from the database", runTrain},
		"rules":           {"check a policy file, or replay recent cases under it (check|simulate)", runRules},
		"user":            {"create, list, disable or reset the people who sign in to the review pages", runUser},
		"simulate":        {"drive a running server with realistic traffic over its public API", runSimulate},
		"cluster":         {"group recent exceptions into root-cause clusters now, with a summary", runCluster},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "omnitriage: order orchestration and exception triage\n\nUsage: omnitriage COMMAND [flags]\n\nCommands:\n")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'omnitriage COMMAND --help' for a command's flags. Configuration comes from environment variables; see the README.\n")
}

// defaultGCPercent is the garbage collector's target when GOGC is not set.
// The process's live heap is a few megabytes; letting it grow to four
// times that before a collection (instead of twice) cut the Go side of
// order capture from 2.22 to 1.79 ms of CPU per order in one A/B pair of
// `omnitriage bench` runs, for a few megabytes more.
const defaultGCPercent = 300

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	err := run(ctx, env, os.Args[1:])
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "omnitriage: %s\n", userMessage(err))
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError marks a mistake in how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stdout)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		usage(env.stderr)
		return usagef("unknown command %q", args[0])
	}
	return cmd.run(ctx, env, args[1:])
}

// newFlags makes a FlagSet whose --help prints the command's usage line.
func newFlags(env *environment, name, usageLine, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: omnitriage %s\n\n%s\n", usageLine, summary)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(env.stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, turning a bad flag into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

func runVersion(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "version", "version", "Print the version of this binary.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "omnitriage %s\n", version)
	return nil
}

// subcommand dispatches args[0] among subs, printing help for --help.
func subcommand(ctx context.Context, env *environment, name string, args []string, subs map[string]command) error {
	help := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: omnitriage %s SUBCOMMAND [flags]\n\nSubcommands:\n", name)
		keys := make([]string, 0, len(subs))
		for k := range subs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		width := 8
		for _, k := range keys {
			width = max(width, len(k))
		}
		for _, k := range keys {
			fmt.Fprintf(w, "  %-*s %s\n", width, k, subs[k].summary)
		}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		help(env.stderr)
		if len(args) == 0 {
			return usagef("%s: want a subcommand: %s", name, strings.Join(sortedKeys(subs), ", "))
		}
		return flag.ErrHelp
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usagef("%s: unknown subcommand %q: want %s", name, args[0], strings.Join(sortedKeys(subs), ", "))
	}
	return sub.run(ctx, env, args[1:])
}

func sortedKeys(m map[string]command) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
