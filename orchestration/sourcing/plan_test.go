package sourcing

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/rules"
)

// assignment is an Assignment without the ordered SKU, for compact tables.
type assignment struct {
	line, loc string
	qty       int
}

func assignments(p Plan) []assignment {
	out := make([]assignment, len(p.Assignments))
	for i, a := range p.Assignments {
		out[i] = assignment{a.LineID, nameOf(a.LocationID), a.Qty}
	}
	return out
}

type unfilled struct {
	line   string
	qty    int
	action string
}

func unfilledLines(p Plan) []unfilled {
	out := make([]unfilled, len(p.Unfilled))
	for i, u := range p.Unfilled {
		out[i] = unfilled{u.LineID, u.Qty, u.Action}
	}
	return out
}

func TestUnfillableActions(t *testing.T) {
	// No location holds both SKUs: a has A, b has B; c holds 1 A and 1 B.
	cands := []Candidate{
		cand("a", 10, map[string]int{"A": 3}),
		cand("b", 20, map[string]int{"B": 3}),
		cand("c", 30, map[string]int{"A": 1, "B": 1}),
	}
	rescue := testGroup{name: "rescue", unfillable: "reject"}
	req := shipReq(line("l1", "A", 2), line("l2", "B", 2))
	tests := []struct {
		name         string
		fallback     string
		groups       []testGroup
		wantGroup    string
		wantAssigned []assignment
		wantUnfilled []unfilled
		wantOutcome  string
	}{
		{"split", "", []testGroup{{name: "g", unfillable: "split", sorts: []string{"{by: distance}"}}}, "g",
			[]assignment{{"l1", "a", 2}, {"l2", "b", 2}}, []unfilled{}, "no single location fills the order; split"},
		{"next_group", "", []testGroup{{name: "g", unfillable: "next_group", filters: []string{"max_distance_km: 15"}}, rescue}, "rescue",
			[]assignment{}, []unfilled{{"l1", 2, "reject"}, {"l2", 2, "reject"}}, "order rejected"},
		{"backorder ships the most units", "", []testGroup{{name: "g", unfillable: "backorder", sorts: []string{"{by: distance}"}}}, "g",
			[]assignment{{"l1", "a", 2}}, []unfilled{{"l2", 2, "backorder"}}, "a ships the most (2 units)"},
		{"backorder with split lines", "", []testGroup{{name: "g", unfillable: "backorder", sorts: []string{"{by: distance, direction: desc}"}, extra: "split_lines: true"}}, "g",
			[]assignment{{"l1", "c", 1}, {"l2", "c", 1}}, []unfilled{{"l1", 1, "backorder"}, {"l2", 1, "backorder"}}, "c ships the most (2 units)"},
		{"reject", "", []testGroup{{name: "g", unfillable: "reject"}}, "g",
			[]assignment{}, []unfilled{{"l1", 2, "reject"}, {"l2", 2, "reject"}}, "no single location fills the order; order rejected"},
		{"fallback backorder", "backorder", []testGroup{{name: "g", unfillable: "next_group"}}, "",
			[]assignment{}, []unfilled{{"l1", 2, "backorder"}, {"l2", 2, "backorder"}}, "trying the next group"},
		{"fallback reject", "reject", []testGroup{{name: "g", unfillable: "next_group"}}, "",
			[]assignment{}, []unfilled{{"l1", 2, "reject"}, {"l2", 2, "reject"}}, "trying the next group"},
		{"incomplete split moves on", "", []testGroup{{name: "g", unfillable: "split", extra: "max_shipments: 1"}, rescue}, "rescue",
			[]assignment{}, []unfilled{{"l1", 2, "reject"}, {"l2", 2, "reject"}}, "order rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := testPolicy(t, policyOpts{fallback: tt.fallback}, tt.groups...)
			p := mustPlan(t, pol, req, cands...)
			if p.RuleGroup != tt.wantGroup {
				t.Errorf("RuleGroup = %q, want %q", p.RuleGroup, tt.wantGroup)
			}
			if got := assignments(p); !slices.Equal(got, tt.wantAssigned) {
				t.Errorf("assignments = %v, want %v", got, tt.wantAssigned)
			}
			if got := unfilledLines(p); !slices.Equal(got, tt.wantUnfilled) {
				t.Errorf("unfilled = %v, want %v", got, tt.wantUnfilled)
			}
			if got, want := p.Complete(), len(tt.wantUnfilled) == 0; got != want {
				t.Errorf("Complete() = %v, want %v", got, want)
			}
			last := p.Explanation.Groups[len(p.Explanation.Groups)-1]
			if tt.name == "fallback backorder" || tt.name == "fallback reject" {
				last = p.Explanation.Groups[0]
			}
			if !strings.Contains(last.Outcome, tt.wantOutcome) {
				t.Errorf("outcome = %q, want it to contain %q", last.Outcome, tt.wantOutcome)
			}
		})
	}
}

func TestSplitVersusSingle(t *testing.T) {
	// a and b are 10 km away with one SKU each; far holds both 400 km away. At 0.05 per
	// km one far shipment costs 4 + 20 + 1 = 25, two near ones 2 × (4 + 0.5 + 1) = 11
	// plus the split penalty.
	cands := []Candidate{
		cand("a", 10, map[string]int{"A": 5}),
		cand("b", 10, map[string]int{"B": 5}),
		cand("far", 400, map[string]int{"A": 5, "B": 5}),
	}
	tests := []struct {
		penalty   float64
		want      []string
		wantCost  float64
		wantSplit bool
	}{
		{0, []string{"a", "b"}, 11, true},
		{5, []string{"a", "b"}, 16, true},
		{13.99, []string{"a", "b"}, 24.99, true},
		{14, []string{"far"}, 25, false}, // a tie keeps one shipment
		{30, []string{"far"}, 25, false},
	}
	for _, tt := range tests {
		pol := testPolicy(t, policyOpts{penalty: tt.penalty, costPerKm: 0.05},
			testGroup{name: "g", unfillable: "split", sorts: []string{"{by: distance}"}})
		p := mustPlan(t, pol, shipReq(line("l1", "A", 2), line("l2", "B", 2)), cands...)
		if got := codes(p); !slices.Equal(got, tt.want) {
			t.Errorf("penalty %g: NewPlan() ships from %v, want %v", tt.penalty, got, tt.want)
		}
		if math.Abs(p.TotalCost-tt.wantCost) > 1e-6 {
			t.Errorf("penalty %g: TotalCost = %g, want %g", tt.penalty, p.TotalCost, tt.wantCost)
		}
		if wantPenalty := tt.penalty * float64(len(tt.want)-1); math.Abs(p.SplitPenalty-wantPenalty) > 1e-9 {
			t.Errorf("penalty %g: SplitPenalty = %g, want %g", tt.penalty, p.SplitPenalty, wantPenalty)
		}
		g := p.Explanation.Groups[0]
		if g.Single == "" || g.Split == "" {
			t.Errorf("penalty %g: explanation lacks the compared plans: single %q split %q", tt.penalty, g.Single, g.Split)
		}
		wantWhy := "one shipment costs"
		if tt.wantSplit {
			wantWhy = "split costs"
		}
		if !strings.Contains(g.Outcome, wantWhy) {
			t.Errorf("penalty %g: outcome %q, want it to contain %q", tt.penalty, g.Outcome, wantWhy)
		}
		// Margin is revenue minus unit cost minus every cost of the plan.
		if want := 4*(10-6) - p.TotalCost; math.Abs(p.Margin-want) > 1e-9 {
			t.Errorf("penalty %g: Margin = %g, want %g", tt.penalty, p.Margin, want)
		}
	}
}

func TestSplitLines(t *testing.T) {
	// Neither location holds 5 of A; together they do.
	cands := []Candidate{cand("a", 10, map[string]int{"A": 3}), cand("b", 20, map[string]int{"A": 3})}
	tests := []struct {
		extra string
		want  []assignment
	}{
		{"split_lines: true", []assignment{{"l1", "a", 3}, {"l1", "b", 2}}},
		{"split_lines: false", []assignment{}},
	}
	for _, tt := range tests {
		pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "split", sorts: []string{"{by: distance}"}, extra: tt.extra})
		p := mustPlan(t, pol, shipReq(line("l1", "A", 5)), cands...)
		if got := assignments(p); !slices.Equal(got, tt.want) {
			t.Errorf("%s: assignments = %v, want %v", tt.extra, got, tt.want)
		}
	}
}

func TestSharedStockAcrossLines(t *testing.T) {
	// Two lines of the same SKU share a's 3 units: a cannot fill both.
	pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder", sorts: []string{"{by: distance}"}})
	p := mustPlan(t, pol, shipReq(line("l1", "A", 2), line("l2", "A", 2)), cand("a", 10, map[string]int{"A": 3}))
	want := []assignment{{"l1", "a", 2}}
	if got := assignments(p); !slices.Equal(got, want) {
		t.Errorf("assignments = %v, want %v", got, want)
	}
}

func TestPickup(t *testing.T) {
	store := func(id string, km float64, opts ...func(*Candidate)) Candidate {
		opts = append([]func(*Candidate){withKind(rules.LocationStore), withCaps(rules.CapabilityPickup)}, opts...)
		return cand(id, km, map[string]int{"A": 5}, opts...)
	}
	// The pickup store is 900 km from base and lacks "ship"; the group's where-filters do
	// not apply to it.
	g := testGroup{name: "g", unfillable: "backorder", filters: []string{"capability: ship", "max_distance_km: 100", "location_kind: warehouse", "capacity_left"}, sorts: []string{"{by: distance}"}}
	tests := []struct {
		name       string
		cands      []Candidate
		want       []assignment
		wantReason string
	}{
		{"from the pickup store only", []Candidate{cand("wh", 1, map[string]int{"A": 9}), store("s1", 900), store("s2", 2)},
			[]assignment{{"l1", "s1", 2}}, ""},
		{"store without pickup capability", []Candidate{store("s1", 900, withCaps(rules.CapabilityShip)), store("s2", 2)},
			[]assignment{}, "pickup location lacks capability pickup"},
		{"store at capacity", []Candidate{store("s1", 900, withCapacity(5, 5))},
			[]assignment{}, "no capacity left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := shipReq(line("l1", "A", 2))
			req.ShipTo, req.PickupLocationID = nil, idOf("s1")
			p := mustPlan(t, testPolicy(t, policyOpts{}, g), req, tt.cands...)
			if got := assignments(p); !slices.Equal(got, tt.want) {
				t.Errorf("assignments = %v, want %v", got, tt.want)
			}
			tr := traceOf(t, p, "g", "s1")
			if tt.wantReason != "" && !strings.Contains(tr.Why, tt.wantReason) {
				t.Errorf("s1 why = %q, want %q", tr.Why, tt.wantReason)
			}
			if len(p.Shipments) == 1 {
				s := p.Shipments[0]
				// Ready after 2 handling hours; no transit and no shipping for a pickup.
				want := testNow().Add(2 * time.Hour)
				if s.ShippingCost != 0 || s.TransitDays != 0 || !s.PromiseDate.Equal(want) {
					t.Errorf("pickup shipment = %+v, want no shipping, no transit, ready %v", s, want)
				}
			}
		})
	}
}

func TestPromiseDates(t *testing.T) {
	plus2 := time.FixedZone("+02:00", 2*3600)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	at := func(tz *time.Location) func(*Candidate) { return func(c *Candidate) { c.TZ = tz } }
	tests := []struct {
		name        string
		now         time.Time
		service     string
		cand        Candidate
		wantReady   time.Time
		wantPromise time.Time
	}{
		{"before cut-off", testNow(), rules.ServiceStandard, cand("a", 100, nil, withCutoff("15:00")),
			time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)},
		{"at cut-off is not past it", time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC), rules.ServiceStandard, cand("a", 100, nil, withCutoff("15:00")),
			time.Date(2026, 3, 4, 17, 0, 0, 0, time.UTC), time.Date(2026, 3, 5, 17, 0, 0, 0, time.UTC)},
		{"after cut-off starts next day", time.Date(2026, 3, 4, 15, 1, 0, 0, time.UTC), rules.ServiceStandard, cand("a", 100, nil, withCutoff("15:00")),
			time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC)},
		{"no cut-off", time.Date(2026, 3, 4, 23, 0, 0, 0, time.UTC), rules.ServiceStandard, cand("a", 100, nil),
			time.Date(2026, 3, 5, 1, 0, 0, 0, time.UTC), time.Date(2026, 3, 6, 1, 0, 0, 0, time.UTC)},
		{"cut-off in the location's offset", time.Date(2026, 3, 4, 13, 30, 0, 0, time.UTC), rules.ServiceStandard, cand("a", 100, nil, withCutoff("15:00"), at(plus2)),
			time.Date(2026, 3, 5, 10, 0, 0, 0, plus2), time.Date(2026, 3, 6, 10, 0, 0, 0, plus2)},
		{"cut-off in a named zone", time.Date(2026, 3, 4, 13, 30, 0, 0, time.UTC), rules.ServiceStandard, cand("a", 100, nil, withCutoff("15:00"), at(berlin)),
			time.Date(2026, 3, 4, 16, 30, 0, 0, berlin), time.Date(2026, 3, 5, 16, 30, 0, 0, berlin)},
		{"location handling hours", testNow(), rules.ServiceStandard, cand("a", 100, nil, withHandling(0, 6)),
			time.Date(2026, 3, 4, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 5, 16, 0, 0, 0, time.UTC)},
		{"long haul", testNow(), rules.ServiceStandard, cand("a", 1200, nil),
			time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)},
		{"express", testNow(), rules.ServiceExpress, cand("a", 1200, nil),
			time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)},
		{"same day", testNow(), rules.ServiceSameDay, cand("a", 30, nil),
			time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)},
	}
	pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cand.Stock["A"] = StockLevel{OnHand: 5}
			req := shipReq(line("l1", "A", 1))
			req.Now, req.ServiceLevel = tt.now, tt.service
			p := mustPlan(t, pol, req, tt.cand)
			if len(p.Shipments) != 1 {
				t.Fatalf("shipments = %d, want 1", len(p.Shipments))
			}
			s := p.Shipments[0]
			if !s.ReadyAt.Equal(tt.wantReady) || !s.PromiseDate.Equal(tt.wantPromise) {
				t.Errorf("shipment ready %v, promise %v; want %v, %v", s.ReadyAt, s.PromiseDate, tt.wantReady, tt.wantPromise)
			}
		})
	}
}

func TestPromisedBy(t *testing.T) {
	// a is nearer (better score) but past its cut-off; only b meets the promise.
	pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder", sorts: []string{"{by: distance}"}})
	cands := []Candidate{cand("a", 10, map[string]int{"A": 5}, withCutoff("09:00")), cand("b", 200, map[string]int{"A": 5})}
	tests := []struct {
		promisedBy time.Time
		want       string
		wantLate   bool
	}{
		{time.Time{}, "a", false},
		{time.Date(2026, 3, 5, 18, 0, 0, 0, time.UTC), "b", false},
		{time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), "a", true}, // nobody meets it: score decides
	}
	for _, tt := range tests {
		req := shipReq(line("l1", "A", 1))
		req.PromisedBy = tt.promisedBy
		p := mustPlan(t, pol, req, cands...)
		if got := codes(p); !slices.Equal(got, []string{tt.want}) || p.Shipments[0].Late != tt.wantLate {
			t.Errorf("PromisedBy %v: ships from %v late %v, want [%s] late %v", tt.promisedBy, got, p.Shipments[0].Late, tt.want, tt.wantLate)
		}
	}
}

func TestCapacityExhaustion(t *testing.T) {
	pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder", filters: []string{"capacity_left"}, sorts: []string{"{by: distance}"}})
	stockA := map[string]int{"A": 5}
	tests := []struct {
		name  string
		cands []Candidate
		want  []string
	}{
		{"capacity left", []Candidate{cand("a", 10, stockA, withCapacity(10, 9)), cand("b", 20, stockA)}, []string{"a"}},
		{"nearest full", []Candidate{cand("a", 10, stockA, withCapacity(10, 10)), cand("b", 20, stockA, withCapacity(10, 0))}, []string{"b"}},
		{"over capacity", []Candidate{cand("a", 10, stockA, withCapacity(10, 12)), cand("b", 20, stockA)}, []string{"b"}},
		{"no limit", []Candidate{cand("a", 10, stockA, withCapacity(0, 500))}, []string{"a"}},
		{"all full", []Candidate{cand("a", 10, stockA, withCapacity(1, 1)), cand("b", 20, stockA, withCapacity(2, 2))}, []string{}},
	}
	for _, tt := range tests {
		p := mustPlan(t, pol, shipReq(line("l1", "A", 1)), tt.cands...)
		if got := codes(p); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ships from %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestForcedSubstitute(t *testing.T) {
	pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder", sorts: []string{"{by: distance}"}})
	// a only has the original, b only the substitute.
	cands := []Candidate{cand("a", 10, map[string]int{"A": 5}), cand("b", 20, map[string]int{"A2": 5})}
	req := shipReq(line("l1", "A", 2), line("l2", "C", 1))
	req.Substitutes = map[string]string{"A": "A2"}
	p := mustPlan(t, pol, req, cands...)
	want := []Assignment{{LineID: "l1", SKU: "A2", OrderedSKU: "A", LocationID: idOf("b"), Qty: 2}}
	if !reflect.DeepEqual(p.Assignments, want) {
		t.Errorf("assignments = %+v, want %+v", p.Assignments, want)
	}
	if len(p.Unfilled) != 1 || p.Unfilled[0].SKU != "C" {
		t.Errorf("unfilled = %+v, want line l2 of C", p.Unfilled)
	}
}

func TestExplanation(t *testing.T) {
	pol := testPolicy(t, policyOpts{},
		testGroup{name: "near", unfillable: "next_group", filters: []string{"max_distance_km: 50"}, sorts: []string{"{by: distance}"}, extra: "split_lines: true"},
		testGroup{name: "any", unfillable: "backorder", filters: []string{"location_kind: [warehouse, store]"}, sorts: []string{"{by: distance}", "{by: priority, weight: 2}"}},
	)
	cands := []Candidate{
		cand("close", 20, map[string]int{"A": 1}),
		cand("mid", 120, map[string]int{"A": 5}, withPriority(2)),
		cand("drop", 5, map[string]int{"A": 2}, withKind(rules.LocationDropship)),
		cand("off", 60, map[string]int{"A": 5}, withPriority(1)),
	}
	p := mustPlan(t, pol, shipReq(line("l1", "A", 3)), cands...)
	if got := codes(p); p.RuleGroup != "any" || !slices.Equal(got, []string{"off"}) {
		t.Fatalf("plan = group %q from %v, want group any from [off]", p.RuleGroup, got)
	}
	ex := p.Explanation
	if len(ex.Groups) != 2 || ex.Groups[0].Used || !ex.Groups[1].Used {
		t.Fatalf("explanation groups = %+v, want near (unused) then any (used)", ex.Groups)
	}
	if !strings.Contains(ex.Groups[0].Outcome, "no single location fills the order; trying the next group") {
		t.Errorf("near outcome = %q", ex.Groups[0].Outcome)
	}
	if !strings.Contains(ex.Summary, "group any: chosen: single location off (3 units)") {
		t.Errorf("summary = %q", ex.Summary)
	}
	tests := []struct {
		group, id  string
		wantPassed bool
		wantRank   int
		wantChosen bool
		wantWhy    string
	}{
		// near lets lines split, so partial stock passes; it may not split the order.
		{"near", "drop", true, 1, false, ""},
		{"near", "close", true, 2, false, ""},
		{"near", "mid", false, 0, false, "filtered out: distance 120 km > max 50 km"},
		{"near", "off", false, 0, false, "filtered out: distance 60 km > max 50 km"},
		{"any", "off", true, 1, true, "the best-ranked location fills the whole order"},
		{"any", "mid", true, 2, false, "not chosen: rank 2, can take 3 of 3 units"},
		{"any", "close", false, 0, false, "filtered out: 0 of 3 units available"},
		{"any", "drop", false, 0, false, "filtered out: kind dropship not in [warehouse, store]; 0 of 3 units available"},
	}
	for _, tt := range tests {
		tr := traceOf(t, p, tt.group, tt.id)
		if tr.Passed != tt.wantPassed || tr.Rank != tt.wantRank || tr.Chosen != tt.wantChosen || !strings.Contains(tr.Why, tt.wantWhy) {
			t.Errorf("traceOf(%s, %s) = passed %v rank %d chosen %v why %q; want %v %d %v %q",
				tt.group, tt.id, tr.Passed, tr.Rank, tr.Chosen, tr.Why, tt.wantPassed, tt.wantRank, tt.wantChosen, tt.wantWhy)
		}
	}
	// In "any", off is nearer than mid and has the better priority (weight 2).
	off := traceOf(t, p, "any", "off")
	if len(off.Keys) != 2 || off.Keys[0].By != "distance" || off.Keys[0].Contribution != 1 || off.Keys[1].Contribution != 2 || off.Score != 3 {
		t.Errorf("off keys = %+v score %g, want distance 1 + priority 2 = 3", off.Keys, off.Score)
	}
}

func TestDeterministic(t *testing.T) {
	pol := testPolicy(t, policyOpts{penalty: 1}, testGroup{name: "g", unfillable: "split", sorts: []string{"{by: priority}"}, extra: "split_lines: true"})
	var cands []Candidate
	for i, id := range []string{"e", "b", "d", "a", "c", "f"} {
		cands = append(cands, cand(id, float64(10*(i+1)), map[string]int{"A": 2, "B": 1}))
	}
	req := shipReq(line("l1", "A", 5), line("l2", "B", 2))
	first := mustPlan(t, pol, req, cands...)
	if got := codes(first); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("equal priorities: ships from %v, want [a b c] (ties by id)", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		if again := mustPlan(t, pol, req, cands...); !reflect.DeepEqual(again, first) {
			t.Fatalf("NewPlan() differs with candidate order:\n%+v\nwant\n%+v", again, first)
		}
	}
}

func TestDefaultPolicyPlans(t *testing.T) {
	pol, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	store := func(id string, km float64, onHand map[string]int) Candidate {
		return cand(id, km, onHand, withKind(rules.LocationStore), withCaps(rules.CapabilityShip, rules.CapabilityPickup, rules.CapabilitySameDay), withCapacity(50, 10))
	}
	cands := []Candidate{
		store("s1", 8, map[string]int{"A": 10, "B": 1}),
		store("s2", 25, map[string]int{"B": 10}),
		cand("w1", 650, map[string]int{"A": 100, "B": 100}, withCapacity(1000, 100)), // beyond ship-from-nearby's 500 km
	}
	tests := []struct {
		name, channel, service string
		wantGroup              string
		want                   []string
	}{
		{"same day from one store", "web", rules.ServiceSameDay, "same-day-nearby", []string{"s2"}},
		{"web standard", "web", rules.ServiceStandard, "ship-from-nearby", []string{"s1", "s2"}},
		{"marketplace", "marketplace", rules.ServiceStandard, "marketplace-complete", []string{"w1"}},
	}
	for _, tt := range tests {
		req := shipReq(line("l1", "B", 2))
		if tt.name != "same day from one store" {
			req = shipReq(line("l1", "A", 2), line("l2", "B", 2))
		}
		req.Channel, req.ServiceLevel = tt.channel, tt.service
		p := mustPlan(t, pol, req, cands...)
		if got := codes(p); p.RuleGroup != tt.wantGroup || !slices.Equal(got, tt.want) {
			t.Errorf("%s: plan = group %q from %v, want %q from %v\n%s", tt.name, p.RuleGroup, got, tt.wantGroup, tt.want, p.Explanation.Summary)
		}
		if p.PolicyVersion != pol.Version {
			t.Errorf("%s: PolicyVersion = %q, want %q", tt.name, p.PolicyVersion, pol.Version)
		}
	}
}
