package main

import (
	"context"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// countCalls wraps sys so every call to an outside system is counted, and
// writes this process's counts to integration_calls every CALL_FLUSH_EVERY
// (and once more at Close): the calls behind the API failure rate of GET
// /v1/metrics/process. The counts are this process's own, so each process
// flushes them; it is not a job for the leader.
func (a *app) countCalls(sys adapter.Systems) adapter.Systems {
	a.calls = orchestration.NewCallCounter(nil)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.calls.Run(ctx, a.pool, a.cfg.CallFlushEvery) }()
	a.closers = append(a.closers, func() { stop(); <-done })
	return a.calls.Systems(sys)
}
