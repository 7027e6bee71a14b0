package triage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/orchestration/sourcing"
	"github.com/omnitriage/omnitriage/rules"
)

// Candidate is one fix for a case, with its parameters and what it is
// expected to achieve.
type Candidate struct {
	Action         string         `json:"action"`
	Params         map[string]any `json:"params"`
	ExpectedEffect string         `json:"expected_effect"`
	// Feasible is false when validation showed the fix cannot work (no
	// location can fill the lines, the order is cancelled…).
	Feasible bool `json:"feasible"`
	// Check says how the fix was validated: orchestration's what-if
	// sourcing, the order's state, or "not checked" when omnitriage does
	// not hold the order.
	Check string `json:"check"`
}

const checkAdvisory = "not checked: the order is not in omnitriage"

// rankCandidates builds a candidate for each of the cause's actions, best
// first: the cause's order, feasible ones ahead of the rest.
func (s *Service) rankCandidates(ctx context.Context, cc *caseContext, cause Cause) ([]Candidate, error) {
	var sourcing *sourcingCheck
	out := make([]Candidate, 0, len(cause.Actions))
	for _, a := range cause.Actions {
		c := Candidate{Action: a, Params: maps.Clone(cause.Params[a]), Feasible: true}
		if c.Params == nil {
			c.Params = map[string]any{}
		}
		if cc.order != nil && len(cc.lines) > 0 && needsLines(a) {
			c.Params["line_ids"], c.Params["lines"] = lineIDs(cc.lines), lineNumbers(cc.lines)
		}
		switch a {
		case rules.ActionReroute, rules.ActionSplit:
			if sourcing == nil {
				sc, err := s.checkSourcing(ctx, cc, c.Params["purpose"] == "replacement shipment")
				if err != nil {
					return nil, err
				}
				sourcing = &sc
			}
			sourcing.apply(&c)
		case rules.ActionSubstitute:
			if err := s.checkSubstitute(ctx, cc, &c); err != nil {
				return nil, err
			}
		case rules.ActionRelease:
			checkOrderAction(cc, &c)
			checkFraudRelease(cc, s.policy().Limits.Fraud, &c)
		default:
			checkOrderAction(cc, &c)
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		switch {
		case a.Feasible && !b.Feasible:
			return -1
		case !a.Feasible && b.Feasible:
			return 1
		}
		return 0
	})
	return out, nil
}

// checkState asks the applier, best first, whether the core would accept
// each feasible fix in the order's current state, until one passes. A fix
// the core would refuse is marked infeasible with the refusal, and the
// candidates are ranked again, so the one offered is one the core accepts;
// when none is, the case goes to a person saying why.
func (s *Service) checkState(ctx context.Context, exc orchestration.Exception, cands []Candidate) error {
	sv, ok := s.applier.(StateValidator)
	if !ok || exc.OrderID == nil {
		return nil
	}
	refused := false
	for i := range cands {
		c := &cands[i]
		if !c.Feasible {
			continue
		}
		err := sv.ValidateState(ctx, Command{ID: "whatif", ExceptionID: exc.ID, OrderID: exc.OrderID, Action: c.Action,
			Params: c.Params, Actor: "triage:check"})
		if err == nil {
			break
		}
		if !errors.Is(err, derrors.Conflict) && !errors.Is(err, derrors.Invalid) && !errors.Is(err, derrors.NotFound) {
			return fmt.Errorf("checking %s against the order's state: %w", c.Action, err)
		}
		c.Feasible, c.Check, refused = false, "core what-if in the order's current state", true
		c.ExpectedEffect = "nothing: the core would refuse it now (" + err.Error() + ")"
	}
	if refused {
		slices.SortStableFunc(cands, func(a, b Candidate) int {
			switch {
			case a.Feasible && !b.Feasible:
				return -1
			case !a.Feasible && b.Feasible:
				return 1
			}
			return 0
		})
	}
	return nil
}

// needsLines reports whether action works on order lines.
func needsLines(action string) bool {
	switch action {
	case rules.ActionReroute, rules.ActionSplit, rules.ActionSubstitute, rules.ActionCancelLines, rules.ActionRefund:
		return true
	}
	return false
}

// checkOrderAction fills in and validates the actions that need no
// sourcing: notify, compensate, hold, release, retry, refund and cancels.
func checkOrderAction(cc *caseContext, c *Candidate) {
	o := cc.order
	c.Check = "order state"
	switch {
	case c.Action == rules.ActionRetry:
		if !hasParam(c.Params, "step") {
			c.Params["step"] = firstNonEmpty(cc.exc.Endpoint, cc.exc.Code, cc.exc.Kind)
		}
		c.ExpectedEffect = "the failed step is repeated"
		if hasParam(c.Params, "step") {
			c.ExpectedEffect = fmt.Sprintf("the failed step (%v) is repeated", c.Params["step"])
		}
		if b, ok := c.Params["backoff_seconds"]; ok {
			c.ExpectedEffect += fmt.Sprintf(" after %v s", b)
		}
		c.Check = "idempotent retry of the failed step"
		return
	case o == nil:
		c.Check = checkAdvisory
	case o.Status == orchestration.StatusCancelled:
		c.Feasible, c.ExpectedEffect = false, "nothing: the order is cancelled"
		return
	}
	value, cur := cc.orderValue(), cc.currency()
	switch c.Action {
	case rules.ActionNotify:
		if !hasParam(c.Params, "template") {
			c.Params["template"] = "exception_update"
		}
		if ch := cc.channel(); ch != "" {
			c.Params["channel"] = ch
		}
		c.ExpectedEffect = fmt.Sprintf("the customer gets the %q message", c.Params["template"])
	case rules.ActionCompensate:
		amount := math.Round(math.Max(5, 0.1*value)*100) / 100
		c.Params["amount"], c.Params["currency"], c.Params["kind"] = amount, cur, "credit"
		c.ExpectedEffect = fmt.Sprintf("a goodwill credit of %.2f %s", amount, cur)
	case rules.ActionHold:
		if !hasParam(c.Params, "hours") {
			c.Params["hours"] = 24
		}
		c.ExpectedEffect = fmt.Sprintf("the order waits up to %v hours", c.Params["hours"])
		if reason, ok := c.Params["reason"].(string); ok && reason != "" {
			c.ExpectedEffect += " (" + reason + ")"
		}
	case rules.ActionRelease:
		c.ExpectedEffect = "the order continues to fulfilment"
	case rules.ActionRefund:
		amount := refundAmount(cc)
		c.Params["amount"], c.Params["currency"] = amount, cur
		c.ExpectedEffect = fmt.Sprintf("a refund of %.2f %s", amount, cur)
	case rules.ActionCancelLines:
		if o != nil && len(cc.lines) == 0 {
			c.Feasible, c.ExpectedEffect = false, "nothing: no open lines"
			return
		}
		c.ExpectedEffect = fmt.Sprintf("%d line(s) cancelled and their reservations released", len(cc.lines))
	case rules.ActionCancelOrder:
		c.ExpectedEffect = fmt.Sprintf("the order (%.2f %s) is cancelled and its stock released", value, cur)
	}
}

// hasParam reports whether params gives key a value: present, not null and
// not the empty string.
func hasParam(params map[string]any, key string) bool {
	v, ok := params[key]
	return ok && v != nil && v != ""
}

// checkFraudRelease makes releasing a fraud hold infeasible as a fix when
// the screening put the score above the review band: such an order is
// released by a person who has looked, never recommended as the fix.
func checkFraudRelease(cc *caseContext, f rules.FraudLimits, c *Candidate) {
	if cc.exc.Kind != orchestration.KindFraudReview || !c.Feasible {
		return
	}
	switch band := cc.fraudBand(f); band {
	case rules.FraudEscalate, rules.FraudCancel:
		score, _ := cc.fraudScore()
		c.Feasible, c.Check = false, "fraud band"
		c.ExpectedEffect = fmt.Sprintf("not offered: fraud score %.2f is in the %s band (review ends at %.2f); a person must clear the order",
			score, band, f.ReviewHigh)
	}
}

// refundAmount is what a refund for the case would pay back: what the
// reporter says, else the affected lines' value, else the order's.
func refundAmount(cc *caseContext) float64 {
	if cc.extra.RefundAmount != nil {
		return *cc.extra.RefundAmount
	}
	if v, ok := cc.payloadNumber("refund_amount", "amount"); ok {
		return v
	}
	var sum float64
	for _, l := range cc.lines {
		sum += float64(l.Qty) * l.UnitPrice
	}
	if sum > 0 {
		return math.Round(sum*100) / 100
	}
	return cc.orderValue()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// sourcingCheck is the what-if sourcing of the affected lines away from
// the failing location, shared by the reroute and split candidates.
type sourcingCheck struct {
	feasible bool
	check    string
	from     string
	plan     sourcing.Plan
	codes    map[int64]string
}

// apply fills in a reroute or split candidate from the check.
func (sc sourcingCheck) apply(c *Candidate) {
	c.Check = sc.check
	if sc.from != "" {
		c.Params["from_location"] = sc.from
	}
	if !sc.feasible {
		c.Feasible = sc.check == checkAdvisory
		if c.Feasible {
			c.ExpectedEffect = "the lines are sourced elsewhere"
		} else {
			c.ExpectedEffect = "nothing: " + strings.TrimPrefix(sc.check, "what-if sourcing: ")
		}
		return
	}
	n := len(sc.plan.Shipments)
	var locs []string
	for _, sh := range sc.plan.Shipments {
		locs = append(locs, sc.codes[sh.LocationID])
	}
	var allocs []map[string]any
	for _, a := range sc.plan.Assignments {
		allocs = append(allocs, map[string]any{"line_id": a.LineID, "sku": a.SKU, "location": sc.codes[a.LocationID], "qty": a.Qty})
	}
	promise := ""
	if last := lastPromise(sc.plan); !last.IsZero() {
		promise = last.UTC().Format(time.DateOnly)
		c.Params["promise_date"] = promise
	}
	switch {
	case c.Action == rules.ActionReroute && n == 1:
		c.Params["to_location"] = locs[0]
		c.ExpectedEffect = fmt.Sprintf("ships from %s by %s; shipping and handling %.2f", locs[0], promise, sc.plan.TotalCost)
	case c.Action == rules.ActionReroute:
		c.Feasible = false
		c.ExpectedEffect = fmt.Sprintf("nothing: no single location fills the lines; a split across %s does", strings.Join(locs, ", "))
	case n >= 2:
		c.Params["allocations"] = allocs
		c.ExpectedEffect = fmt.Sprintf("ships in %d parcels from %s by %s; cost %.2f including the split penalty",
			n, strings.Join(locs, ", "), promise, sc.plan.TotalCost)
	default:
		c.Feasible = false
		c.ExpectedEffect = fmt.Sprintf("not needed: %s fills the lines alone (reroute)", locs[0])
	}
}

func lastPromise(p sourcing.Plan) time.Time {
	var t time.Time
	for _, sh := range p.Shipments {
		if sh.PromiseDate.After(t) {
			t = sh.PromiseDate
		}
	}
	return t
}

// checkSourcing runs orchestration's sourcing in what-if mode for the
// affected lines, excluding the failing location unless the lines are to
// be replaced (a lost parcel may be re-sent from where it left).
func (s *Service) checkSourcing(ctx context.Context, cc *caseContext, replacement bool) (sourcingCheck, error) {
	sc := sourcingCheck{from: cc.location}
	if cc.order == nil {
		sc.check = checkAdvisory
		return sc, nil
	}
	if cc.order.PickupLocation != "" {
		sc.check = "order state: a pickup order is fulfilled only by its pickup store"
		return sc, nil
	}
	var exclude []string
	if !replacement && cc.location != "" {
		exclude = append(exclude, cc.location)
	}
	plan, codes, err := s.whatIf(ctx, cc, exclude, nil)
	if err != nil {
		return sc, err
	}
	sc.plan, sc.codes = plan, codes
	if plan.Complete() && len(plan.Shipments) > 0 {
		sc.feasible, sc.check = true, "what-if sourcing: "+plan.Explanation.Summary
		return sc, nil
	}
	sc.check = "what-if sourcing: no location can fill the lines"
	if len(exclude) > 0 {
		sc.check = "what-if sourcing: no location other than " + strings.Join(exclude, ", ") + " can fill the lines"
	}
	return sc, nil
}

// checkSubstitute finds the first substitute of the exception's SKU that
// the network can ship instead.
func (s *Service) checkSubstitute(ctx context.Context, cc *caseContext, c *Candidate) error {
	if cc.order == nil {
		c.Check, c.ExpectedEffect = checkAdvisory, "a substitute ships instead"
		return nil
	}
	if cc.sku == "" {
		c.Feasible, c.Check, c.ExpectedEffect = false, "catalog", "nothing: the lines have more than one SKU"
		return nil
	}
	subs, err := s.core.Substitutes(ctx, cc.sku)
	if err != nil {
		return err
	}
	c.Params["sku"] = cc.sku
	if len(subs) == 0 {
		c.Feasible, c.Check, c.ExpectedEffect = false, "catalog", fmt.Sprintf("nothing: %s has no substitutes", cc.sku)
		return nil
	}
	var exclude []string
	if cc.location != "" {
		exclude = append(exclude, cc.location)
	}
	for _, sub := range subs {
		plan, codes, err := s.whatIf(ctx, cc, exclude, map[string]string{cc.sku: sub})
		if err != nil {
			return err
		}
		if plan.Complete() && len(plan.Shipments) > 0 {
			var locs []string
			for _, sh := range plan.Shipments {
				locs = append(locs, codes[sh.LocationID])
			}
			c.Params["substitute"], c.Params["locations"] = sub, locs
			c.Check = "what-if sourcing with " + sub + ": " + plan.Explanation.Summary
			c.ExpectedEffect = fmt.Sprintf("ships %s instead of %s from %s", sub, cc.sku, strings.Join(locs, ", "))
			return nil
		}
	}
	c.Feasible, c.Check = false, "what-if sourcing"
	c.ExpectedEffect = fmt.Sprintf("nothing: no substitute of %s (%s) is in stock", cc.sku, strings.Join(subs, ", "))
	return nil
}

// whatIf sources the affected lines of cc's order on current stock
// without reserving anything. The order's own reservations still count
// where they are, which only matters for the locations it already uses.
func (s *Service) whatIf(ctx context.Context, cc *caseContext, exclude []string, subs map[string]string) (sourcing.Plan, map[int64]string, error) {
	o := cc.order
	req := sourcing.Request{Channel: o.Channel, ServiceLevel: o.ServiceLevel, Substitutes: subs, Now: s.now()}
	if o.ShipTo == nil || o.ShipTo.Lat == nil || o.ShipTo.Lon == nil {
		return sourcing.Plan{Unfilled: []sourcing.UnfilledLine{{Reason: "no ship-to point"}}}, nil, nil
	}
	req.ShipTo = &sourcing.GeoPoint{Lat: *o.ShipTo.Lat, Lon: *o.ShipTo.Lon}
	if o.PromisedBy != nil {
		req.PromisedBy = *o.PromisedBy
	}
	skus := []string{}
	for _, l := range cc.lines {
		req.Lines = append(req.Lines, sourcing.Line{LineID: l.ID.String(), SKU: l.SKU, Qty: l.Qty, UnitPrice: l.UnitPrice})
		skus = append(skus, l.SKU)
	}
	for _, sub := range subs {
		skus = append(skus, sub)
	}
	if len(req.Lines) == 0 {
		return sourcing.Plan{Unfilled: []sourcing.UnfilledLine{{Reason: "no open lines"}}}, nil, nil
	}
	cands, codes, err := s.core.SourcingCandidates(ctx, skus, s.now())
	if err != nil {
		return sourcing.Plan{}, nil, err
	}
	for id, code := range codes {
		if slices.Contains(exclude, code) {
			req.ExcludeLocationIDs = append(req.ExcludeLocationIDs, id)
		}
	}
	slices.Sort(req.ExcludeLocationIDs)
	plan, err := sourcing.NewPlan(s.policy(), req, cands)
	if err != nil {
		return sourcing.Plan{}, nil, fmt.Errorf("what-if sourcing: %w", err)
	}
	return plan, codes, nil
}

// commandID is the idempotency key of the command a case applies: one per
// case and purpose, so a retry after a crash reuses it.
func commandID(caseID uuid.UUID, purpose string) string {
	return "triage:" + caseID.String() + ":" + purpose
}
