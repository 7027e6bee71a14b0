package triage

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// TestCoreExceptionIsTriagedByItsJob checks that an exception the core
// raises carries its triage job in the capture's transaction, and that the
// job triages it with no sweep of open cases running.
func TestCoreExceptionIsTriagedByItsJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.network(t, map[string][3]int{"SKU-7": {1, 0, 0}}, nil)
	o := f.order(t, "W-3001", "SKU-7", 3, "standard")
	ctx := context.Background()
	var id uuid.UUID
	if err := f.pool.QueryRow(ctx, `SELECT id FROM exceptions WHERE order_id = $1`, o.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT count(*) FROM river_job WHERE kind = $1 AND args->>'exception_id' = $2`,
		TriageArgs{}.Kind(), id.String()); n != 1 {
		t.Fatalf("%d triage jobs for the capture's exception, want 1", n)
	}

	workers := river.NewWorkers()
	NewJobs(f.svc, JobsConfig{}).RegisterWorkers(workers) // the workers only: no leader's sweep
	client, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{Workers: workers, Logger: slog.New(slog.DiscardHandler),
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}}, FetchPollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	deadline := time.Now().Add(time.Minute)
	for {
		c, err := f.svc.CaseOfException(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != StatusOpen {
			if c.Status != StatusQueued || c.Cause != "unsourceable" {
				t.Errorf("case = %s %s (%s), want queued unsourceable", c.Status, c.Cause, c.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exception's case is still open a minute after capture")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// River records the job's completion just after the case's commit.
	for f.count(t, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`, TriageArgs{}.Kind()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the triage job did not complete")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
