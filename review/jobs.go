package review

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/jobs"
)

// PurgeArgs is the periodic job that deletes expired sessions and old
// failed sign-ins.
type PurgeArgs struct{}

// Kind names the job.
func (PurgeArgs) Kind() string { return "review_purge" }

type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	s *Server
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	_, _, err := w.s.Purge(ctx)
	return err
}

// Purge deletes expired sessions and failed sign-ins older than the limits'
// window, and says how many of each.
func (s *Server) Purge(ctx context.Context) (sessions, failures int64, err error) {
	tag, err := s.cfg.Pool.Exec(ctx, `DELETE FROM sessions WHERE expiry < $1`, s.now())
	if err != nil {
		return 0, 0, fmt.Errorf("purging expired sessions: %w", err)
	}
	failures, err = s.limiter.purge(ctx)
	return tag.RowsAffected(), failures, err
}

// RegisterWorkers adds the review package's job workers.
func (s *Server) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, &purgeWorker{s: s})
}

// PeriodicJobs lists the jobs River's leader runs for the review package.
func (s *Server) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		jobs.Periodic(jobs.Every(10*time.Minute), PurgeArgs{}),
	}
}
