package sourcing

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/omnitriage/omnitriage/rules"
)

// planner holds one NewPlan call's inputs.
type planner struct {
	pol   *rules.Policy
	req   Request
	cands []Candidate // sorted by id
	skus  []string    // per line, the SKU sourced

	checks []pendingCheck // scratch space of evaluate
}

// groupCand is one candidate location as one rule group sees it.
type groupCand struct {
	loc       *Candidate
	trace     CandidateTrace
	km        float64
	avail     map[string]int // by sourced SKU, after the group's brokering safety stock
	potential []int          // per line, what the location could take alone
	units     int
	fillsAll  bool
	eta       arrival
	late      bool
	keys      []float64 // per group sort, raw values
}

// label names the location in explanations: its code, else its id.
func (c *groupCand) label() string {
	if c.loc.Code != "" {
		return c.loc.Code
	}
	return fmt.Sprintf("#%d", c.loc.ID)
}

// arrival is when a location's shipment is ready and delivered.
type arrival struct {
	ready, promise time.Time
	transitDays    int
}

// draft is a candidate plan: shipments from locations, and what it costs.
type draft struct {
	shipments []draftShipment
	units     int
	complete  bool
	cost      costs
}

type draftShipment struct {
	cand               *groupCand
	take               []int // per line
	units              int
	shipping, handling float64
}

type costs struct {
	shipping, handling, penalty, total float64
}

func (pl *planner) pickup() bool { return pl.req.PickupLocationID != 0 }

func (pl *planner) totalUnits() int {
	n := 0
	for _, l := range pl.req.Lines {
		n += l.Qty
	}
	return n
}

// pendingCheck is a filter's verdict on a candidate whose reason is not yet
// formatted.
type pendingCheck struct {
	name   string
	pass   bool
	format string
	args   []any
}

// evaluate applies the group's filters to every candidate. A candidate that
// passes keeps every check; one that fails keeps the checks it failed.
func (pl *planner) evaluate(g rules.SourcingGroup) (passed, failed []*groupCand) {
	brokering := g.BrokeringSafetyStock()
	for i := range pl.cands {
		loc := &pl.cands[i]
		c := &groupCand{loc: loc, trace: CandidateTrace{LocationID: loc.ID, Code: loc.Code}, avail: map[string]int{}}
		if !pl.pickup() {
			c.km = DistanceKm(*pl.req.ShipTo, loc.Lat, loc.Lon)
		}
		for _, sku := range pl.skus {
			c.avail[sku] = loc.AvailableFor(sku, brokering)
		}
		whole := pl.fill(c.avail, false)
		c.fillsAll = slices.Equal(whole, pl.quantities())
		c.potential = pl.fill(c.avail, g.SplitLines)
		for _, q := range c.potential {
			c.units += q
		}
		c.eta = pl.eta(loc, c.km)
		c.late = !pl.req.PromisedBy.IsZero() && c.eta.promise.After(pl.req.PromisedBy)

		// Reasons are written once the candidate's fate is known: a location
		// that fails keeps only the filters it failed (which say why), so the
		// reasons of the filters it passed are never formatted.
		ok := true
		checks := pl.checks[:0]
		check := func(name string, pass bool, format string, args ...any) {
			checks = append(checks, pendingCheck{name: name, pass: pass, format: format, args: args})
			ok = ok && pass
		}
		check("active", loc.Active, "%s", ifElse(loc.Active, "active", "inactive"))
		if slices.Contains(pl.req.ExcludeLocationIDs, loc.ID) {
			check("exclude", false, "excluded by the request")
		}
		if pl.pickup() {
			if loc.ID != pl.req.PickupLocationID {
				check("pickup", false, "pickup order for location %d", pl.req.PickupLocationID)
			} else {
				has := slices.Contains(loc.Capabilities, rules.CapabilityPickup)
				check("pickup", has, "%s", ifElse(has, "pickup location", "pickup location lacks capability pickup"))
			}
		}
		for _, f := range g.Filters {
			pl.applyFilter(f, c, whole, check)
		}
		check("stock", c.units > 0, "%d of %d units available", c.units, pl.totalUnits())
		for _, p := range checks {
			if ok || !p.pass {
				c.trace.Filters = append(c.trace.Filters, FilterCheck{Filter: p.name, Passed: p.pass, Reason: fmt.Sprintf(p.format, p.args...)})
			}
		}
		pl.checks = checks

		c.trace.Passed, c.trace.FillsAll, c.trace.Late = ok, c.fillsAll, c.late
		if ok {
			passed = append(passed, c)
		} else {
			failed = append(failed, c)
		}
	}
	return passed, failed
}

// applyFilter checks one policy filter; where-and-how filters do not apply to pickup
// orders, whose location the customer chose.
func (pl *planner) applyFilter(f rules.Filter, c *groupCand, whole []int, check func(string, bool, string, ...any)) {
	loc := c.loc
	switch f.Kind {
	case rules.FilterLocationKind, rules.FilterCapability, rules.FilterMaxDistanceKm, rules.FilterMaxTransitDays:
		if pl.pickup() {
			check(f.Kind, true, "not applied to pickup orders")
			return
		}
	}
	switch f.Kind {
	case rules.FilterLocationKind:
		in := slices.Contains(f.Values, loc.Kind)
		check(f.Kind, in, "kind %s %s [%s]", loc.Kind, ifElse(in, "in", "not in"), strings.Join(f.Values, ", "))
	case rules.FilterCapability:
		var missing []string
		for _, v := range f.Values {
			if !slices.Contains(loc.Capabilities, v) {
				missing = append(missing, v)
			}
		}
		if len(missing) > 0 {
			check(f.Kind, false, "lacks capability %s", strings.Join(missing, ", "))
		} else {
			check(f.Kind, true, "has %s", strings.Join(f.Values, ", "))
		}
	case rules.FilterMaxDistanceKm:
		in := c.km <= f.Limit
		check(f.Kind, in, "distance %.0f km %s max %.0f km", c.km, ifElse(in, "≤", ">"), f.Limit)
	case rules.FilterMaxTransitDays:
		in := float64(c.eta.transitDays) <= f.Limit
		check(f.Kind, in, "transit %d days %s max %.0f days", c.eta.transitDays, ifElse(in, "≤", ">"), f.Limit)
	case rules.FilterCapacityLeft:
		if loc.DailyCapacity <= 0 {
			check(f.Kind, true, "no daily capacity limit")
			return
		}
		left := loc.DailyCapacity - loc.OrdersToday
		if left > 0 {
			check(f.Kind, true, "%d of %d orders left today", left, loc.DailyCapacity)
		} else {
			check(f.Kind, false, "no capacity left (%d of %d orders taken today)", loc.OrdersToday, loc.DailyCapacity)
		}
	case rules.FilterAllLinesAvailable:
		if c.fillsAll {
			check(f.Kind, true, "fills all lines")
			return
		}
		var short []string
		for i, l := range pl.req.Lines {
			if whole[i] < l.Qty {
				short = append(short, fmt.Sprintf("%s needs %d, %d available", pl.skus[i], l.Qty, c.avail[pl.skus[i]]))
			}
		}
		check(f.Kind, false, "cannot fill all lines: %s", strings.Join(short, "; "))
	case rules.FilterBrokeringSafetyStock:
		check(f.Kind, true, "holds back %d units per SKU", f.Units)
	}
}

func ifElse[T any](cond bool, yes, no T) T {
	if cond {
		return yes
	}
	return no
}

func (pl *planner) quantities() []int {
	q := make([]int, len(pl.req.Lines))
	for i, l := range pl.req.Lines {
		q[i] = l.Qty
	}
	return q
}

// fill is what one location can take of each line from avail, lines in order, sharing
// stock between lines of the same SKU. partial lets a line take less than its quantity.
func (pl *planner) fill(avail map[string]int, partial bool) []int {
	rem := maps.Clone(avail)
	out := make([]int, len(pl.req.Lines))
	for i, l := range pl.req.Lines {
		sku := pl.skus[i]
		switch r := rem[sku]; {
		case r >= l.Qty:
			out[i] = l.Qty
		case partial:
			out[i] = r
		}
		rem[sku] -= out[i]
	}
	return out
}

// eta estimates a shipment from loc: handling starts now, or at the policy's handling
// start on the next local day when now is past the location's cut-off; the shipment is
// ready after the handling hours and arrives after the transit days.
func (pl *planner) eta(loc *Candidate, km float64) arrival {
	tz := loc.TZ
	if tz == nil {
		tz = time.UTC
	}
	local := pl.req.Now.In(tz)
	start := local
	if h, m, err := rules.ParseClock(loc.Cutoff); err == nil {
		y, mo, d := local.Date()
		if local.After(time.Date(y, mo, d, h, m, 0, 0, tz)) {
			sh, sm := pl.pol.Sourcing.Scoring.HandlingStartClock()
			start = time.Date(y, mo, d+1, sh, sm, 0, 0, tz)
		}
	}
	hours := loc.HandlingHours
	if hours <= 0 {
		hours = pl.pol.Sourcing.Scoring.DefaultHandlingHours
	}
	e := arrival{ready: start.Add(time.Duration(hours * float64(time.Hour)))}
	if !pl.pickup() {
		e.transitDays = pl.pol.Sourcing.Scoring.TransitDays(pl.req.ServiceLevel, km)
	}
	e.promise = e.ready.AddDate(0, 0, e.transitDays)
	return e
}

// shippingCost prices one shipment of units over km: a base cost plus distance, with a
// weight term. Pickups ship nothing.
func (pl *planner) shippingCost(km float64, units int) float64 {
	if pl.pickup() {
		return 0
	}
	s := pl.pol.Sourcing.Scoring
	kg := float64(units) * s.UnitWeightKg
	return s.ShipmentBaseCost + km*(s.CostPerKm+s.CostPerKgKm*kg)
}

func (pl *planner) handlingCost(loc *Candidate) float64 {
	if loc.HandlingCost > 0 {
		return loc.HandlingCost
	}
	return pl.pol.Sourcing.Scoring.DefaultHandlingCost
}

// sortValue is a candidate's raw value for one sort key, for what it could take alone.
func (pl *planner) sortValue(by string, c *groupCand) float64 {
	cost := pl.shippingCost(c.km, c.units) + pl.handlingCost(c.loc)
	switch by {
	case rules.SortDistance:
		return c.km
	case rules.SortTransitTime:
		return c.eta.promise.Sub(pl.req.Now).Hours()
	case rules.SortShippingCost:
		return cost
	case rules.SortMargin:
		m := -cost
		for i, l := range pl.req.Lines {
			m += float64(c.potential[i]) * (l.UnitPrice - l.UnitCost)
		}
		return m
	case rules.SortInventoryBalance:
		left := 0
		for _, a := range c.avail {
			left += a
		}
		return float64(left - c.units)
	case rules.SortPriority:
		return float64(c.loc.Priority)
	}
	return 0
}

// rank scores and orders the passed candidates. Each sort key is scaled to [0, 1] over
// the candidates (1 is best in the key's direction) and weighted; the score is the sum.
// Locations that meet PromisedBy come first; ties fall to the sort keys in order, then
// to the location id.
func (pl *planner) rank(g rules.SourcingGroup, cs []*groupCand) {
	const eps = 1e-9
	for _, c := range cs {
		c.keys = make([]float64, len(g.Sorts))
		for k, s := range g.Sorts {
			c.keys[k] = pl.sortValue(s.By, c)
		}
	}
	for k, s := range g.Sorts {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, c := range cs {
			lo, hi = min(lo, c.keys[k]), max(hi, c.keys[k])
		}
		for _, c := range cs {
			norm := 1.0
			if hi-lo > eps {
				norm = (c.keys[k] - lo) / (hi - lo)
				if s.Direction == rules.Asc {
					norm = 1 - norm
				}
			}
			contrib := s.Weight * norm
			c.trace.Score += contrib
			c.trace.Keys = append(c.trace.Keys, SortKeyValue{By: s.By, Direction: s.Direction, Weight: s.Weight, Value: c.keys[k], Contribution: contrib})
		}
	}
	slices.SortStableFunc(cs, func(a, b *groupCand) int {
		if a.late != b.late {
			return ifElse(a.late, 1, -1)
		}
		if d := b.trace.Score - a.trace.Score; math.Abs(d) > eps {
			return ifElse(d > 0, 1, -1)
		}
		for k, s := range g.Sorts {
			d := a.keys[k] - b.keys[k]
			if math.Abs(d) <= eps {
				continue
			}
			if s.Direction == rules.Desc {
				d = -d
			}
			return ifElse(d > 0, 1, -1)
		}
		return cmp.Compare(a.loc.ID, b.loc.ID)
	})
	for i, c := range cs {
		c.trace.Rank = i + 1
	}
}

// singleDraft ships the whole order from c.
func (pl *planner) singleDraft(c *groupCand) *draft {
	return pl.finish(&draft{shipments: []draftShipment{{cand: c, take: pl.quantities()}}})
}

// greedyDraft splits down the ranking: each location takes what it can of what is
// left, whole lines only unless the group lets lines split, up to MaxShipments.
func (pl *planner) greedyDraft(g rules.SourcingGroup, ranked []*groupCand) *draft {
	rem := pl.quantities()
	d := &draft{}
	for _, c := range ranked {
		if g.MaxShipments > 0 && len(d.shipments) == g.MaxShipments {
			break
		}
		avail := maps.Clone(c.avail)
		take := make([]int, len(rem))
		took := false
		for i := range rem {
			sku := pl.skus[i]
			switch a := avail[sku]; {
			case rem[i] == 0:
			case a >= rem[i]:
				take[i] = rem[i]
			case g.SplitLines:
				take[i] = a
			}
			avail[sku] -= take[i]
			rem[i] -= take[i]
			took = took || take[i] > 0
		}
		if took {
			d.shipments = append(d.shipments, draftShipment{cand: c, take: take})
		}
		if slices.Max(rem) == 0 {
			break
		}
	}
	return pl.finish(d)
}

// partialDraft ships from the one location that can take the most units (rank breaks
// ties), for a backorder.
func (pl *planner) partialDraft(ranked []*groupCand) *draft {
	var best *groupCand
	for _, c := range ranked {
		if best == nil || c.units > best.units {
			best = c
		}
	}
	if best == nil {
		return nil
	}
	return pl.finish(&draft{shipments: []draftShipment{{cand: best, take: slices.Clone(best.potential)}}})
}

// finish totals a draft's units and costs.
func (pl *planner) finish(d *draft) *draft {
	d.units = 0
	d.cost = costs{}
	for i := range d.shipments {
		s := &d.shipments[i]
		s.units = 0
		for _, q := range s.take {
			s.units += q
		}
		s.shipping = pl.shippingCost(s.cand.km, s.units)
		s.handling = pl.handlingCost(s.cand.loc)
		d.units += s.units
		d.cost.shipping += s.shipping
		d.cost.handling += s.handling
	}
	if n := len(d.shipments); n > 1 {
		d.cost.penalty = pl.pol.Sourcing.Scoring.SplitShipmentPenalty * float64(n-1)
	}
	d.cost.total = d.cost.shipping + d.cost.handling + d.cost.penalty
	d.complete = d.units == pl.totalUnits()
	return d
}

// describe renders a draft for the explanation.
func (pl *planner) describe(d *draft) string {
	parts := make([]string, len(d.shipments))
	for i, s := range d.shipments {
		parts[i] = fmt.Sprintf("%s (%d units)", s.cand.label(), s.units)
	}
	kind := "single location"
	if len(d.shipments) > 1 {
		kind = "split"
	}
	out := fmt.Sprintf("%s %s, cost %.2f", kind, strings.Join(parts, " + "), d.cost.total)
	if d.cost.penalty > 0 {
		out += fmt.Sprintf(" incl. split penalty %.2f", d.cost.penalty)
	}
	if !d.complete {
		out += fmt.Sprintf(", fills %d of %d units", d.units, pl.totalUnits())
	}
	return out
}

// traces lists the group's candidates, passed best first then filtered by id, marking
// the chosen ones.
func (pl *planner) traces(passed, failed []*groupCand, chosen *draft, why string) []CandidateTrace {
	out := make([]CandidateTrace, 0, len(passed)+len(failed))
	picked := map[*groupCand]string{}
	if chosen != nil {
		for i, s := range chosen.shipments {
			picked[s.cand] = why
			if len(chosen.shipments) > 1 {
				picked[s.cand] = fmt.Sprintf("shipment %d of %d, %d units: %s", i+1, len(chosen.shipments), s.units, why)
			}
		}
	}
	for _, c := range passed {
		t := c.trace
		if w, ok := picked[c]; ok {
			t.Chosen, t.Why = true, w
		} else if chosen != nil {
			t.Why = fmt.Sprintf("not chosen: rank %d, can take %d of %d units", t.Rank, c.units, pl.totalUnits())
		}
		out = append(out, t)
	}
	for _, c := range failed {
		t := c.trace
		var reasons []string
		for _, f := range t.Filters {
			if !f.Passed {
				reasons = append(reasons, f.Reason)
			}
		}
		t.Why = "filtered out: " + strings.Join(reasons, "; ")
		out = append(out, t)
	}
	return out
}

// DistanceKm is the great-circle distance from p to lat/lon in km: the distance the
// planner filters, ranks and prices by.
func DistanceKm(p GeoPoint, lat, lon float64) float64 {
	const earthKm = 6371.0088
	rad := func(d float64) float64 { return d * math.Pi / 180 }
	dLat, dLon := rad(lat-p.Lat), rad(lon-p.Lon)
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(rad(p.Lat))*math.Cos(rad(lat))*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthKm * math.Asin(math.Min(1, math.Sqrt(h)))
}
