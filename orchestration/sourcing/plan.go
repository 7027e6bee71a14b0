package sourcing

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omnitriage/omnitriage/rules"
)

// GeoPoint is a latitude/longitude in degrees.
type GeoPoint struct {
	Lat, Lon float64
}

// Line is one order line to source.
type Line struct {
	LineID    string
	SKU       string
	Qty       int
	UnitPrice float64
	UnitCost  float64
}

// Request is what the planner sources: exactly one of ShipTo and PickupLocationID.
type Request struct {
	Channel string
	// ShipTo is the delivery point of a shipped order.
	ShipTo *GeoPoint
	// PickupLocationID, when not 0, makes the order a pickup order: only that location
	// may source it.
	PickupLocationID int64
	// ServiceLevel is rules.ServiceStandard, ServiceExpress or ServiceSameDay; empty
	// means standard.
	ServiceLevel string
	Lines        []Line
	// ExcludeLocationIDs are never used (for example the location a reroute leaves).
	ExcludeLocationIDs []int64
	// Substitutes forces a SKU to be sourced as another (ordered SKU -> sourced SKU).
	Substitutes map[string]string
	// Now is the planning instant; promise dates count from it.
	Now time.Time
	// PromisedBy, when set, ranks locations that meet it ahead of those that do not.
	PromisedBy time.Time
}

// Validate reports what is wrong with the request, naming each bad field.
func (r Request) Validate() error {
	var errs []error
	if r.Channel == "" {
		errs = append(errs, errors.New("channel: required"))
	}
	switch {
	case r.ShipTo == nil && r.PickupLocationID == 0:
		errs = append(errs, errors.New("ship_to: a ship-to point or a pickup location is required"))
	case r.ShipTo != nil && r.PickupLocationID != 0:
		errs = append(errs, errors.New("pickup_location_id: an order is either shipped or picked up, not both"))
	case r.ShipTo != nil && (r.ShipTo.Lat < -90 || r.ShipTo.Lat > 90 || r.ShipTo.Lon < -180 || r.ShipTo.Lon > 180):
		errs = append(errs, fmt.Errorf("ship_to: %g,%g is not a latitude/longitude", r.ShipTo.Lat, r.ShipTo.Lon))
	}
	if r.ServiceLevel != "" && !slices.Contains(rules.ServiceLevels(), r.ServiceLevel) {
		errs = append(errs, fmt.Errorf("service_level: unknown %q (want one of %s)", r.ServiceLevel, strings.Join(rules.ServiceLevels(), ", ")))
	}
	if len(r.Lines) == 0 {
		errs = append(errs, errors.New("lines: at least one line is required"))
	}
	seen := map[string]bool{}
	for i, l := range r.Lines {
		switch {
		case l.LineID == "":
			errs = append(errs, fmt.Errorf("lines[%d].line_id: required", i))
		case seen[l.LineID]:
			errs = append(errs, fmt.Errorf("lines[%d].line_id: duplicate %q", i, l.LineID))
		}
		seen[l.LineID] = true
		if l.SKU == "" {
			errs = append(errs, fmt.Errorf("lines[%d].sku: required", i))
		}
		if l.Qty <= 0 {
			errs = append(errs, fmt.Errorf("lines[%d].qty: must be positive, got %d", i, l.Qty))
		}
		if l.UnitPrice < 0 || l.UnitCost < 0 {
			errs = append(errs, fmt.Errorf("lines[%d]: prices must not be negative", i))
		}
	}
	if r.Now.IsZero() {
		errs = append(errs, errors.New("now: required"))
	}
	return errors.Join(errs...)
}

// StockLevel is one SKU's stock at one location.
type StockLevel struct {
	OnHand      int
	Reserved    int
	SafetyStock int
}

// Available is the quantity the planner may assign from st when the rule group holds
// back brokeringSafetyStock more units: on hand − reserved − safety stock − brokering
// safety stock, never below zero. The store uses the same function to re-check a plan
// against the rows it locks.
func Available(st StockLevel, brokeringSafetyStock int) int {
	return max(0, st.OnHand-st.Reserved-st.SafetyStock-brokeringSafetyStock)
}

// Candidate is a location the planner may source from, with its stock of the
// ordered (and substitute) SKUs.
type Candidate struct {
	ID     int64  // must not be 0
	Code   string // names the location in explanations
	Kind   string // rules.LocationStore, LocationWarehouse, LocationDropship, LocationDarkStore
	Region string
	Lat    float64
	Lon    float64
	// Capabilities are rules.CapabilityShip, CapabilityPickup, CapabilitySameDay.
	Capabilities []string
	// DailyCapacity is the orders the location can take per day; 0 means no limit.
	DailyCapacity int
	OrdersToday   int
	// HandlingCost per shipment and HandlingHours; 0 takes the policy default.
	HandlingCost  float64
	HandlingHours float64
	// Cutoff is the local "HH:MM" after which handling starts the next day; "" means none.
	Cutoff string
	// TZ is the location's time zone (time.FixedZone for a bare offset); nil means UTC.
	TZ *time.Location
	// Priority is ranked by the "priority" sort (ascending by default: 1 before 2).
	Priority int
	Active   bool
	// Stock is keyed by SKU; a missing SKU has nothing available.
	Stock map[string]StockLevel
}

// AvailableFor is Available for sku at the location.
func (c Candidate) AvailableFor(sku string, brokeringSafetyStock int) int {
	return Available(c.Stock[sku], brokeringSafetyStock)
}

// Plan is the planner's answer.
type Plan struct {
	// RuleGroup is the rule group that produced the plan; "" when every group passed the
	// order on and the policy's fallback applied.
	RuleGroup     string         `json:"rule_group"`
	PolicyVersion string         `json:"policy_version"`
	Assignments   []Assignment   `json:"assignments"`
	Unfilled      []UnfilledLine `json:"unfilled,omitempty"`
	// Shipments has one entry per sourcing location, in assignment order.
	Shipments []Shipment `json:"shipments,omitempty"`
	// BrokeringSafetyStock is what the rule group held back; pass it to Available when
	// re-checking assignments.
	BrokeringSafetyStock int         `json:"brokering_safety_stock,omitempty"`
	ShippingCost         float64     `json:"shipping_cost,omitempty"`
	HandlingCost         float64     `json:"handling_cost,omitempty"`
	SplitPenalty         float64     `json:"split_penalty,omitempty"`
	TotalCost            float64     `json:"total_cost,omitempty"` // shipping + handling + split penalty
	Revenue              float64     `json:"revenue,omitempty"`    // of the assigned quantities
	Margin               float64     `json:"margin,omitempty"`     // revenue − unit cost of assigned quantities − TotalCost
	Explanation          Explanation `json:"explanation,omitempty"`
}

// Assignment is a quantity of one line sourced from one location.
type Assignment struct {
	LineID     string `json:"line_id,omitempty"`
	SKU        string `json:"sku,omitempty"`         // the SKU sourced (after a forced substitute)
	OrderedSKU string `json:"ordered_sku,omitempty"` // the SKU on the line
	LocationID int64  `json:"location_id,omitempty"`
	Qty        int    `json:"qty,omitempty"`
}

// UnfilledLine is a quantity the plan could not source and what happens to it.
type UnfilledLine struct {
	LineID string `json:"line_id,omitempty"`
	SKU    string `json:"sku,omitempty"`
	Qty    int    `json:"qty,omitempty"`
	Action string `json:"action,omitempty"` // rules.UnfillableBackorder or rules.UnfillableReject
	Reason string `json:"reason,omitempty"`
}

// Shipment is what one location sends.
type Shipment struct {
	LocationID   int64     `json:"location_id,omitempty"`
	Units        int       `json:"units,omitempty"`
	DistanceKm   float64   `json:"distance_km,omitempty"`
	TransitDays  int       `json:"transit_days,omitempty"`
	ReadyAt      time.Time `json:"ready_at,omitempty"`     // handling done, in the location's time zone
	PromiseDate  time.Time `json:"promise_date,omitempty"` // estimated delivery (or pickup readiness)
	Late         bool      `json:"late,omitempty"`         // PromiseDate is after the request's PromisedBy
	ShippingCost float64   `json:"shipping_cost,omitempty"`
	HandlingCost float64   `json:"handling_cost,omitempty"`
}

// Complete reports whether every line was sourced in full.
func (p Plan) Complete() bool { return len(p.Unfilled) == 0 }

// LocationIDs lists the plan's sourcing locations in shipment order.
func (p Plan) LocationIDs() []int64 {
	ids := make([]int64, len(p.Shipments))
	for i, s := range p.Shipments {
		ids[i] = s.LocationID
	}
	return ids
}

// Explanation records why the planner chose what it chose, group by group.
type Explanation struct {
	Groups  []GroupTrace `json:"groups,omitempty"`
	Summary string       `json:"summary,omitempty"`
}

// GroupTrace is one rule group the planner tried.
type GroupTrace struct {
	Group      string `json:"group,omitempty"`
	Unfillable string `json:"unfillable,omitempty"`
	// Candidates lists the locations that passed, best first, then those filtered out,
	// by id.
	Candidates []CandidateTrace `json:"candidates,omitempty"`
	Single     string           `json:"single,omitempty"` // the best single-location plan, if any
	Split      string           `json:"split,omitempty"`  // the greedy split plan, if the group allows splitting
	Outcome    string           `json:"outcome,omitempty"`
	Used       bool             `json:"used,omitempty"` // this group produced the plan
}

// CandidateTrace is one location as one rule group saw it.
type CandidateTrace struct {
	LocationID int64          `json:"location_id,omitempty"`
	Code       string         `json:"code,omitempty"`
	Passed     bool           `json:"passed,omitempty"`
	Filters    []FilterCheck  `json:"filters,omitempty"`
	Keys       []SortKeyValue `json:"keys,omitempty"`
	Score      float64        `json:"score,omitempty"`
	Rank       int            `json:"rank,omitempty"` // 1 is best; 0 when filtered out
	FillsAll   bool           `json:"fills_all,omitempty"`
	Late       bool           `json:"late,omitempty"`
	Chosen     bool           `json:"chosen,omitempty"`
	Why        string         `json:"why,omitempty"`
}

// FilterCheck is one filter's verdict on one location.
type FilterCheck struct {
	Filter string `json:"filter,omitempty"`
	Passed bool   `json:"passed,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// SortKeyValue is one sort key of one location and its share of the score.
type SortKeyValue struct {
	By           string  `json:"by,omitempty"`
	Direction    string  `json:"direction,omitempty"`
	Weight       float64 `json:"weight,omitempty"`
	Value        float64 `json:"value,omitempty"`
	Contribution float64 `json:"contribution,omitempty"`
}

// NewPlan sources req from cands under pol. Matching rule groups are tried in
// order: each filters and ranks the candidates, prefers one location that fills the
// whole order, otherwise (if it may) splits greedily down the ranking, comparing total
// cost including the split penalty with the best single location; when neither fills the
// order the group's unfillable action decides. Ties break by location id, so equal
// inputs always give equal plans.
func NewPlan(pol *rules.Policy, req Request, cands []Candidate) (Plan, error) {
	if pol == nil {
		return Plan{}, errors.New("NewPlan: nil policy")
	}
	if err := req.Validate(); err != nil {
		return Plan{}, fmt.Errorf("NewPlan: invalid request: %w", err)
	}
	if req.ServiceLevel == "" {
		req.ServiceLevel = rules.ServiceStandard
	}
	sorted := slices.Clone(cands)
	slices.SortFunc(sorted, func(a, b Candidate) int { return cmp.Compare(a.ID, b.ID) })
	for i, c := range sorted {
		switch {
		case c.ID == 0:
			return Plan{}, fmt.Errorf("NewPlan: candidate location %q without an id", c.Code)
		case i > 0 && c.ID == sorted[i-1].ID:
			return Plan{}, fmt.Errorf("NewPlan: duplicate candidate location %d", c.ID)
		}
		if c.Cutoff != "" {
			if _, _, err := rules.ParseClock(c.Cutoff); err != nil {
				return Plan{}, fmt.Errorf("NewPlan: location %d cut-off: %w", c.ID, err)
			}
		}
	}

	pl := &planner{pol: pol, req: req, cands: sorted, skus: sourcedSKUs(req)}
	var ex Explanation
	for _, g := range pol.Sourcing.GroupsFor(req.Channel, req.ServiceLevel) {
		res := pl.tryGroup(g)
		ex.Groups = append(ex.Groups, res.trace)
		if res.plan == nil {
			continue
		}
		plan := *res.plan
		ex.Groups[len(ex.Groups)-1].Used = true
		ex.Summary = res.summary
		plan.Explanation = ex
		return plan, nil
	}
	plan := pl.unfilledPlan(rules.SourcingGroup{}, pol.Sourcing.Fallback,
		fmt.Sprintf("no rule group for channel %q could source the order; fallback %s", req.Channel, pol.Sourcing.Fallback))
	ex.Summary = plan.Unfilled[0].Reason
	plan.Explanation = ex
	return plan, nil
}

// sourcedSKUs is the SKU each line is sourced as, after forced substitutes.
func sourcedSKUs(req Request) []string {
	out := make([]string, len(req.Lines))
	for i, l := range req.Lines {
		out[i] = l.SKU
		if s, ok := req.Substitutes[l.SKU]; ok && s != "" {
			out[i] = s
		}
	}
	return out
}

// costEpsilon absorbs float rounding when comparing plan costs, so that an exact tie
// keeps the single shipment.
const costEpsilon = 1e-6

// groupResult is what trying one rule group gives: a plan, or nil to go on.
type groupResult struct {
	plan    *Plan
	trace   GroupTrace
	summary string
}

// tryGroup runs one rule group: filter, rank, plan, and apply the unfillable action.
func (pl *planner) tryGroup(g rules.SourcingGroup) groupResult {
	tr := GroupTrace{Group: g.Name, Unfillable: g.Unfillable}
	passed, failed := pl.evaluate(g)
	pl.rank(g, passed)

	var single, greedy *draft
	for _, c := range passed {
		if c.fillsAll {
			single = pl.singleDraft(c)
			tr.Single = pl.describe(single)
			break
		}
	}
	bestFillsAll := single != nil && single.shipments[0].cand == passed[0]
	if g.AllowsSplit() && !pl.pickup() && !bestFillsAll {
		greedy = pl.greedyDraft(g, passed)
		tr.Split = pl.describe(greedy)
	}

	// ship uses d; stop leaves every line unfilled with action.
	ship := func(d *draft, why string) groupResult {
		tr.Outcome = "chosen: " + pl.describe(d) + " — " + why
		tr.Candidates = pl.traces(passed, failed, d, why)
		plan := pl.buildPlan(g, d, why)
		return groupResult{plan: &plan, trace: tr, summary: "group " + g.Name + ": " + tr.Outcome}
	}
	stop := func(action, reason string) groupResult {
		tr.Outcome = reason
		tr.Candidates = pl.traces(passed, failed, nil, "")
		plan := pl.unfilledPlan(g, action, reason)
		return groupResult{plan: &plan, trace: tr, summary: "group " + g.Name + ": " + reason}
	}

	splitDone := greedy != nil && greedy.complete
	switch {
	case bestFillsAll:
		return ship(single, "the best-ranked location fills the whole order")
	case single != nil && splitDone && greedy.cost.total < single.cost.total-costEpsilon:
		return ship(greedy, fmt.Sprintf("split costs %.2f (penalty %.2f included), less than %.2f from %s alone",
			greedy.cost.total, greedy.cost.penalty, single.cost.total, single.shipments[0].cand.label()))
	case single != nil && splitDone:
		return ship(single, fmt.Sprintf("one shipment costs %.2f, no more than the split's %.2f (penalty %.2f included)",
			single.cost.total, greedy.cost.total, greedy.cost.penalty))
	case single != nil:
		return ship(single, "the best-ranked location that fills the whole order")
	case splitDone:
		return ship(greedy, "no single location fills the order; split down the ranking")
	}

	short := "no single location fills the order"
	switch {
	case len(passed) == 0:
		short = "no location passed the filters"
	case greedy != nil:
		short += fmt.Sprintf("; split fills %d of %d units", greedy.units, pl.totalUnits())
	}
	switch g.Unfillable {
	case rules.UnfillableBackorder:
		partial := pl.partialDraft(passed)
		if partial == nil || partial.units == 0 {
			return stop(rules.UnfillableBackorder, short+"; backordered")
		}
		return ship(partial, fmt.Sprintf("%s; %s ships the most (%d units), the rest is backordered",
			short, partial.shipments[0].cand.label(), partial.units))
	case rules.UnfillableReject:
		return stop(rules.UnfillableReject, short+"; order rejected")
	}
	tr.Outcome = short + "; trying the next group"
	tr.Candidates = pl.traces(passed, failed, nil, "")
	return groupResult{trace: tr}
}

// unfilledPlan leaves every line unfilled with action.
func (pl *planner) unfilledPlan(g rules.SourcingGroup, action, reason string) Plan {
	p := Plan{RuleGroup: g.Name, PolicyVersion: pl.pol.Version, BrokeringSafetyStock: g.BrokeringSafetyStock()}
	for i, l := range pl.req.Lines {
		p.Unfilled = append(p.Unfilled, UnfilledLine{LineID: l.LineID, SKU: pl.skus[i], Qty: l.Qty, Action: action, Reason: reason})
	}
	return p
}

// buildPlan turns the chosen draft into a Plan; what it does not cover is backordered.
func (pl *planner) buildPlan(g rules.SourcingGroup, d *draft, why string) Plan {
	p := Plan{RuleGroup: g.Name, PolicyVersion: pl.pol.Version, BrokeringSafetyStock: g.BrokeringSafetyStock()}
	filled := make([]int, len(pl.req.Lines))
	for _, s := range d.shipments {
		for i, q := range s.take {
			if q == 0 {
				continue
			}
			l := pl.req.Lines[i]
			p.Assignments = append(p.Assignments, Assignment{LineID: l.LineID, SKU: pl.skus[i], OrderedSKU: l.SKU, LocationID: s.cand.loc.ID, Qty: q})
			filled[i] += q
			p.Revenue += float64(q) * l.UnitPrice
			p.Margin += float64(q) * (l.UnitPrice - l.UnitCost)
		}
		p.Shipments = append(p.Shipments, Shipment{
			LocationID: s.cand.loc.ID, Units: s.units, DistanceKm: s.cand.km, TransitDays: s.cand.eta.transitDays,
			ReadyAt: s.cand.eta.ready, PromiseDate: s.cand.eta.promise, Late: s.cand.late,
			ShippingCost: s.shipping, HandlingCost: s.handling,
		})
	}
	for i, l := range pl.req.Lines {
		if rest := l.Qty - filled[i]; rest > 0 {
			p.Unfilled = append(p.Unfilled, UnfilledLine{LineID: l.LineID, SKU: pl.skus[i], Qty: rest,
				Action: rules.UnfillableBackorder, Reason: why})
		}
	}
	p.ShippingCost, p.HandlingCost, p.SplitPenalty, p.TotalCost = d.cost.shipping, d.cost.handling, d.cost.penalty, d.cost.total
	p.Margin -= p.TotalCost
	return p
}
