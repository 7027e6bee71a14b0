package triage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

func TestEscalateOverdue(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, nil)
	ctx := context.Background()
	secret := []byte("s3cret")
	var mu sync.Mutex
	got := map[uuid.UUID]int{}
	fail := true
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get(adapter.HeaderTimestamp)
		if r.Header.Get(adapter.HeaderSignature) != adapter.Sign(secret, ts, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev EscalationEvent
		if err := json.Unmarshal(body, &ev); err != nil || ev.Event != "case.overdue" ||
			r.Header.Get(adapter.HeaderIdempotencyKey) != "case-overdue-"+ev.CaseID.String() {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		got[ev.CaseID]++
	}))
	defer hook.Close()
	e := NewEscalator(q.svc, EscalationConfig{WebhookURL: hook.URL, Secret: secret})

	if n, err := q.svc.EscalateOverdue(ctx, 100); err != nil || n != 0 {
		t.Fatalf("EscalateOverdue before anything is due = %d, %v; want 0", n, err)
	}
	before, _ := q.svc.Queue(ctx, QueueFilter{})
	q.now = q.now.Add(20 * time.Minute) // the critical case's 15 minutes are up
	if n, err := q.svc.EscalateOverdue(ctx, 100); err != nil || n != 1 {
		t.Fatalf("EscalateOverdue after 20 min = %d, %v; want 1", n, err)
	}
	if n, err := q.svc.EscalateOverdue(ctx, 100); err != nil || n != 0 {
		t.Fatalf("EscalateOverdue again = %d, %v; want 0, each case once", n, err)
	}
	after, _ := q.svc.Queue(ctx, QueueFilter{})
	var prio0, prio1 float64
	for _, it := range before.Items {
		if it.CaseID == q.critical.ID {
			prio0 = it.Priority
		}
	}
	for _, it := range after.Items {
		if it.CaseID == q.critical.ID {
			prio1 = it.Priority
			if !it.Escalated {
				t.Error("the critical case is not marked escalated")
			}
		}
	}
	// 20 of 15 minutes used adds about 50×20/15 of urgency; escalation 25 more.
	if prio1-prio0 < 25+60 {
		t.Errorf("priority %.1f → %.1f, want raised by urgency and escalation", prio0, prio1)
	}

	// The webhook fails once: the delivery is retried on the next run, and
	// then never again.
	if n, err := e.Notify(ctx, 100); err == nil || n != 0 {
		t.Fatalf("Notify with the webhook down = %d, %v; want 0 and an error", n, err)
	}
	for range 3 {
		if _, err := e.Notify(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[q.critical.ID] != 1 {
		t.Errorf("webhook received %v, want the critical case once", got)
	}
}

func TestBulkApprove(t *testing.T) {
	t.Parallel()
	applier := &recordingApplier{}
	q := newQueueFixture(t, applier)
	ctx := context.Background()
	if _, err := q.svc.ClaimCase(ctx, q.timeouts[2].ID, "bob"); err != nil {
		t.Fatal(err)
	}
	sel := []uuid.UUID{q.timeouts[0].ID, q.timeouts[1].ID, q.timeouts[2].ID, q.pickup.ID, q.timeouts[0].ID}
	res, err := q.svc.BulkApprove(ctx, "ann", sel, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	var ce *ClaimedError
	wantApplied := []bool{true, true, false, false, false}
	for i, r := range res {
		if r.Applied != wantApplied[i] {
			t.Errorf("case %d applied = %v (%v), want %v", i, r.Applied, r.Err, wantApplied[i])
		}
	}
	if !errors.As(res[2].Err, &ce) || ce.By != "bob" {
		t.Errorf("bob's claimed case = %v, want claimed by bob", res[2].Err)
	}
	if !errors.Is(res[3].Err, derrors.Conflict) {
		t.Errorf("never-automatic cancel in bulk = %v, want refused", res[3].Err)
	}
	if res[4].Err != nil {
		t.Errorf("the same case twice = %v, want a replay", res[4].Err)
	}
	if n := len(applier.applied()); n != 2 {
		t.Errorf("applied %d commands, want 2", n)
	}
	if n := q.count(t, `SELECT count(*) FROM case_decisions WHERE actor = 'ann' AND decision = 'approve'`); n != 2 {
		t.Errorf("%d approve audit records, want one per approved case", n)
	}
	if _, err := q.svc.BulkApprove(ctx, "ann", nil, ""); !errors.Is(err, derrors.Invalid) {
		t.Errorf("BulkApprove(none) = %v, want invalid", err)
	}
}

func TestTeamStats(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, &recordingApplier{})
	ctx := context.Background()
	decide := func(id uuid.UUID, who string, work time.Duration, req DecisionRequest) {
		t.Helper()
		if _, err := q.svc.ClaimCase(ctx, id, who); err != nil {
			t.Fatal(err)
		}
		q.now = q.now.Add(work)
		if _, err := q.svc.Decide(ctx, id, who, req); err != nil {
			t.Fatal(err)
		}
	}
	decide(q.timeouts[0].ID, "ann", 30*time.Second, DecisionRequest{Decision: DecisionApprove})
	decide(q.timeouts[1].ID, "ann", 90*time.Second, DecisionRequest{Decision: DecisionApprove})
	decide(q.timeouts[2].ID, "ann", 60*time.Second, DecisionRequest{Decision: DecisionReject, Note: "duplicate"})
	decide(q.timeouts[3].ID, "bob", 10*time.Second, DecisionRequest{Decision: DecisionReject})
	stats, err := q.svc.TeamStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 2 {
		t.Fatalf("TeamStats() = %+v, want ann and bob", stats)
	}
	ann := stats[0]
	// The database stamps decided_at with the injected clock, so times are exact.
	if ann.Reviewer != "ann" || ann.Decided != 3 || ann.MedianTime != 60*time.Second || ann.Approved != 2 || ann.Rejected != 1 ||
		ann.Agreement < 0.66 || ann.Agreement > 0.67 {
		t.Errorf("ann = %+v, want 3 decided, median 1m, agreement 2/3", ann)
	}
	if bob := stats[1]; bob.Decided != 1 || bob.Agreement != 0 || bob.MedianTime != 10*time.Second {
		t.Errorf("bob = %+v", bob)
	}
}

func TestSimilarCases(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, &recordingApplier{})
	ctx := context.Background()
	c, err := q.svc.CaseDetail(ctx, q.timeouts[0].ID, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Similar) != 0 || c.SimilarNote == "" {
		t.Errorf("similar before any decision = %v (%q), want none with a note", c.Similar, c.SimilarNote)
	}
	if _, err := q.svc.Decide(ctx, q.timeouts[1].ID, "ann", DecisionRequest{Decision: DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.svc.Decide(ctx, q.pickup.ID, "ann", DecisionRequest{Decision: DecisionReject, Note: "customer came"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.svc.StoreVectors(ctx, 100); err != nil {
		t.Fatal(err)
	}
	c, err = q.svc.CaseDetail(ctx, q.timeouts[0].ID, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Similar) != 2 || c.Similar[0].CaseID != q.timeouts[1].ID || c.Similar[0].Decision != DecisionApprove ||
		c.Similar[0].By != "ann" || c.Similar[0].Applied == "" || c.Similar[0].Similarity < c.Similar[1].Similarity {
		t.Errorf("similar = %+v, want the decided timeout first, then the pickup", c.Similar)
	}
	if c.Timeline == nil || len(c.Timeline.Order.Lines) != 1 || len(c.Stock) != 3 || len(c.Locations) == 0 {
		t.Errorf("detail: timeline %v, stock %d rows, locations %v", c.Timeline != nil, len(c.Stock), c.Locations)
	}
	if c.Exception.Code != "ETIMEDOUT" || c.DueAt.IsZero() || len(c.Templates) == 0 || len(c.Causes) == 0 {
		t.Errorf("detail: exception %q, due %v, %d templates, %d causes", c.Exception.Code, c.DueAt, len(c.Templates), len(c.Causes))
	}
}
