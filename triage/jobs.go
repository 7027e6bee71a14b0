package triage

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/jobs"
)

// TriageArgs is the job that triages one exception's open case. Enqueue
// inserts it in the transaction that raises the exception, so a new
// exception is triaged as soon as a worker is free.
type TriageArgs struct {
	ExceptionID uuid.UUID `json:"exception_id"`
}

// Kind names the job for River.
func (TriageArgs) Kind() string { return "triage_exception" }

// SweepOpenArgs is the periodic job that triages the open cases whose next
// attempt is due: those whose triage failed (retried with the backoff
// recordFailure sets) and those a report left open.
type SweepOpenArgs struct{}

// Kind names the job for River.
func (SweepOpenArgs) Kind() string { return "triage_sweep_open" }

// StoreVectorsArgs is the periodic job that stores the vectors triage left
// to the background (vector_pending), paced (see storeVectors).
type StoreVectorsArgs struct{}

// Kind names the job for River.
func (StoreVectorsArgs) Kind() string { return "triage_store_vectors" }

// RetrainArgs is the periodic job that embeds the history the model has no
// vectors for (a new model's backfill) and refits the classifier's
// calibration when reviews have added examples.
type RetrainArgs struct{}

// Kind names the job for River.
func (RetrainArgs) Kind() string { return "triage_retrain" }

// triageAttempts is how often River runs a triage job. A failed triage is
// recorded on its case and retried by the sweep, so the job itself is run
// again only when it did not get as far as that (a shutdown).
const triageAttempts = 3

// enqueueTriage inserts the triage job of exception id in tx.
func enqueueTriage(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	return jobs.Insert(ctx, tx, TriageArgs{ExceptionID: id}, triageAttempts)
}

// JobsConfig sets triage's periodic jobs' schedules; an unset one takes
// its default.
type JobsConfig struct {
	// SweepOpen triages the open cases that are due; default every 5 s.
	SweepOpen jobs.Schedule
	// Vectors stores pending vectors; default every second.
	Vectors jobs.Schedule
	// Retrain embeds missing history and refits; default every 10 minutes.
	// Each process that triages reloads the vocabulary and the newest
	// calibration as often.
	Retrain jobs.Schedule
}

// Jobs is triage's background work (jobs.Jobs): the triage of each new
// exception, and the leader's sweep of open cases, vector storing and
// retrain check.
type Jobs struct {
	s   *Service
	cfg JobsConfig

	mu       sync.Mutex
	reloaded time.Time // when this process last reloaded what refit changes
}

// NewJobs returns triage's background work over s.
func NewJobs(s *Service, cfg JobsConfig) *Jobs {
	cfg.SweepOpen = cfg.SweepOpen.Or(jobs.Every(5 * time.Second))
	cfg.Vectors = cfg.Vectors.Or(jobs.Every(time.Second))
	cfg.Retrain = cfg.Retrain.Or(jobs.Every(retrainEvery))
	return &Jobs{s: s, cfg: cfg, reloaded: time.Now()}
}

// RegisterWorkers adds triage's job workers.
func (j *Jobs) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, &triageWorker{j: j})
	river.AddWorker(w, &sweepOpenWorker{j: j})
	river.AddWorker(w, &vectorWorker{j: j})
	river.AddWorker(w, &retrainWorker{j: j})
}

// PeriodicJobs lists the jobs River's leader runs: the sweep of open
// cases, the vector store and the retrain check.
func (j *Jobs) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		jobs.Periodic(j.cfg.SweepOpen, SweepOpenArgs{}),
		jobs.Periodic(j.cfg.Vectors, StoreVectorsArgs{}),
		jobs.Periodic(j.cfg.Retrain, RetrainArgs{}),
	}
}

// workBudget bounds the loops of one periodic run, well inside the job
// timeout; the next run goes on where it stopped.
const workBudget = 40 * time.Second

// within runs fn with a context ending after workBudget, and takes that
// ending as a normal stop.
func within(ctx context.Context, fn func(ctx context.Context) error) error {
	bctx, cancel := context.WithTimeout(ctx, workBudget)
	defer cancel()
	err := fn(bctx)
	if ctx.Err() == nil && bctx.Err() != nil && (err == nil || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

type triageWorker struct {
	river.WorkerDefaults[TriageArgs]
	j *Jobs
}

// Work triages the exception. A failure is recorded on its case, which
// the sweep retries with backoff, so the job ends either way.
func (w *triageWorker) Work(ctx context.Context, job *river.Job[TriageArgs]) error {
	s := w.j.s
	w.j.reloadIfStale(ctx)
	if _, err := s.Intake(ctx, job.Args.ExceptionID); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("triage failed; will retry", "exception", job.Args.ExceptionID, "err", err)
	}
	return nil
}

type sweepOpenWorker struct {
	river.WorkerDefaults[SweepOpenArgs]
	j *Jobs
}

// Work triages the due open cases, a hundred at a time.
func (w *sweepOpenWorker) Work(ctx context.Context, _ *river.Job[SweepOpenArgs]) error {
	w.j.reloadIfStale(ctx)
	return within(ctx, func(ctx context.Context) error {
		for {
			n, err := w.j.s.TriageOpen(ctx, 100)
			if err != nil || n < 100 {
				return err
			}
		}
	})
}

type vectorWorker struct {
	river.WorkerDefaults[StoreVectorsArgs]
	j *Jobs
}

// Work stores the pending vectors. One process at a time does (a run that
// finds another still storing ends at once), so the pace storeVectors keeps
// is the cluster's, not each process's.
func (w *vectorWorker) Work(ctx context.Context, _ *river.Job[StoreVectorsArgs]) error {
	s := w.j.s
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var mine bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('omnitriage.triage.vectors'))`).Scan(&mine); err != nil {
		return err
	}
	if !mine {
		return nil
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('omnitriage.triage.vectors'))`); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx)) // ends the session, and with it the lock
		}
	}()
	return within(ctx, s.storeAllVectors)
}

type retrainWorker struct {
	river.WorkerDefaults[RetrainArgs]
	j *Jobs
}

// Work embeds the history the model has no vectors for, then refits the
// calibration if reviews added examples since it was fitted.
func (w *retrainWorker) Work(ctx context.Context, _ *river.Job[RetrainArgs]) error {
	s := w.j.s
	err := within(ctx, func(ctx context.Context) error {
		for {
			n, err := s.EmbedExceptions(ctx, 500)
			if err != nil || n < 500 {
				return err
			}
		}
	})
	if err != nil {
		return err
	}
	if err := s.refit(ctx); err != nil {
		return err
	}
	w.j.mu.Lock()
	w.j.reloaded = time.Now()
	w.j.mu.Unlock()
	return nil
}

// reloadIfStale reloads, once a retrain period, the library vocabulary and
// the newest calibration another process may have fitted: the retrain job
// runs in one process, and every process that triages must see its fit.
func (j *Jobs) reloadIfStale(ctx context.Context) {
	period := j.cfg.Retrain.Period()
	if period == 0 {
		period = retrainEvery
	}
	j.mu.Lock()
	due := time.Since(j.reloaded) >= period
	if due {
		j.reloaded = time.Now()
	}
	j.mu.Unlock()
	if !due {
		return
	}
	if err := j.s.reload(ctx); err != nil && ctx.Err() == nil {
		j.s.log.Error("reloading the classifier's calibration", "err", err)
	}
}
