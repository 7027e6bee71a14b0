package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/omnitriage/omnitriage/internal/traffic"
)

func runSimulate(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "simulate", "simulate [--url URL] [--key KEY] [--seed N] [--rate R] [--clients N] [--duration D | --orders N] [--day D] [--wait D] [--quiet]",
		"Drive a running server over its public API the way channels, stores, outside systems and an outside\n"+
			"orchestrator would: orders from every channel with a daily and weekly shape, a promotion, pickups (some\n"+
			"never collected), edits, cancels, returns, store stock counts (some stale, some with shrink), and each\n"+
			"simulated day a burst of payment declines, a regional carrier disruption and an ERP outage, reported as\n"+
			"exceptions and recommendations. The same --seed against the same server state sends the same requests.\n"+
			"Runs until --duration or --orders, or SIGINT, then prints a summary.")
	url := fs.String("url", "http://localhost:8080", "the server's base URL")
	key := fs.String("key", "", "an orchestrator API key (default $OMNITRIAGE_ORCHESTRATOR_KEY; the demo keys are in .data/demo-keys.env)")
	seed := fs.Uint64("seed", 1, "the traffic to send: the same seed sends the same requests")
	rate := fs.Float64("rate", 3, "orders per second, as a mean over the simulated week")
	duration := fs.Duration("duration", 0, "stop after this long (0: no bound)")
	orders := fs.Int("orders", 0, "stop after this many orders (0: no bound)")
	day := fs.Duration("day", 20*time.Minute, "how long a simulated day lasts (24h: real time)")
	wait := fs.Duration("wait", 0, "wait this long for the server to be ready (/readyz) before giving up")
	clients := fs.Int("clients", 1, "clients sending at once, each its own repeatable sequence with a share of the rate")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request timeout")
	quiet := fs.Bool("quiet", false, "no progress bar (there is none either when stdout is not a terminal)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usagef("simulate: unexpected argument %q", fs.Arg(0))
	}
	if *key == "" {
		*key = strings.TrimSpace(env.getenv("OMNITRIAGE_ORCHESTRATOR_KEY"))
	}
	if *timeout <= 0 {
		return usagef("simulate: --timeout: want a positive duration such as 30s")
	}

	out := newSimOutput(env, *quiet, *orders, *duration)
	cfg := traffic.Config{URL: *url, Key: *key, Seed: *seed, Rate: *rate, Duration: *duration, Orders: *orders, Day: *day,
		Wait: *wait, Clients: *clients, HTTP: &http.Client{Timeout: *timeout, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: max(2, *clients*2), IdleConnTimeout: time.Minute}}, Progress: out.progress, Logf: out.logf}
	sim, err := traffic.New(cfg)
	if err != nil {
		return usagef("simulate: %v", err)
	}
	fmt.Fprintf(env.stderr, "simulate: %g orders/s against %s, seed %d, a simulated day every %s; SIGINT (Ctrl-C) stops it\n",
		*rate, *url, *seed, *day)
	sum, err := sim.Run(ctx)
	out.done()
	if sum.Requests > 0 || err == nil {
		sum.Print(env.stdout)
	}
	return err
}

// simOutput shows the run: a progress bar on a terminal, otherwise a
// status line a minute (for a log file), and the run's notes.
type simOutput struct {
	mu       sync.Mutex
	bar      *progressbar.ProgressBar
	log      io.Writer
	last     time.Time
	quiet    bool
	byOrders bool
}

func newSimOutput(env *environment, quiet bool, orders int, duration time.Duration) *simOutput {
	o := &simOutput{log: env.stderr, quiet: quiet}
	if quiet || !isTerminal(env.stdout) {
		return o
	}
	max := int64(-1) // a spinner when the run is unbounded
	switch {
	case orders > 0:
		max, o.byOrders = int64(orders), true
	case duration > 0:
		max = int64(duration / time.Second)
	}
	o.bar = progressbar.NewOptions64(max, progressbar.OptionSetWriter(env.stdout), progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetPredictTime(false),
		progressbar.OptionSpinnerType(14), progressbar.OptionSetRenderBlankState(true))
	return o
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func describe(p traffic.Progress) string {
	s := fmt.Sprintf("%s · orders %d · exceptions %d · errors %d", p.SimTime.Format("Mon 15:04"), p.Orders, p.Reported, p.Errors)
	if len(p.Incidents) > 0 {
		s += " · " + strings.Join(p.Incidents, ", ")
	}
	if p.Behind > 5*time.Second {
		s += fmt.Sprintf(" · %s behind", p.Behind.Round(time.Second))
	}
	return s
}

func (o *simOutput) progress(p traffic.Progress) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bar != nil {
		o.bar.Describe(describe(p))
		switch {
		case o.byOrders:
			_ = o.bar.Set(p.Orders)
		case p.MaxElapsed > 0:
			_ = o.bar.Set(int(p.Elapsed / time.Second))
		default:
			_ = o.bar.Add(0)
		}
		return
	}
	if o.quiet {
		return
	}
	if now := time.Now(); now.Sub(o.last) >= time.Minute {
		o.last = now
		fmt.Fprintf(o.log, "%s simulate: %s · %d requests\n", now.Format(time.TimeOnly), describe(p), p.Requests)
	}
}

func (o *simOutput) logf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bar != nil {
		_ = o.bar.Clear()
	}
	fmt.Fprintf(o.log, "%s simulate: %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, args...))
}

func (o *simOutput) done() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bar != nil {
		_ = o.bar.Finish()
	}
}
