package triage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
)

// Risk is one risk score of a case with the factors behind it.
type Risk struct {
	// Probability is the chance of the bad outcome (a stockout, a late
	// delivery), in [0, 1].
	Probability float64 `json:"probability"`
	// Method is "model" for a trained, calibrated models.RiskModel,
	// "heuristic" for the transparent hand-weighted score used until one is
	// trained (its probability is not calibrated), or "none" when the
	// exception carries nothing to score.
	Method string `json:"method"`
	// Version is the trained model's version or the heuristic's.
	Version string          `json:"version"`
	Factors []models.Factor `json:"factors"`
	// Features are the inputs; a feature the data could not supply is absent.
	Features map[string]float64 `json:"features,omitempty"`
	Note     string             `json:"note,omitempty"`
}

// Risks are the two risk scores of a case.
type Risks struct {
	Stockout Risk `json:"stockout"`
	Delivery Risk `json:"delivery"`
}

// Versions of the heuristic scores; bump on any change to their terms.
const (
	StockoutHeuristicVersion = "stockout-heuristic-v1"
	DeliveryHeuristicVersion = "delivery-heuristic-v1"
)

// StockoutFeatures are the inputs of the stockout risk, in the order a
// trained model's rows hold them.
func StockoutFeatures() []models.Feature {
	return []models.Feature{
		{Name: "qty_needed", Label: "units needed"},
		{Name: "atp_network", Label: "units available to promise across the network"},
		{Name: "atp_location", Label: "units available at the location"},
		{Name: "cover_ratio", Label: "network availability per unit needed"},
		{Name: "velocity_per_day", Label: "units reserved per day (last 7 days)"},
		{Name: "days_of_cover", Label: "days of stock cover"},
		{Name: "safety_stock", Label: "safety stock at the location"},
		{Name: "open_reservations", Label: "open reservations at the location"},
		{Name: "overcommitted", Label: "reservations exceed stock at the location"},
		{Name: "staleness_hours", Label: "hours since the location's stock was synced"},
		{Name: "count_variance", Label: "units lost in counts (last 14 days) per unit on hand"},
		{Name: "location_is_store", Label: "location is a store"},
	}
}

// DeliveryFeatures are the inputs of the delivery risk, in the order a
// trained model's rows hold them.
func DeliveryFeatures() []models.Feature {
	return []models.Feature{
		{Name: "slack_hours", Label: "hours between the promise and the estimated delivery"},
		{Name: "delay_hours", Label: "hours of delay reported"},
		{Name: "service_express", Label: "express service"},
		{Name: "service_same_day", Label: "same-day service"},
		{Name: "carrier_on_time", Label: "the carrier's on-time share (30 days)"},
		{Name: "lane_on_time", Label: "on-time share from this location with this carrier (30 days)"},
		{Name: "carrier_delays_7d", Label: "delay exceptions for the carrier in 7 days"},
		{Name: "active_disruptions", Label: "open disruptions for the carrier"},
		{Name: "backlog_ratio", Label: "location's orders today per daily capacity"},
		{Name: "distance_km", Label: "shipping distance in km"},
		{Name: "weekend_due", Label: "due on a weekend"},
		{Name: "carrier_exception", Label: "the exception comes from the carrier"},
	}
}

// riskModels are the trained risk models in force, nil until trained.
type riskModels struct {
	stockout, delivery *models.RiskModel
}

// LoadRiskModels puts in force the newest active trained model of each
// risk, if any; risks without one are scored by the heuristic.
func (s *Service) LoadRiskModels(ctx context.Context) (err error) {
	defer derrors.Wrap(&err, "LoadRiskModels")
	var rm riskModels
	for _, name := range []string{"stockout", "delivery"} {
		var params []byte
		err := s.pool.QueryRow(ctx, `SELECT params FROM risk_models WHERE name = $1 AND active ORDER BY created_at DESC LIMIT 1`,
			name).Scan(&params)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		m, err := models.LoadRiskModel(params)
		if err != nil {
			return fmt.Errorf("risk model %s: %w", name, err)
		}
		if name == "stockout" {
			rm.stockout = m
		} else {
			rm.delivery = m
		}
	}
	s.mu.Lock()
	s.risk = rm
	s.mu.Unlock()
	return nil
}

// term is one additive part of a heuristic's log-odds.
type term struct {
	name string
	c    float64 // contribution to the log-odds
	desc string
}

// scoreRisk scores feats with the trained model when there is one, else
// with the heuristic's terms.
func scoreRisk(m *models.RiskModel, feats map[string]float64, version string, bias float64, terms []term) Risk {
	if m != nil {
		x := make([]float64, len(m.Features))
		for i, f := range m.Features {
			v, ok := feats[f.Name]
			if !ok {
				v = math.NaN() // counts as typical
			}
			x[i] = v
		}
		p, factors := m.Score(x)
		return Risk{Probability: round4(p), Method: "model", Version: m.Version, Factors: factors, Features: feats}
	}
	z := bias
	var fs []models.Factor
	for _, t := range terms {
		if t.c == 0 || math.IsNaN(t.c) {
			continue
		}
		z += t.c
		fs = append(fs, models.Factor{Name: t.name, Description: t.desc, Contribution: round4(t.c)})
	}
	// The largest three by size, those raising the risk first, as
	// models.RiskModel.Score orders them.
	slices.SortStableFunc(fs, func(a, b models.Factor) int { return cmp.Compare(math.Abs(b.Contribution), math.Abs(a.Contribution)) })
	fs = fs[:min(len(fs), 3)]
	slices.SortStableFunc(fs, func(a, b models.Factor) int {
		if (a.Contribution > 0) != (b.Contribution > 0) {
			if a.Contribution > 0 {
				return -1
			}
			return 1
		}
		return cmp.Compare(math.Abs(b.Contribution), math.Abs(a.Contribution))
	})
	if fs == nil {
		fs = []models.Factor{}
	}
	return Risk{Probability: round4(1 / (1 + math.Exp(-z))), Method: "heuristic", Version: version, Factors: fs, Features: feats,
		Note: "hand-weighted heuristic, not calibrated: no trained model yet"}
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// stockoutTerms are the heuristic's terms. The weights say what a planner
// would: little network cover, few days of cover, stale or shrinking
// stock and overcommitted locations make a stockout likely.
func stockoutTerms(f map[string]float64) (bias float64, ts []term) {
	get := func(k string) (float64, bool) { v, ok := f[k]; return v, ok && !math.IsNaN(v) }
	if cover, ok := get("cover_ratio"); ok {
		atp, _ := get("atp_network")
		need, _ := get("qty_needed")
		ts = append(ts, term{"cover_ratio", clamp(2.5-1.5*math.Log2(1+cover), -2, 2.5),
			fmt.Sprintf("%s available across the network for %s needed", fmtNum(atp), fmtNum(need))})
	}
	if days, ok := get("days_of_cover"); ok {
		ts = append(ts, term{"days_of_cover", clamp(1-0.25*days, -2, 1), fmt.Sprintf("%s days of stock cover at the recent rate", fmtNum(days))})
	}
	if over, ok := get("overcommitted"); ok && over > 0 {
		ts = append(ts, term{"overcommitted", 1.2, "reservations exceed the stock at the location"})
	}
	if h, ok := get("staleness_hours"); ok {
		ts = append(ts, term{"staleness_hours", clamp(h/24, 0, 3) * 0.4, fmt.Sprintf("stock last synced %s hours ago", fmtNum(h))})
	}
	if v, ok := get("count_variance"); ok && v > 0 {
		ts = append(ts, term{"count_variance", clamp(v*4, 0, 1.5), fmt.Sprintf("counts lost %s%% of on hand in 14 days", fmtNum(v*100))})
	}
	if st, ok := get("location_is_store"); ok && st > 0 {
		ts = append(ts, term{"location_is_store", 0.4, "store stock is less accurate than a warehouse's"})
	}
	return -1.5, ts
}

// deliveryTerms are the heuristic's terms: negative slack against the
// promise, reported delays, fast services, a carrier with recent delays or
// open disruptions, a backlogged location and long distances make a late
// delivery likely.
func deliveryTerms(f map[string]float64) (bias float64, ts []term) {
	get := func(k string) (float64, bool) { v, ok := f[k]; return v, ok && !math.IsNaN(v) }
	if slack, ok := get("slack_hours"); ok {
		desc := fmt.Sprintf("%s hours to spare before the promise", fmtNum(slack))
		if slack < 0 {
			desc = fmt.Sprintf("expected %s hours after the promise", fmtNum(-slack))
		}
		ts = append(ts, term{"slack_hours", clamp(-slack/24, -2, 3), desc})
	}
	if d, ok := get("delay_hours"); ok && d > 0 {
		ts = append(ts, term{"delay_hours", clamp(d/24, 0, 2), fmt.Sprintf("carrier reports %s hours of delay", fmtNum(d))})
	}
	if v, ok := get("service_express"); ok && v > 0 {
		ts = append(ts, term{"service_express", 0.5, "express service leaves little margin"})
	}
	if v, ok := get("service_same_day"); ok && v > 0 {
		ts = append(ts, term{"service_same_day", 1.0, "same-day service leaves no margin"})
	}
	// The lane's record, when there is one, says more than the carrier's.
	if r, ok := get("lane_on_time"); ok {
		ts = append(ts, term{"lane_on_time", clamp((0.9-r)*4, -0.5, 2), fmt.Sprintf("%s%% on time on this lane lately", fmtNum(r*100))})
	} else if r, ok := get("carrier_on_time"); ok {
		ts = append(ts, term{"carrier_on_time", clamp((0.9-r)*3, -0.5, 1.5), fmt.Sprintf("carrier %s%% on time lately", fmtNum(r*100))})
	}
	if n, ok := get("carrier_delays_7d"); ok && n > 0 {
		ts = append(ts, term{"carrier_delays_7d", 0.15 * math.Min(n, 10), fmt.Sprintf("%s delay exceptions for this carrier in 7 days", fmtNum(n))})
	}
	if n, ok := get("active_disruptions"); ok && n > 0 {
		ts = append(ts, term{"active_disruptions", 0.8 * math.Min(n, 3), fmt.Sprintf("%s open disruptions for this carrier", fmtNum(n))})
	}
	if r, ok := get("backlog_ratio"); ok && r > 0.8 {
		ts = append(ts, term{"backlog_ratio", clamp((r-0.8)*3, 0, 1.5), fmt.Sprintf("shipping location at %s%% of its daily capacity", fmtNum(r*100))})
	}
	if km, ok := get("distance_km"); ok {
		ts = append(ts, term{"distance_km", clamp(km/1000, 0, 1) * 0.5, fmt.Sprintf("%s km to the customer", fmtNum(km))})
	}
	if w, ok := get("weekend_due"); ok && w > 0 {
		ts = append(ts, term{"weekend_due", 0.3, "due on a weekend"})
	}
	if c, ok := get("carrier_exception"); ok && c > 0 {
		ts = append(ts, term{"carrier_exception", 1.0, "the carrier itself reported a problem"})
	}
	return -2, ts
}

// fmtNum prints a number as people write it: no exponent, at most one
// decimal.
func fmtNum(v float64) string {
	r := math.Round(v*10) / 10
	if r == math.Trunc(r) {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}
