package review_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
	"github.com/omnitriage/omnitriage/triage"
)

// countingApplier counts the distinct commands applied, as the core's
// commands are idempotent by id.
type countingApplier struct {
	mu   sync.Mutex
	byID map[string]triage.Command
}

func (a *countingApplier) Apply(_ context.Context, cmd triage.Command) (triage.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byID == nil {
		a.byID = map[string]triage.Command{}
	}
	a.byID[cmd.ID] = cmd
	return triage.Result{Message: cmd.Action + " applied"}, nil
}

func (a *countingApplier) n() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.byID) }

// report queues a case through triage's intake, as POST /v1/exceptions does.
func report(t *testing.T, srv *reviewtest.Server, msg string) triage.Case {
	t.Helper()
	res, err := srv.Triage.Report(context.Background(), "test", orchestration.Exception{Kind: orchestration.KindPickupNotCollected,
		Severity: orchestration.SeverityMedium, Code: "PICKUP_EXPIRED", Message: msg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Case.Status != triage.StatusQueued {
		t.Fatalf("case is %s, want queued", res.Case.Status)
	}
	return res.Case
}

// TestQueueAndDecide works the queue over HTTP as two people: the queue
// lists the cases with markup escaped, opening a case claims it, the other
// sees the claim and cannot decide, an approval lands on the next case and
// applies once, a second approval answers "already decided", a reject
// records its reason and applies nothing.
func TestQueueAndDecide(t *testing.T) {
	t.Parallel()
	applier := &countingApplier{}
	srv := reviewtest.NewServer(t, reviewtest.Options{Applier: applier})
	if err := srv.Triage.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	c1 := report(t, srv, `Pickup window expired for order #S-70431 after 7 days <script>window.pwned=1</script>`)
	c2 := report(t, srv, "Pickup window expired for order #S-70432 after 8 days and 3 reminders; items to be restocked")
	ann, bob := reviewtest.NewClient(t, srv.URL), reviewtest.NewClient(t, srv.URL)
	ann.Login("ann@example.com", reviewtest.CreateUser(t, srv.Review.People(), "ann@example.com", review.Support))
	bob.Login("bob@example.com", reviewtest.CreateUser(t, srv.Review.People(), "bob@example.com", review.Support))

	resp, body := ann.Get("/review")
	if resp.StatusCode != 200 || !strings.Contains(body, c1.ID.String()) || !strings.Contains(body, c2.ID.String()) {
		t.Fatalf("GET /review = %d, want both cases:\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, "<script>window.pwned") || !strings.Contains(body, "&lt;script&gt;window.pwned") {
		t.Error("the queue does not escape the exception message")
	}
	resp, body = ann.Get("/review/cases/" + c1.ID.String())
	if resp.StatusCode != 200 || !strings.Contains(body, "claimed by you") || strings.Contains(body, "<script>window.pwned") {
		t.Fatalf("ann's case page = %d:\n%s", resp.StatusCode, body)
	}
	_, body = bob.Get("/review/cases/" + c1.ID.String())
	if !strings.Contains(body, "Claimed by support:ann@example.com") {
		t.Errorf("bob's case page does not show ann's claim:\n%s", body)
	}
	approve := url.Values{"decision": {"approve"}}
	if resp, body = bob.PostForm("/review/cases/"+c1.ID.String()+"/decision", approve); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "Claimed by support:ann@example.com") {
		t.Errorf("bob approving ann's claimed case = %d:\n%s", resp.StatusCode, body)
	}
	resp, _ = ann.PostForm("/review/cases/"+c1.ID.String()+"/decision", approve)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/review/cases/"+c2.ID.String() {
		t.Fatalf("ann's approval = %d to %q, want 303 to the next case", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body = bob.PostForm("/review/cases/"+c1.ID.String()+"/decision", approve); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "Already decided by support:ann@example.com") {
		t.Errorf("bob's approval after ann's = %d:\n%s", resp.StatusCode, body)
	}
	if applier.n() != 1 {
		t.Errorf("%d commands applied, want 1", applier.n())
	}
	reject := url.Values{"decision": {"reject"}, "reason": {"not_an_issue"}, "note": {"collected meanwhile"}}
	if resp, _ = bob.PostForm("/review/cases/"+c2.ID.String()+"/decision", reject); resp.StatusCode != http.StatusSeeOther ||
		resp.Header.Get("Location") != "/review" {
		t.Errorf("bob's reject = %d to %q, want 303 to the empty queue", resp.StatusCode, resp.Header.Get("Location"))
	}
	var note string
	if err := srv.Pool.QueryRow(context.Background(), `SELECT note FROM case_decisions WHERE case_id = $1 AND decision = 'reject'`,
		c2.ID).Scan(&note); err != nil || !strings.Contains(note, "not_an_issue") {
		t.Errorf("reject audit note = %q, %v; want the reason code", note, err)
	}
	if applier.n() != 1 {
		t.Errorf("%d commands applied after a reject, want still 1", applier.n())
	}
	if resp, body = ann.PostForm("/review/cases/"+c2.ID.String()+"/decision", url.Values{"decision": {"reject"}}); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "choose a reason") {
		t.Errorf("a reject without a reason = %d:\n%s", resp.StatusCode, body)
	}
	if resp, _ = ann.Get("/review/team"); resp.StatusCode != 200 {
		t.Errorf("GET /review/team = %d", resp.StatusCode)
	}
}

// TestModifyReroute sends a modify with another action and a location: the
// applied command is a reroute there, and the decision is a modify.
func TestModifyReroute(t *testing.T) {
	t.Parallel()
	applier := &countingApplier{}
	srv := reviewtest.NewServer(t, reviewtest.Options{Applier: applier})
	if err := srv.Triage.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := report(t, srv, "Pickup window expired for order #S-70433 after 9 days and 3 reminders; items to be restocked")
	cl := reviewtest.NewClient(t, srv.URL)
	cl.Login("ann@example.com", reviewtest.CreateUser(t, srv.Review.People(), "ann@example.com", review.Support))
	form := url.Values{"decision": {"modify"}, "action": {"reroute"}, "to_location": {"pa-wh"}, "note": {"closer"}}
	resp, body := cl.PostForm("/review/cases/"+c.ID.String()+"/decision", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("modify = %d:\n%s", resp.StatusCode, body)
	}
	applier.mu.Lock()
	defer applier.mu.Unlock()
	if len(applier.byID) != 1 {
		t.Fatalf("%d commands applied, want 1", len(applier.byID))
	}
	for _, cmd := range applier.byID {
		if cmd.Action != "reroute" || cmd.Params["to_location"] != "pa-wh" {
			t.Errorf("applied %s %v, want reroute to pa-wh", cmd.Action, cmd.Params)
		}
	}
	got, err := srv.Triage.GetCase(context.Background(), c.ID)
	if err != nil || got.Decision == nil || got.Decision.Decision != "modify" || got.Decision.Action != "reroute" {
		t.Errorf("case decision = %+v, %v", got.Decision, err)
	}
}
