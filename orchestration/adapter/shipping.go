package adapter

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Fulfillment is the fulfilling location's system: a warehouse's WMS, a store's
// order-management app or a drop-ship partner's portal. Release hands it the
// lines to pick; it may refuse them (Accepted false), which is a result.
type Fulfillment interface {
	Release(ctx context.Context, req ReleaseRequest) (ReleaseResult, error)
}

// Reasons a location refuses a release.
const (
	RejectItemNotFound   = "item_not_found"  // the stock is not where the system thought: a stockout
	RejectDamaged        = "damaged"         // found but unsellable
	RejectCapacity       = "capacity"        // no pick capacity left today
	RejectLocationClosed = "location_closed" // closed (stocktake, weather, holiday)
)

// ReleaseRequest releases lines of an order to a location for picking.
type ReleaseRequest struct {
	IdempotencyKey string        `json:"idempotency_key"`
	OrderID        uuid.UUID     `json:"order_id"`
	LocationCode   string        `json:"location_code"`
	ServiceLevel   string        `json:"service_level,omitempty"`
	Lines          []ReleaseLine `json:"lines"`
}

// ReleaseLine is one line to pick.
type ReleaseLine struct {
	LineID uuid.UUID `json:"line_id"`
	SKU    string    `json:"sku"`
	Qty    int       `json:"qty"`
}

// Validate names each bad field.
func (r ReleaseRequest) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "idempotency_key", r.IdempotencyKey)
	checkOrder(v, r.OrderID)
	if r.LocationCode == "" {
		v.Add("location_code", "required")
	}
	if len(r.Lines) == 0 {
		v.Add("lines", "want at least one line")
	}
	for i, l := range r.Lines {
		if l.LineID == uuid.Nil || l.SKU == "" || l.Qty < 1 {
			v.Add(indexed("lines", i), "want line_id, sku and qty of at least 1")
		}
	}
	return v.Err()
}

// ReleaseResult is the location's answer. A refusal names the canonical
// RejectReason (one of the Reject… constants), the lines it concerns (all of
// them when RejectedLines is empty), and the location system's own code and
// message ("SKU not found in bin A-12-03").
type ReleaseResult struct {
	ReleaseID     string      `json:"release_id,omitempty"` // the location's pick ticket, when accepted
	Accepted      bool        `json:"accepted"`
	RejectReason  string      `json:"reject_reason,omitempty"`
	RejectedLines []uuid.UUID `json:"rejected_lines,omitempty"`
	Code          string      `json:"code,omitempty"`
	Message       string      `json:"message,omitempty"`
}

// Carrier books shipments and reports their progress. Progress also arrives by
// callback ([TrackingUpdate]); Track polls for it.
type Carrier interface {
	Book(ctx context.Context, req BookRequest) (Booking, error)
	Track(ctx context.Context, trackingNumber string) ([]TrackingEvent, error)
}

// Tracking event kinds.
const (
	TrackInTransit = "in_transit"
	TrackDelayed   = "delayed"
	TrackException = "exception" // the shipment is stuck and needs action (damaged, lost, bad address)
	TrackDelivered = "delivered"
)

// Place is one end of a shipment: a location (Code set) or a delivery address.
type Place struct {
	Code       string  `json:"code,omitempty"`
	PostalCode string  `json:"postal_code,omitempty"`
	Region     string  `json:"region"`
	Country    string  `json:"country,omitempty"`
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
}

// Parcel is one box of a shipment.
type Parcel struct {
	WeightKg float64 `json:"weight_kg"`
	LengthCm float64 `json:"length_cm,omitempty"`
	WidthCm  float64 `json:"width_cm,omitempty"`
	HeightCm float64 `json:"height_cm,omitempty"`
}

// BookRequest books one shipment with a carrier and service level.
type BookRequest struct {
	IdempotencyKey string    `json:"idempotency_key"`
	ShipmentID     uuid.UUID `json:"shipment_id"`
	OrderID        uuid.UUID `json:"order_id"`
	Carrier        string    `json:"carrier"`
	Service        string    `json:"service"` // standard, express, same_day
	From           Place     `json:"from"`
	To             Place     `json:"to"`
	Parcels        []Parcel  `json:"parcels"`
}

// Validate names each bad field.
func (r BookRequest) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "idempotency_key", r.IdempotencyKey)
	checkOrder(v, r.OrderID)
	if r.ShipmentID == uuid.Nil {
		v.Add("shipment_id", "required")
	}
	if r.Carrier == "" {
		v.Add("carrier", "required")
	}
	if r.Service == "" {
		v.Add("service", "required")
	}
	if r.From.Region == "" || !validLatLon(r.From.Lat, r.From.Lon) {
		v.Add("from", "want a region and a latitude and longitude in range")
	}
	if r.To.Region == "" || !validLatLon(r.To.Lat, r.To.Lon) {
		v.Add("to", "want a region and a latitude and longitude in range")
	}
	if len(r.Parcels) == 0 {
		v.Add("parcels", "want at least one parcel")
	}
	for i, p := range r.Parcels {
		if !validAmount(p.WeightKg, true) {
			v.Add(indexed("parcels", i)+".weight_kg", "want a positive weight")
		}
	}
	return v.Err()
}

// Booking is the carrier's confirmation: the tracking number to follow and
// the carrier's first delivery estimate.
type Booking struct {
	TrackingNumber    string    `json:"tracking_number"`
	Carrier           string    `json:"carrier"`
	Service           string    `json:"service"`
	LabelURL          string    `json:"label_url"`
	EstimatedDelivery time.Time `json:"estimated_delivery"`
}

// TrackingEvent is one scan or notice from the carrier.
type TrackingEvent struct {
	Kind    string    `json:"kind"` // TrackInTransit, TrackDelayed, TrackException or TrackDelivered
	At      time.Time `json:"at"`
	Code    string    `json:"code,omitempty"` // the carrier's reason code, e.g. weather_delay
	Message string    `json:"message,omitempty"`
	Region  string    `json:"region,omitempty"` // where it happened
}

// TrackingUpdate is the body of a carrier's tracking callback: the new events
// of one shipment.
type TrackingUpdate struct {
	TrackingNumber string          `json:"tracking_number"`
	Carrier        string          `json:"carrier,omitempty"`
	Events         []TrackingEvent `json:"events"`
}

// indexed names element i of a list field.
func indexed(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }
