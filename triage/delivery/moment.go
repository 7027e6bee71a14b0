package delivery

import (
	"fmt"
	"math"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Moment is when a delivery-risk prediction is made. Each moment
// sees only what is known then: at approval the order, its promise, its
// seller and customer and the lane history; at hand-off also when the parcel
// reached the carrier.
type Moment string

// The prediction moments of the delivery backtest.
const (
	// AtApproval is when the payment is approved and the order released.
	AtApproval Moment = "approval"
	// AtHandoff is when the seller hands the parcel to the carrier: what the
	// in-flight risk sweep sees.
	AtHandoff Moment = "handoff"
)

// ParseMoment parses "approval" or "handoff".
func ParseMoment(s string) (Moment, error) {
	switch m := Moment(s); m {
	case AtApproval, AtHandoff:
		return m, nil
	}
	return "", fmt.Errorf("delivery moment %q: want approval or handoff: %w", s, derrors.Invalid)
}

// known is what is known about an order at a prediction moment. It is the
// feature builder's only view of the order: it has no field for the delivery,
// for reviews, or (at approval) for the carrier hand-off, so nothing known
// only later can reach the features. knownAt is the one function that
// reads an Order to fill it.
type known struct {
	moment      Moment
	at          time.Time // the moment itself
	purchasedAt time.Time
	approvedAt  time.Time
	carrierAt   time.Time // zero at approval
	// promisedEnd is the end of the promised day: delivery at or after it is late.
	promisedEnd   time.Time
	customerZip   string
	customerState string
	sellerID      string // the first item's seller; "" when the order has no items
	sellerZip     string
	sellerState   string
	sellers       int
	items         int
	price         float64
	freight       float64
	weightKG      float64 // NaN when a product's weight is unknown
	// shippingLimit is the latest of the items' hand-over deadlines; zero if none.
	shippingLimit time.Time
}

// knownAt returns what is known about o at moment m, and false when the
// moment never came for o (not approved, never handed to a carrier).
func knownAt(o *Order, m Moment) (known, bool) {
	k := known{
		moment:        m,
		purchasedAt:   o.PurchasedAt,
		approvedAt:    o.ApprovedAt,
		promisedEnd:   day(o.EstimatedDelivery).AddDate(0, 0, 1),
		customerZip:   o.CustomerZip,
		customerState: o.CustomerState,
		items:         len(o.Items),
	}
	if o.ApprovedAt.IsZero() {
		return known{}, false
	}
	switch m {
	case AtApproval:
		k.at = o.ApprovedAt
	case AtHandoff:
		if o.CarrierAt.IsZero() {
			return known{}, false
		}
		k.carrierAt = o.CarrierAt
		k.at = o.CarrierAt
	default:
		return known{}, false
	}
	seen := map[string]bool{}
	for i, it := range o.Items {
		if i == 0 {
			k.sellerID, k.sellerZip, k.sellerState = it.SellerID, it.SellerZip, it.SellerState
		}
		if !seen[it.SellerID] {
			seen[it.SellerID] = true
			k.sellers++
		}
		k.price += it.Price
		k.freight += it.Freight
		k.weightKG += it.WeightG / 1000 // NaN stays NaN: unknown
		if it.ShippingLimit.After(k.shippingLimit) {
			k.shippingLimit = it.ShippingLimit
		}
	}
	if len(o.Items) == 0 {
		k.weightKG = math.NaN()
	}
	return k, true
}

// lane names the lane from the seller's state to the customer's.
func (k *known) lane() string {
	if k.sellerState == "" {
		return ""
	}
	return k.sellerState + ">" + k.customerState
}

// slackDays is the time left at the moment until the promised day ends.
func (k *known) slackDays() float64 { return days(k.promisedEnd.Sub(k.at)) }

func days(d time.Duration) float64 { return d.Hours() / 24 }

// label says whether o was delivered late, and false when it was not
// delivered (its outcome is unknown). Only the backtest's labels read the
// delivery; features never do.
func label(o *Order) (late, known bool) { return o.Late() }
