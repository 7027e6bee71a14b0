package delivery

import (
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// History is past orders with their whole delivery timeline, loaded from an
// outside dataset (`omnitriage import olist`) into the history_* tables. The
// delivery backtest (`omnitriage eval delivery`) and lane transit statistics
// read it.
//
// Times are the source's wall-clock times stored as UTC (Olist gives São
// Paulo local times without a zone), so calendar days compare as written.

// Order is one past order. Optional moments are zero when they never
// happened (an order that was not approved, not handed to a carrier, or not
// delivered).
type Order struct {
	// Source names the dataset, e.g. "olist"; IDs are unique within it.
	Source        string
	ID            string
	CustomerID    string
	CustomerZip   string // five-digit zip prefix
	CustomerCity  string
	CustomerState string // two-letter state
	Status        string
	PurchasedAt   time.Time
	ApprovedAt    time.Time // payment approved; zero if never
	CarrierAt     time.Time // handed to the carrier; zero if never
	DeliveredAt   time.Time // delivered to the customer; zero if not (yet)
	// EstimatedDelivery is the promised calendar day (midnight UTC): the
	// order is late when delivered on a later day.
	EstimatedDelivery time.Time
	Items             []Item
}

// Item is one line of a past order with its product and seller.
type Item struct {
	ItemNo      int
	ProductID   string
	SellerID    string
	SellerZip   string // filled from the seller when loaded
	SellerState string // filled from the seller when loaded
	// ShippingLimit is the seller's deadline to hand the parcel to the carrier.
	ShippingLimit time.Time
	Price         float64
	Freight       float64
	Category      string
	// Product measures; NaN when the dataset does not know them.
	WeightG, LengthCM, HeightCM, WidthCM float64
}

// Seller is a seller of past orders.
type Seller struct {
	Source string
	ID     string
	Zip    string // five-digit zip prefix
	City   string
	State  string
}

// Dataset is what an importer reads: orders with their items, and
// the sellers the items name.
type Dataset struct {
	Source  string
	Orders  []Order
	Sellers []Seller
}

var (
	zipRE   = regexp.MustCompile(`^[0-9]{5}$`)
	stateRE = regexp.MustCompile(`^[A-Z]{2}$`)
)

// Validate checks that the order has what the backtests rely on.
func (o *Order) Validate() error {
	var v derrors.ValidationError
	if o.Source == "" {
		v.Add("source", "is empty")
	}
	if o.ID == "" {
		v.Add("order_id", "is empty")
	}
	if !zipRE.MatchString(o.CustomerZip) {
		v.Add("customer_zip", "%q is not a five-digit zip prefix", o.CustomerZip)
	}
	if !stateRE.MatchString(o.CustomerState) {
		v.Add("customer_state", "%q is not a two-letter state", o.CustomerState)
	}
	if o.Status == "" {
		v.Add("status", "is empty")
	}
	if o.PurchasedAt.IsZero() {
		v.Add("purchased_at", "is missing")
	}
	if o.EstimatedDelivery.IsZero() {
		v.Add("estimated_delivery", "is missing")
	}
	for i, it := range o.Items {
		f := fmt.Sprintf("items[%d].", i)
		if it.ItemNo < 1 {
			v.Add(f+"item_no", "%d is not positive", it.ItemNo)
		}
		if it.SellerID == "" {
			v.Add(f+"seller_id", "is empty")
		}
		if !(it.Price >= 0) || math.IsInf(it.Price, 0) {
			v.Add(f+"price", "%v is not a non-negative amount", it.Price)
		}
		if !(it.Freight >= 0) || math.IsInf(it.Freight, 0) {
			v.Add(f+"freight", "%v is not a non-negative amount", it.Freight)
		}
	}
	return v.Err()
}

// Validate checks a seller's key fields.
func (s *Seller) Validate() error {
	var v derrors.ValidationError
	if s.ID == "" {
		v.Add("seller_id", "is empty")
	}
	if !zipRE.MatchString(s.Zip) {
		v.Add("seller_zip", "%q is not a five-digit zip prefix", s.Zip)
	}
	if !stateRE.MatchString(s.State) {
		v.Add("seller_state", "%q is not a two-letter state", s.State)
	}
	return v.Err()
}

// Late reports whether the order arrived on a later calendar day than
// promised; known is false while it is not delivered.
func (o *Order) Late() (late, known bool) {
	if o.DeliveredAt.IsZero() {
		return false, false
	}
	return day(o.DeliveredAt).After(day(o.EstimatedDelivery)), true
}

// day truncates t to its calendar day in UTC, the zone history is kept in.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
