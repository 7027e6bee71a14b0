// Package jobs is the one convention for background work: River workers,
// and periodic jobs that only River's elected leader schedules.
//
// A package with background work implements Jobs (its RegisterWorkers adds
// its workers; its PeriodicJobs lists what the leader inserts on a
// schedule), and cmd lists it once in initJobs. Work that must happen soon
// after a change is a job inserted in the change's transaction (Insert);
// work that must happen regularly is a periodic job made with Periodic, on a
// Schedule read from configuration (Parse: a duration or a cron expression).
// No package runs its own ticker or cron: with two replicas, those run twice.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Jobs is the hook every package with background work implements.
type Jobs interface {
	// RegisterWorkers adds the package's job workers to w; every process
	// that runs workers (WORKERS > 0) registers them.
	RegisterWorkers(w *river.Workers)
	// PeriodicJobs lists the jobs River's leader inserts on a schedule.
	PeriodicJobs() []*river.PeriodicJob
}

// Func adapts two functions to Jobs, for a package whose hook is built
// from parts; either may be nil.
type Func struct {
	Workers  func(*river.Workers)
	Periodic func() []*river.PeriodicJob
}

// RegisterWorkers calls f.Workers.
func (f Func) RegisterWorkers(w *river.Workers) {
	if f.Workers != nil {
		f.Workers(w)
	}
}

// PeriodicJobs calls f.Periodic.
func (f Func) PeriodicJobs() []*river.PeriodicJob {
	if f.Periodic == nil {
		return nil
	}
	return f.Periodic()
}

// Periodic returns the leader's periodic job inserting args at each of s's
// times, and once at start. A run is unique in the period it is inserted in
// (an Every schedule's period; a cron expression's minute), so a period has
// one run whichever process leads: a new leader's start-up run in a period
// the old leader already ran is not inserted. The period is River's ByPeriod
// of the insert's time, which is why s inserts its runs a moment after each
// period starts (fireAfter), never before.
func Periodic(s Schedule, args river.JobArgs) *river.PeriodicJob {
	return river.NewPeriodicJob(s, func() (river.JobArgs, *river.InsertOpts) {
		return args, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: s.uniquePeriod()}}
	}, &river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: true})
}

// InsertSQL inserts a River job directly, so it commits or rolls back with
// the transaction that makes it due. It is River's documented way to insert
// from SQL; workers pick the job up on their next fetch.
const InsertSQL = `INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, scheduled_at)
	VALUES ($1, $2, $3, 1, 'default', 'available', now())`

// Insert adds a job for args, due now, in tx.
func Insert(ctx context.Context, tx pgx.Tx, args river.JobArgs, maxAttempts int) error {
	raw, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("job %s: %w", args.Kind(), err)
	}
	if _, err := tx.Exec(ctx, InsertSQL, raw, args.Kind(), maxAttempts); err != nil {
		return fmt.Errorf("inserting job %s: %w", args.Kind(), err)
	}
	return nil
}
