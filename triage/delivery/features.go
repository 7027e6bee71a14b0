package delivery

import (
	"math"
	"time"

	"github.com/omnitriage/omnitriage/models"
)

// feature is one input of the delivery-risk model, computed from what is
// known at the moment (known) and the lane history as of then.
type feature struct {
	models.Feature
	// group is the feature's family; the backtest chooses among nested
	// families by validation inside the training period.
	group group
	// handoffOnly features need the carrier hand-off, unknown at approval.
	handoffOnly bool
	value       func(k *known, l *laneStats) float64
}

// group is a family of features.
type group int

// The feature families, in the order they are added.
const (
	groupLane     group = iota // slack against the lane's transit history
	groupHandling              // how the seller handled the order so far
	groupOrder                 // the order, its goods and calendar
	groupNetwork               // how the carriers are doing right now
	groupSeller                // the seller's own record
	groupPlace                 // how often parcels to the customer's region get stuck
	groupCount
)

func (g group) String() string {
	return [...]string{"lane", "handling", "order", "network", "seller", "place"}[g]
}

// groupSet is a set of feature families.
type groupSet uint

// groupSetOf is the set of gs.
func groupSetOf(gs ...group) groupSet {
	var s groupSet
	for _, g := range gs {
		s |= 1 << g
	}
	return s
}

func (s groupSet) has(g group) bool { return s&(1<<g) != 0 }

// String names the set, e.g. "lane+handling", in family order.
func (s groupSet) String() string {
	var name string
	for g := range groupCount {
		if s.has(g) {
			if name != "" {
				name += "+"
			}
			name += g.String()
		}
	}
	return name
}

// allFeatures is every feature the delivery model may use, in order.
func allFeatures() []feature {
	return []feature{
		{Feature: models.Feature{Name: "slack_days", Label: "days left until the promised date"}, group: groupLane,
			value: func(k *known, _ *laneStats) float64 { return k.slackDays() }},
		{Feature: models.Feature{Name: "slack_minus_lane_p90", Label: "days of slack beyond the lane's slow (90th percentile) transit"}, group: groupLane,
			value: func(k *known, l *laneStats) float64 { return k.slackDays() - or(l.p90, 0) }},
		{Feature: models.Feature{Name: "lane_overrun_logit", Label: "share of the lane's past parcels slower than the slack left (log-odds)"}, group: groupLane,
			value: func(_ *known, l *laneStats) float64 { return logit(l.exceedLane) }},
		{Feature: models.Feature{Name: "region_overrun_logit", Label: "share of past parcels to the customer's region slower than the slack left (log-odds)"}, group: groupLane,
			value: func(_ *known, l *laneStats) float64 { return logit(l.exceedRegion) }},
		{Feature: models.Feature{Name: "region_transit_z", Label: "slack left against the usual transit to the customer's region (standard deviations)"}, group: groupLane,
			value: func(_ *known, l *laneStats) float64 { return l.zRegion }},

		{Feature: models.Feature{Name: "region_late_logit", Label: "share of past parcels to the customer's region delivered late (log-odds)"}, group: groupPlace,
			value: func(_ *known, l *laneStats) float64 { return logit(l.lateRegion) }},

		{Feature: models.Feature{Name: "handling_days", Label: "days from approval to carrier hand-off"}, group: groupHandling, handoffOnly: true,
			value: func(k *known, _ *laneStats) float64 { return days(k.carrierAt.Sub(k.approvedAt)) }},
		{Feature: models.Feature{Name: "handoff_past_limit_days", Label: "days the hand-off came after the seller's deadline"}, group: groupHandling, handoffOnly: true,
			value: func(k *known, _ *laneStats) float64 {
				if k.shippingLimit.IsZero() {
					return 0
				}
				return math.Max(days(k.carrierAt.Sub(k.shippingLimit)), 0)
			}},

		{Feature: models.Feature{Name: "promise_days", Label: "days promised at purchase"}, group: groupOrder,
			value: func(k *known, _ *laneStats) float64 { return days(k.promisedEnd.Sub(k.purchasedAt)) }},
		{Feature: models.Feature{Name: "approval_hours_log", Label: "hours from purchase to payment approval (log)"}, group: groupOrder,
			value: func(k *known, _ *laneStats) float64 {
				return math.Log1p(math.Max(k.approvedAt.Sub(k.purchasedAt).Hours(), 0))
			}},
		{Feature: models.Feature{Name: "freight_log", Label: "freight paid (log)"}, group: groupOrder,
			value: func(k *known, _ *laneStats) float64 { return math.Log1p(k.freight) }},
		{Feature: models.Feature{Name: "weight_log", Label: "parcel weight in kg (log)"}, group: groupOrder,
			value: func(k *known, _ *laneStats) float64 { return math.Log1p(or(k.weightKG, 0)) }},
		{Feature: models.Feature{Name: "same_state", Label: "seller and customer in the same state"}, group: groupOrder,
			value: func(k *known, _ *laneStats) float64 { return indicator(k.sellerState == k.customerState) }},
		{Feature: models.Feature{Name: "multi_seller", Label: "items from more than one seller"}, group: groupOrder,
			value: func(k *known, _ *laneStats) float64 { return indicator(k.sellers > 1) }},
		{Feature: models.Feature{Name: "weekend_ahead", Label: "moment on a Friday or Saturday"}, group: groupOrder,
			value: func(k *known, _ *laneStats) float64 {
				wd := k.at.Weekday()
				return indicator(wd == time.Friday || wd == time.Saturday)
			}},

		{Feature: models.Feature{Name: "network_late_now_logit", Label: "share of the last two weeks' parcels to the customer's state already late (log-odds)"}, group: groupNetwork,
			value: func(_ *known, l *laneStats) float64 { return logit(l.net.lateNow) }},
		{Feature: models.Feature{Name: "network_recent_late_logit", Label: "share late among the last two weeks' deliveries to the customer's state (log-odds)"}, group: groupNetwork,
			value: func(_ *known, l *laneStats) float64 { return logit(l.net.recentLate) }},
		{Feature: models.Feature{Name: "network_slow_now_logit", Label: "share of the last two weeks' parcels to the customer's state already slower than usual (log-odds)"}, group: groupNetwork,
			value: func(_ *known, l *laneStats) float64 { return logit(l.net.slowNow) }},
		{Feature: models.Feature{Name: "network_slowdown", Label: "how much slower the last two weeks' deliveries to the customer's state were than usual (log days)"}, group: groupNetwork,
			value: func(_ *known, l *laneStats) float64 { return l.net.recentSlowdown }},

		{Feature: models.Feature{Name: "seller_late_logit", Label: "share of the seller's past parcels delivered late (log-odds)"}, group: groupSeller,
			value: func(_ *known, l *laneStats) float64 { return logit(l.net.sellerLate) }},
	}
}

// featureSet is the features of moment m in the families groups.
func featureSet(m Moment, groups groupSet) []feature {
	var fs []feature
	for _, f := range allFeatures() {
		if !groups.has(f.group) || (f.handoffOnly && m != AtHandoff) {
			continue
		}
		fs = append(fs, f)
	}
	return fs
}

// row computes the features fs of k with lane statistics l.
func row(fs []feature, k *known, l *laneStats) []float64 {
	x := make([]float64, len(fs))
	for j, f := range fs {
		x[j] = f.value(k, l)
		if math.IsNaN(x[j]) || math.IsInf(x[j], 0) {
			x[j] = 0
		}
	}
	return x
}

// baselineScore is the plain baseline: the lane's 90th-percentile transit
// p90 minus the slack left, so that a higher score means more likely late.
// With no history at all (p90 NaN) the lane transit counts as zero.
func baselineScore(k *known, p90 float64) float64 {
	return or(p90, 0) - k.slackDays()
}

func or(v, fallback float64) float64 {
	if math.IsNaN(v) {
		return fallback
	}
	return v
}

func indicator(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
