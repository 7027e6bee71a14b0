package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/orchestration/sourcing"
	"github.com/omnitriage/omnitriage/rules"
)

// caseContext is everything triage knows about an exception: the order
// and lines it concerns, where, and what the reporter told us besides.
type caseContext struct {
	exc   orchestration.Exception
	order *orchestration.Order // nil when the exception has no order in omnitriage
	extra RecommendContext
	// lines are the order lines the exception concerns: its line ids, else
	// the lines of its SKU, else every line still open.
	lines        []orchestration.Line
	location     string // the exception's location, else the lines' first allocation
	locationKind string
	sku          string
	payload      map[string]any
	plan         *sourcing.Plan // the order's latest sourcing plan
	notes        []string       // what could not be loaded, for the case page
}

// gather loads the context of exc.
func (s *Service) gather(ctx context.Context, exc orchestration.Exception, extra RecommendContext) (*caseContext, error) {
	cc := &caseContext{exc: exc, extra: extra, location: exc.Location, sku: exc.SKU}
	if len(exc.Payload) > 0 {
		_ = json.Unmarshal(exc.Payload, &cc.payload) // payloads are the reporter's; a non-object is just not used
	}
	if exc.OrderID != nil {
		o, err := s.core.GetOrder(ctx, *exc.OrderID)
		switch {
		case errors.Is(err, derrors.NotFound):
			cc.notes = append(cc.notes, "order "+exc.OrderID.String()+" is not in omnitriage")
		case err != nil:
			return nil, err
		default:
			cc.order = &o
		}
	}
	if cc.order != nil {
		cc.lines = affectedLines(*cc.order, exc)
		if cc.sku == "" {
			var skus []string
			for _, l := range cc.lines {
				if !slices.Contains(skus, l.SKU) {
					skus = append(skus, l.SKU)
				}
			}
			if len(skus) == 1 {
				cc.sku = skus[0]
			}
		}
		if cc.location == "" {
			for _, l := range cc.lines {
				if len(l.Allocations) > 0 {
					cc.location = l.Allocations[0].Location
					break
				}
			}
		}
		plans, err := s.core.SourcingPlans(ctx, cc.order.ID)
		if err != nil {
			return nil, err
		}
		if len(plans) > 0 {
			var p sourcing.Plan
			if err := json.Unmarshal(plans[len(plans)-1].Plan, &p); err == nil {
				cc.plan = &p
			}
		}
	}
	if cc.location != "" {
		var err error
		if cc.locationKind, err = s.core.LocationKind(ctx, cc.location); err != nil {
			return nil, err
		}
	}
	return cc, nil
}

// affectedLines are the lines exc concerns.
func affectedLines(o orchestration.Order, exc orchestration.Exception) []orchestration.Line {
	var out []orchestration.Line
	for _, l := range o.Lines {
		if slices.Contains(exc.LineIDs, l.ID) {
			out = append(out, l)
		}
	}
	if len(out) > 0 {
		return out
	}
	if exc.SKU != "" {
		for _, l := range o.Lines {
			if l.SKU == exc.SKU || l.OrderedSKU == exc.SKU {
				out = append(out, l)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	for _, l := range o.Lines {
		if l.Status != orchestration.LineCancelled && l.Status != orchestration.LineRejected {
			out = append(out, l)
		}
	}
	return out
}

// lineIDs lists the ids of lines.
func lineIDs(lines []orchestration.Line) []uuid.UUID {
	ids := make([]uuid.UUID, len(lines))
	for i, l := range lines {
		ids[i] = l.ID
	}
	return ids
}

// lineNumbers lists the line numbers of lines, as orchestration's commands
// name lines.
func lineNumbers(lines []orchestration.Line) []int {
	n := make([]int, len(lines))
	for i, l := range lines {
		n[i] = l.LineNo
	}
	return n
}

// payloadNumber reads the first of keys that holds a number.
func (cc *caseContext) payloadNumber(keys ...string) (float64, bool) {
	for _, k := range keys {
		if v, ok := cc.payload[k].(float64); ok && !math.IsNaN(v) {
			return v, true
		}
	}
	return 0, false
}

// payloadTime reads the first of keys that holds an RFC 3339 time.
func (cc *caseContext) payloadTime(keys ...string) (time.Time, bool) {
	for _, k := range keys {
		if v, ok := cc.payload[k].(string); ok {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// orderValue is the order's total, from omnitriage or the reporter.
func (cc *caseContext) orderValue() float64 {
	switch {
	case cc.order != nil:
		return cc.order.Total
	case cc.extra.OrderValue != nil:
		return *cc.extra.OrderValue
	}
	v, _ := cc.payloadNumber("order_total", "order_value")
	return v
}

func (cc *caseContext) customerTier() string {
	switch {
	case cc.order != nil && cc.order.Customer.Tier != "":
		return cc.order.Customer.Tier
	case cc.extra.CustomerTier != "":
		return cc.extra.CustomerTier
	}
	t, _ := cc.payload["customer_tier"].(string)
	return t
}

func (cc *caseContext) channel() string {
	if cc.order != nil {
		return cc.order.Channel
	}
	if cc.extra.Channel != "" {
		return cc.extra.Channel
	}
	c, _ := cc.payload["channel"].(string)
	return c
}

func (cc *caseContext) serviceLevel() string {
	if cc.order != nil {
		return cc.order.ServiceLevel
	}
	if cc.extra.ServiceLevel != "" {
		return cc.extra.ServiceLevel
	}
	return rules.ServiceStandard
}

func (cc *caseContext) currency() string {
	if cc.order != nil {
		return cc.order.Currency
	}
	return cc.extra.Currency
}

// fraudScore is the screening's score: what the reporter says, else the
// payload's (the core's fraud_review carries it as "score"), else the score
// the message quotes ("fraud score 0.83"). ok is false when none is known.
func (cc *caseContext) fraudScore() (score float64, ok bool) {
	if cc.extra.FraudScore != nil {
		return *cc.extra.FraudScore, true
	}
	if v, ok := cc.payloadNumber("fraud_score", "risk_score", "score"); ok && v >= 0 && v <= 1 {
		return v, true
	}
	if cc.exc.Kind == orchestration.KindFraudReview {
		if m := scoreInMessage.FindStringSubmatch(cc.exc.Message); m != nil {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil && v <= 1 {
				return v, true
			}
		}
	}
	return 0, false
}

// scoreInMessage finds a 0-1 score quoted in a message ("fraud score 0.83",
// "Risk score 0.91").
var scoreInMessage = regexp.MustCompile(`(?i)\bscore[:= ]+(0(?:\.\d+)?|1(?:\.0+)?)\b`)

// fraudBand is the fraud band the guards see: the policy's band of the
// score, or the screening's own verdict where that is the higher; unknown
// for a fraud review without a score; accept for other exceptions without
// one.
func (cc *caseContext) fraudBand(f rules.FraudLimits) string {
	bands := []string{rules.FraudAccept, rules.FraudReview, rules.FraudEscalate, rules.FraudCancel}
	band := -1
	if v, ok := cc.fraudScore(); ok {
		band = slices.Index(bands, f.Verdict(v))
	}
	for _, k := range []string{"verdict", "fraud_band"} {
		if v, ok := cc.payload[k].(string); ok {
			band = max(band, slices.Index(bands, v))
		}
	}
	switch {
	case band >= 0:
		return bands[band]
	case cc.exc.Kind == orchestration.KindFraudReview:
		return "unknown"
	}
	return rules.FraudAccept
}

// stockoutRisk scores the chance that the exception's SKU cannot be
// supplied, from the stock rows, reservations and ledger.
func (s *Service) stockoutRisk(ctx context.Context, cc *caseContext) (Risk, error) {
	if cc.sku == "" {
		return Risk{Method: "none", Factors: []models.Factor{}, Note: "no SKU on the exception or its lines"}, nil
	}
	need := 0.0
	for _, l := range cc.lines {
		if l.SKU == cc.sku {
			need += float64(l.Qty)
		}
	}
	if need == 0 {
		if q, ok := cc.payloadNumber("qty", "quantity"); ok && q > 0 {
			need = q
		} else {
			need = 1
		}
	}
	st, err := s.core.StockSignals(ctx, cc.sku, cc.location, s.now())
	if err != nil {
		return Risk{}, err
	}
	s.mu.RLock()
	model := s.risk.stockout
	s.mu.RUnlock()
	if !st.Known {
		r := scoreRisk(model, map[string]float64{"qty_needed": need}, StockoutHeuristicVersion, 0, nil)
		r.Method, r.Probability, r.Note = "none", 0, fmt.Sprintf("SKU %s is not in the catalog", cc.sku)
		return r, nil
	}
	f := map[string]float64{
		"qty_needed":       need,
		"atp_network":      float64(st.ATPNetwork),
		"cover_ratio":      float64(st.ATPNetwork) / need,
		"velocity_per_day": float64(st.ReservedWeek) / 7,
	}
	if v := f["velocity_per_day"]; v > 0 {
		f["days_of_cover"] = math.Min(float64(st.ATPNetwork)/v, 60)
	}
	if st.AtLocation {
		f["atp_location"] = float64(max(0, st.OnHand-st.Reserved-st.SafetyStock))
		f["safety_stock"] = float64(st.SafetyStock)
		f["open_reservations"] = float64(st.OpenReservations)
		f["overcommitted"] = b2f(st.Reserved > st.OnHand-st.SafetyStock)
		f["staleness_hours"] = math.Round(math.Max(0, s.now().Sub(st.Synced).Hours())*10) / 10
		f["count_variance"] = float64(st.LostUnits14d) / math.Max(1, float64(st.OnHand))
		f["location_is_store"] = b2f(st.LocationKind == rules.LocationStore)
	}
	bias, terms := stockoutTerms(f)
	return scoreRisk(model, f, StockoutHeuristicVersion, bias, terms), nil
}

// deliveryRisk scores the chance that the order arrives after its promise.
func (s *Service) deliveryRisk(ctx context.Context, cc *caseContext) (Risk, error) {
	f := map[string]float64{}
	var promise, estimate *time.Time
	switch {
	case cc.order != nil && cc.order.PromisedBy != nil:
		promise = cc.order.PromisedBy
	case cc.extra.PromisedBy != nil:
		promise = cc.extra.PromisedBy
	case cc.order != nil && cc.order.PromiseDate != nil:
		promise = cc.order.PromiseDate // our own estimate stands in for a promise
	}
	if cc.order != nil && cc.order.PromiseDate != nil {
		estimate = cc.order.PromiseDate
	}
	if cc.extra.EstimatedDelivery != nil {
		estimate = cc.extra.EstimatedDelivery
	}
	if t, ok := cc.payloadTime("new_eta", "estimated_delivery", "eta"); ok {
		if estimate != nil && t.After(*estimate) {
			f["delay_hours"] = math.Round(t.Sub(*estimate).Hours())
		}
		estimate = &t
	}
	if d, ok := cc.payloadNumber("delay_hours"); ok && d > 0 {
		f["delay_hours"] = d
		if estimate != nil {
			t := estimate.Add(time.Duration(d * float64(time.Hour)))
			estimate = &t
		}
	}
	if promise == nil && estimate == nil && cc.exc.Carrier == "" && cc.order == nil {
		return Risk{Method: "none", Factors: []models.Factor{}, Note: "no promise, estimate or carrier to score"}, nil
	}
	if promise != nil && estimate != nil {
		f["slack_hours"] = math.Round(promise.Sub(*estimate).Hours()*10) / 10
		wd := promise.Weekday()
		f["weekend_due"] = b2f(wd == time.Saturday || wd == time.Sunday)
	}
	svc := cc.serviceLevel()
	f["service_express"] = b2f(svc == rules.ServiceExpress)
	f["service_same_day"] = b2f(svc == rules.ServiceSameDay)
	f["carrier_exception"] = b2f(cc.exc.Kind == orchestration.KindCarrierDelay || cc.exc.Kind == orchestration.KindCarrierDisruption)
	var origins []int64
	if cc.plan != nil {
		for _, sh := range cc.plan.Shipments {
			origins = append(origins, sh.LocationID)
		}
	}
	if err := s.carrierFeatures(ctx, cc, origins, f); err != nil {
		return Risk{}, err
	}
	if len(origins) > 0 {
		var km float64
		for _, sh := range cc.plan.Shipments {
			km = math.Max(km, sh.DistanceKm)
		}
		f["distance_km"] = math.Round(km)
		ratio, err := s.core.BacklogRatio(ctx, origins, s.now())
		if err != nil {
			return Risk{}, err
		}
		if ratio != nil {
			f["backlog_ratio"] = math.Round(*ratio*100) / 100
		}
	}
	s.mu.RLock()
	model := s.risk.delivery
	s.mu.RUnlock()
	bias, terms := deliveryTerms(f)
	return scoreRisk(model, f, DeliveryHeuristicVersion, bias, terms), nil
}

// minDeliveries is the fewest deliveries an on-time rate is computed from.
const minDeliveries = 5

// carrierFeatures adds what the carrier's record says: its on-time rate
// over 30 days, on the lane (the carrier from the order's shipping
// locations) and overall, its delay exceptions in 7 days and its open
// disruptions. The carrier is the exception's, else the one shipping the
// order.
func (s *Service) carrierFeatures(ctx context.Context, cc *caseContext, origins []int64, f map[string]float64) error {
	var orderID *uuid.UUID
	if cc.order != nil {
		orderID = &cc.order.ID
	}
	carrier := cc.exc.Carrier
	if carrier == "" && orderID != nil {
		var err error
		if carrier, err = s.core.OrderCarrier(ctx, *orderID); err != nil {
			return err
		}
	}
	if carrier == "" {
		return nil
	}
	r, err := s.core.CarrierRecord(ctx, carrier, origins, cc.exc.ID, s.now())
	if err != nil {
		return err
	}
	onTime, delivered, laneOnTime, laneDelivered, delays, disruptions := r.OnTime, r.Delivered, r.LaneOnTime, r.LaneDelivered,
		r.Delays, r.Disruptions

	f["carrier_delays_7d"] = float64(delays)
	f["active_disruptions"] = float64(disruptions)
	if delivered >= minDeliveries {
		f["carrier_on_time"] = math.Round(float64(onTime)/float64(delivered)*1000) / 1000
	}
	if laneDelivered >= minDeliveries {
		f["lane_on_time"] = math.Round(float64(laneOnTime)/float64(laneDelivered)*1000) / 1000
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// withSKU is cc as it would be with sku shipped instead of cc's SKU, from
// anywhere in the network: the context of a substitute's stockout risk.
func (cc *caseContext) withSKU(sku string) *caseContext {
	c := *cc
	c.sku, c.location = sku, ""
	c.lines = make([]orchestration.Line, len(cc.lines))
	for i, l := range cc.lines {
		if l.SKU == cc.sku {
			l.SKU = sku
		}
		c.lines[i] = l
	}
	return &c
}
