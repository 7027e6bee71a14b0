package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/omnitriage/omnitriage/internal/auth"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// alertReceiver is a webhook that checks each message's signature and
// Idempotency-Key, refuses the first delivery of each message with a 503
// (so River has to retry it), and records the messages it accepted.
type alertReceiver struct {
	t      *testing.T
	secret []byte
	now    time.Time

	mu       sync.Mutex
	refused  map[string]bool
	attempts map[string]int
	accepted []AlertEvent
}

func (h *alertReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := adapter.VerifyCallback(h.secret, r, 0, h.now)
	if err != nil {
		h.t.Errorf("alert webhook: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev AlertEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		h.t.Errorf("alert webhook body %s: %v", body, err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	key := r.Header.Get(adapter.HeaderIdempotencyKey)
	if want := "alert-" + jsonInt(ev.AlertID) + "-" + ev.State; key != want || ev.Event != "alert."+ev.State {
		h.t.Errorf("alert webhook: key %q, event %q; want key %q", key, ev.Event, want)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts[key]++
	if !h.refused[key] {
		h.refused[key] = true
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	h.accepted = append(h.accepted, ev)
}

func (h *alertReceiver) messages() ([]AlertEvent, map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	att := map[string]int{}
	for k, v := range h.attempts {
		att[k] = v
	}
	return append([]AlertEvent(nil), h.accepted...), att
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestAlertFiresOnceAndResolvesOnce breaches the endpoint failure target,
// evaluates several times, clears the breach and evaluates several times
// more: the signed receiver gets exactly one firing and one resolved
// message, each after River retried a refused delivery.
func TestAlertFiresOnceAndResolvesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{applier: &recordingApplier{}, noSeed: true})
	ctx := context.Background()
	secret := []byte("alert-secret")
	recv := &alertReceiver{t: t, secret: secret, now: f.now, refused: map[string]bool{}, attempts: map[string]int{}}
	hook := httptest.NewServer(recv)
	defer hook.Close()

	al := NewAlerter(f.svc, AlertConfig{WebhookURL: hook.URL, Secret: secret})
	workers := river.NewWorkers()
	al.RegisterWorkers(workers)
	client, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		RetryPolicy:       quickRetry{},
		Logger:            slog.New(slog.DiscardHandler),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	}()

	// payment/authorize fails 10 of 20 calls: 0.5 against a target of 0.2.
	counter := orchestration.NewCallCounter(func() time.Time { return f.now })
	calls := func(ok, failed int) {
		t.Helper()
		var errs []error
		for range ok {
			errs = append(errs, nil)
		}
		for range failed {
			errs = append(errs, &adapter.Error{System: "payment", Op: "authorize", Code: adapter.CodeTimeout, Retryable: true})
		}
		pay := counter.Systems(adapter.Systems{Payment: &failingPayment{errs: errs}}).Payment
		for range ok + failed {
			_, _ = pay.Authorize(ctx, adapter.AuthorizeRequest{})
		}
		if err := counter.Flush(ctx, f.pool); err != nil {
			t.Fatal(err)
		}
	}
	calls(10, 10)

	evaluate := func(times int) (fired, resolved int) {
		t.Helper()
		for range times {
			fi, re, err := al.Evaluate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			fired, resolved = fired+len(fi), resolved+len(re)
		}
		return fired, resolved
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
		}
	}

	if fired, resolved := evaluate(3); fired != 1 || resolved != 0 {
		t.Fatalf("three evaluations of a breach fired %d and resolved %d, want 1 and 0", fired, resolved)
	}
	list, err := f.svc.Alerts(ctx, AlertFilter{State: AlertFiring})
	if err != nil || len(list) != 1 || list[0].Figure != FigureEndpointFailure || list[0].Subject != "payment/authorize" ||
		list[0].Value != 0.5 || list[0].Target != 0.2 {
		t.Fatalf("firing alerts = %+v, %v; want payment/authorize at 0.5 over 0.2", list, err)
	}
	id := list[0].ID
	waitFor("the firing message", func() bool { m, _ := recv.messages(); return len(m) == 1 })
	if fired, resolved := evaluate(2); fired != 0 || resolved != 0 {
		t.Errorf("evaluations of a breach already firing fired %d and resolved %d, want none", fired, resolved)
	}

	// 80 good calls: 10 of 100 fail, within target.
	calls(80, 0)
	if fired, resolved := evaluate(3); fired != 0 || resolved != 1 {
		t.Fatalf("three evaluations after the breach cleared fired %d and resolved %d, want 0 and 1", fired, resolved)
	}
	waitFor("the resolve message", func() bool { m, _ := recv.messages(); return len(m) == 2 })
	evaluate(2)
	// Let any stray delivery run before counting.
	waitFor("the deliveries to be recorded", func() bool {
		a, err := f.svc.getAlert(ctx, id)
		return err == nil && a.FireSentAt != nil && a.ResolveSentAt != nil
	})
	time.Sleep(200 * time.Millisecond)

	msgs, attempts := recv.messages()
	if len(msgs) != 2 || msgs[0].State != AlertFiring || msgs[1].State != AlertResolved ||
		msgs[0].AlertID != id || msgs[1].AlertID != id || msgs[1].Value != 0.1 || msgs[1].ResolvedAt == nil {
		t.Errorf("accepted messages = %+v; want one firing then one resolved (at 0.1) for alert %d", msgs, id)
	}
	for _, state := range []string{AlertFiring, AlertResolved} {
		if n := attempts["alert-"+jsonInt(id)+"-"+state]; n != 2 {
			t.Errorf("deliveries of the %s message = %d, want 2 (one refused, one accepted)", state, n)
		}
	}
	all, err := f.svc.Alerts(ctx, AlertFilter{})
	if err != nil || len(all) != 1 || all[0].State != AlertResolved || all[0].ResolvedAt == nil || all[0].LastValue != 0.1 {
		t.Errorf("alerts = %+v, %v; want the one alert resolved at 0.1", all, err)
	}
}

// TestMeasureSLASample checks that a figure on fewer observations than
// the policy's min_sample is not judged.
func TestMeasureSLASample(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{applier: &recordingApplier{}, noSeed: true})
	ctx := context.Background()
	counter := orchestration.NewCallCounter(func() time.Time { return f.now })
	pay := counter.Systems(adapter.Systems{Payment: &failingPayment{errs: []error{
		&adapter.Error{System: "payment", Op: "authorize", Code: adapter.CodeTimeout, Retryable: true}}}}).Payment
	_, _ = pay.Authorize(ctx, adapter.AuthorizeRequest{})
	if err := counter.Flush(ctx, f.pool); err != nil {
		t.Fatal(err)
	}
	ms, err := f.svc.MeasureSLA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 0 {
		t.Errorf("MeasureSLA on one call = %+v, want nothing judged", ms)
	}
	fired, _, err := f.svc.EvaluateAlerts(ctx, false)
	if err != nil || len(fired) != 0 {
		t.Errorf("EvaluateAlerts on one failed call fired %+v, %v; want none", fired, err)
	}
}

// TestListAlertsHTTP checks GET /v1/alerts: engineers see the alerts, bad
// filters are named, support staff are refused.
func TestListAlertsHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{applier: &recordingApplier{}, noSeed: true})
	if _, err := f.pool.Exec(context.Background(), `INSERT INTO alerts (figure, subject, state, value, last_value, target, comparison, unit, started_at)
		VALUES ('endpoint_failure_rate', 'erp/post_invoice', 'firing', 0.4, 0.4, 0.2, 'above', 'ratio', $1)`, f.now); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, f)
	for _, tc := range []struct {
		role   auth.Role
		path   string
		status int
		want   string
	}{
		{auth.Engineer, "/v1/alerts", 200, `"subject":"erp/post_invoice"`},
		{auth.Engineer, "/v1/alerts?state=resolved", 200, `{"alerts":[]}`},
		{auth.Engineer, "/v1/alerts?state=loud", 422, `"state"`},
		{auth.Engineer, "/v1/alerts?limit=0", 422, `"limit"`},
		{auth.Support, "/v1/alerts", 403, ""},
	} {
		r := a.do(t, tc.role, "GET", tc.path, "")
		if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s GET %s = %d %s, want %d with %s", tc.role, tc.path, r.status, r.body, tc.status, tc.want)
		}
	}
}

// TestMeasureSLAFigures checks the review time, posting lag and promise
// figures on a window with known answers, each a breach.
func TestMeasureSLAFigures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{applier: &recordingApplier{}, noSeed: true})
	f.network(t, map[string][3]int{"A": {20, 0, 0}}, nil)
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := f.pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	now := f.now
	// Ten orders delivered 10 minutes ago, eight on their promised day, two
	// a day late; one delivered two hours ago, outside the window.
	for i := range 11 {
		o := f.order(t, fmt.Sprintf("SLA-%d", i), "A", 1, "standard")
		delivered, promise := now.Add(-10*time.Minute), now.Add(-10*time.Minute)
		if i >= 8 {
			promise = promise.AddDate(0, 0, -1)
		}
		if i == 10 {
			delivered = now.Add(-2 * time.Hour)
		}
		exec(`UPDATE orders SET promise_date = $2 WHERE id = $1`, o.ID, promise)
		exec(`INSERT INTO order_events (order_id, kind, from_status, to_status, actor, created_at)
			VALUES ($1, 'delivered', 'shipped', 'delivered', 'test', $2)`, o.ID, delivered)
		// Postings: nine acknowledged in 10 s, one waiting for 20 minutes.
		if i < 10 {
			created, ack, status := now.Add(-30*time.Minute), ptr(now.Add(-30*time.Minute+10*time.Second)), "acknowledged"
			if i == 9 {
				created, ack, status = now.Add(-20*time.Minute), nil, "pending"
			}
			exec(`INSERT INTO erp_postings (doc_key, kind, order_id, amount, document, status, created_at, acknowledged_at)
				VALUES ($1, 'invoice', $2, 20, '{}', $3, $4, $5)`, fmt.Sprintf("invoice:%d", i), o.ID, status, created, ack)
		}
	}
	// Ten cases waiting for a person for 5 hours.
	for i := range 10 {
		c := f.report(t, orchestration.Exception{Kind: orchestration.KindCarrierDelay, Carrier: "ups", Message: fmt.Sprintf("parcel %d late", i)})
		exec(`UPDATE cases SET status = 'queued_for_review', triaged_at = $2 WHERE id = $1`, c.ID, now.Add(-5*time.Hour))
	}
	ms, err := f.svc.MeasureSLA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Measure{
		FigureReviewTime: {Figure: FigureReviewTime, Value: 18000, Target: 14400, Comparison: "above", Unit: "seconds", Sample: 10},
		FigurePostingLag: {Figure: FigurePostingLag, Value: 10 + 0.55*1190, Target: 300, Comparison: "above", Unit: "seconds", Sample: 10},
		FigurePromise:    {Figure: FigurePromise, Value: 0.8, Target: 0.9, Comparison: "below", Unit: "ratio", Sample: 10},
	}
	got := map[string]Measure{}
	for _, m := range ms {
		got[m.Figure] = m
	}
	for fig, w := range want {
		g := got[fig]
		if g.Sample != w.Sample || math.Abs(g.Value-w.Value) > 1e-6 || g.Target != w.Target || g.Comparison != w.Comparison || !g.Breached() {
			t.Errorf("MeasureSLA %s = %+v, want %+v, breached", fig, g, w)
		}
	}
}
