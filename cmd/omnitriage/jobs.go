package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/jobs"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/triage"
)

// buildSystems returns the outside systems the configuration asks for: the
// built-in simulator, or the signed HTTP client.
// The simulator keeps what it remembers in the database, so a restart (or
// another instance) captures and tracks what an earlier process authorised
// and booked; DEMO_TIME_SCALE speeds its carriers and ERP up.
func buildSystems(cfg config.Config, pool *pgxpool.Pool, now func() time.Time) (adapter.Systems, error) {
	if cfg.Adapters == "http" {
		// One base URL for every system; each appends its own paths.
		ep := adapter.Endpoint{BaseURL: cfg.AdapterURL, Secret: []byte(cfg.AdapterSecret)}
		c, err := adapter.NewHTTPClient(adapter.HTTPConfig{Payment: ep, Fraud: ep, Tax: ep, Fulfillment: ep, Carrier: ep, ERP: ep, Notify: ep})
		if err != nil {
			return adapter.Systems{}, fmt.Errorf("ADAPTER_URL: %w", err)
		}
		return c.Systems(), nil
	}
	faults := adapter.DefaultFaults()
	if cfg.SimFaults == "none" {
		faults = adapter.NoFaults()
	}
	if err := faults.Validate(); err != nil {
		return adapter.Systems{}, err
	}
	return adapter.NewSimulatorWith(faults, uint64(cfg.SimSeed), now,
		adapter.SimOptions{Store: adapter.NewPGStore(pool), Speed: cfg.TimeScale}).Systems(), nil
}

// scaledDur is d divided by a time scale, rounded for people.
func scaledDur(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) / scale).Round(10 * time.Millisecond)
}

// retryPolicy backs off exponentially with jitter: 1s, 2s, 4s … capped at an
// hour, each stretched by up to a quarter at random.
type retryPolicy struct{}

func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := time.Second << min(job.Attempt, 12)
	if d > time.Hour {
		d = time.Hour
	}
	jitter := time.Duration(float64(d) * 0.25 * float64(job.ID%100) / 100)
	return time.Now().Add(d + jitter)
}

// backgroundJobs lists every package's background work (jobs.Jobs): the
// one place a package's workers and periodic jobs are wired in. A new
// package with jobs adds a line here.
func (a *app) backgroundJobs(tri *triage.Service) []jobs.Jobs {
	cfg := a.cfg
	return []jobs.Jobs{
		a.orch, // the order lifecycle; the sweep and the hold expiry
		triage.NewJobs(tri, triage.JobsConfig{SweepOpen: cfg.TriageSweepEvery, Vectors: cfg.VectorEvery, Retrain: cfg.RetrainEvery}),
		triage.NewEscalator(tri, triage.EscalationConfig{Every: cfg.SLAEvery, WebhookURL: cfg.SLAWebhookURL,
			Secret: []byte(cfg.AdapterSecret)}), // the SLA job
		a.review, // the purge of sessions and sign-in failures
	}
}

// initJobs builds the River client with every hook's workers and periodic
// jobs; only the elected leader runs the periodic ones. It runs the
// workers, and takes part in the election, only with WORKERS > 0
// (startJobs): an API-only process runs no background work.
func (a *app) initJobs(hooks ...jobs.Jobs) error {
	workers := river.NewWorkers()
	var periodic []*river.PeriodicJob
	for _, h := range hooks {
		h.RegisterWorkers(workers)
		periodic = append(periodic, h.PeriodicJobs()...)
	}
	rc := &river.Config{
		Workers:           workers,
		PeriodicJobs:      periodic, // run by the leader only
		RetryPolicy:       retryPolicy{},
		FetchPollInterval: 200 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
		// Each job kind sets its own Timeout (orchestration.JobTimeouts), at
		// most this; a job running longer than RescueAfter died with its
		// process (kill -9, a crash) and is run again, with the same keys.
		JobTimeout:           config.MaxJobTimeout,
		RescueStuckJobsAfter: a.cfg.RescueAfter,
	}
	if a.cfg.Workers > 0 {
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: a.cfg.Workers}}
	}
	client, err := river.NewClient(riverpgxv5.New(a.pool), rc)
	if err != nil {
		return fmt.Errorf("job client: %w", err)
	}
	a.jobs = client
	return nil
}

// startJobs starts the workers; Close stops them, letting running jobs finish
// within the shutdown grace.
func (a *app) startJobs(ctx context.Context) error {
	if a.cfg.Workers == 0 || a.jobs == nil {
		return nil
	}
	if err := a.jobs.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting job workers: %w", err)
	}
	a.closers = append(a.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
		defer cancel()
		if err := a.jobs.Stop(sctx); err != nil {
			a.log.Warn("job workers did not stop in time", "err", err)
		}
	})
	return nil
}

// jobJSON is a job as the admin API shows it.
type jobJSON struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	State       string          `json:"state"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	Args        json.RawMessage `json:"args"`
	Errors      []string        `json:"errors,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

func toJobJSON(j *rivertype.JobRow) jobJSON {
	out := jobJSON{ID: j.ID, Kind: j.Kind, State: string(j.State), Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
		Args: json.RawMessage(j.EncodedArgs), CreatedAt: j.CreatedAt}
	for _, e := range j.Errors {
		out.Errors = append(out.Errors, e.Error)
	}
	return out
}

// handleListJobs lists jobs by state: discarded ones are the dead letters.
func (a *app) handleListJobs(w http.ResponseWriter, r *http.Request) error {
	state := rivertype.JobState(r.URL.Query().Get("state"))
	if state == "" {
		state = rivertype.JobStateDiscarded
	}
	valid := false
	for _, s := range rivertype.JobStates() {
		valid = valid || s == state
	}
	if !valid {
		ve := &derrors.ValidationError{}
		ve.Add("state", "want one of available, scheduled, running, retryable, completed, discarded, cancelled, pending")
		return ve
	}
	res, err := a.jobs.JobList(r.Context(), river.NewJobListParams().States(state).First(100))
	if err != nil {
		return err
	}
	out := make([]jobJSON, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		out = append(out, toJobJSON(j))
	}
	return web.JSON(w, http.StatusOK, map[string]any{"jobs": out})
}

// handleRetryJob runs a dead or waiting job again now.
func (a *app) handleRetryJob(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return fmt.Errorf("job id %q: %w", chi.URLParam(r, "id"), derrors.NotFound)
	}
	j, err := a.jobs.JobRetry(r.Context(), id)
	if err != nil {
		if isRiverNotFound(err) {
			return fmt.Errorf("no job %d: %w", id, derrors.NotFound)
		}
		return err
	}
	return web.JSON(w, http.StatusOK, toJobJSON(j))
}

func isRiverNotFound(err error) bool {
	return err == rivertype.ErrNotFound || err == pgx.ErrNoRows
}
