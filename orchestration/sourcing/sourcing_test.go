package sourcing

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/rules"
)

// The fixtures below put the ship-to point at base() and every location due north of it,
// so a location's distance is exactly the km it is built with.

// base is the ship-to point of the fixtures.
func base() GeoPoint { return GeoPoint{Lat: 50, Lon: 10} }

// testNow is a Wednesday, 10:00 UTC.
func testNow() time.Time { return time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC) }

// northKm is the latitude km due north of base().
func northKm(km float64) float64 { return base().Lat + km/(6371.0088*math.Pi/180) }

// testGroup is a rule group written for a test.
type testGroup struct {
	name, unfillable string
	filters, sorts   []string
	extra            string // more YAML keys, e.g. "split_lines: true"
}

func (g testGroup) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "    - name: %s\n      channels: [\"*\"]\n      unfillable: %s\n", g.name, g.unfillable)
	b.WriteString("      filters:\n")
	if len(g.filters) == 0 {
		b.WriteString("        []\n")
	}
	for _, f := range g.filters {
		fmt.Fprintf(&b, "        - %s\n", f)
	}
	b.WriteString("      sorts:\n")
	if len(g.sorts) == 0 {
		b.WriteString("        []\n")
	}
	for _, s := range g.sorts {
		fmt.Fprintf(&b, "        - %s\n", s)
	}
	if g.extra != "" {
		fmt.Fprintf(&b, "      %s\n", g.extra)
	}
	return b.String()
}

const policyTemplate = `
sourcing:
  fallback: %s
  scoring:
    split_shipment_penalty: %g
    shipment_base_cost: 4
    cost_per_km: %g
    cost_per_kg_km: 0
    unit_weight_kg: 0.5
    default_handling_cost: 1
    default_handling_hours: 2
    handling_start: "08:00"
    transit:
      standard: {km_per_day: 500, min_days: 1}
      express: {km_per_day: 1000, min_days: 1}
      same_day: {km_per_day: 100, min_days: 0}
  groups:
%s
decision:
  default_threshold: 0.8
limits:
  currency: EUR
  fraud: {review_low: 0.3, review_high: 0.7, cancel_at: 0.9}
  refund: {auto_approve_max: 100}
  compensation: {max_per_order: 40}
sla:
  review_first_response_minutes: {critical: 15, high: 60, medium: 240, low: 1440}
  review_resolve_hours: {critical: 4, high: 12, medium: 48, low: 120}
  triage_within_seconds: 30
  release_within_hours: 4
  ship_within_hours: 24
  refund_within_hours: 72
`

// policyOpts are the scoring knobs tests vary.
type policyOpts struct {
	fallback  string
	penalty   float64
	costPerKm float64
}

func testPolicy(t *testing.T, o policyOpts, groups ...testGroup) *rules.Policy {
	t.Helper()
	if o.fallback == "" {
		o.fallback = rules.UnfillableBackorder
	}
	if o.costPerKm == 0 {
		o.costPerKm = 0.01
	}
	var gs strings.Builder
	for _, g := range groups {
		gs.WriteString(g.yaml())
	}
	doc := fmt.Sprintf(policyTemplate, o.fallback, o.penalty, o.costPerKm, gs.String())
	p, err := rules.Load("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("rules.Load(test policy): %v\n%s", err, doc)
	}
	return p
}

// locationNames are the fixture locations; a location's id is its 1-based index, so ids
// order like the names (a < b < … ) where ties are broken by id.
func locationNames() []string {
	return []string{"a", "b", "c", "d", "e", "f", "far", "near", "close", "mid", "drop", "off", "wh", "s1", "s2", "w1"}
}

// idOf is the id of the fixture location called name.
func idOf(name string) int64 {
	i := slices.Index(locationNames(), name)
	if i < 0 {
		panic("unknown fixture location " + name)
	}
	return int64(i + 1)
}

// nameOf is the name of the fixture location with id.
func nameOf(id int64) string {
	if id < 1 || int(id) > len(locationNames()) {
		return fmt.Sprintf("#%d", id)
	}
	return locationNames()[id-1]
}

// codes names the plan's locations in shipment order.
func codes(p Plan) []string {
	out := make([]string, 0, len(p.Shipments))
	for _, id := range p.LocationIDs() {
		out = append(out, nameOf(id))
	}
	return out
}

// cand is a shipping warehouse km north of base() holding onHand units of each SKU; its
// code is name.
func cand(name string, km float64, onHand map[string]int, opts ...func(*Candidate)) Candidate {
	c := Candidate{
		ID: idOf(name), Code: name, Kind: rules.LocationWarehouse, Region: "north",
		Lat: northKm(km), Lon: base().Lon,
		Capabilities: []string{rules.CapabilityShip},
		Priority:     1, Active: true, Stock: map[string]StockLevel{},
	}
	for sku, n := range onHand {
		c.Stock[sku] = StockLevel{OnHand: n}
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func withKind(k string) func(*Candidate) { return func(c *Candidate) { c.Kind = k } }
func withCaps(cs ...string) func(*Candidate) {
	return func(c *Candidate) { c.Capabilities = cs }
}
func withCapacity(daily, today int) func(*Candidate) {
	return func(c *Candidate) { c.DailyCapacity, c.OrdersToday = daily, today }
}
func withCutoff(hhmm string) func(*Candidate) {
	return func(c *Candidate) { c.Cutoff = hhmm }
}
func withPriority(p int) func(*Candidate) {
	return func(c *Candidate) { c.Priority = p }
}
func withHandling(cost, hours float64) func(*Candidate) {
	return func(c *Candidate) { c.HandlingCost, c.HandlingHours = cost, hours }
}
func withStock(sku string, s StockLevel) func(*Candidate) {
	return func(c *Candidate) { c.Stock[sku] = s }
}
func inactive(c *Candidate) { c.Active = false }

// line is an order line of qty units priced 10, costing 6.
func line(id, sku string, qty int) Line {
	return Line{LineID: id, SKU: sku, Qty: qty, UnitPrice: 10, UnitCost: 6}
}

func shipReq(lines ...Line) Request {
	p := base()
	return Request{Channel: "web", ShipTo: &p, ServiceLevel: rules.ServiceStandard, Lines: lines, Now: testNow()}
}

// mustPlan runs NewPlan and checks what must hold for every plan: nothing assigned
// beyond Available, every unit either assigned or unfilled, and the explanation marking
// exactly the plan's locations as chosen in the group that was used.
func mustPlan(t *testing.T, pol *rules.Policy, req Request, cands ...Candidate) Plan {
	t.Helper()
	p, err := NewPlan(pol, req, cands)
	if err != nil {
		t.Fatalf("NewPlan() error: %v", err)
	}
	byID := map[int64]Candidate{}
	for _, c := range cands {
		byID[c.ID] = c
	}
	type locSKU struct {
		loc int64
		sku string
	}
	used := map[locSKU]int{}
	units := map[string]int{}
	for _, a := range p.Assignments {
		used[locSKU{a.LocationID, a.SKU}] += a.Qty
		units[a.LineID] += a.Qty
	}
	for k, q := range used {
		if avail := Available(byID[k.loc].Stock[k.sku], p.BrokeringSafetyStock); q > avail {
			t.Errorf("plan assigns %d of %s at %s, want at most Available = %d", q, k.sku, nameOf(k.loc), avail)
		}
	}
	for _, u := range p.Unfilled {
		units[u.LineID] += u.Qty
	}
	for _, l := range req.Lines {
		if units[l.LineID] != l.Qty {
			t.Errorf("line %s: assigned + unfilled = %d, want %d", l.LineID, units[l.LineID], l.Qty)
		}
	}
	var chosen []int64
	usedGroups := 0
	for _, g := range p.Explanation.Groups {
		if !g.Used {
			continue
		}
		usedGroups++
		if g.Group != p.RuleGroup {
			t.Errorf("explanation used group %q, plan.RuleGroup %q", g.Group, p.RuleGroup)
		}
		for _, c := range g.Candidates {
			if c.Chosen {
				chosen = append(chosen, c.LocationID)
			}
		}
	}
	if p.RuleGroup != "" && usedGroups != 1 {
		t.Errorf("explanation has %d used groups, want 1", usedGroups)
	}
	want := slices.Sorted(slices.Values(p.LocationIDs()))
	if slices.Sort(chosen); !slices.Equal(chosen, want) {
		t.Errorf("explanation chose %v, plan ships from %v", chosen, want)
	}
	return p
}

// traceOf finds the trace of the location called name in group.
func traceOf(t *testing.T, p Plan, group, name string) CandidateTrace {
	t.Helper()
	for _, g := range p.Explanation.Groups {
		if g.Group != group {
			continue
		}
		for _, c := range g.Candidates {
			if c.LocationID == idOf(name) {
				return c
			}
		}
	}
	t.Fatalf("no trace of %s in group %s", name, group)
	return CandidateTrace{}
}

func TestAvailable(t *testing.T) {
	tests := []struct {
		st        StockLevel
		brokering int
		want      int
	}{
		{StockLevel{OnHand: 10}, 0, 10},
		{StockLevel{OnHand: 10, Reserved: 3}, 0, 7},
		{StockLevel{OnHand: 10, Reserved: 3, SafetyStock: 2}, 0, 5},
		{StockLevel{OnHand: 10, Reserved: 3, SafetyStock: 2}, 4, 1},
		{StockLevel{OnHand: 10, Reserved: 3, SafetyStock: 2}, 9, 0},
		{StockLevel{OnHand: 2, Reserved: 5}, 0, 0},
		{StockLevel{}, 0, 0},
	}
	for _, tt := range tests {
		if got := Available(tt.st, tt.brokering); got != tt.want {
			t.Errorf("Available(%+v, %d) = %d, want %d", tt.st, tt.brokering, got, tt.want)
		}
	}
}

func TestRequestValidate(t *testing.T) {
	ok := shipReq(line("l1", "A", 1))
	tests := []struct {
		name   string
		change func(*Request)
		want   string
	}{
		{"valid", func(*Request) {}, ""},
		{"no channel", func(r *Request) { r.Channel = "" }, "channel: required"},
		{"no destination", func(r *Request) { r.ShipTo = nil }, "ship_to: a ship-to point or a pickup location is required"},
		{"both destinations", func(r *Request) { r.PickupLocationID = 7 }, "either shipped or picked up"},
		{"bad point", func(r *Request) { r.ShipTo = &GeoPoint{Lat: 91} }, "not a latitude/longitude"},
		{"bad service", func(r *Request) { r.ServiceLevel = "overnight" }, `service_level: unknown "overnight"`},
		{"no lines", func(r *Request) { r.Lines = nil }, "lines: at least one line"},
		{"zero qty", func(r *Request) { r.Lines[0].Qty = 0 }, "lines[0].qty: must be positive"},
		{"duplicate line", func(r *Request) { r.Lines = append(r.Lines, r.Lines[0]) }, `lines[1].line_id: duplicate "l1"`},
		{"no sku", func(r *Request) { r.Lines[0].SKU = "" }, "lines[0].sku: required"},
		{"no now", func(r *Request) { r.Now = time.Time{} }, "now: required"},
	}
	for _, tt := range tests {
		r := ok
		r.Lines = slices.Clone(ok.Lines)
		tt.change(&r)
		err := r.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestNewPlanRejectsBadInput(t *testing.T) {
	pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder"})
	req := shipReq(line("l1", "A", 1))
	tests := []struct {
		name  string
		pol   *rules.Policy
		req   Request
		cands []Candidate
		want  string
	}{
		{"nil policy", nil, req, nil, "nil policy"},
		{"invalid request", pol, Request{}, nil, "invalid request"},
		{"duplicate location", pol, req, []Candidate{cand("a", 1, nil), cand("a", 2, nil)}, "duplicate candidate location 1"},
		{"bad cut-off", pol, req, []Candidate{cand("a", 1, nil, withCutoff("5pm"))}, "location 1 cut-off"},
	}
	for _, tt := range tests {
		_, err := NewPlan(tt.pol, tt.req, tt.cands)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewPlan() error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestFilters(t *testing.T) {
	ab := map[string]int{"A": 5, "B": 5}
	tests := []struct {
		name       string
		filter     string
		req        func(*Request)
		near       Candidate // best by distance, fails the filter
		wantReason string
	}{
		{"location_kind", "location_kind: [warehouse, dropship]", nil,
			cand("near", 5, ab, withKind(rules.LocationStore)), "kind store not in [warehouse, dropship]"},
		{"capability", "capability: [ship, same_day]", nil,
			cand("near", 5, ab), "lacks capability same_day"},
		{"max_distance_km", "max_distance_km: 100", nil,
			cand("near", 150, ab), "distance 150 km > max 100 km"},
		{"max_transit_days", "max_transit_days: 1", nil,
			cand("near", 620, ab), "transit 2 days > max 1 days"},
		{"capacity_left", "capacity_left", nil,
			cand("near", 5, ab, withCapacity(10, 10)), "no capacity left (10 of 10 orders taken today)"},
		{"all_lines_available", "all_lines_available", nil,
			cand("near", 5, map[string]int{"A": 5, "B": 1}), "cannot fill all lines: B needs 2, 1 available"},
		{"brokering_safety_stock", "brokering_safety_stock: 2", nil,
			cand("near", 5, map[string]int{"A": 3, "B": 3}, withStock("A", StockLevel{OnHand: 3, SafetyStock: 1})), "0 of 3 units available"},
		{"inactive", "capacity_left", nil,
			cand("near", 5, ab, inactive), "inactive"},
		{"excluded", "capacity_left", func(r *Request) { r.ExcludeLocationIDs = []int64{idOf("near")} },
			cand("near", 5, ab), "excluded by the request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder",
				filters: []string{tt.filter}, sorts: []string{"{by: distance}"}})
			// far passes every filter: a same-day warehouse 80 km away with spare stock.
			far := cand("far", 80, map[string]int{"A": 9, "B": 9}, withCaps(rules.CapabilityShip, rules.CapabilitySameDay), withCapacity(10, 3))
			req := shipReq(line("l1", "A", 1), line("l2", "B", 2))
			if tt.req != nil {
				tt.req(&req)
			}
			p := mustPlan(t, pol, req, tt.near, far)
			if got := codes(p); !slices.Equal(got, []string{"far"}) {
				t.Errorf("NewPlan() ships from %v, want [far]", got)
			}
			nt := traceOf(t, p, "g", "near")
			if nt.Passed || !strings.Contains(nt.Why, tt.wantReason) {
				t.Errorf("near trace = passed %v, why %q, want filtered out with %q", nt.Passed, nt.Why, tt.wantReason)
			}
			if ft := traceOf(t, p, "g", "far"); !ft.Passed || ft.Rank != 1 {
				t.Errorf("far trace = passed %v rank %d, want passed rank 1 (filters %+v)", ft.Passed, ft.Rank, ft.Filters)
			}
		})
	}
}

func TestSorts(t *testing.T) {
	both := map[string]int{"A": 4}
	tests := []struct {
		name  string
		sorts []string
		cands []Candidate
		want  string
	}{
		{"distance asc", []string{"{by: distance}"},
			[]Candidate{cand("a", 300, both), cand("b", 20, both)}, "b"},
		{"distance desc", []string{"{by: distance, direction: desc}"},
			[]Candidate{cand("a", 300, both), cand("b", 20, both)}, "a"},
		// a is nearer but past its 09:00 cut-off: ready tomorrow at 10:00; b ships today.
		{"transit_time", []string{"{by: transit_time}"},
			[]Candidate{cand("a", 20, both, withCutoff("09:00")), cand("b", 300, both, withCutoff("17:00"))}, "b"},
		// a is nearer but handling costs 20 there.
		{"shipping_cost", []string{"{by: shipping_cost}"},
			[]Candidate{cand("a", 20, both, withHandling(20, 2)), cand("b", 300, both)}, "b"},
		{"margin", []string{"{by: margin}"},
			[]Candidate{cand("a", 20, both, withHandling(20, 2)), cand("b", 300, both)}, "b"},
		{"inventory_balance", []string{"{by: inventory_balance}"},
			[]Candidate{cand("a", 20, map[string]int{"A": 5}), cand("b", 300, map[string]int{"A": 50})}, "b"},
		{"priority asc", []string{"{by: priority}"},
			[]Candidate{cand("a", 20, both, withPriority(2)), cand("b", 300, both, withPriority(1))}, "b"},
		{"priority desc", []string{"{by: priority, direction: desc}"},
			[]Candidate{cand("a", 20, both, withPriority(2)), cand("b", 300, both, withPriority(1))}, "a"},
		{"weights", []string{"{by: distance, weight: 1}", "{by: priority, weight: 3}"},
			[]Candidate{cand("a", 20, both, withPriority(2)), cand("b", 300, both, withPriority(1))}, "b"},
		{"earlier sort breaks score tie", []string{"{by: distance}", "{by: priority}"},
			[]Candidate{cand("a", 20, both, withPriority(2)), cand("b", 300, both, withPriority(1))}, "a"},
		{"tie by location id", []string{"{by: priority}"},
			[]Candidate{cand("b", 20, both), cand("a", 300, both)}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder", sorts: tt.sorts})
			p := mustPlan(t, pol, shipReq(line("l1", "A", 2)), tt.cands...)
			if got := codes(p); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("NewPlan() ships from %v, want [%s]; explanation %+v", got, tt.want, p.Explanation.Groups[0].Candidates)
			}
			tr := traceOf(t, p, "g", tt.want)
			if tr.Rank != 1 || len(tr.Keys) != len(tt.sorts) {
				t.Errorf("winner trace rank %d, keys %+v, want rank 1 with %d keys", tr.Rank, tr.Keys, len(tt.sorts))
			}
		})
	}
}

func TestSortKeyValues(t *testing.T) {
	pol := testPolicy(t, policyOpts{}, testGroup{name: "g", unfillable: "backorder", sorts: []string{
		"{by: distance}", "{by: transit_time}", "{by: shipping_cost}", "{by: margin}", "{by: inventory_balance}", "{by: priority}",
	}})
	c := cand("a", 100, map[string]int{"A": 10}, withPriority(3), withHandling(2, 5))
	p := mustPlan(t, pol, shipReq(line("l1", "A", 4)), c)
	tr := traceOf(t, p, "g", "a")
	// shipping 4 + 100 km × 0.01 = 5, handling 2; margin 4 × (10 − 6) − 7 = 9;
	// 6 units left; ready 15:00 today, one transit day: 29 hours.
	want := map[string]float64{"distance": 100, "transit_time": 29, "shipping_cost": 7, "margin": 9, "inventory_balance": 6, "priority": 3}
	for _, k := range tr.Keys {
		if math.Abs(k.Value-want[k.By]) > 1e-6 {
			t.Errorf("sort key %s = %g, want %g", k.By, k.Value, want[k.By])
		}
	}
}
