package triage

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/rules"
)

// PolicyTally counts, for one policy over a group of replayed cases, the
// cases it would apply automatically and how those fared where a person
// decided them.
type PolicyTally struct {
	// Auto is how many cases the policy would apply automatically.
	Auto int `json:"auto"`
	// Decided is how many of those a person decided; Correct is how many
	// of those the person decided with the recommended action (approved it,
	// or modified only its parameters). A rejection or another action is
	// wrong.
	Decided int `json:"decided"`
	Correct int `json:"correct"`
}

// Precision is Correct over Decided; ok is false when no automatic case
// was decided by a person.
func (t PolicyTally) Precision() (p float64, ok bool) {
	if t.Decided == 0 {
		return 0, false
	}
	return float64(t.Correct) / float64(t.Decided), true
}

// SimulationGroup is the replay of the cases of one action or cause.
type SimulationGroup struct {
	Key string `json:"key"`
	// Cases is how many cases had a fix for the policy to judge.
	Cases int `json:"cases"`
	// Decided is how many of them a person decided.
	Decided  int         `json:"decided"`
	Current  PolicyTally `json:"current"`
	Proposed PolicyTally `json:"proposed"`
}

func (g *SimulationGroup) add(r replayed) {
	g.Cases++
	if r.decided {
		g.Decided++
	}
	tally := func(t *PolicyTally, auto bool) {
		if !auto {
			return
		}
		t.Auto++
		if r.decided {
			t.Decided++
			if r.correct {
				t.Correct++
			}
		}
	}
	tally(&g.Current, r.current)
	tally(&g.Proposed, r.proposed)
}

// Simulation is a replay of recent cases under a proposed policy, beside
// the policy in force.
type Simulation struct {
	Since          time.Time `json:"since"`
	CurrentPolicy  string    `json:"current_policy"`
	ProposedPolicy string    `json:"proposed_policy"`
	MinSimilarity  float64   `json:"min_similarity"`
	CasesInWindow  int       `json:"cases_in_window"`
	// NotJudged are cases the policy never saw: triage found nothing to do,
	// no cause or no feasible fix; no policy would apply them.
	NotJudged int               `json:"not_judged"`
	Total     SimulationGroup   `json:"total"`
	ByAction  []SimulationGroup `json:"by_action"`
	ByCause   []SimulationGroup `json:"by_cause"`
	// Gained are cases the proposed policy would apply and the current one
	// would not; Lost the reverse.
	Gained int `json:"gained"`
	Lost   int `json:"lost"`
	// Examples are up to ten cases whose verdict changes, for a look.
	Examples []ChangedCase `json:"examples"`
}

// ChangedCase is a case whose verdict the proposed policy changes.
type ChangedCase struct {
	CaseID   uuid.UUID `json:"case_id"`
	Action   string    `json:"action"`
	Cause    string    `json:"cause"`
	Proposed bool      `json:"proposed_auto"`
	// Reason is the proposed policy's reason.
	Reason string `json:"reason"`
	// Decided is what a person decided, "" when nobody did.
	Decided string `json:"decided"`
}

// replayed is one case judged by both policies.
type replayed struct {
	id                uuid.UUID
	action, cause     string
	current, proposed bool
	reason            string
	decided, correct  bool
	decision          string
}

// SimulatePolicy replays the cases created since since under proposed and
// under the policy in force, from the inputs each case stored when it was
// triaged (cause, confidence, risks, recommended action, order value,
// customer tier…), with rules.Policy.Evaluate. A case would be applied
// automatically when the policy allows it and its nearest labelled example
// was similar enough (the service's own gate, the same for both). For the
// cases people decided, a decision with the recommended action counts as
// the automatic one being right.
func (s *Service) SimulatePolicy(ctx context.Context, proposed *rules.Policy, since time.Time) (_ Simulation, err error) {
	defer derrors.Wrap(&err, "SimulatePolicy(%s, %s)", proposed.Version, since.Format(time.RFC3339))
	current := s.policy()
	sim := Simulation{Since: since, CurrentPolicy: current.Version, ProposedPolicy: proposed.Version, MinSimilarity: s.minSim,
		Total: SimulationGroup{Key: "all"}}
	rows, err := s.pool.Query(ctx, `
		SELECT c.id, c.inputs->'policy', coalesce((c.inputs->'classification'->>'top_similarity')::float8, 0),
			c.status = 'decided' AND c.decision IS NOT NULL, coalesce(c.decision, ''), coalesce(c.decided_action, '')
		FROM cases c WHERE c.created_at >= $1 AND c.status <> 'open'
		ORDER BY c.created_at, c.id`, since)
	if err != nil {
		return Simulation{}, err
	}
	byAction, byCause := map[string]*SimulationGroup{}, map[string]*SimulationGroup{}
	group := func(m map[string]*SimulationGroup, key string) *SimulationGroup {
		if m[key] == nil {
			m[key] = &SimulationGroup{Key: key}
		}
		return m[key]
	}
	var id uuid.UUID
	var policyIn []byte
	var topSim float64
	var decided bool
	var decision, decidedAction string
	_, err = pgx.ForEachRow(rows, []any{&id, &policyIn, &topSim, &decided, &decision, &decidedAction}, func() error {
		sim.CasesInWindow++
		if len(policyIn) == 0 || string(policyIn) == "null" {
			sim.NotJudged++
			return nil
		}
		var in decisionJSON
		if err := json.Unmarshal(policyIn, &in); err != nil {
			return fmt.Errorf("case %s: stored policy input: %w", id, err)
		}
		di := rules.DecisionInput{Action: in.Action, Cause: in.Cause, Kind: in.Kind, Channel: in.Channel,
			CustomerTier: in.CustomerTier, Confidence: in.Confidence, OrderValue: in.OrderValue, RefundAmount: in.RefundAmount,
			CompensationAmount: in.CompensationAmount, StockoutRisk: in.StockoutRisk, DeliveryRisk: in.DeliveryRisk,
			FraudScore: in.FraudScore, FraudBand: in.FraudBand}
		near := topSim >= s.minSim
		dCur, dNew := current.Evaluate(di), proposed.Evaluate(di)
		r := replayed{id: id, action: in.Action, cause: in.Cause, current: dCur.Auto && near, proposed: dNew.Auto && near,
			reason: dNew.Reason, decided: decided, decision: decision, correct: decided && decidedAction == in.Action}
		if dNew.Auto && !near {
			r.reason = fmt.Sprintf("nearest labelled example only %.2f similar (automatic needs %.2f)", topSim, s.minSim)
		}
		sim.Total.add(r)
		group(byAction, r.action).add(r)
		group(byCause, r.cause).add(r)
		if r.current != r.proposed {
			if r.proposed {
				sim.Gained++
			} else {
				sim.Lost++
			}
			if len(sim.Examples) < 10 {
				sim.Examples = append(sim.Examples, ChangedCase{CaseID: id, Action: r.action, Cause: r.cause, Proposed: r.proposed,
					Reason: r.reason, Decided: decidedLabel(r)})
			}
		}
		return nil
	})
	if err != nil {
		return Simulation{}, err
	}
	sim.ByAction, sim.ByCause = sortedGroups(byAction), sortedGroups(byCause)
	return sim, nil
}

func decidedLabel(r replayed) string {
	switch {
	case !r.decided:
		return ""
	case r.correct:
		return r.decision + " (recommended action)"
	}
	return r.decision + " (other action)"
}

// sortedGroups lists groups by how many cases the proposed policy would
// apply, then by size and key.
func sortedGroups(m map[string]*SimulationGroup) []SimulationGroup {
	out := make([]SimulationGroup, 0, len(m))
	for _, g := range m {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b SimulationGroup) int {
		return cmp.Or(cmp.Compare(b.Proposed.Auto, a.Proposed.Auto), cmp.Compare(b.Cases, a.Cases), cmp.Compare(a.Key, b.Key))
	})
	return out
}
