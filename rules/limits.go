package rules

import (
	"fmt"
	"time"
)

// Limits is the limits section: money and risk bounds that hold regardless of model
// confidence.
type Limits struct {
	// Currency is the ISO 4217 code all amounts in the policy are in.
	Currency     string             `json:"currency" yaml:"currency"`
	Fraud        FraudLimits        `json:"fraud" yaml:"fraud"`
	Refund       RefundLimits       `json:"refund" yaml:"refund"`
	Compensation CompensationLimits `json:"compensation" yaml:"compensation"`
	// StaleInventoryAfter is how long stock that open reservations rely on
	// may go without a sync (a count from the location's system) before the
	// core raises stale_inventory for its location. Omitted: 24h.
	StaleInventoryAfter time.Duration `json:"stale_inventory_after" yaml:"stale_inventory_after"`
	// PickupCollectWithin is how long a pickup order may wait at the store,
	// ready, before the core raises pickup_not_collected. Omitted: 72h.
	PickupCollectWithin time.Duration `json:"pickup_collect_within" yaml:"pickup_collect_within"`
}

// Defaults of the limits a policy may omit.
const (
	DefaultStaleInventoryAfter = 24 * time.Hour
	DefaultPickupCollectWithin = 72 * time.Hour
)

// FraudLimits bands a fraud score in [0, 1]: below ReviewLow accept, [ReviewLow,
// ReviewHigh) review, [ReviewHigh, CancelAt) escalated review, CancelAt and above cancel.
type FraudLimits struct {
	ReviewLow  float64 `json:"review_low" yaml:"review_low"`
	ReviewHigh float64 `json:"review_high" yaml:"review_high"`
	CancelAt   float64 `json:"cancel_at" yaml:"cancel_at"`
}

// Fraud verdicts returned by FraudLimits.Verdict.
const (
	FraudAccept   = "accept"
	FraudReview   = "review"
	FraudEscalate = "escalate"
	FraudCancel   = "cancel"
)

// Verdict bands score.
func (f FraudLimits) Verdict(score float64) string {
	switch {
	case score >= f.CancelAt:
		return FraudCancel
	case score >= f.ReviewHigh:
		return FraudEscalate
	case score >= f.ReviewLow:
		return FraudReview
	}
	return FraudAccept
}

// RefundLimits bounds automatic refunds.
type RefundLimits struct {
	// AutoApproveMax is the largest refund approved without a person.
	AutoApproveMax float64 `json:"auto_approve_max" yaml:"auto_approve_max"`
}

// CompensationLimits bounds goodwill compensation.
type CompensationLimits struct {
	MaxPerOrder float64 `json:"max_per_order" yaml:"max_per_order"`
	// PerTier caps compensation by customer tier; a tier not listed gets MaxPerOrder.
	PerTier map[string]float64 `json:"per_tier" yaml:"per_tier"`
}

// CompensationLimit is the most compensation one order of a customer in tier may get
// automatically: the tier's limit, never above the per-order maximum.
func (l Limits) CompensationLimit(tier string) float64 {
	lim := l.Compensation.MaxPerOrder
	if t, ok := l.Compensation.PerTier[tier]; ok && t < lim {
		lim = t
	}
	return lim
}

func (l *Limits) check(c *checker) {
	const path = "limits"
	if !isCurrency(l.Currency) {
		c.errorf(path+".currency", "currency %q is not an ISO 4217 code like EUR", l.Currency)
	}
	f := l.Fraud
	c.fraction(path+".fraud.review_low", f.ReviewLow)
	c.fraction(path+".fraud.review_high", f.ReviewHigh)
	c.fraction(path+".fraud.cancel_at", f.CancelAt)
	if f.ReviewLow > f.ReviewHigh {
		c.errorf(path+".fraud.review_high", "review_high %g is below review_low %g", f.ReviewHigh, f.ReviewLow)
	}
	if f.ReviewHigh > f.CancelAt {
		c.errorf(path+".fraud.cancel_at", "cancel_at %g is below review_high %g", f.CancelAt, f.ReviewHigh)
	}
	c.nonNegative(path+".refund.auto_approve_max", l.Refund.AutoApproveMax)
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"stale_inventory_after", &l.StaleInventoryAfter, DefaultStaleInventoryAfter},
		{"pickup_collect_within", &l.PickupCollectWithin, DefaultPickupCollectWithin},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def // omitted; the canonical form, and so the version, records the value in force
		case *d.v < time.Minute:
			c.errorf(path+"."+d.name, "must be at least 1m, got %s", *d.v)
		}
	}
	c.nonNegative(path+".compensation.max_per_order", l.Compensation.MaxPerOrder)
	for _, tier := range sortedKeys(l.Compensation.PerTier) {
		p := path + ".compensation.per_tier." + tier
		v := l.Compensation.PerTier[tier]
		c.nonNegative(p, v)
		if v > l.Compensation.MaxPerOrder {
			c.errorf(p, "%g exceeds max_per_order %g", v, l.Compensation.MaxPerOrder)
		}
	}
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// Review case severities, most urgent first.
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityMedium   = "medium"
	SeverityLow      = "low"
)

// Severities lists the review case severities, most urgent first.
func Severities() []string {
	return []string{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow}
}

// SLA is the sla section: service targets the review queue and the order lifecycle are
// measured against.
type SLA struct {
	// ReviewFirstResponseMinutes is, per severity, how soon a person must first act on a
	// review case.
	ReviewFirstResponseMinutes map[string]int `json:"review_first_response_minutes" yaml:"review_first_response_minutes"`
	// ReviewResolveHours is, per severity, how soon a review case must be closed.
	ReviewResolveHours map[string]int `json:"review_resolve_hours" yaml:"review_resolve_hours"`
	// TriageWithinSeconds bounds exception intake to decision.
	TriageWithinSeconds int `json:"triage_within_seconds" yaml:"triage_within_seconds"`
	// ReleaseWithinHours bounds order capture to release to the fulfilling location.
	ReleaseWithinHours int `json:"release_within_hours" yaml:"release_within_hours"`
	// ShipWithinHours bounds release to shipment.
	ShipWithinHours int `json:"ship_within_hours" yaml:"ship_within_hours"`
	// RefundWithinHours bounds an approved return to the refund.
	RefundWithinHours int `json:"refund_within_hours" yaml:"refund_within_hours"`
	// Alerts are the process targets the alert job checks.
	Alerts SLAAlerts `json:"alerts" yaml:"alerts"`
}

// FirstResponse is the first-response target for a review case of severity.
func (s SLA) FirstResponse(severity string) (time.Duration, bool) {
	m, ok := s.ReviewFirstResponseMinutes[severity]
	return time.Duration(m) * time.Minute, ok
}

// Resolve is the resolution target for a review case of severity.
func (s SLA) Resolve(severity string) (time.Duration, bool) {
	h, ok := s.ReviewResolveHours[severity]
	return time.Duration(h) * time.Hour, ok
}

// Triage is the exception triage target.
func (s SLA) Triage() time.Duration { return time.Duration(s.TriageWithinSeconds) * time.Second }

// Release is the capture-to-release target.
func (s SLA) Release() time.Duration { return time.Duration(s.ReleaseWithinHours) * time.Hour }

// Ship is the release-to-shipment target.
func (s SLA) Ship() time.Duration { return time.Duration(s.ShipWithinHours) * time.Hour }

// Refund is the return-to-refund target.
func (s SLA) Refund() time.Duration { return time.Duration(s.RefundWithinHours) * time.Hour }

func (s *SLA) check(c *checker) {
	const path = "sla"
	for _, m := range []struct {
		name string
		vals map[string]int
	}{
		{"review_first_response_minutes", s.ReviewFirstResponseMinutes},
		{"review_resolve_hours", s.ReviewResolveHours},
	} {
		for _, sev := range sortedKeys(m.vals) {
			p := path + "." + m.name + "." + sev
			if c.oneOf(p, "severity", sev, Severities()) && m.vals[sev] <= 0 {
				c.errorf(p, "must be positive, got %d", m.vals[sev])
			}
		}
		for _, sev := range Severities() {
			if _, ok := m.vals[sev]; !ok {
				c.errorf(path+"."+m.name, "missing severity %q", sev)
			}
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"triage_within_seconds", s.TriageWithinSeconds},
		{"release_within_hours", s.ReleaseWithinHours},
		{"ship_within_hours", s.ShipWithinHours},
		{"refund_within_hours", s.RefundWithinHours},
	} {
		if f.v <= 0 {
			c.errorf(fmt.Sprintf("%s.%s", path, f.name), "must be positive, got %d", f.v)
		}
	}
	s.Alerts.check(c)
}
