package triage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"
)

// ClusterRunArgs is the full clustering run, on the leader's schedule.
type ClusterRunArgs struct{}

// Kind names the job for River.
func (ClusterRunArgs) Kind() string { return "cluster_run" }

// InsertOpts keeps one run waiting at a time: a run that takes longer
// than the schedule's period does not pile up more.
func (ClusterRunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{rivertype.JobStateAvailable,
		rivertype.JobStatePending, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateRunning}}}
}

// ClusterNotifyArgs tells the webhook of recurring clusters, every minute.
type ClusterNotifyArgs struct{}

// Kind names the job for River.
func (ClusterNotifyArgs) Kind() string { return "cluster_recurring_notify" }

// ClusterJobs are the clustering's background work: the scheduled full
// run and the recurrence webhook, both run by River's leader, and the
// summary jobs a run or an engineer asks for (with LLM_URL).
type ClusterJobs struct {
	c        *Clusterer
	schedule cron.Schedule
}

// NewClusterJobs returns the jobs of c on the cron schedule spec
// (robfig/cron's standard five fields or a descriptor such as @hourly).
func NewClusterJobs(c *Clusterer, spec string) (*ClusterJobs, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("CLUSTER_SCHEDULE %q: %w", spec, err)
	}
	return &ClusterJobs{c: c, schedule: sched}, nil
}

// RegisterWorkers adds the clustering's workers.
func (j *ClusterJobs) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, &clusterRunWorker{c: j.c})
	river.AddWorker(w, &clusterNotifyWorker{c: j.c})
	river.AddWorker(w, &clusterSummaryWorker{c: j.c})
}

// PeriodicJobs lists the jobs River's leader runs on a schedule: the full
// run on CLUSTER_SCHEDULE, the webhook every minute.
func (j *ClusterJobs) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(j.schedule,
			func() (river.JobArgs, *river.InsertOpts) { return ClusterRunArgs{}, nil },
			&river.PeriodicJobOpts{ID: ClusterRunArgs{}.Kind()}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return ClusterNotifyArgs{}, nil },
			&river.PeriodicJobOpts{ID: ClusterNotifyArgs{}.Kind()}),
	}
}

type clusterRunWorker struct {
	river.WorkerDefaults[ClusterRunArgs]
	c *Clusterer
}

// Timeout lets a run over a large window finish (the engine needs about
// 2 s per 100,000 exceptions; reading and writing them most of the rest).
func (w *clusterRunWorker) Timeout(*river.Job[ClusterRunArgs]) time.Duration { return 10 * time.Minute }

// Work makes the run, then tells the webhook of what recurs.
func (w *clusterRunWorker) Work(ctx context.Context, job *river.Job[ClusterRunArgs]) error {
	sum, err := w.c.Run(ctx, RunOptions{Trigger: "schedule"})
	if errors.Is(err, ErrRunInProgress) {
		return nil // someone asked for one on demand; this one is not needed
	}
	if err != nil {
		return err
	}
	w.c.s.log.Info("clustering run", "run", sum.RunID, "exceptions", sum.Exceptions, "clusters", sum.Clusters,
		"new", sum.New, "merges", sum.Merges, "splits", sum.Splits, "summaries", sum.Summaries, "duration", sum.Duration)
	_, err = w.c.NotifyRecurring(ctx, 100)
	return err
}

type clusterNotifyWorker struct {
	river.WorkerDefaults[ClusterNotifyArgs]
	c *Clusterer
}

// Work tells the webhook of recurring clusters.
func (w *clusterNotifyWorker) Work(ctx context.Context, job *river.Job[ClusterNotifyArgs]) error {
	_, err := w.c.NotifyRecurring(ctx, 100)
	return err
}
