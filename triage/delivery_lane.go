package triage

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Lane history: the transit times of finished orders, from the prediction
// moment to delivery, looked up as of a moment so that an order's
// features see only the orders delivered before it.

// dlvObs is one order whose delivery is known, as the lane history
// sees it.
type dlvObs struct {
	knownAt time.Time // the delivery: from then on the transit is known
	transit float64   // days from the moment (approval or hand-off) to delivery
	lane    string    // seller state > customer state; "" without a seller
	state   string    // customer state
	region  string    // customer state and the zip prefix's first two digits
	late    bool      // delivered after the promised day
}

// dlvHistory is the lane history of one moment, ordered by when each
// transit became known.
type dlvHistory struct {
	moment DeliveryMoment
	obs    []dlvObs
}

// newDlvHistory builds the lane history at moment m from orders; orders not
// delivered, or for which the moment never came, are left out. Lookups see
// only the transits known before their moment (asOf).
func newDlvHistory(orders []HistoryOrder, m DeliveryMoment) *dlvHistory {
	h := &dlvHistory{moment: m}
	for i := range orders {
		o := &orders[i]
		if _, known := dlvLabel(o); !known {
			continue
		}
		k, ok := dlvKnownAt(o, m)
		if !ok {
			continue
		}
		// A transit is known once both its ends are: the delivery, or the
		// moment itself where messy data has it after the delivery.
		h.obs = append(h.obs, dlvObs{
			knownAt: dlvLater(o.DeliveredAt, k.at),
			transit: dlvDays(o.DeliveredAt.Sub(k.at)),
			lane:    k.lane(),
			state:   k.customerState,
			region:  dlvRegion(&k),
			late:    !o.DeliveredAt.Before(k.promisedEnd),
		})
	}
	slices.SortStableFunc(h.obs, func(a, b dlvObs) int { return a.knownAt.Compare(b.knownAt) })
	return h
}

func dlvLater(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// asOf returns the observations known strictly before t.
func (h *dlvHistory) asOf(t time.Time) []dlvObs {
	n := sort.Search(len(h.obs), func(i int) bool { return !h.obs[i].knownAt.Before(t) })
	return h.obs[:n]
}

// dlvRegion is the customer's state and zip region (the prefix's first two
// digits): capitals and the interior of a state differ in transit.
func dlvRegion(k *dlvKnown) string {
	if len(k.customerZip) < 2 {
		return k.customerState
	}
	return k.customerState + "/" + k.customerZip[:2]
}

// The smoothing of lane estimates: a lane with few orders leans on its
// customer state, a state with few on the whole history, and an empty
// history on a prior lateness. Chosen a priori, not tuned on any split.
const (
	dlvPriorLate   = 0.05 // the prior share of late (or over-slack) orders
	dlvPriorWeight = 20.0 // in pseudo-orders
	dlvStateWeight = 20.0
	dlvLaneWeight  = 10.0
	// dlvMinQuantileN is how many transits a lane (then a state) needs for
	// its own 90th percentile in the baseline; fewer fall back a level.
	dlvMinQuantileN = 10
)

// dlvLaneStats summarises the lane history of one order at its moment.
type dlvLaneStats struct {
	nAll, nState, nLane int
	// p90 is the 90th-percentile transit of the lane, falling back to the
	// customer state, then to everything (the baseline's yardstick); p50 the
	// median by the same rule.
	p90, p50 float64
	// exceedLane is the smoothed share of transits at least as long as the
	// order's slack (all → state → lane); exceedRegion the same along
	// all → state → customer zip region.
	exceedLane, exceedRegion float64
	// zRegion says how the slack compares with a log-normal model of
	// transit: (log slack − mean log transit) / spread, the mean smoothed
	// along all → state → customer zip region, the spread pooled. Unlike
	// counts of past overruns it separates orders in the tail, where
	// lateness lives, without needing late orders in every region.
	zRegion float64
	// lateRegion is the smoothed share of past parcels to the customer's
	// zip region delivered late (all → state → region), whatever their
	// slack: how often parcels there get stuck.
	lateRegion float64
	// net is the state of the whole network at the moment, from every
	// order of the dataset known by then (see dlvNetwork); the baseline
	// does not use it.
	net dlvNetStats
}

// dlvCount is a pair of counts for a smoothed share.
type dlvCount struct{ k, n float64 }

func (c *dlvCount) add(hit bool) {
	c.n++
	if hit {
		c.k++
	}
}

// dlvShrink is (k + w·prior) / (n + w).
func dlvShrink(c dlvCount, prior, w float64) float64 { return (c.k + w*prior) / (c.n + w) }

// dlvChain smooths a share down the chain all → state → leaf.
func dlvChain(all, state, leaf dlvCount) float64 {
	p := dlvShrink(all, dlvPriorLate, dlvPriorWeight)
	p = dlvShrink(state, p, dlvStateWeight)
	return dlvShrink(leaf, p, dlvLaneWeight)
}

// stats looks up the lane history of k as of its moment.
func (h *dlvHistory) stats(k *dlvKnown) dlvLaneStats {
	obs := h.asOf(k.at)
	lane, state, region := k.lane(), k.customerState, dlvRegion(k)
	slack := k.slackDays()
	var (
		laneT, stateT, allT              []float64
		exAll, exState, exLane, exRegion dlvCount
		lateAll, lateState, lateRegion   dlvCount
		logAll, logState, logRegion      dlvMean
	)
	for i := range obs {
		o := &obs[i]
		over := o.transit >= slack
		lt := dlvLogDays(o.transit)
		allT = append(allT, o.transit)
		logAll.add(lt)
		exAll.add(over)
		lateAll.add(o.late)
		if o.state != state {
			continue
		}
		stateT = append(stateT, o.transit)
		logState.add(lt)
		exState.add(over)
		lateState.add(o.late)
		if o.region == region {
			exRegion.add(over)
			lateRegion.add(o.late)
			logRegion.add(lt)
		}
		if lane != "" && o.lane == lane {
			laneT = append(laneT, o.transit)
			exLane.add(over)
		}
	}
	s := dlvLaneStats{
		nAll: len(allT), nState: len(stateT), nLane: len(laneT),
		exceedLane:   dlvChain(exAll, exState, exLane),
		exceedRegion: dlvChain(exAll, exState, exRegion),
		lateRegion:   dlvChain(lateAll, lateState, lateRegion),
	}
	if logAll.n >= 2 {
		mu := logAll.sum / logAll.n
		muState := logState.shrunk(mu, dlvStateWeight)
		sd := math.Sqrt(math.Max(logAll.sq/logAll.n-mu*mu, 1e-4))
		s.zRegion = (dlvLogDays(slack) - logRegion.shrunk(muState, dlvLaneWeight)) / sd
	}
	ref := allT
	switch {
	case len(laneT) >= dlvMinQuantileN:
		ref = laneT
	case len(stateT) >= dlvMinQuantileN:
		ref = stateT
	}
	slices.Sort(ref)
	s.p90, s.p50 = dlvQuantile(ref, 0.9), dlvQuantile(ref, 0.5)
	return s
}

// dlvMean accumulates a mean and mean square.
type dlvMean struct{ sum, sq, n float64 }

func (m *dlvMean) add(v float64) {
	m.sum += v
	m.sq += v * v
	m.n++
}

// shrunk is the mean pulled towards prior with the weight of w observations.
func (m *dlvMean) shrunk(prior, w float64) float64 { return (m.sum + w*prior) / (m.n + w) }

// dlvLogDays is the log of a duration in days, floored at a quarter day so
// that a parcel already past its promise gets a finite, very low value.
func dlvLogDays(d float64) float64 { return math.Log(math.Max(d, 0.25)) }

// dlvQuantile is the q-quantile of sorted by linear interpolation; NaN when
// sorted is empty.
func dlvQuantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// dlvLogit is the log-odds of p, kept finite.
func dlvLogit(p float64) float64 {
	p = math.Min(math.Max(p, 1e-6), 1-1e-6)
	return math.Log(p / (1 - p))
}
