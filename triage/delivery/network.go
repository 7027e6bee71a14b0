package delivery

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Network state: how the carriers are doing right now. Olist's lateness
// comes in waves (holidays, strikes, a hub falling behind), which the lane
// history of the whole training period averages away. The network history
// holds every order of the dataset, training or not, but an order's features
// see only what the live sweep would have seen at its moment: parcels
// delivered before it (with their lateness, known on delivery) and parcels
// handed to the carrier before it that were still not delivered when their
// promise ran out.

// netWindow is how far back the network state looks. Chosen a priori (two
// weeks of deliveries is about 350 parcels in the Olist subset), not tuned.
const netWindow = 14 * 24 * time.Hour

// shipped is one parcel as the network history sees it. Its fields are
// facts with their own times; asOf-style lookups compare those times with
// the moment, so a parcel's delivery counts only once it happened.
type shipped struct {
	id          string    // the order, to order hand-offs at the same time
	carrierAt   time.Time // handed to the carrier
	promisedEnd time.Time // the end of the promised day
	deliveredAt time.Time // zero if never delivered
	state       string    // customer state
	seller      string    // the first item's seller
	logTransit  float64   // log days from hand-off to delivery; NaN if not delivered
}

// network is the network history of a dataset, ordered by hand-off.
type network struct {
	parcels []shipped
}

// newNetwork builds the network history from every order handed to a
// carrier.
func newNetwork(orders []Order) *network {
	n := &network{}
	for i := range orders {
		o := &orders[i]
		if o.CarrierAt.IsZero() {
			continue
		}
		p := shipped{
			id:          o.ID,
			carrierAt:   o.CarrierAt,
			promisedEnd: day(o.EstimatedDelivery).AddDate(0, 0, 1),
			deliveredAt: o.DeliveredAt,
			state:       o.CustomerState,
			logTransit:  math.NaN(),
		}
		if len(o.Items) > 0 {
			p.seller = o.Items[0].SellerID
		}
		if !o.DeliveredAt.IsZero() {
			p.logTransit = logDays(days(o.DeliveredAt.Sub(o.CarrierAt)))
		}
		n.parcels = append(n.parcels, p)
	}
	// Sums over the parcels must not depend on the order the dataset was
	// read in: hand-offs are often recorded in batches at the same second,
	// and a different summation order would break ties among scores
	// differently.
	slices.SortFunc(n.parcels, func(a, b shipped) int {
		if c := a.carrierAt.Compare(b.carrierAt); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return n
}

// netStats is the network state seen by one order at its moment.
type netStats struct {
	// lateNow is the smoothed share of parcels handed over in the window
	// before the moment that are already known to be late: delivered after
	// their promise, or their promise over and still not delivered (all →
	// customer state).
	lateNow float64
	// recentLate is the smoothed share late among the parcels delivered in
	// the window (all → customer state).
	recentLate float64
	// recentSlowdown is how much slower (in log days) the window's
	// deliveries to the customer's state were than all earlier ones, shrunk
	// towards the same figure for the whole network.
	recentSlowdown float64
	// slowNow is the smoothed share of the parcels handed over in the
	// window that have already taken longer than the customer state's
	// usual slow (75th percentile) transit, among those old enough to
	// tell: delivered, or open for longer than that (all → customer state).
	// Unlike lateness it needs no promise to run out, so it sees a hub
	// falling behind within days.
	slowNow float64
	// sellerLate is the smoothed late share of the seller's delivered
	// parcels (all → seller).
	sellerLate float64
}

// stats reads the network as of k's moment: only parcels handed over
// strictly before it, and only deliveries strictly before it.
func (n *network) stats(k *known) netStats {
	at := k.at
	end := sort.Search(len(n.parcels), func(i int) bool { return !n.parcels[i].carrierAt.Before(at) })
	since := at.Add(-netWindow)
	var (
		nowAll, nowState       count
		recAll, recState       count
		slowAll, slowState     mean // log transit delivered in the window
		earlyAll, earlyState   mean // log transit delivered before it
		sellerAll, sellerCount count
	)
	var earlyT, earlyStateT []float64 // log transits delivered before the window
	for i := range n.parcels[:end] {
		p := &n.parcels[i]
		if !p.deliveredAt.IsZero() && p.deliveredAt.Before(since) {
			earlyT = append(earlyT, p.logTransit)
			if p.state == k.customerState {
				earlyStateT = append(earlyStateT, p.logTransit)
			}
		}
	}
	slow := earlyT
	if len(earlyStateT) >= minQuantileN {
		slow = earlyStateT
	}
	slices.Sort(slow)
	slowAfter, slowAfterAll := quantile(slow, 0.75), quantile(earlyT, 0.75)
	var slowNowAll, slowNowState count
	for i := range n.parcels[:end] {
		p := &n.parcels[i]
		delivered := !p.deliveredAt.IsZero() && p.deliveredAt.Before(at)
		same := p.state == k.customerState
		if !p.carrierAt.Before(since) && !math.IsNaN(slowAfter) {
			age := logDays(days(at.Sub(p.carrierAt)))
			threshold := slowAfterAll
			if same {
				threshold = slowAfter
			}
			switch {
			case delivered:
				slowNowAll.add(p.logTransit > threshold)
			case age > threshold:
				slowNowAll.add(true)
			}
			if same {
				switch {
				case delivered:
					slowNowState.add(p.logTransit > threshold)
				case age > threshold:
					slowNowState.add(true)
				}
			}
		}
		if delivered {
			late := !p.deliveredAt.Before(p.promisedEnd)
			sellerAll.add(late)
			if k.sellerID != "" && p.seller == k.sellerID {
				sellerCount.add(late)
			}
			if p.deliveredAt.Before(since) {
				earlyAll.add(p.logTransit)
				if same {
					earlyState.add(p.logTransit)
				}
			} else {
				recAll.add(late)
				slowAll.add(p.logTransit)
				if same {
					recState.add(late)
					slowState.add(p.logTransit)
				}
			}
		}
		if p.carrierAt.Before(since) {
			continue
		}
		// Known late at the moment: delivered late, or overdue and open.
		knownLate := (delivered && !p.deliveredAt.Before(p.promisedEnd)) || (!delivered && p.promisedEnd.Before(at))
		nowAll.add(knownLate)
		if same {
			nowState.add(knownLate)
		}
	}
	s := netStats{
		lateNow:    shrink(nowState, shrink(nowAll, priorLate, priorWeight), stateWeight),
		recentLate: shrink(recState, shrink(recAll, priorLate, priorWeight), stateWeight),
		slowNow:    shrink(slowNowState, shrink(slowNowAll, 0.25, priorWeight), stateWeight),
		sellerLate: shrink(sellerCount, shrink(sellerAll, priorLate, priorWeight), laneWeight),
	}
	if earlyAll.n > 0 && slowAll.n > 0 {
		all := slowAll.sum/slowAll.n - earlyAll.sum/earlyAll.n
		early := earlyState.shrunk(earlyAll.sum/earlyAll.n, stateWeight)
		s.recentSlowdown = slowState.shrunk(early+all, stateWeight) - early
	}
	return s
}
