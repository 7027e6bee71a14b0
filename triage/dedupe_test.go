package triage

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/orchestration"
)

// TestRecommendDryRun asks for a fix that the policy would apply at once,
// as a dry run: the answer says so, and nothing is stored or applied.
func TestRecommendDryRun(t *testing.T) {
	t.Parallel()
	rec := &recordingApplier{}
	f := newFixture(t, fixtureOptions{applier: rec})
	ctx := context.Background()
	counts := func() []int {
		return []int{f.count(t, `SELECT count(*) FROM exceptions`), f.count(t, `SELECT count(*) FROM cases`),
			f.count(t, `SELECT count(*) FROM case_decisions`), f.count(t, `SELECT count(*) FROM idempotency_keys`)}
	}
	before := counts()
	idem := &Idempotency{Scope: "test", Key: "dry-1", Body: []byte(`{}`)}
	for range 3 {
		res, err := f.svc.Recommend(ctx, "test", idem, RecommendRequest{ExceptionRequest: ExceptionRequest{Exception: timeoutException()}, Mode: ModeDryRun})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Recommendation
		if r.Decision != DecisionDryRun || r.WouldDecide != StatusAutoApplied || r.Mode != ModeDryRun || r.CaseID != uuid.Nil ||
			r.Action == "" || r.Cause == "" {
			t.Errorf("dry run = %s", res.Response)
		}
	}
	if after := counts(); !slices.Equal(after, before) {
		t.Errorf("exceptions, cases, audit records, keys = %v after three dry runs, want %v (nothing stored)", after, before)
	}
	if rec.calls != 0 {
		t.Errorf("a dry run applied %d fixes, want none", rec.calls)
	}
	// Over HTTP, a mode that does not exist is named.
	a := newAPI(t, f)
	r := a.do(t, auth.Orchestrator, "POST", "/v1/recommendations", `{"exception":{"kind":"carrier_delay","severity":"high",
		"message":"late"},"mode":"try"}`)
	if r.status != http.StatusUnprocessableEntity || !slices.Contains(problemFields(t, r), "mode") {
		t.Errorf("mode try = %d %s, want 422 naming mode", r.status, r.body)
	}
}

// TestRecommendDedupe reports one problem 20 times at once, each report
// with its own exception id and tracking number: one case answers all of
// them and counts them; a different problem gets its own case.
func TestRecommendDedupe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	f.network(t, map[string][3]int{"SKU-1": {5, 0, 0}}, nil)
	o := f.order(t, "W-1", "SKU-1", 1, "standard")
	report := func(i int, hub string) orchestration.Exception {
		return orchestration.Exception{ID: uuid.New(), Kind: orchestration.KindCarrierDelay, Severity: orchestration.SeverityHigh,
			Carrier: "ups", Code: "WEATHER", OrderID: &o.ID,
			Message: fmt.Sprintf("UPS: Severe weather conditions have delayed delivery. Tracking 1Z999AA1%08d, %s hub closed", i, hub)}
	}
	before := f.count(t, `SELECT count(*) FROM cases`)
	const n = 20
	got := make([]Recommendation, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.svc.Recommend(ctx, "test", nil, RecommendRequest{ExceptionRequest: ExceptionRequest{Exception: report(i, "Omaha")}})
			if err != nil {
				t.Errorf("report %d: %v", i, err)
				return
			}
			got[i] = res.Recommendation
		}()
	}
	wg.Wait()
	if c := f.count(t, `SELECT count(*) FROM cases`) - before; c != 1 {
		t.Fatalf("%d cases for 20 reports of one problem, want 1", c)
	}
	maxSeen := 0
	for i := range n {
		if got[i].CaseID != got[0].CaseID || got[i].Decision != StatusQueued {
			t.Errorf("report %d answered case %s (%s); report 0 case %s", i, got[i].CaseID, got[i].Decision, got[0].CaseID)
		}
		maxSeen = max(maxSeen, got[i].Occurrences)
	}
	if occ := f.count(t, `SELECT occurrences FROM cases WHERE id = $1`, got[0].CaseID); occ != n || maxSeen != n {
		t.Errorf("occurrences %d, highest answered %d; want %d", occ, maxSeen, n)
	}
	if c := f.count(t, `SELECT count(*) FROM case_reports WHERE case_id = $1`, got[0].CaseID); c != n-1 {
		t.Errorf("%d linked repeat reports, want %d", c, n-1)
	}
	if c := f.count(t, `SELECT count(*) FROM case_decisions WHERE case_id = $1`, got[0].CaseID); c != 1 {
		t.Errorf("%d audit records, want 1 (one triage)", c)
	}
	other, err := f.svc.Recommend(ctx, "test", nil, RecommendRequest{ExceptionRequest: ExceptionRequest{Exception: report(99, "Denver")}})
	if err != nil || other.Recommendation.CaseID == got[0].CaseID {
		t.Errorf("another hub's closure answered case %s (%v), want a case of its own", other.Recommendation.CaseID, err)
	}
	// Without an order id, only the same message repeated is one problem:
	// its numbers may be the only thing telling two orders apart.
	noOrder := func(tracking string) uuid.UUID {
		e := report(0, "Reno")
		e.OrderID = nil
		e.Message = "UPS: Severe weather conditions have delayed delivery. Tracking " + tracking + ", Reno hub closed"
		res, err := f.svc.Recommend(ctx, "test", nil, RecommendRequest{ExceptionRequest: ExceptionRequest{Exception: e}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Recommendation.CaseID
	}
	a, b, c := noOrder("1Z999AA10000000001"), noOrder("1Z999AA10000000001"), noOrder("1Z999AA10000000002")
	if a != b || a == c {
		t.Errorf("without an order: same message cases %s, %s (want one), other tracking %s (want another)", a, b, c)
	}
}
