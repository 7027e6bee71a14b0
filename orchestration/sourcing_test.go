package orchestration

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/rules"
)

// The fixtures below put the ship-to point at srcBase() and every location due north of it,
// so a location's distance is exactly the km it is built with.

// srcBase is the ship-to point of the fixtures.
func srcBase() GeoPoint { return GeoPoint{Lat: 50, Lon: 10} }

// srcNow is a Wednesday, 10:00 UTC.
func srcTestNow() time.Time { return time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC) }

// srcNorthKm is the latitude km due north of srcBase().
func srcNorthKm(km float64) float64 { return srcBase().Lat + km/(6371.0088*math.Pi/180) }

// srcGroup is a rule group written for a test.
type srcGroup struct {
	name, unfillable string
	filters, sorts   []string
	extra            string // more YAML keys, e.g. "split_lines: true"
}

func (g srcGroup) yaml() string {
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

const srcPolicyTemplate = `
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

// srcPolicyOpts are the scoring knobs tests vary.
type srcPolicyOpts struct {
	fallback  string
	penalty   float64
	costPerKm float64
}

func srcTestPolicy(t *testing.T, o srcPolicyOpts, groups ...srcGroup) *rules.Policy {
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
	doc := fmt.Sprintf(srcPolicyTemplate, o.fallback, o.penalty, o.costPerKm, gs.String())
	p, err := rules.Load("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("rules.Load(test policy): %v\n%s", err, doc)
	}
	return p
}

// srcLocationNames are the fixture locations; a location's id is its 1-based index, so ids
// order like the names (a < b < … ) where ties are broken by id.
func srcLocationNames() []string {
	return []string{"a", "b", "c", "d", "e", "f", "far", "near", "close", "mid", "drop", "off", "wh", "s1", "s2", "w1"}
}

// srcIDOf is the id of the fixture location called name.
func srcIdOf(name string) int64 {
	i := slices.Index(srcLocationNames(), name)
	if i < 0 {
		panic("unknown fixture location " + name)
	}
	return int64(i + 1)
}

// srcNameOf is the name of the fixture location with id.
func srcNameOf(id int64) string {
	if id < 1 || int(id) > len(srcLocationNames()) {
		return fmt.Sprintf("#%d", id)
	}
	return srcLocationNames()[id-1]
}

// srcCodes names the plan's locations in shipment order.
func srcCodes(p Plan) []string {
	out := make([]string, 0, len(p.Shipments))
	for _, id := range p.LocationIDs() {
		out = append(out, srcNameOf(id))
	}
	return out
}

// srcLoc is a shipping warehouse km north of srcBase() holding onHand units of each SKU; its
// code is name.
func srcLoc(name string, km float64, onHand map[string]int, opts ...func(*SourcingCandidate)) SourcingCandidate {
	c := SourcingCandidate{
		ID: srcIdOf(name), Code: name, Kind: rules.LocationWarehouse, Region: "north",
		Lat: srcNorthKm(km), Lon: srcBase().Lon,
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

func srcKind(k string) func(*SourcingCandidate) { return func(c *SourcingCandidate) { c.Kind = k } }
func srcCaps(cs ...string) func(*SourcingCandidate) {
	return func(c *SourcingCandidate) { c.Capabilities = cs }
}
func srcCapacity(daily, today int) func(*SourcingCandidate) {
	return func(c *SourcingCandidate) { c.DailyCapacity, c.OrdersToday = daily, today }
}
func srcCutoff(hhmm string) func(*SourcingCandidate) {
	return func(c *SourcingCandidate) { c.Cutoff = hhmm }
}
func srcPriority(p int) func(*SourcingCandidate) {
	return func(c *SourcingCandidate) { c.Priority = p }
}
func srcHandling(cost, hours float64) func(*SourcingCandidate) {
	return func(c *SourcingCandidate) { c.HandlingCost, c.HandlingHours = cost, hours }
}
func srcStock(sku string, s StockLevel) func(*SourcingCandidate) {
	return func(c *SourcingCandidate) { c.Stock[sku] = s }
}
func srcInactive(c *SourcingCandidate) { c.Active = false }

// srcLine is an order line of qty units priced 10, costing 6.
func srcLine(id, sku string, qty int) PlanLine {
	return PlanLine{LineID: id, SKU: sku, Qty: qty, UnitPrice: 10, UnitCost: 6}
}

func srcShipReq(lines ...PlanLine) PlanRequest {
	p := srcBase()
	return PlanRequest{Channel: "web", ShipTo: &p, ServiceLevel: rules.ServiceStandard, Lines: lines, Now: srcTestNow()}
}

// srcPlan runs PlanSourcing and checks what must hold for every plan: nothing assigned
// beyond Available, every unit either assigned or unfilled, and the explanation marking
// exactly the plan's locations as chosen in the group that was used.
func srcPlan(t *testing.T, pol *rules.Policy, req PlanRequest, cands ...SourcingCandidate) Plan {
	t.Helper()
	p, err := PlanSourcing(pol, req, cands)
	if err != nil {
		t.Fatalf("PlanSourcing() error: %v", err)
	}
	byID := map[int64]SourcingCandidate{}
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
			t.Errorf("plan assigns %d of %s at %s, want at most Available = %d", q, k.sku, srcNameOf(k.loc), avail)
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

// srcTrace finds the trace of the location called name in group.
func srcTrace(t *testing.T, p Plan, group, name string) CandidateTrace {
	t.Helper()
	for _, g := range p.Explanation.Groups {
		if g.Group != group {
			continue
		}
		for _, c := range g.Candidates {
			if c.LocationID == srcIdOf(name) {
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

func TestPlanRequestValidate(t *testing.T) {
	ok := srcShipReq(srcLine("l1", "A", 1))
	tests := []struct {
		name   string
		change func(*PlanRequest)
		want   string
	}{
		{"valid", func(*PlanRequest) {}, ""},
		{"no channel", func(r *PlanRequest) { r.Channel = "" }, "channel: required"},
		{"no destination", func(r *PlanRequest) { r.ShipTo = nil }, "ship_to: a ship-to point or a pickup location is required"},
		{"both destinations", func(r *PlanRequest) { r.PickupLocationID = 7 }, "either shipped or picked up"},
		{"bad point", func(r *PlanRequest) { r.ShipTo = &GeoPoint{Lat: 91} }, "not a latitude/longitude"},
		{"bad service", func(r *PlanRequest) { r.ServiceLevel = "overnight" }, `service_level: unknown "overnight"`},
		{"no lines", func(r *PlanRequest) { r.Lines = nil }, "lines: at least one line"},
		{"zero qty", func(r *PlanRequest) { r.Lines[0].Qty = 0 }, "lines[0].qty: must be positive"},
		{"duplicate line", func(r *PlanRequest) { r.Lines = append(r.Lines, r.Lines[0]) }, `lines[1].line_id: duplicate "l1"`},
		{"no sku", func(r *PlanRequest) { r.Lines[0].SKU = "" }, "lines[0].sku: required"},
		{"no now", func(r *PlanRequest) { r.Now = time.Time{} }, "now: required"},
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

func TestPlanSourcingRejectsBadInput(t *testing.T) {
	pol := srcTestPolicy(t, srcPolicyOpts{}, srcGroup{name: "g", unfillable: "backorder"})
	req := srcShipReq(srcLine("l1", "A", 1))
	tests := []struct {
		name  string
		pol   *rules.Policy
		req   PlanRequest
		cands []SourcingCandidate
		want  string
	}{
		{"nil policy", nil, req, nil, "nil policy"},
		{"invalid request", pol, PlanRequest{}, nil, "invalid request"},
		{"duplicate location", pol, req, []SourcingCandidate{srcLoc("a", 1, nil), srcLoc("a", 2, nil)}, "duplicate candidate location 1"},
		{"bad cut-off", pol, req, []SourcingCandidate{srcLoc("a", 1, nil, srcCutoff("5pm"))}, "location 1 cut-off"},
	}
	for _, tt := range tests {
		_, err := PlanSourcing(tt.pol, tt.req, tt.cands)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: PlanSourcing() error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestFilters(t *testing.T) {
	ab := map[string]int{"A": 5, "B": 5}
	tests := []struct {
		name       string
		filter     string
		req        func(*PlanRequest)
		near       SourcingCandidate // best by distance, fails the filter
		wantReason string
	}{
		{"location_kind", "location_kind: [warehouse, dropship]", nil,
			srcLoc("near", 5, ab, srcKind(rules.LocationStore)), "kind store not in [warehouse, dropship]"},
		{"capability", "capability: [ship, same_day]", nil,
			srcLoc("near", 5, ab), "lacks capability same_day"},
		{"max_distance_km", "max_distance_km: 100", nil,
			srcLoc("near", 150, ab), "distance 150 km > max 100 km"},
		{"max_transit_days", "max_transit_days: 1", nil,
			srcLoc("near", 620, ab), "transit 2 days > max 1 days"},
		{"capacity_left", "capacity_left", nil,
			srcLoc("near", 5, ab, srcCapacity(10, 10)), "no capacity left (10 of 10 orders taken today)"},
		{"all_lines_available", "all_lines_available", nil,
			srcLoc("near", 5, map[string]int{"A": 5, "B": 1}), "cannot fill all lines: B needs 2, 1 available"},
		{"brokering_safety_stock", "brokering_safety_stock: 2", nil,
			srcLoc("near", 5, map[string]int{"A": 3, "B": 3}, srcStock("A", StockLevel{OnHand: 3, SafetyStock: 1})), "0 of 3 units available"},
		{"inactive", "capacity_left", nil,
			srcLoc("near", 5, ab, srcInactive), "inactive"},
		{"excluded", "capacity_left", func(r *PlanRequest) { r.ExcludeLocationIDs = []int64{srcIdOf("near")} },
			srcLoc("near", 5, ab), "excluded by the request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := srcTestPolicy(t, srcPolicyOpts{}, srcGroup{name: "g", unfillable: "backorder",
				filters: []string{tt.filter}, sorts: []string{"{by: distance}"}})
			// far passes every filter: a same-day warehouse 80 km away with spare stock.
			far := srcLoc("far", 80, map[string]int{"A": 9, "B": 9}, srcCaps(rules.CapabilityShip, rules.CapabilitySameDay), srcCapacity(10, 3))
			req := srcShipReq(srcLine("l1", "A", 1), srcLine("l2", "B", 2))
			if tt.req != nil {
				tt.req(&req)
			}
			p := srcPlan(t, pol, req, tt.near, far)
			if got := srcCodes(p); !slices.Equal(got, []string{"far"}) {
				t.Errorf("PlanSourcing() ships from %v, want [far]", got)
			}
			nt := srcTrace(t, p, "g", "near")
			if nt.Passed || !strings.Contains(nt.Why, tt.wantReason) {
				t.Errorf("near trace = passed %v, why %q, want filtered out with %q", nt.Passed, nt.Why, tt.wantReason)
			}
			if ft := srcTrace(t, p, "g", "far"); !ft.Passed || ft.Rank != 1 {
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
		cands []SourcingCandidate
		want  string
	}{
		{"distance asc", []string{"{by: distance}"},
			[]SourcingCandidate{srcLoc("a", 300, both), srcLoc("b", 20, both)}, "b"},
		{"distance desc", []string{"{by: distance, direction: desc}"},
			[]SourcingCandidate{srcLoc("a", 300, both), srcLoc("b", 20, both)}, "a"},
		// a is nearer but past its 09:00 cut-off: ready tomorrow at 10:00; b ships today.
		{"transit_time", []string{"{by: transit_time}"},
			[]SourcingCandidate{srcLoc("a", 20, both, srcCutoff("09:00")), srcLoc("b", 300, both, srcCutoff("17:00"))}, "b"},
		// a is nearer but handling costs 20 there.
		{"shipping_cost", []string{"{by: shipping_cost}"},
			[]SourcingCandidate{srcLoc("a", 20, both, srcHandling(20, 2)), srcLoc("b", 300, both)}, "b"},
		{"margin", []string{"{by: margin}"},
			[]SourcingCandidate{srcLoc("a", 20, both, srcHandling(20, 2)), srcLoc("b", 300, both)}, "b"},
		{"inventory_balance", []string{"{by: inventory_balance}"},
			[]SourcingCandidate{srcLoc("a", 20, map[string]int{"A": 5}), srcLoc("b", 300, map[string]int{"A": 50})}, "b"},
		{"priority asc", []string{"{by: priority}"},
			[]SourcingCandidate{srcLoc("a", 20, both, srcPriority(2)), srcLoc("b", 300, both, srcPriority(1))}, "b"},
		{"priority desc", []string{"{by: priority, direction: desc}"},
			[]SourcingCandidate{srcLoc("a", 20, both, srcPriority(2)), srcLoc("b", 300, both, srcPriority(1))}, "a"},
		{"weights", []string{"{by: distance, weight: 1}", "{by: priority, weight: 3}"},
			[]SourcingCandidate{srcLoc("a", 20, both, srcPriority(2)), srcLoc("b", 300, both, srcPriority(1))}, "b"},
		{"earlier sort breaks score tie", []string{"{by: distance}", "{by: priority}"},
			[]SourcingCandidate{srcLoc("a", 20, both, srcPriority(2)), srcLoc("b", 300, both, srcPriority(1))}, "a"},
		{"tie by location id", []string{"{by: priority}"},
			[]SourcingCandidate{srcLoc("b", 20, both), srcLoc("a", 300, both)}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := srcTestPolicy(t, srcPolicyOpts{}, srcGroup{name: "g", unfillable: "backorder", sorts: tt.sorts})
			p := srcPlan(t, pol, srcShipReq(srcLine("l1", "A", 2)), tt.cands...)
			if got := srcCodes(p); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("PlanSourcing() ships from %v, want [%s]; explanation %+v", got, tt.want, p.Explanation.Groups[0].Candidates)
			}
			tr := srcTrace(t, p, "g", tt.want)
			if tr.Rank != 1 || len(tr.Keys) != len(tt.sorts) {
				t.Errorf("winner trace rank %d, keys %+v, want rank 1 with %d keys", tr.Rank, tr.Keys, len(tt.sorts))
			}
		})
	}
}

func TestSortKeyValues(t *testing.T) {
	pol := srcTestPolicy(t, srcPolicyOpts{}, srcGroup{name: "g", unfillable: "backorder", sorts: []string{
		"{by: distance}", "{by: transit_time}", "{by: shipping_cost}", "{by: margin}", "{by: inventory_balance}", "{by: priority}",
	}})
	c := srcLoc("a", 100, map[string]int{"A": 10}, srcPriority(3), srcHandling(2, 5))
	p := srcPlan(t, pol, srcShipReq(srcLine("l1", "A", 4)), c)
	tr := srcTrace(t, p, "g", "a")
	// shipping 4 + 100 km × 0.01 = 5, handling 2; margin 4 × (10 − 6) − 7 = 9;
	// 6 units left; ready 15:00 today, one transit day: 29 hours.
	want := map[string]float64{"distance": 100, "transit_time": 29, "shipping_cost": 7, "margin": 9, "inventory_balance": 6, "priority": 3}
	for _, k := range tr.Keys {
		if math.Abs(k.Value-want[k.By]) > 1e-6 {
			t.Errorf("sort key %s = %g, want %g", k.By, k.Value, want[k.By])
		}
	}
}
