package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// demoKey is one demo API key, shown once.
type demoKey struct {
	role   auth.Role
	name   string
	secret string
}

func runSeed(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "seed", "seed [--seed N] [--skus N] [--locations N] [--keys=false] [--keys-file PATH] [--people=false] [--logins-file PATH]",
		"Create the demo retailer: channels, stores, warehouses, drop-ship partners, dark stores, SKUs and stock,\n"+
			"and demo API keys, one per role. Migrations are applied first. A database that already has the demo\n"+
			"is left as it is (and no keys are made). Demo people (review logins), one per role, are made when\n"+
			"there are no people yet.")
	seed := fs.Int64("seed", 1, "the retailer to build: the same seed builds the same data")
	skus := fs.Int("skus", orchestration.DefaultDemoSKUs, "SKUs in the catalog")
	locations := fs.Int("locations", orchestration.DefaultDemoLocations, "locations in the network (at least 12)")
	keys := fs.Bool("keys", true, "create demo API keys, one per role, when the demo is created")
	keysFile := fs.String("keys-file", "", "also write the demo keys to this file (mode 0600); empty: only print them")
	people := fs.Bool("people", true, "create demo people (logins for the review pages), one per role, when there are none")
	loginsFile := fs.String("logins-file", "", "also write the demo logins to this file (mode 0600); empty: only print them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usagef("seed: unexpected argument %q", fs.Arg(0))
	}
	opts := orchestration.SeedOptions{Seed: *seed, SKUs: *skus, Locations: *locations}
	if err := opts.Validate(); err != nil {
		return usagef("seed: %v", err)
	}

	cfg, log, closeDB, pool, err := openDB(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := database.MigrateUp(ctx, pool, log); err != nil {
		return err
	}
	pool.Reset() // connections opened before the vector type existed lack its codec
	pol, err := loadPolicy(cfg)
	if err != nil {
		return err
	}
	svc, err := orchestration.NewService(pool, orchestration.Config{Log: log, Policy: func() *rules.Policy { return pol }})
	if err != nil {
		return err
	}

	start := time.Now()
	sum, err := svc.SeedDemo(ctx, opts, progressTo(env.stderr))
	if err != nil {
		return err
	}
	printSeedSummary(env.stdout, sum, opts, time.Since(start))
	if *people {
		if _, err := seedPeople(ctx, env.stdout, pool, *loginsFile, time.Now()); err != nil {
			return err
		}
	}
	if sum.AlreadySeeded || !*keys {
		return nil
	}

	store := auth.NewStore(pool, time.Minute, nil)
	var made []demoKey
	for _, role := range auth.Roles {
		name := "demo-" + string(role)
		_, secret, err := store.Create(ctx, name, role)
		if err != nil {
			return fmt.Errorf("creating demo key %s: %w", name, err)
		}
		made = append(made, demoKey{role: role, name: name, secret: secret})
	}
	fmt.Fprintf(env.stdout, "\nDemo API keys, one per role. They are shown only now: copy them somewhere safe.\n"+
		"Use one as 'Authorization: Bearer KEY'; revoke with `omnitriage apikey revoke ID`.\n\n")
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tNAME\tKEY")
	for _, k := range made {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.role, k.name, k.secret)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if *keysFile != "" {
		if err := writeKeysFile(*keysFile, made, time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "\nThe keys are also in %s (readable only by you).\n", *keysFile)
	}
	return nil
}

// progressTo reports seeding progress on w: rewriting one line on a
// terminal, one line per step elsewhere (logs, make).
func progressTo(w io.Writer) func(step string, done, total int) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return func(step string, done, total int) {
		switch {
		case tty:
			end := ""
			if done == total {
				end = "\n"
			}
			fmt.Fprintf(w, "\rseeding %-9s %6d/%d%s", step, done, total, end)
		case done == total:
			fmt.Fprintf(w, "seeded %s: %d\n", step, total)
		}
	}
}

func printSeedSummary(w io.Writer, sum orchestration.SeedSummary, opts orchestration.SeedOptions, took time.Duration) {
	if sum.AlreadySeeded {
		fmt.Fprintf(w, "The demo retailer is already there; nothing changed.\n")
	} else {
		fmt.Fprintf(w, "Seeded the demo retailer (seed %d) in %s.\n", opts.Seed, took.Round(time.Millisecond))
	}
	kinds := make([]string, 0, len(sum.LocationsByKind))
	for k, n := range sum.LocationsByKind {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, strings.ReplaceAll(k, "_", " ")))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "  channels   %d\n", sum.Channels)
	fmt.Fprintf(w, "  locations  %d (%s) in %d regions: %s\n", sum.Locations, strings.Join(kinds, ", "),
		len(sum.Regions), strings.Join(sum.Regions, ", "))
	fmt.Fprintf(w, "  SKUs       %d\n", sum.SKUs)
	fmt.Fprintf(w, "  stock      %d rows (%d sold out), %d units on hand\n", sum.StockRows, sum.ZeroStockRows, sum.Units)
	if sum.LedgerRows > 0 {
		fmt.Fprintf(w, "  ledger     %d opening counts\n", sum.LedgerRows)
	}
}

// writeKeysFile writes the keys as shell variable assignments, readable only
// by the owner. It writes a temporary file and renames it, so a reader never
// sees half a file and the mode is right from the first byte.
func writeKeysFile(path string, keys []demoKey, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# omnitriage demo API keys, one per role, made by `omnitriage seed` at %s.\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# Keep this file private. Use a key as: curl -H \"Authorization: Bearer $OMNITRIAGE_ADMIN_KEY\" …\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "# %s\nOMNITRIAGE_%s_KEY=%s\n", k.name, strings.ToUpper(string(k.role)), k.secret)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing demo keys: %w", err)
	}
	f, err := os.CreateTemp(dir, ".demo-keys-*")
	if err != nil {
		return fmt.Errorf("writing demo keys: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing demo keys: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("writing demo keys to %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing demo keys to %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing demo keys to %s: %w", path, err)
	}
	return nil
}
