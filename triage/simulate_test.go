package triage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// replayCase is a triaged case as SimulatePolicy reads it.
type replayCase struct {
	name       string
	at         time.Time
	status     string
	in         *decisionJSON // nil: the policy never judged it
	similarity float64
	decision   string // approve, modify or reject; "" for none
	decidedAs  string // the action a person chose
}

func (f *fixture) addReplayCase(t *testing.T, c replayCase) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	inputs := map[string]any{"text": c.name, "classification": map[string]any{"top_similarity": c.similarity}}
	var action, cause *string
	if c.in != nil {
		inputs["policy"] = c.in
		action, cause = &c.in.Action, &c.in.Cause
	}
	var decision, decidedAs *string
	if c.decision != "" {
		decision, decidedAs = &c.decision, &c.decidedAs
		if c.decidedAs == "" {
			decidedAs = nil
		}
	}
	excID := uuid.New()
	_, err := f.pool.Exec(ctx, `INSERT INTO exceptions (id, kind, severity, message, occurred_at, created_at)
		VALUES ($1, 'payment_failed', 'medium', $2, $3, $3)`, excID, c.name, c.at)
	if err != nil {
		t.Fatal(err)
	}
	var id uuid.UUID
	err = f.pool.QueryRow(ctx, `INSERT INTO cases (exception_id, kind, severity, status, action, cause, inputs, decision, decided_action,
			created_at, triaged_at)
		VALUES ($1, 'payment_failed', 'medium', $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
		excID, c.status, action, cause, inputs, decision, decidedAs, c.at).Scan(&id)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return id
}

func TestSimulatePolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true})
	ctx := context.Background()
	// The proposed policy asks more of notify and less of retry.
	src := string(rules.DefaultYAML())
	for old, repl := range map[string]string{"notify: 0.60": "notify: 0.90", "retry: 0.70": "retry: 0.50"} {
		if strings.Count(src, old) != 1 {
			t.Fatalf("default policy has %q %d times, want once", old, strings.Count(src, old))
		}
		src = strings.Replace(src, old, repl, 1)
	}
	proposed, err := rules.Load("proposed.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	in := func(action, cause string, conf, value float64) *decisionJSON {
		return &decisionJSON{Action: action, Cause: cause, Kind: orchestration.KindPaymentFailed, CustomerTier: "standard",
			Confidence: conf, OrderValue: value}
	}
	day := 24 * time.Hour
	recent := f.now.Add(-3 * day)
	for _, c := range []replayCase{
		{name: "notify, now automatic, approved", at: recent, status: StatusDecided, in: in("notify", "card_expired", 0.75, 80),
			similarity: 0.9, decision: "approve", decidedAs: "notify"},
		{name: "retry, automatic if proposed, approved", at: recent, status: StatusDecided, in: in("retry", "gateway_timeout", 0.60, 80),
			similarity: 0.9, decision: "approve", decidedAs: "retry"},
		{name: "retry, too unlike any example", at: recent, status: StatusQueued, in: in("retry", "gateway_timeout", 0.60, 80),
			similarity: 0.5},
		{name: "retry, automatic if proposed, person chose notify", at: recent, status: StatusDecided,
			in: in("retry", "gateway_timeout", 0.65, 80), similarity: 0.9, decision: "modify", decidedAs: "notify"},
		{name: "retry, automatic under both", at: recent, status: StatusAutoApplied, in: in("retry", "gateway_timeout", 0.95, 80),
			similarity: 0.95},
		{name: "notify, over the order value cap", at: recent, status: StatusDecided, in: in("notify", "card_expired", 0.95, 5000),
			similarity: 0.9, decision: "reject"},
		{name: "cancel, never automatic", at: recent, status: StatusQueued, in: in("cancel_order", "card_expired", 0.99, 80),
			similarity: 0.99},
		{name: "nothing to do", at: recent, status: StatusNoAction},
		{name: "too old", at: f.now.Add(-40 * day), status: StatusDecided, in: in("retry", "gateway_timeout", 0.60, 80),
			similarity: 0.9, decision: "approve", decidedAs: "retry"},
		{name: "not triaged yet", at: recent, status: StatusOpen},
	} {
		f.addReplayCase(t, c)
	}

	sim, err := f.svc.SimulatePolicy(ctx, proposed, f.now.Add(-30*day))
	if err != nil {
		t.Fatal(err)
	}
	if sim.CurrentPolicy != f.pol.Version || sim.ProposedPolicy != proposed.Version {
		t.Errorf("policies = %s, %s; want %s, %s", sim.CurrentPolicy, sim.ProposedPolicy, f.pol.Version, proposed.Version)
	}
	if sim.CasesInWindow != 8 || sim.NotJudged != 1 {
		t.Errorf("cases in window, not judged = %d, %d; want 8, 1", sim.CasesInWindow, sim.NotJudged)
	}
	want := SimulationGroup{Key: "all", Cases: 7, Decided: 4,
		Current:  PolicyTally{Auto: 2, Decided: 1, Correct: 1},
		Proposed: PolicyTally{Auto: 3, Decided: 2, Correct: 1}}
	if sim.Total != want {
		t.Errorf("total = %+v\nwant    %+v", sim.Total, want)
	}
	if sim.Gained != 2 || sim.Lost != 1 || len(sim.Examples) != 3 {
		t.Errorf("gained, lost, examples = %d, %d, %d; want 2, 1, 3", sim.Gained, sim.Lost, len(sim.Examples))
	}
	if p, ok := sim.Total.Proposed.Precision(); !ok || p != 0.5 {
		t.Errorf("proposed precision = %v, %v; want 0.5", p, ok)
	}
	if _, ok := (PolicyTally{Auto: 3}).Precision(); ok {
		t.Errorf("precision with nothing decided reports a value")
	}
	byAction := map[string]SimulationGroup{}
	for _, g := range sim.ByAction {
		byAction[g.Key] = g
	}
	for key, w := range map[string]SimulationGroup{
		"retry":        {Key: "retry", Cases: 4, Decided: 2, Current: PolicyTally{Auto: 1}, Proposed: PolicyTally{Auto: 3, Decided: 2, Correct: 1}},
		"notify":       {Key: "notify", Cases: 2, Decided: 2, Current: PolicyTally{Auto: 1, Decided: 1, Correct: 1}},
		"cancel_order": {Key: "cancel_order", Cases: 1},
	} {
		if byAction[key] != w {
			t.Errorf("by action %s = %+v\nwant %+v", key, byAction[key], w)
		}
	}
	if len(sim.ByAction) != 3 || sim.ByAction[0].Key != "retry" {
		t.Errorf("by action = %+v, want retry first of 3", sim.ByAction)
	}
	if len(sim.ByCause) != 2 {
		t.Errorf("by cause = %+v, want card_expired and gateway_timeout", sim.ByCause)
	}

	// The policy in force replayed against itself changes nothing.
	same, err := f.svc.SimulatePolicy(ctx, f.pol, f.now.Add(-30*day))
	if err != nil {
		t.Fatal(err)
	}
	if same.Gained != 0 || same.Lost != 0 || same.Total.Proposed != same.Total.Current {
		t.Errorf("replay under the policy in force: %+v, want no change", same.Total)
	}
}
