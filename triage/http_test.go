package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// api serves the triage routes of f on a test server, with a real key per role.
type api struct {
	url  string
	keys map[auth.Role]string
}

func newAPI(t *testing.T, f *fixture) *api {
	t.Helper()
	store := auth.NewStore(f.pool, time.Minute, nil)
	a := &api{keys: map[auth.Role]string{}}
	for _, role := range []auth.Role{auth.Orchestrator, auth.Support, auth.Engineer} {
		_, secret, err := store.Create(context.Background(), "test "+string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		a.keys[role] = secret
	}
	errs := web.Errors{}
	guard := auth.Middleware{Auth: store, Render: errs.Render}
	r := chi.NewRouter()
	r.Route("/v1", func(v1 chi.Router) { NewHandlers(f.svc, errs, guard, 1<<20).Register(v1) })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (a *api) do(t *testing.T, role auth.Role, method, path, body string, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.keys[role])
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

// problemFields decodes a problem document's field names.
func problemFields(t *testing.T, r response) []string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json (body %s)", ct, r.body)
	}
	var p web.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem %s: %v", r.body, err)
	}
	var out []string
	for _, f := range p.Fields {
		out = append(out, f.Field)
	}
	slices.Sort(out)
	return out
}

func TestReportExceptionHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	a := newAPI(t, f)
	id := uuid.New()
	valid := fmt.Sprintf(`{"id":%q,"kind":"integration_error","severity":"medium","code":"ETIMEDOUT","endpoint":"wms.release",
		"message":"Read timed out (read timeout=15) on GET https://wms.internal/api/v1/orders/88120/status"}`, id)
	tests := []struct {
		name   string
		role   auth.Role
		body   string
		status int
		fields []string
	}{
		{"every bad field named", auth.Orchestrator, `{"kind":"weather","severity":"urgent","message":" "}`, 422,
			[]string{"kind", "message", "severity"}},
		{"unknown field", auth.Orchestrator, `{"kind":"stockout","severity":"low","message":"x","colour":"red"}`, 422, []string{"colour"}},
		{"wrong type", auth.Orchestrator, `{"kind":"stockout","severity":"low","message":"x","line_ids":"l1"}`, 422, []string{"line_ids"}},
		{"order not held", auth.Orchestrator, fmt.Sprintf(`{"kind":"stockout","severity":"low","message":"x","order_id":%q}`, uuid.New()),
			422, []string{"order_id"}},
		{"bad context", auth.Orchestrator, `{"kind":"stockout","severity":"low","message":"x","context":{"fraud_score":2,"currency":"eur"}}`,
			422, []string{"context.currency", "context.fraud_score"}},
		{"support may not report", auth.Support, valid, 403, nil},
		{"created", auth.Orchestrator, valid, 201, nil},
		{"reported again", auth.Orchestrator, valid, 200, nil},
		{"same id, other content", auth.Orchestrator, strings.Replace(valid, "timeout=15", "timeout=99", 1), 409, nil},
	}
	for _, tt := range tests {
		r := a.do(t, tt.role, "POST", "/v1/exceptions", tt.body)
		if r.status != tt.status {
			t.Errorf("%s: status %d (%s), want %d", tt.name, r.status, r.body, tt.status)
			continue
		}
		if tt.status == 422 {
			if got := problemFields(t, r); !slices.Equal(got, tt.fields) {
				t.Errorf("%s: fields %v, want %v", tt.name, got, tt.fields)
			}
		}
		if tt.status == 201 {
			var res ReportResult
			if err := json.Unmarshal(r.body, &res); err != nil {
				t.Fatal(err)
			}
			if res.Exception.ID != id || res.Case.Cause != "integration_timeout" || res.Case.Status != StatusQueued ||
				r.header.Get("Location") != "/v1/cases/"+res.Case.ID.String() {
				t.Errorf("%s: %s", tt.name, r.body)
			}
		}
	}
	if n := f.count(t, `SELECT count(*) FROM cases WHERE exception_id = $1`, id); n != 1 {
		t.Errorf("%d cases for the reported exception, want 1", n)
	}

	r := a.do(t, auth.Support, "GET", "/v1/exceptions?kind=integration_error&limit=1", "")
	var page struct {
		Exceptions []ExceptionItem `json:"exceptions"`
		Next       *uuid.UUID      `json:"next"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
		t.Fatalf("GET /v1/exceptions = %d %s", r.status, r.body)
	}
	if len(page.Exceptions) != 1 || page.Exceptions[0].ID != id || page.Exceptions[0].CaseStatus != StatusQueued {
		t.Errorf("GET /v1/exceptions = %s", r.body)
	}
	r = a.do(t, auth.Support, "GET", "/v1/exceptions?kind=rain&limit=0&after=x", "")
	if got := problemFields(t, r); r.status != 422 || !slices.Equal(got, []string{"after", "kind", "limit"}) {
		t.Errorf("GET /v1/exceptions with bad filters = %d, fields %v", r.status, got)
	}
}

func recommendBody(message string) string {
	return fmt.Sprintf(`{"exception":{"kind":"carrier_delay","severity":"high","carrier":"ups","code":"WEATHER",
		"message":%q},"context":{"order_value":120.5,"customer_tier":"gold","currency":"EUR",
		"promised_by":"2030-01-02T18:00:00Z","estimated_delivery":"2030-01-04T12:00:00Z"}}`, message)
}

func TestRecommendHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	a := newAPI(t, f)
	body := recommendBody("UPS: Severe weather conditions have delayed delivery. Tracking 1Z999AA10555556784, Dallas hub closed")
	first := a.do(t, auth.Orchestrator, "POST", "/v1/recommendations", body, "Idempotency-Key", "k1")
	if first.status != 200 {
		t.Fatalf("POST /v1/recommendations = %d %s", first.status, first.body)
	}
	var rec Recommendation
	if err := json.Unmarshal(first.body, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Cause != "hub_weather_closure" || rec.Action != rules.ActionNotify || rec.CaseURL != "https://triage.test/review/cases/"+rec.CaseID.String() ||
		rec.Decision != StatusQueued || !strings.HasPrefix(rec.Reason, "no applier configured") || rec.Confidence <= 0 {
		t.Errorf("recommendation = %s", first.body)
	}
	if rec.Risks.Delivery.Features["slack_hours"] != -42 || len(rec.Risks.Delivery.Factors) == 0 || rec.Risks.Delivery.Probability < 0.5 {
		t.Errorf("delivery risk = %+v, want 42 hours late, likely, with factors", rec.Risks.Delivery)
	}
	if rec.Versions.Policy == "" || rec.Versions.Classifier == "" || len(rec.Alternatives) == 0 {
		t.Errorf("versions %+v, alternatives %v: want both", rec.Versions, rec.Alternatives)
	}

	again := a.do(t, auth.Orchestrator, "POST", "/v1/recommendations", body, "Idempotency-Key", "k1")
	if again.status != 200 || again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.body, first.body) {
		t.Errorf("replay = %d %q %s, want the first answer byte for byte", again.status, again.header.Get("Idempotent-Replayed"), again.body)
	}
	other := a.do(t, auth.Orchestrator, "POST", "/v1/recommendations", strings.Replace(body, "Dallas", "Denver", 1), "Idempotency-Key", "k1")
	if other.status != 409 || other.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("same key, other body = %d %s, want 409 problem", other.status, other.body)
	}

	// Concurrent first calls with one key make one case and answer alike.
	const n = 6
	bodies := make([][]byte, n)
	var wg sync.WaitGroup
	body2 := recommendBody("UPS: Severe weather conditions have delayed delivery. Tracking 1Z999AA10555550000, Reno hub closed")
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.do(t, auth.Orchestrator, "POST", "/v1/recommendations", body2, "Idempotency-Key", "k2")
			if r.status != 200 {
				t.Errorf("concurrent call %d = %d %s", i, r.status, r.body)
			}
			bodies[i] = r.body
		}()
	}
	wg.Wait()
	for i := range n {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Errorf("concurrent answer %d differs:\n%s\n%s", i, bodies[i], bodies[0])
		}
	}
	if got := f.count(t, `SELECT count(*) FROM exceptions WHERE message LIKE '%Reno hub%'`); got != 1 {
		t.Errorf("%d exceptions from %d concurrent calls with one key, want 1", got, n)
	}

	for _, tt := range []struct {
		name, body string
		fields     []string
	}{
		{"bad exception", `{"exception":{"kind":"x","severity":"low","message":"m"}}`, []string{"exception.kind"}},
		{"bad context", `{"exception":{"kind":"stockout","severity":"low","message":"m"},"context":{"service_level":"teleport"}}`,
			[]string{"context.service_level"}},
	} {
		r := a.do(t, auth.Orchestrator, "POST", "/v1/recommendations", tt.body)
		if got := problemFields(t, r); r.status != 422 || !slices.Equal(got, tt.fields) {
			t.Errorf("%s: %d fields %v, want 422 %v", tt.name, r.status, got, tt.fields)
		}
	}
	if r := a.do(t, auth.Support, "POST", "/v1/recommendations", body); r.status != 403 {
		t.Errorf("support recommending = %d, want 403", r.status)
	}
}

// TestRecommendAnswerIsStoredCase checks that the answer Recommend builds
// in memory for a new exception (written in one statement) says what the
// stored case says when read back, that the exception, its audit record and
// the key's answer were written with it, and that the same exception
// reported again is answered from the stored case.
func TestRecommendAnswerIsStoredCase(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	a := newAPI(t, f)
	body := recommendBody("UPS: Severe weather conditions have delayed delivery. Tracking 1Z999AA10555551234, Tulsa hub closed")
	first := a.do(t, auth.Orchestrator, "POST", "/v1/recommendations", body, "Idempotency-Key", "stored")
	if first.status != 200 {
		t.Fatalf("POST /v1/recommendations = %d %s", first.status, first.body)
	}
	var rec Recommendation
	if err := json.Unmarshal(first.body, &rec); err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.GetCase(context.Background(), rec.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := json.Marshal(recommendationOf(c))
	if err != nil {
		t.Fatal(err)
	}
	var answered, read any
	if err := json.Unmarshal(first.body, &answered); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(stored, &read); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(answered, read) {
		t.Errorf("answer and stored case differ:\nanswer %s\nstored %s", first.body, stored)
	}
	if c.Status != StatusQueued || c.TriagedAt == nil || c.ExceptionID != rec.ExceptionID {
		t.Errorf("stored case: status %s, triaged at %v, exception %s; want queued, triaged, %s", c.Status, c.TriagedAt, c.ExceptionID, rec.ExceptionID)
	}
	if n := f.count(t, `SELECT count(*) FROM case_decisions WHERE case_id = $1 AND actor = 'triage' AND decision = $2`, rec.CaseID, StatusQueued); n != 1 {
		t.Errorf("%d audit records of the triage, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM exceptions WHERE id = $1 AND status = 'triaged'`, rec.ExceptionID); n != 1 {
		t.Errorf("exception %s not stored as triaged", rec.ExceptionID)
	}
	if n := f.count(t, `SELECT count(*) FROM idempotency_keys WHERE key = 'stored' AND status = 200 AND response = $1`, bytes.TrimSuffix(first.body, []byte("\n"))); n != 1 {
		t.Errorf("the key's stored answer is not the answer given")
	}
	if n := f.count(t, `SELECT count(*) FROM cases WHERE id = $1 AND vector_pending`, rec.CaseID); n != 1 {
		t.Errorf("case not marked for the worker to store its vector")
	}

	// The same exception (its id now given) again, without a key: the
	// stored case answers.
	again := strings.Replace(body, `"kind":"carrier_delay"`, fmt.Sprintf(`"id":%q,"kind":"carrier_delay"`, rec.ExceptionID), 1)
	r := a.do(t, auth.Orchestrator, "POST", "/v1/recommendations", again)
	var rec2 Recommendation
	if err := json.Unmarshal(r.body, &rec2); r.status != 200 || err != nil || rec2.CaseID != rec.CaseID || rec2.Decision != rec.Decision {
		t.Errorf("same exception again = %d %s, want case %s", r.status, r.body, rec.CaseID)
	}
	if n := f.count(t, `SELECT count(*) FROM cases WHERE exception_id = $1`, rec.ExceptionID); n != 1 {
		t.Errorf("%d cases for one exception, want 1", n)
	}
}

// TestRecommendSameExceptionConcurrently reports one exception (its id
// given, no key) from many goroutines at once: one of them writes it with
// its case in one statement, the others find it stored and answer with that
// case; one exception, one case, one audit record of the triage.
func TestRecommendSameExceptionConcurrently(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	exc := orchestration.Exception{ID: uuid.New(), Kind: orchestration.KindCarrierDelay, Severity: orchestration.SeverityHigh,
		Carrier: "ups", Code: "WEATHER",
		Message: "UPS: Severe weather conditions have delayed delivery. Tracking 1Z999AA10555559876, Omaha hub closed"}
	const n = 8
	got := make([]Recommendation, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.svc.Recommend(ctx, "test", nil, RecommendRequest{ExceptionRequest: ExceptionRequest{Exception: exc}})
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			got[i] = res.Recommendation
		}()
	}
	wg.Wait()
	for i := range n {
		if got[i].CaseID != got[0].CaseID || got[i].Decision != got[0].Decision || got[i].ExceptionID != exc.ID {
			t.Errorf("call %d answered case %s (%s) for exception %s; call 0 case %s (%s)", i, got[i].CaseID, got[i].Decision,
				got[i].ExceptionID, got[0].CaseID, got[0].Decision)
		}
	}
	if c := f.count(t, `SELECT count(*) FROM cases WHERE exception_id = $1`, exc.ID); c != 1 {
		t.Errorf("%d cases for one exception, want 1", c)
	}
	if c := f.count(t, `SELECT count(*) FROM case_decisions d JOIN cases c ON c.id = d.case_id WHERE c.exception_id = $1`, exc.ID); c != 1 {
		t.Errorf("%d audit records for one triage, want 1", c)
	}
}

// TestRecommendAppliedOnce checks that a recommendation applied
// automatically is applied once however often it is asked for.
func TestRecommendAppliedOnce(t *testing.T) {
	t.Parallel()
	rec := &recordingApplier{}
	f := newFixture(t, fixtureOptions{applier: rec})
	ctx := context.Background()
	req := RecommendRequest{ExceptionRequest: ExceptionRequest{Exception: timeoutException()}}
	body, _ := json.Marshal(req)
	idem := &Idempotency{Scope: "test", Key: "once", Body: body}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.svc.Recommend(ctx, "test", idem, req)
			if err != nil || res.Recommendation.Decision != StatusAutoApplied {
				t.Errorf("Recommend = %+v, %v; want auto_applied", res.Recommendation, err)
			}
		}()
	}
	wg.Wait()
	if rec.calls != 1 || len(rec.applied()) != 1 {
		t.Errorf("applier called %d times for one key, want 1", rec.calls)
	}
}

func TestDecideHTTP(t *testing.T) {
	t.Parallel()
	rec := &recordingApplier{}
	f := newFixture(t, fixtureOptions{applier: rec})
	a := newAPI(t, f)
	expired := func(n int) Case {
		return f.report(t, orchestration.Exception{Kind: orchestration.KindPickupNotCollected, Code: "PICKUP_EXPIRED",
			Message: fmt.Sprintf("Order #S-%d was never picked up: pickup window expired on day %d after two reminders, restock the items", 80000+n, 6+n)})
	}
	examples := func() int { return f.count(t, `SELECT count(*) FROM cause_examples WHERE source = 'review'`) }
	c1 := expired(1)
	if c1.Status != StatusQueued || c1.Action != rules.ActionCancelOrder {
		t.Fatalf("case = %s %s, want queued cancel_order", c1.Status, c1.Action)
	}
	path := "/v1/cases/" + c1.ID.String() + "/decision"
	approve := `{"decision":"approve","note":"customer confirmed by phone"}`
	r := a.do(t, auth.Support, "POST", path, approve)
	var got Case
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.body)
	}
	if got.Status != StatusDecided || got.Decision == nil || got.Decision.Action != rules.ActionCancelOrder ||
		!strings.HasPrefix(got.Decision.By, "support:") || got.Result == nil {
		t.Errorf("approved case = %s", r.body)
	}
	if n := examples(); n != 1 {
		t.Errorf("%d review examples after approval, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM example_embeddings x JOIN cause_examples e ON e.id = x.example_id
		WHERE e.source = 'review' AND e.case_id = $1 AND x.model = $2 AND x.cause = 'pickup_expired'`, c1.ID, f.svc.Model()); n != 1 {
		t.Errorf("the new example has %d vectors of the model, want 1", n)
	}
	r = a.do(t, auth.Engineer, "POST", path, approve)
	if r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" || rec.calls != 1 || examples() != 1 {
		t.Errorf("double submit = %d replayed %q, %d applications, %d examples; want 200 replayed, 1, 1",
			r.status, r.header.Get("Idempotent-Replayed"), rec.calls, examples())
	}
	if r = a.do(t, auth.Support, "POST", path, `{"decision":"reject","note":"changed my mind"}`); r.status != 409 {
		t.Errorf("another decision on a decided case = %d %s, want 409", r.status, r.body)
	}

	c2 := expired(2)
	modify := `{"decision":"modify","action":"notify","params":{"template":"pickup_final_notice"},"cause":"pickup_reminder_due","note":"one more reminder"}`
	r = a.do(t, auth.Support, "POST", "/v1/cases/"+c2.ID.String()+"/decision", modify)
	if r.status != 200 || rec.calls != 2 {
		t.Fatalf("modify = %d %s, %d applications", r.status, r.body, rec.calls)
	}
	cmd := rec.byID[commandID(c2.ID, "decision")]
	if cmd.Action != rules.ActionNotify || cmd.Params["template"] != "pickup_final_notice" {
		t.Errorf("modify applied %+v, want notify pickup_final_notice", cmd)
	}
	if n := f.count(t, `SELECT count(*) FROM cause_examples WHERE case_id = $1 AND cause = 'pickup_reminder_due'`, c2.ID); n != 1 {
		t.Errorf("modify with a corrected cause added %d examples of it, want 1", n)
	}

	c3 := expired(3)
	r = a.do(t, auth.Support, "POST", "/v1/cases/"+c3.ID.String()+"/decision", `{"decision":"reject","note":"store will call"}`)
	if r.status != 200 || rec.calls != 2 || examples() != 2 {
		t.Errorf("reject = %d, %d applications, %d examples; want 200, nothing applied, no example", r.status, rec.calls, examples())
	}

	c4 := expired(4)
	for _, tt := range []struct {
		body   string
		fields []string
	}{
		{`{"decision":"maybe"}`, []string{"decision"}},
		{`{"decision":"modify","action":"rebook"}`, []string{"action"}},
		{`{"decision":"approve","action":"notify"}`, []string{"action"}},
		{`{"decision":"modify","action":"notify","cause":"card_expired"}`, []string{"cause"}},
	} {
		r := a.do(t, auth.Support, "POST", "/v1/cases/"+c4.ID.String()+"/decision", tt.body)
		if got := problemFields(t, r); r.status != 422 || !slices.Equal(got, tt.fields) {
			t.Errorf("%s = %d fields %v, want 422 %v", tt.body, r.status, got, tt.fields)
		}
	}
	if r := a.do(t, auth.Orchestrator, "POST", "/v1/cases/"+c4.ID.String()+"/decision", approve); r.status != 403 {
		t.Errorf("orchestrator deciding = %d, want 403", r.status)
	}
	if r := a.do(t, auth.Support, "POST", "/v1/cases/"+uuid.NewString()+"/decision", approve); r.status != 404 {
		t.Errorf("deciding an unknown case = %d, want 404", r.status)
	}

	r = a.do(t, auth.Support, "GET", "/v1/cases?status=decided&limit=2", "")
	var page struct {
		Cases []Case     `json:"cases"`
		Next  *uuid.UUID `json:"next"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Cases) != 2 || page.Next == nil {
		t.Fatalf("GET /v1/cases?status=decided&limit=2 = %d %s", r.status, r.body)
	}
	r = a.do(t, auth.Support, "GET", "/v1/cases?status=decided&limit=2&after="+page.Next.String(), "")
	var rest struct {
		Cases []Case `json:"cases"`
	}
	if err := json.Unmarshal(r.body, &rest); err != nil || len(rest.Cases) != 1 {
		t.Errorf("second page = %d %s, want the third decided case", r.status, r.body)
	}
	r = a.do(t, auth.Engineer, "GET", "/v1/cases/"+c1.ID.String(), "")
	if err := json.Unmarshal(r.body, &got); err != nil || got.ID != c1.ID || len(got.Neighbours) == 0 || len(got.Inputs) == 0 {
		t.Errorf("GET case = %d %s", r.status, r.body)
	}
}

// TestDecideWithoutApplier checks that nothing is recorded as decided
// when it cannot be applied.
func TestDecideWithoutApplier(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	a := newAPI(t, f)
	c := f.report(t, orchestration.Exception{Kind: orchestration.KindPickupNotCollected, Code: "PICKUP_EXPIRED",
		Message: "Pickup window expired for order #S-71881 after 8 days and 3 reminders; items to be restocked"})
	path := "/v1/cases/" + c.ID.String() + "/decision"
	if r := a.do(t, auth.Support, "POST", path, `{"decision":"approve"}`); r.status != 503 {
		t.Errorf("approve without applier = %d %s, want 503", r.status, r.body)
	}
	if got, _ := f.svc.GetCase(context.Background(), c.ID); got.Status != StatusQueued {
		t.Errorf("case after a refused approval is %s, want still queued", got.Status)
	}
	if r := a.do(t, auth.Support, "POST", path, `{"decision":"reject"}`); r.status != 200 {
		t.Errorf("reject without applier = %d %s, want 200", r.status, r.body)
	}
}
