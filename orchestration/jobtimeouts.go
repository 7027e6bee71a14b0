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
func (*checksWorker) Timeout(*river.Job[ChecksArgs]) time.Duration {
	return JobTimeouts[ChecksArgs{}.Kind()]
}

// Timeout bounds one run of the job.
func (*releaseWorker) Timeout(*river.Job[ReleaseArgs]) time.Duration {
	return JobTimeouts[ReleaseArgs{}.Kind()]
}

// Timeout bounds one run of the job.
func (*shipWorker) Timeout(*river.Job[ShipArgs]) time.Duration { return JobTimeouts[ShipArgs{}.Kind()] }

// Timeout bounds one run of the job.
func (*trackWorker) Timeout(*river.Job[TrackArgs]) time.Duration {
	return JobTimeouts[TrackArgs{}.Kind()]
}

// Timeout bounds one run of the job.
func (*postWorker) Timeout(*river.Job[PostArgs]) time.Duration { return JobTimeouts[PostArgs{}.Kind()] }

// Timeout bounds one run of the job.
func (*notifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration {
	return JobTimeouts[NotifyArgs{}.Kind()]
}

// Timeout bounds one run of the job.
func (*voidWorker) Timeout(*river.Job[VoidArgs]) time.Duration { return JobTimeouts[VoidArgs{}.Kind()] }

// Timeout bounds one run of the job.
func (*refundWorker) Timeout(*river.Job[RefundArgs]) time.Duration {
	return JobTimeouts[RefundArgs{}.Kind()]
}

// Timeout bounds one run of the job.
func (*sweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration {
	return JobTimeouts[SweepArgs{}.Kind()]
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
