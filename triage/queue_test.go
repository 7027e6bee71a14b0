package triage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
)

// queueFixture is a fixture with a network and queued cases of several
// kinds, severities and customers.
type queueFixture struct {
	*fixture
	timeouts []Case // integration timeouts on orders of standard customers, medium severity
	vip      Case   // a timeout on a vip's 10-unit order
	critical Case   // a critical timeout
	pickup   Case   // a pickup not collected, never automatic
}

// The applier, when given, is set after the cases are queued, so none is
// applied automatically.
func newQueueFixture(t *testing.T, applier Applier) *queueFixture {
	t.Helper()
	f := newFixture(t, fixtureOptions{})
	f.network(t, map[string][3]int{"SKU-1": {50, 50, 50}}, nil)
	q := &queueFixture{fixture: f}
	timeout := func(ext, tier string, qty int, sev string) Case {
		o := f.order(t, ext, "SKU-1", qty, tier)
		e := timeoutException()
		e.OrderID, e.Severity = &o.ID, sev
		e.Message = fmt.Sprintf("POST https://onlinetools.ups.com/api/shipments/v2409/ship timed out after 30000ms (order %s)", ext)
		return f.report(t, e)
	}
	for i := range 4 {
		q.timeouts = append(q.timeouts, timeout(fmt.Sprintf("T-%d", i), "standard", 1, orchestration.SeverityMedium))
	}
	q.vip = timeout("V-1", "vip", 10, orchestration.SeverityMedium)
	q.critical = timeout("C-1", "standard", 1, orchestration.SeverityCritical)
	q.pickup = f.report(t, orchestration.Exception{Kind: orchestration.KindPickupNotCollected, Code: "PICKUP_EXPIRED",
		Message: "Pickup window expired for order #S-70431 after 7 days and 3 reminders; items to be restocked"})
	for _, c := range append(q.timeouts, q.vip, q.critical, q.pickup) {
		if c.Status != StatusQueued {
			t.Fatalf("case %s (%s) is %s, want queued", c.ID, c.Kind, c.Status)
		}
	}
	f.svc.applier = applier
	return q
}

func ids(items []QueueItem) []uuid.UUID {
	var out []uuid.UUID
	for _, it := range items {
		out = append(out, it.CaseID)
	}
	return out
}

func TestQueuePriority(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, nil)
	ctx := context.Background()
	page, err := q.svc.Queue(ctx, QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 7 || page.Counts.Total != 7 || page.Next != "" {
		t.Fatalf("Queue() = %d items, total %d, next %q; want 7, 7, none", len(page.Items), page.Counts.Total, page.Next)
	}
	// At first nothing is overdue. The critical case's 15 minutes are the
	// least time left, so it leads; among the medium timeouts (4 hours),
	// the vip's order value and tier put it first.
	if page.Items[0].CaseID != q.critical.ID {
		t.Errorf("first = %s (%s), want the critical case", page.Items[0].CaseID, page.Items[0].Severity)
	}
	for _, it := range page.Items[1:] {
		if it.Severity != orchestration.SeverityMedium {
			continue
		}
		if it.CaseID != q.vip.ID || it.CustomerTier != "vip" || it.OrderValue != 400 {
			t.Errorf("first medium case = %+v, want the vip's", it)
		}
		break
	}
	for i := 1; i < len(page.Items); i++ {
		if page.Items[i].RankAt.Before(page.Items[i-1].RankAt) {
			t.Errorf("effective due time goes back from %d (%s) to %d (%s); want earliest first", i-1,
				page.Items[i-1].RankAt, i, page.Items[i].RankAt)
		}
	}
	// 20 minutes on, the critical case (15-minute target) is overdue and
	// still leads; nothing else is.
	q.now = q.now.Add(20 * time.Minute)
	page, err = q.svc.Queue(ctx, QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if first := page.Items[0]; first.CaseID != q.critical.ID || !first.Overdue || first.TimeLeft(q.now) >= 0 {
		t.Errorf("first after 20 min = %s overdue %v, want the critical case, overdue", first.CaseID, first.Overdue)
	}
	if page.Counts.Overdue != 1 {
		t.Errorf("overdue count = %d, want 1", page.Counts.Overdue)
	}
	over, err := q.svc.Queue(ctx, QueueFilter{Overdue: true})
	if err != nil || len(over.Items) != 1 || over.Items[0].CaseID != q.critical.ID {
		t.Errorf("Queue(overdue) = %v, %v; want the critical case", ids(over.Items), err)
	}
}

func TestQueueFiltersAndCounts(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, nil)
	ctx := context.Background()
	tests := []struct {
		name string
		f    QueueFilter
		want int
	}{
		{"all", QueueFilter{}, 7},
		{"kind", QueueFilter{Kind: orchestration.KindPickupNotCollected}, 1},
		{"cause", QueueFilter{Cause: "integration_timeout"}, 6},
		{"channel", QueueFilter{Channel: "web"}, 6},
		{"unknown channel", QueueFilter{Channel: "store"}, 0},
		{"age", QueueFilter{MinAge: time.Hour}, 0},
		{"mine without a claim", QueueFilter{Mine: true, Reviewer: "ann"}, 0},
	}
	for _, tt := range tests {
		page, err := q.svc.Queue(ctx, tt.f)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(page.Items) != tt.want || page.Counts.Total != tt.want {
			t.Errorf("%s: Queue(%+v) = %d items, total %d; want %d", tt.name, tt.f, len(page.Items), page.Counts.Total, tt.want)
		}
	}
	page, err := q.svc.Queue(ctx, QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, c := range page.Counts.Kind {
		kinds[c.Value] = c.N
	}
	if kinds[orchestration.KindIntegrationError] != 6 || kinds[orchestration.KindPickupNotCollected] != 1 || len(kinds) != 2 {
		t.Errorf("kind counts = %v, want 6 integration errors and 1 pickup", page.Counts.Kind)
	}
	if _, err := q.svc.ClaimCase(ctx, q.vip.ID, "ann"); err != nil {
		t.Fatal(err)
	}
	mine, err := q.svc.Queue(ctx, QueueFilter{Mine: true, Reviewer: "ann"})
	if err != nil || len(mine.Items) != 1 || mine.Items[0].CaseID != q.vip.ID || mine.Items[0].ClaimedBy != "ann" {
		t.Errorf("Queue(mine) = %v, %v; want the claimed case", ids(mine.Items), err)
	}
	q.now = q.now.Add(2 * time.Hour)
	old, err := q.svc.Queue(ctx, QueueFilter{MinAge: time.Hour})
	if err != nil || len(old.Items) != 7 {
		t.Errorf("Queue(age ≥ 1h) two hours on = %d items, %v; want 7", len(old.Items), err)
	}
	if _, err := q.svc.Queue(ctx, QueueFilter{After: "nonsense"}); !errors.Is(err, derrors.Invalid) {
		t.Errorf("Queue(bad cursor) = %v, want invalid", err)
	}
}

// TestQueuePaging walks the queue two at a time and finds every case once,
// in the order of one full page, even when cases are claimed in between.
func TestQueuePaging(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, nil)
	ctx := context.Background()
	full, err := q.svc.Queue(ctx, QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var walked []uuid.UUID
	after := ""
	for range 10 {
		page, err := q.svc.Queue(ctx, QueueFilter{Limit: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, ids(page.Items)...)
		q.now = q.now.Add(time.Minute) // priorities move; the walk keeps its moment
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	want := ids(full.Items)
	if fmt.Sprint(walked) != fmt.Sprint(want) {
		t.Errorf("paged walk = %v\nwant %v", walked, want)
	}
}

func TestClaims(t *testing.T) {
	t.Parallel()
	applier := &recordingApplier{}
	q := newQueueFixture(t, applier)
	ctx := context.Background()
	id := q.timeouts[0].ID
	c, err := q.svc.ClaimCase(ctx, id, "ann")
	if err != nil || !c.Mine || c.By != "ann" {
		t.Fatalf("ClaimCase(ann) = %+v, %v", c, err)
	}
	c, err = q.svc.ClaimCase(ctx, id, "bob")
	if err != nil || c.Mine || c.By != "ann" {
		t.Fatalf("ClaimCase(bob) while ann holds it = %+v, %v; want ann's claim", c, err)
	}
	var ce *ClaimedError
	if _, err := q.svc.Decide(ctx, id, "bob", DecisionRequest{Decision: DecisionApprove}); !errors.As(err, &ce) || ce.By != "ann" ||
		!errors.Is(err, derrors.Conflict) {
		t.Fatalf("Decide(bob) on ann's claim = %v, want claimed by ann", err)
	}
	if applier.calls != 0 {
		t.Fatalf("applier called %d times for a refused decision", applier.calls)
	}
	// Renewing keeps it; once it lapses bob takes it, and ann cannot decide.
	q.now = q.now.Add(ClaimTTL - time.Second)
	if c, _ := q.svc.ClaimCase(ctx, id, "ann"); !c.Mine {
		t.Fatalf("ann's renewal = %+v", c)
	}
	q.now = q.now.Add(ClaimTTL - time.Second)
	if c, _ := q.svc.ClaimCase(ctx, id, "bob"); c.By != "ann" {
		t.Fatalf("bob before the renewed claim lapses = %+v, want ann's", c)
	}
	q.now = q.now.Add(2 * time.Second)
	if c, _ := q.svc.CaseClaim(ctx, id, "bob"); c.By != "" {
		t.Fatalf("claim after it lapsed = %+v, want none", c)
	}
	if c, _ := q.svc.ClaimCase(ctx, id, "bob"); !c.Mine {
		t.Fatalf("bob after ann's claim lapsed = %+v, want his", c)
	}
	if _, err := q.svc.Decide(ctx, id, "ann", DecisionRequest{Decision: DecisionApprove}); !errors.As(err, &ce) || ce.By != "bob" {
		t.Fatalf("Decide(ann) on bob's claim = %v", err)
	}
	res, err := q.svc.Decide(ctx, id, "bob", DecisionRequest{Decision: DecisionApprove})
	if err != nil || res.Case.Status != StatusDecided {
		t.Fatalf("Decide(bob) = %+v, %v", res.Case.Status, err)
	}
	if c, _ := q.svc.CaseClaim(ctx, id, "bob"); c.By != "" {
		t.Errorf("claim after the decision = %+v, want released", c)
	}
	if _, err := q.svc.ClaimCase(ctx, id, "ann"); !errors.Is(err, derrors.Conflict) {
		t.Errorf("claiming a decided case = %v, want conflict", err)
	}
	var de *DecidedError
	if _, err := q.svc.Decide(ctx, id, "ann", DecisionRequest{Decision: DecisionReject}); !errors.As(err, &de) ||
		de.Decision.By != "bob" || de.Decision.At.IsZero() {
		t.Errorf("a different decision on a decided case = %v, want decided by bob", err)
	}
}

// TestClaimRace claims one case from many goroutines as many reviewers:
// exactly one holds it and every other is told who.
func TestClaimRace(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, nil)
	id := q.pickup.ID
	const n = 16
	claims := make([]Claim, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { claims[i], errs[i] = q.svc.ClaimCase(context.Background(), id, fmt.Sprintf("r%d", i)) })
	}
	wg.Wait()
	holders := map[string]bool{}
	mine := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		holders[claims[i].By] = true
		if claims[i].Mine {
			mine++
		}
	}
	if mine != 1 || len(holders) != 1 {
		t.Errorf("%d reviewers hold the case, holders seen %v; want one", mine, holders)
	}
}

func TestNextAndNeighbours(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, nil)
	ctx := context.Background()
	page, err := q.svc.Queue(ctx, QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	order := ids(page.Items)
	prev, next, err := q.svc.QueueNeighbours(ctx, order[1])
	if err != nil || prev != order[0] || next != order[2] {
		t.Errorf("QueueNeighbours(second) = %s, %s, %v; want %s, %s", prev, next, err, order[0], order[2])
	}
	if _, err := q.svc.ClaimCase(ctx, order[1], "bob"); err != nil {
		t.Fatal(err)
	}
	got, ok, err := q.svc.NextInQueue(ctx, "ann", order[0])
	if err != nil || !ok || got != order[2] {
		t.Errorf("NextInQueue(ann, first) = %s, %v, %v; want the third (bob holds the second)", got, ok, err)
	}
}

// TestQueueCountsKept checks the counters the database keeps against the
// same counts taken over the waiting cases, after cases leave the queue
// and change in it.
func TestQueueCountsKept(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, nil)
	ctx := context.Background()
	if _, err := q.svc.Decide(ctx, q.pickup.ID, "ann", DecisionRequest{Decision: DecisionReject, Note: "not an issue"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.svc.Decide(ctx, q.timeouts[0].ID, "ann", DecisionRequest{Decision: DecisionReject, Note: "not an issue"}); err != nil {
		t.Fatal(err)
	}
	q.now = q.now.Add(20 * time.Minute)
	if n, err := q.svc.EscalateOverdue(ctx, 100); err != nil || n != 1 {
		t.Fatalf("EscalateOverdue = %d, %v; want 1", n, err)
	}
	kept, err := q.svc.Queue(ctx, QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// A minimum age under a second selects every case but counts them by
	// scanning.
	scanned, err := q.svc.Queue(ctx, QueueFilter{MinAge: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Counts.Total != 5 || len(kept.Items) != 5 {
		t.Errorf("after two decisions: total %d, %d items; want 5", kept.Counts.Total, len(kept.Items))
	}
	if fmt.Sprintf("%+v", kept.Counts) != fmt.Sprintf("%+v", scanned.Counts) {
		t.Errorf("kept counts %+v\nscanned    %+v", kept.Counts, scanned.Counts)
	}
	for _, it := range kept.Items {
		if it.CaseID == q.pickup.ID || it.CaseID == q.timeouts[0].ID {
			t.Errorf("decided case %s still queued", it.CaseID)
		}
	}
}

// TestQueueRankFollowsOrderEdit: the order's value is part of a waiting
// case's priority, so an edit that raises it moves the case up the queue
// at once (migration 00048's trigger), with no job or reload in between.
func TestQueueRankFollowsOrderEdit(t *testing.T) {
	t.Parallel()
	q := newQueueFixture(t, nil)
	ctx := context.Background()
	item := func(id uuid.UUID) (QueueItem, int) {
		t.Helper()
		page, err := q.svc.Queue(ctx, QueueFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range page.Items {
			if it.CaseID == id {
				return it, i
			}
		}
		t.Fatalf("case %s is not in the queue", id)
		return QueueItem{}, 0
	}
	// The last of the four equal standard timeouts.
	var last Case
	lastPos := -1
	for _, c := range q.timeouts {
		if _, pos := item(c.ID); pos > lastPos {
			last, lastPos = c, pos
		}
	}
	before, _ := item(last.ID)
	if before.OrderValue != 40 {
		t.Fatalf("order value before the edit = %v, want 40 (one unit)", before.OrderValue)
	}
	if _, err := q.core.Edit(ctx, "test", *last.OrderID, orchestration.EditRequest{
		Lines: []orchestration.LineInput{{SKU: "SKU-1", Qty: 20}}, Reason: "customer added units"}); err != nil {
		t.Fatalf("Edit: %v", err)
	}
	after, pos := item(last.ID)
	if after.OrderValue != 800 {
		t.Errorf("order value after the edit = %v, want 800", after.OrderValue)
	}
	// 40 → 800 is 7.6 priority points more (one per 100), 15.2% of the
	// 4-hour target: 36.48 minutes earlier.
	if got, want := before.RankAt.Sub(after.RankAt), 36*time.Minute+28800*time.Millisecond; got < want-time.Second || got > want+time.Second {
		t.Errorf("the edit moved the case's effective due time by %s, want %s", got, want)
	}
	for _, c := range q.timeouts {
		if c.ID == last.ID {
			continue
		}
		if _, p := item(c.ID); p < pos {
			t.Errorf("after the edit, timeout case %s (one unit) is at %d, ahead of the edited case at %d", c.ID, p, pos)
		}
	}
}
