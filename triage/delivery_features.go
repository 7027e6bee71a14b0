package triage

import (
	"math"
	"time"

	"github.com/omnitriage/omnitriage/models"
)

// dlvFeature is one input of the delivery-risk model, computed from what is
// known at the moment (dlvKnown) and the lane history as of then.
type dlvFeature struct {
	models.Feature
	// group is the feature's family; the backtest chooses among nested
	// families by validation inside the training period.
	group dlvGroup
	// handoffOnly features need the carrier hand-off, unknown at approval.
	handoffOnly bool
	value       func(k *dlvKnown, l *dlvLaneStats) float64
}

// dlvGroup is a family of features.
type dlvGroup int

// The feature families, in the order they are added.
const (
	dlvGroupLane     dlvGroup = iota // slack against the lane's transit history
	dlvGroupHandling                 // how the seller handled the order so far
	dlvGroupOrder                    // the order, its goods and calendar
	dlvGroupNetwork                  // how the carriers are doing right now
	dlvGroupSeller                   // the seller's own record
	dlvGroupPlace                    // how often parcels to the customer's region get stuck
	dlvGroupCount
)

func (g dlvGroup) String() string {
	return [...]string{"lane", "handling", "order", "network", "seller", "place"}[g]
}

// dlvGroups is a set of feature families.
type dlvGroups uint

// dlvGroupsOf is the set of gs.
func dlvGroupsOf(gs ...dlvGroup) dlvGroups {
	var s dlvGroups
	for _, g := range gs {
		s |= 1 << g
	}
	return s
}

func (s dlvGroups) has(g dlvGroup) bool { return s&(1<<g) != 0 }

// String names the set, e.g. "lane+handling", in family order.
func (s dlvGroups) String() string {
	var name string
	for g := range dlvGroupCount {
		if s.has(g) {
			if name != "" {
				name += "+"
			}
			name += g.String()
		}
	}
	return name
}

// dlvAllFeatures is every feature the delivery model may use, in order.
func dlvAllFeatures() []dlvFeature {
	return []dlvFeature{
		{Feature: models.Feature{Name: "slack_days", Label: "days left until the promised date"}, group: dlvGroupLane,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 { return k.slackDays() }},
		{Feature: models.Feature{Name: "slack_minus_lane_p90", Label: "days of slack beyond the lane's slow (90th percentile) transit"}, group: dlvGroupLane,
			value: func(k *dlvKnown, l *dlvLaneStats) float64 { return k.slackDays() - dlvOr(l.p90, 0) }},
		{Feature: models.Feature{Name: "lane_overrun_logit", Label: "share of the lane's past parcels slower than the slack left (log-odds)"}, group: dlvGroupLane,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return dlvLogit(l.exceedLane) }},
		{Feature: models.Feature{Name: "region_overrun_logit", Label: "share of past parcels to the customer's region slower than the slack left (log-odds)"}, group: dlvGroupLane,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return dlvLogit(l.exceedRegion) }},
		{Feature: models.Feature{Name: "region_transit_z", Label: "slack left against the usual transit to the customer's region (standard deviations)"}, group: dlvGroupLane,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return l.zRegion }},

		{Feature: models.Feature{Name: "region_late_logit", Label: "share of past parcels to the customer's region delivered late (log-odds)"}, group: dlvGroupPlace,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return dlvLogit(l.lateRegion) }},

		{Feature: models.Feature{Name: "handling_days", Label: "days from approval to carrier hand-off"}, group: dlvGroupHandling, handoffOnly: true,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 { return dlvDays(k.carrierAt.Sub(k.approvedAt)) }},
		{Feature: models.Feature{Name: "handoff_past_limit_days", Label: "days the hand-off came after the seller's deadline"}, group: dlvGroupHandling, handoffOnly: true,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 {
				if k.shippingLimit.IsZero() {
					return 0
				}
				return math.Max(dlvDays(k.carrierAt.Sub(k.shippingLimit)), 0)
			}},

		{Feature: models.Feature{Name: "promise_days", Label: "days promised at purchase"}, group: dlvGroupOrder,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 { return dlvDays(k.promisedEnd.Sub(k.purchasedAt)) }},
		{Feature: models.Feature{Name: "approval_hours_log", Label: "hours from purchase to payment approval (log)"}, group: dlvGroupOrder,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 {
				return math.Log1p(math.Max(k.approvedAt.Sub(k.purchasedAt).Hours(), 0))
			}},
		{Feature: models.Feature{Name: "freight_log", Label: "freight paid (log)"}, group: dlvGroupOrder,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 { return math.Log1p(k.freight) }},
		{Feature: models.Feature{Name: "weight_log", Label: "parcel weight in kg (log)"}, group: dlvGroupOrder,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 { return math.Log1p(dlvOr(k.weightKG, 0)) }},
		{Feature: models.Feature{Name: "same_state", Label: "seller and customer in the same state"}, group: dlvGroupOrder,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 { return dlvBool(k.sellerState == k.customerState) }},
		{Feature: models.Feature{Name: "multi_seller", Label: "items from more than one seller"}, group: dlvGroupOrder,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 { return dlvBool(k.sellers > 1) }},
		{Feature: models.Feature{Name: "weekend_ahead", Label: "moment on a Friday or Saturday"}, group: dlvGroupOrder,
			value: func(k *dlvKnown, _ *dlvLaneStats) float64 {
				wd := k.at.Weekday()
				return dlvBool(wd == time.Friday || wd == time.Saturday)
			}},

		{Feature: models.Feature{Name: "network_late_now_logit", Label: "share of the last two weeks' parcels to the customer's state already late (log-odds)"}, group: dlvGroupNetwork,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return dlvLogit(l.net.lateNow) }},
		{Feature: models.Feature{Name: "network_recent_late_logit", Label: "share late among the last two weeks' deliveries to the customer's state (log-odds)"}, group: dlvGroupNetwork,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return dlvLogit(l.net.recentLate) }},
		{Feature: models.Feature{Name: "network_slow_now_logit", Label: "share of the last two weeks' parcels to the customer's state already slower than usual (log-odds)"}, group: dlvGroupNetwork,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return dlvLogit(l.net.slowNow) }},
		{Feature: models.Feature{Name: "network_slowdown", Label: "how much slower the last two weeks' deliveries to the customer's state were than usual (log days)"}, group: dlvGroupNetwork,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return l.net.recentSlowdown }},

		{Feature: models.Feature{Name: "seller_late_logit", Label: "share of the seller's past parcels delivered late (log-odds)"}, group: dlvGroupSeller,
			value: func(_ *dlvKnown, l *dlvLaneStats) float64 { return dlvLogit(l.net.sellerLate) }},
	}
}

// dlvFeatureSet is the features of moment m in the families groups.
func dlvFeatureSet(m DeliveryMoment, groups dlvGroups) []dlvFeature {
	var fs []dlvFeature
	for _, f := range dlvAllFeatures() {
		if !groups.has(f.group) || (f.handoffOnly && m != AtHandoff) {
			continue
		}
		fs = append(fs, f)
	}
	return fs
}

// dlvRow computes the features fs of k with lane statistics l.
func dlvRow(fs []dlvFeature, k *dlvKnown, l *dlvLaneStats) []float64 {
	x := make([]float64, len(fs))
	for j, f := range fs {
		x[j] = f.value(k, l)
		if math.IsNaN(x[j]) || math.IsInf(x[j], 0) {
			x[j] = 0
		}
	}
	return x
}

// dlvBaselineScore is the plain baseline: the lane's 90th-percentile transit
// p90 minus the slack left, so that a higher score means more likely late.
// With no history at all (p90 NaN) the lane transit counts as zero.
func dlvBaselineScore(k *dlvKnown, p90 float64) float64 {
	return dlvOr(p90, 0) - k.slackDays()
}

func dlvOr(v, fallback float64) float64 {
	if math.IsNaN(v) {
		return fallback
	}
	return v
}

func dlvBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
