package orchestration

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/jobs"
)

// ExpireHoldsArgs is the periodic job that ends the holds whose time is up.
type ExpireHoldsArgs struct{}

// Kind names the job for River.
func (ExpireHoldsArgs) Kind() string { return "hold_expire" }

// expireBatch bounds the holds one statement ends; a run repeats it until
// fewer are due.
const expireBatch = 1000

// defaultHoldExpiry is how often holds are expired when the Config does not say.
var defaultHoldExpiry = jobs.Every(15 * time.Second)

type expireHoldsWorker struct {
	river.WorkerDefaults[ExpireHoldsArgs]
	s *Service
}

// Work ends the due holds, a thousand at a time.
func (w *expireHoldsWorker) Work(ctx context.Context, _ *river.Job[ExpireHoldsArgs]) error {
	total := 0
	for {
		n, err := w.s.ExpireHolds(ctx, expireBatch)
		total += n
		if err != nil {
			return err
		}
		if n < expireBatch {
			break
		}
	}
	if total > 0 {
		w.s.log.Info("expired holds", "count", total)
	}
	return nil
}

// Timeout bounds one run of the job: a minute, at most Config.MaxJobTimeout.
func (w *expireHoldsWorker) Timeout(*river.Job[ExpireHoldsArgs]) time.Duration {
	if m := w.s.maxJobTimeout; m > 0 && m < time.Minute {
		return m
	}
	return time.Minute
}
