package orchestration

import (
	"time"

	"github.com/riverqueue/river"
)

// JobTimeouts is how long each job kind may run before its context ends. A
// job makes at most a few outside calls (checks: four) and a transaction or
// two; a job that times out fails and is retried with the same keys. The
// River client's rescue window (JOB_RESCUE_AFTER) must exceed the longest:
// a job still running after it is taken to have died with its process.
var JobTimeouts = map[string]time.Duration{
	ChecksArgs{}.Kind():  time.Minute,
	ReleaseArgs{}.Kind(): 30 * time.Second,
	ShipArgs{}.Kind():    time.Minute, // capture and book
	TrackArgs{}.Kind():   30 * time.Second,
	PostArgs{}.Kind():    30 * time.Second,
	NotifyArgs{}.Kind():  30 * time.Second,
	VoidArgs{}.Kind():    30 * time.Second,
	RefundArgs{}.Kind():  time.Minute, // refund, then post and notify
	SweepArgs{}.Kind():   time.Minute,
}

// Timeout bounds one run of the job.
func (w *checksWorker) Timeout(*river.Job[ChecksArgs]) time.Duration {
	return w.s.jobTimeout(ChecksArgs{}.Kind())
}

// Timeout bounds one run of the job.
func (w *releaseWorker) Timeout(*river.Job[ReleaseArgs]) time.Duration {
	return w.s.jobTimeout(ReleaseArgs{}.Kind())
}

// Timeout bounds one run of the job.
func (w *shipWorker) Timeout(*river.Job[ShipArgs]) time.Duration {
	return w.s.jobTimeout(ShipArgs{}.Kind())
}

// Timeout bounds one run of the job.
func (w *trackWorker) Timeout(*river.Job[TrackArgs]) time.Duration {
	return w.s.jobTimeout(TrackArgs{}.Kind())
}

// Timeout bounds one run of the job.
func (w *postWorker) Timeout(*river.Job[PostArgs]) time.Duration {
	return w.s.jobTimeout(PostArgs{}.Kind())
}

// Timeout bounds one run of the job.
func (w *notifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration {
	return w.s.jobTimeout(NotifyArgs{}.Kind())
}

// Timeout bounds one run of the job.
func (w *voidWorker) Timeout(*river.Job[VoidArgs]) time.Duration {
	return w.s.jobTimeout(VoidArgs{}.Kind())
}

// Timeout bounds one run of the job.
func (w *refundWorker) Timeout(*river.Job[RefundArgs]) time.Duration {
	return w.s.jobTimeout(RefundArgs{}.Kind())
}

// Timeout bounds one run of the job.
func (w *sweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration {
	return w.s.jobTimeout(SweepArgs{}.Kind())
}

// jobTimeout is the timeout of a job kind, at most Config.MaxJobTimeout.
func (s *Service) jobTimeout(kind string) time.Duration {
	d := JobTimeouts[kind]
	if s.maxJobTimeout > 0 && d > s.maxJobTimeout {
		d = s.maxJobTimeout
	}
	return d
}

// dwell is a real-world wait (the cancel window, picking and packing) in
// this service's time scale.
func (s *Service) dwell(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.scale)
}

// dueAfter is when a job that waits d (scaled) is due, or nil for now. Jobs
// run on the database's wall clock, not the injected one.
func (s *Service) dueAfter(d time.Duration) *time.Time {
	if d <= 0 {
		return nil
	}
	at := time.Now().Add(s.dwell(d))
	return &at
}
