package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/orchestration"
)

// jobsPeriod is every periodic job's schedule in the two-instance test.
// Four seconds, not two: under the full suite on two cores a leader's
// periodic enqueuer was once more than two seconds late and a 2 s period
// passed with no run at all (every job at once: the process was starved).
const jobsPeriod = 4 * time.Second

// jobsEnv is the configuration of an instance in the two-instance test:
// every periodic job every jobsPeriod.
func jobsEnv(dbURL, workers string) func(string) string {
	env := map[string]string{"DATABASE_URL": dbURL, "WORKERS": workers, "SHUTDOWN_GRACE": "5s", "SIM_FAULTS": "none"}
	for _, k := range []string{"HOLD_EXPIRY_EVERY", "TRIAGE_SWEEP_EVERY", "VECTOR_EVERY", "RETRAIN_EVERY", "SLA_EVERY", "TRACK_EVERY"} {
		env[k] = jobsPeriod.String()
	}
	return func(k string) string { return env[k] }
}

// startInstance builds an app the way serve does, on dbURL, and starts its
// job workers.
func startInstance(t *testing.T, getenv func(string) string) (*app, *pgxpool.Pool) {
	t.Helper()
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := database.Open(context.Background(), cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.DiscardHandler), pool, prometheus.NewRegistry())
	if err != nil {
		pool.Close()
		t.Fatal(err)
	}
	if err := a.startJobs(context.Background()); err != nil {
		a.Close()
		pool.Close()
		t.Fatal(err)
	}
	return a, pool
}

// TestJobsHelperProcess is the other instance of
// TestPeriodicJobsRunOncePerPeriod, run as a process of its own so the
// test can kill it: it serves jobs on OMNITRIAGE_JOBS_DB, prints its River
// client's id, and runs until killed or its stdin closes.
func TestJobsHelperProcess(t *testing.T) {
	dbURL := os.Getenv("OMNITRIAGE_JOBS_DB")
	if dbURL == "" {
		t.Skip("run by TestPeriodicJobsRunOncePerPeriod")
	}
	a, _ := startInstance(t, jobsEnv(dbURL, "2"))
	fmt.Printf("client %s\n", a.jobs.ID())
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
	}
	os.Exit(0) // no clean-up: the parent kills this process mid-run
}

// leader is the id of River's elected leader, or "".
func leader(ctx context.Context, pool *pgxpool.Pool) string {
	var id string
	err := pool.QueryRow(ctx, `SELECT leader_id FROM river_leader WHERE expires_at > now()`).Scan(&id)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	return id
}

// electedAt waits until id leads and returns when it was elected.
func electedAt(t *testing.T, pool *pgxpool.Pool, id string, timeout time.Duration) time.Time {
	t.Helper()
	var at time.Time
	waitFor(t, timeout, id+" to lead", func() bool {
		err := pool.QueryRow(context.Background(), `SELECT elected_at FROM river_leader WHERE leader_id = $1 AND expires_at > now()`, id).Scan(&at)
		return err == nil
	})
	return at
}

// waitFor polls cond every 100 ms until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Now()
}

// periodicRun is one run of a periodic job: the period it is for, when it
// was inserted and its state.
type periodicRun struct {
	slot, created time.Time
	state         string
}

// handover is a time no instance led: from when the leader stopped (or
// died) until another was elected.
type handover struct{ from, to time.Time }

// TestPeriodicJobsRunOncePerPeriod runs two service instances on one
// database, each with job workers, and hands River's leadership over
// twice: B (in this process) leads first while A (a process of its own)
// waits; B stops (resigning) and A takes over at once; a new B starts,
// and A is killed (SIGKILL, no resignation), so B takes over only when A's
// leadership expires. Each periodic job runs exactly once in every period
// a leader was in office for, whichever it was, including the period of a
// quick handover where both leaders' runs fall; a period part of which no
// one led has at most one run, by the leader in office when it was
// inserted.
func TestPeriodicJobsRunOncePerPeriod(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about a minute")
	}
	dbURL := dbtest.NewURL(t)
	ctx := context.Background()
	obs, err := database.Open(ctx, dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	t0 := time.Now()

	b1, b1Pool := startInstance(t, jobsEnv(dbURL, "2"))
	defer b1Pool.Close()
	b1Open := true
	defer func() {
		if b1Open {
			b1.Close()
		}
	}()
	electedB1 := electedAt(t, obs, b1.jobs.ID(), time.Minute)

	// A: a process of its own, so it can die without resigning.
	cmd := exec.Command(os.Args[0], "-test.run=^TestJobsHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "OMNITRIAGE_JOBS_DB="+dbURL)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	}()
	idc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "client "); ok {
				idc <- id
			}
		}
	}()
	var aID string
	select {
	case aID = <-idc:
	case <-time.After(3 * time.Minute):
		t.Fatal("instance A did not start")
	}
	time.Sleep(3 * jobsPeriod)
	if l := leader(ctx, obs); l != b1.jobs.ID() {
		t.Fatalf("leader = %q, want B (%s): A took over a live leader", l, b1.jobs.ID())
	}

	// B stops; A takes over.
	stop1 := time.Now()
	b1.Close()
	b1Open = false
	electedA := electedAt(t, obs, aID, time.Minute)
	b2, b2Pool := startInstance(t, jobsEnv(dbURL, "2"))
	defer b2Pool.Close()
	b2Open := true
	defer func() {
		if b2Open {
			b2.Close()
		}
	}()
	time.Sleep(3 * jobsPeriod)
	if l := leader(ctx, obs); l != aID {
		t.Fatalf("leader = %q, want A (%s): the new B took over a live leader", l, aID)
	}

	// A dies; B takes over when A's leadership expires.
	killAt := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed = true
	_ = cmd.Wait()
	electedB2 := electedAt(t, obs, b2.jobs.ID(), 2*time.Minute)
	time.Sleep(3 * jobsPeriod)
	stop2 := time.Now()
	b2.Close()
	b2Open = false
	gaps := []handover{{stop1, electedA}, {killAt, electedB2}}
	t.Logf("period %s; from the start: B led at +%s, stopped at +%s; A led at +%s, was killed at +%s; B led at +%s, stopped at +%s",
		jobsPeriod, electedB1.Sub(t0).Round(time.Millisecond), stop1.Sub(t0).Round(time.Millisecond), electedA.Sub(t0).Round(time.Millisecond),
		killAt.Sub(t0).Round(time.Millisecond), electedB2.Sub(t0).Round(time.Millisecond), stop2.Sub(t0).Round(time.Millisecond))

	slot := func(t time.Time) time.Time { return t.Truncate(jobsPeriod) }
	// inOffice says whether a leader was in office through the period
	// starting at s (its scheduler inserts the period's run a quarter
	// second in; a loaded machine may be late).
	// A new leader's periodic enqueuer starts a moment after its election
	// (River starts it once the election is won), so a period that begins
	// within startUp of an election may pass before it runs: only later
	// periods must have their run.
	const startUp = time.Second
	inOffice := func(s time.Time) bool {
		if s.Before(electedB1.Add(startUp)) || s.Add(jobsPeriod).After(stop2) {
			return false
		}
		for _, g := range gaps {
			if s.Add(jobsPeriod).After(g.from) && s.Before(g.to.Add(startUp)) {
				return false
			}
		}
		return true
	}
	for _, kind := range []string{"hold_expire", "exception_sweep", "review_sla_escalate", "triage_sweep_open",
		"triage_store_vectors", "triage_retrain"} {
		rows, err := obs.Query(ctx, `SELECT scheduled_at, created_at, state::text FROM river_job
			WHERE kind = $1 AND (metadata->>'periodic')::bool ORDER BY scheduled_at, id`, kind)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (periodicRun, error) {
			var p periodicRun
			err := r.Scan(&p.slot, &p.created, &p.state)
			p.slot = p.slot.Truncate(jobsPeriod) // River's time for the run: a period's start and a quarter second, or a start-up's now
			return p, err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 0 {
			t.Errorf("%s: never ran", kind)
			continue
		}
		bySlot := map[time.Time]periodicRun{}
		for _, r := range runs {
			// A run is for the period it is inserted in (the database's
			// clock stamps it a moment after the job's constructor).
			if r.created.Before(r.slot) || !r.created.Before(r.slot.Add(jobsPeriod+250*time.Millisecond)) {
				t.Errorf("%s: a run inserted at %s is for the period of %s", kind, r.created.Format(time.StampMilli), r.slot.Format(time.StampMilli))
			}
			if _, dup := bySlot[r.slot]; dup {
				t.Errorf("%s: two runs in the period of %s", kind, r.slot.Format(time.StampMilli))
			}
			bySlot[r.slot] = r
			for _, g := range gaps {
				if r.created.After(g.from) && r.created.Before(g.to) {
					t.Errorf("%s: a run inserted at %s, while no instance led", kind, r.created.Format(time.StampMilli))
				}
			}
		}
		for s := slot(electedB1); !s.After(stop2); s = s.Add(jobsPeriod) {
			r, ok := bySlot[s]
			switch {
			case !inOffice(s):
			case !ok:
				t.Errorf("%s: no run in the period of %s, with a leader in office", kind, s.Format(time.StampMilli))
			case r.state != "completed":
				t.Errorf("%s: the run of %s is %s, want completed", kind, s.Format(time.StampMilli), r.state)
			}
		}
		// Each leader's start-up run: the first run in its period is
		// inserted at its election, not at the period's start (River
		// starts the leader's scheduler a moment after the election; the
		// bound is generous for a loaded machine).
		for _, e := range []time.Time{electedB1, electedA, electedB2} {
			found := false
			for _, r := range runs {
				found = found || !r.created.Before(e) && r.created.Sub(e) < 10*time.Second
			}
			if !found {
				t.Errorf("%s: no run within 10 s of the election at %s", kind, e.Format(time.StampMilli))
			}
		}
	}
}

// TestAPIOnlyRunsNoJobs checks that a process with WORKERS=0 runs no
// background work: it never leads, inserts no periodic job, and leaves an
// expired hold alone for several periods of the hold expiry.
func TestAPIOnlyRunsNoJobs(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	env := jobsEnv(dbURL, "0")
	a, pool := startInstance(t, func(k string) string {
		if k == "HOLD_EXPIRY_EVERY" {
			return "1s"
		}
		return env(k)
	})
	defer pool.Close()
	defer a.Close()
	ctx := context.Background()
	if err := a.startBackground(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.orch.SeedDemo(ctx, orchestration.SeedOptions{Seed: 1, SKUs: 50, Locations: 12}, nil); err != nil {
		t.Fatal(err)
	}
	var sku string
	if err := pool.QueryRow(ctx, `SELECT k.code FROM stock s JOIN skus k ON k.id = s.sku_id
		WHERE s.on_hand - s.reserved >= 1 ORDER BY k.code LIMIT 1`).Scan(&sku); err != nil {
		t.Fatal(err)
	}
	h, err := a.orch.Hold(ctx, "test", orchestration.HoldRequest{Kind: orchestration.HoldCart, SKU: sku, Qty: 1, TTLSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE reservations SET expires_at = now() - interval '1 minute' WHERE id = $1`, h.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	var status string
	var jobs, leaders int
	if err := pool.QueryRow(ctx, `SELECT status, (SELECT count(*) FROM river_job), (SELECT count(*) FROM river_leader)
		FROM reservations WHERE id = $1`, h.ID).Scan(&status, &jobs, &leaders); err != nil {
		t.Fatal(err)
	}
	if status != "active" || jobs != 0 || leaders != 0 {
		t.Errorf("after 4 s with WORKERS=0: hold %s, %d jobs, %d leaders; want active, 0, 0", status, jobs, leaders)
	}
	// The same hold is expired by a process with workers.
	b, bPool := startInstance(t, func(k string) string {
		if k == "WORKERS" {
			return "1"
		}
		return env(k)
	})
	defer bPool.Close()
	defer b.Close()
	waitFor(t, time.Minute, "the hold expiry job", func() bool {
		err := pool.QueryRow(ctx, `SELECT status FROM reservations WHERE id = $1`, h.ID).Scan(&status)
		return err == nil && status != "active"
	})
}
