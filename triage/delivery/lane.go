package delivery

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Lane history: the transit times of finished orders, from the prediction
// moment to delivery, looked up as of a moment so that an order's
// features see only the orders delivered before it.

// obs is one order whose delivery is known, as the lane history
// sees it.
type obs struct {
	knownAt time.Time // the delivery: from then on the transit is known
	transit float64   // days from the moment (approval or hand-off) to delivery
	lane    string    // seller state > customer state; "" without a seller
	state   string    // customer state
	region  string    // customer state and the zip prefix's first two digits
	late    bool      // delivered after the promised day
}

// history is the lane history of one moment, ordered by when each
// transit became known.
type history struct {
	moment Moment
	obs    []obs
}

// newHistory builds the lane history at moment m from orders; orders not
// delivered, or for which the moment never came, are left out. Lookups see
// only the transits known before their moment (asOf).
func newHistory(orders []Order, m Moment) *history {
	h := &history{moment: m}
	for i := range orders {
		o := &orders[i]
		if _, known := label(o); !known {
			continue
		}
		k, ok := knownAt(o, m)
		if !ok {
			continue
		}
		// A transit is known once both its ends are: the delivery, or the
		// moment itself where messy data has it after the delivery.
		h.obs = append(h.obs, obs{
			knownAt: later(o.DeliveredAt, k.at),
			transit: days(o.DeliveredAt.Sub(k.at)),
			lane:    k.lane(),
			state:   k.customerState,
			region:  region(&k),
			late:    !o.DeliveredAt.Before(k.promisedEnd),
		})
	}
	slices.SortStableFunc(h.obs, func(a, b obs) int { return a.knownAt.Compare(b.knownAt) })
	return h
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// asOf returns the observations known strictly before t.
func (h *history) asOf(t time.Time) []obs {
	n := sort.Search(len(h.obs), func(i int) bool { return !h.obs[i].knownAt.Before(t) })
	return h.obs[:n]
}

// region is the customer's state and zip region (the prefix's first two
// digits): capitals and the interior of a state differ in transit.
func region(k *known) string {
	if len(k.customerZip) < 2 {
		return k.customerState
	}
	return k.customerState + "/" + k.customerZip[:2]
}

// The smoothing of lane estimates: a lane with few orders leans on its
// customer state, a state with few on the whole history, and an empty
// history on a prior lateness. Chosen a priori, not tuned on any split.
const (
	priorLate   = 0.05 // the prior share of late (or over-slack) orders
	priorWeight = 20.0 // in pseudo-orders
	stateWeight = 20.0
	laneWeight  = 10.0
	// minQuantileN is how many transits a lane (then a state) needs for
	// its own 90th percentile in the baseline; fewer fall back a level.
	minQuantileN = 10
)

// laneStats summarises the lane history of one order at its moment.
type laneStats struct {
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
	// order of the dataset known by then (see network); the baseline
	// does not use it.
	net netStats
}

// count is a pair of counts for a smoothed share.
type count struct{ k, n float64 }

func (c *count) add(hit bool) {
	c.n++
	if hit {
		c.k++
	}
}

// shrink is (k + w·prior) / (n + w).
func shrink(c count, prior, w float64) float64 { return (c.k + w*prior) / (c.n + w) }

// chain smooths a share down the chain all → state → leaf.
func chain(all, state, leaf count) float64 {
	p := shrink(all, priorLate, priorWeight)
	p = shrink(state, p, stateWeight)
	return shrink(leaf, p, laneWeight)
}

// stats looks up the lane history of k as of its moment.
func (h *history) stats(k *known) laneStats {
	obs := h.asOf(k.at)
	lane, state, region := k.lane(), k.customerState, region(k)
	slack := k.slackDays()
	var (
		laneT, stateT, allT              []float64
		exAll, exState, exLane, exRegion count
		lateAll, lateState, lateRegion   count
		logAll, logState, logRegion      mean
	)
	for i := range obs {
		o := &obs[i]
		over := o.transit >= slack
		lt := logDays(o.transit)
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
	s := laneStats{
		nAll: len(allT), nState: len(stateT), nLane: len(laneT),
		exceedLane:   chain(exAll, exState, exLane),
		exceedRegion: chain(exAll, exState, exRegion),
		lateRegion:   chain(lateAll, lateState, lateRegion),
	}
	if logAll.n >= 2 {
		mu := logAll.sum / logAll.n
		muState := logState.shrunk(mu, stateWeight)
		sd := math.Sqrt(math.Max(logAll.sq/logAll.n-mu*mu, 1e-4))
		s.zRegion = (logDays(slack) - logRegion.shrunk(muState, laneWeight)) / sd
	}
	ref := allT
	switch {
	case len(laneT) >= minQuantileN:
		ref = laneT
	case len(stateT) >= minQuantileN:
		ref = stateT
	}
	slices.Sort(ref)
	s.p90, s.p50 = quantile(ref, 0.9), quantile(ref, 0.5)
	return s
}

// mean accumulates a mean and mean square.
type mean struct{ sum, sq, n float64 }

func (m *mean) add(v float64) {
	m.sum += v
	m.sq += v * v
	m.n++
}

// shrunk is the mean pulled towards prior with the weight of w observations.
func (m *mean) shrunk(prior, w float64) float64 { return (m.sum + w*prior) / (m.n + w) }

// logDays is the log of a duration in days, floored at a quarter day so
// that a parcel already past its promise gets a finite, very low value.
func logDays(d float64) float64 { return math.Log(math.Max(d, 0.25)) }

// quantile is the q-quantile of sorted by linear interpolation; NaN when
// sorted is empty.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// logit is the log-odds of p, kept finite.
func logit(p float64) float64 {
	p = math.Min(math.Max(p, 1e-6), 1-1e-6)
	return math.Log(p / (1 - p))
}
