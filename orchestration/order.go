package orchestration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/rules"
)

// Order statuses this file knows; the lifecycle adds the rest.
const (
	StatusCaptured    = "captured"    // every line reserved
	StatusBackordered = "backordered" // some quantity waits for stock
	StatusRejected    = "rejected"    // the sourcing rules refused it
	StatusCancelled   = "cancelled"
)

// Line statuses.
const (
	LineAllocated   = "allocated"
	LineBackordered = "backordered"
	LineRejected    = "rejected"
	LineCancelled   = "cancelled"
)

// Customer is who ordered.
type Customer struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Tier  string `json:"tier,omitempty"` // e.g. standard, gold, vip: the policy's guards read it
}

// Address is where a shipped order goes. Lat and Lon place it for sourcing.
type Address struct {
	Name       string   `json:"name,omitempty"`
	Line1      string   `json:"line1"`
	Line2      string   `json:"line2,omitempty"`
	City       string   `json:"city"`
	Region     string   `json:"region,omitempty"`
	PostalCode string   `json:"postal_code"`
	Country    string   `json:"country"`
	Lat        *float64 `json:"lat"`
	Lon        *float64 `json:"lon"`
}

// LineInput is one line of a new or edited order.
type LineInput struct {
	SKU       string   `json:"sku"`
	Qty       int      `json:"qty"`
	UnitPrice *float64 `json:"unit_price,omitempty"` // the SKU's price when omitted
}

// CaptureRequest is an order as a channel sends it.
type CaptureRequest struct {
	Channel        string      `json:"channel"`
	ExternalID     string      `json:"external_id"`
	Customer       Customer    `json:"customer"`
	ShipTo         *Address    `json:"ship_to,omitempty"`
	PickupLocation string      `json:"pickup_location,omitempty"`
	ServiceLevel   string      `json:"service_level"`
	PaymentRef     string      `json:"payment_ref,omitempty"`
	Currency       string      `json:"currency,omitempty"`
	PromisedBy     *time.Time  `json:"promised_by,omitempty"`
	Lines          []LineInput `json:"lines"`
}

// MaxLines is the most lines one order may have.
const MaxLines = 200

// Validate names each bad field.
func (r *CaptureRequest) Validate() error {
	v := &derrors.ValidationError{}
	if !codeRE.MatchString(r.Channel) {
		v.Add("channel", "want a channel code (see GET /v1/channels)")
	}
	if r.ExternalID == "" || len(r.ExternalID) > 128 {
		v.Add("external_id", "required: the channel's own order number, at most 128 bytes")
	}
	if r.Customer.ID == "" || len(r.Customer.ID) > 128 {
		v.Add("customer.id", "required, at most 128 bytes")
	}
	if r.Customer.Email != "" {
		if _, err := mail.ParseAddress(r.Customer.Email); err != nil || len(r.Customer.Email) > 254 {
			v.Add("customer.email", "not an email address")
		}
	}
	if len(r.Customer.Name) > 200 || len(r.Customer.Tier) > 32 {
		v.Add("customer", "name at most 200 bytes, tier at most 32")
	}
	switch {
	case r.ShipTo == nil && r.PickupLocation == "":
		v.Add("ship_to", "give ship_to for delivery or pickup_location for collection")
	case r.ShipTo != nil && r.PickupLocation != "":
		v.Add("pickup_location", "an order is shipped or picked up, not both")
	case r.ShipTo != nil:
		a := r.ShipTo
		if strings.TrimSpace(a.Line1) == "" {
			v.Add("ship_to.line1", "required")
		}
		if strings.TrimSpace(a.City) == "" {
			v.Add("ship_to.city", "required")
		}
		if strings.TrimSpace(a.PostalCode) == "" {
			v.Add("ship_to.postal_code", "required")
		}
		if len(a.Country) != 2 || strings.ToUpper(a.Country) != a.Country {
			v.Add("ship_to.country", "want an ISO 3166 two-letter code such as US")
		}
		if a.Lat == nil || math.IsNaN(*a.Lat) || *a.Lat < -90 || *a.Lat > 90 {
			v.Add("ship_to.lat", "want the address's latitude, -90 to 90 (from your address validation)")
		}
		if a.Lon == nil || math.IsNaN(*a.Lon) || *a.Lon < -180 || *a.Lon > 180 {
			v.Add("ship_to.lon", "want the address's longitude, -180 to 180")
		}
		if len(a.Name)+len(a.Line1)+len(a.Line2)+len(a.City)+len(a.Region)+len(a.PostalCode) > 2000 {
			v.Add("ship_to", "address too long")
		}
	case r.PickupLocation != "":
		if !codeRE.MatchString(r.PickupLocation) {
			v.Add("pickup_location", "want a location code")
		}
	}
	if r.ServiceLevel == "" {
		r.ServiceLevel = rules.ServiceStandard
	}
	if !slices.Contains(rules.ServiceLevels(), r.ServiceLevel) {
		v.Add("service_level", "want one of %s", strings.Join(rules.ServiceLevels(), ", "))
	}
	if r.Currency == "" {
		r.Currency = "USD"
	}
	if len(r.Currency) != 3 || strings.ToUpper(r.Currency) != r.Currency {
		v.Add("currency", "want an ISO 4217 code such as USD")
	}
	if len(r.PaymentRef) > 200 {
		v.Add("payment_ref", "at most 200 bytes")
	}
	validateLines(v, r.Lines)
	return v.Err()
}

func validateLines(v *derrors.ValidationError, lines []LineInput) {
	if len(lines) == 0 {
		v.Add("lines", "at least one line is required")
	}
	if len(lines) > MaxLines {
		v.Add("lines", "at most %d lines, got %d", MaxLines, len(lines))
		return
	}
	seen := map[string]int{}
	for i, l := range lines {
		f := func(n string) string { return fmt.Sprintf("lines[%d].%s", i, n) }
		if !skuRE.MatchString(l.SKU) {
			v.Add(f("sku"), "want a SKU code")
		} else if j, dup := seen[l.SKU]; dup {
			v.Add(f("sku"), "SKU %s is already on lines[%d]; put the whole quantity on one line", l.SKU, j)
		}
		seen[l.SKU] = i
		if l.Qty <= 0 || l.Qty > 10000 {
			v.Add(f("qty"), "want a whole number from 1 to 10000")
		}
		if l.UnitPrice != nil && (math.IsNaN(*l.UnitPrice) || *l.UnitPrice < 0 || *l.UnitPrice > 1e7) {
			v.Add(f("unit_price"), "want a non-negative amount")
		}
	}
}

// Order is an order with its lines and where each line is reserved.
type Order struct {
	ID             uuid.UUID  `json:"id"`
	Channel        string     `json:"channel"`
	ExternalID     string     `json:"external_id"`
	Status         string     `json:"status"`
	Customer       Customer   `json:"customer"`
	ShipTo         *Address   `json:"ship_to,omitempty"`
	PickupLocation string     `json:"pickup_location,omitempty"`
	ServiceLevel   string     `json:"service_level"`
	PaymentRef     string     `json:"payment_ref,omitempty"`
	Currency       string     `json:"currency"`
	Total          float64    `json:"total"`
	PromisedBy     *time.Time `json:"promised_by,omitempty"`
	PromiseDate    *time.Time `json:"promise_date,omitempty"` // our estimate of delivery
	RuleGroup      string     `json:"rule_group,omitempty"`
	Version        int        `json:"version"`
	Lines          []Line     `json:"lines"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// Line is one order line.
type Line struct {
	ID          uuid.UUID    `json:"id"`
	LineNo      int          `json:"line_no"`
	SKU         string       `json:"sku"`
	OrderedSKU  string       `json:"ordered_sku,omitempty"` // set when a substitute is shipped
	Qty         int          `json:"qty"`
	UnitPrice   float64      `json:"unit_price"`
	Status      string       `json:"status"`
	Allocations []Allocation `json:"allocations"`
}

// Allocation is a quantity of a line reserved at one location.
type Allocation struct {
	ReservationID uuid.UUID `json:"reservation_id"`
	Location      string    `json:"location"`
	LocationID    int64     `json:"location_id"`
	Qty           int       `json:"qty"`
}

// Allocated is the quantity of the line reserved.
func (l Line) Allocated() int {
	n := 0
	for _, a := range l.Allocations {
		n += a.Qty
	}
	return n
}

// GetOrder returns the order with its lines and active allocations.
func (s *Service) GetOrder(ctx context.Context, id uuid.UUID) (_ Order, err error) {
	defer derrors.Wrap(&err, "GetOrder(%s)", id)
	return getOrder(ctx, s.pool, id)
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

func getOrder(ctx context.Context, q querier, id uuid.UUID) (Order, error) {
	var o Order
	err := q.QueryRow(ctx, `
		SELECT o.id, c.code, o.external_id, o.status, o.customer, o.ship_to, coalesce(l.code, ''), o.service_level,
			o.payment_ref, o.currency, o.total::float8, o.promised_by, o.promise_date, o.rule_group, o.version,
			o.created_at, o.updated_at
		FROM orders o JOIN channels c ON c.id = o.channel_id LEFT JOIN locations l ON l.id = o.pickup_location_id
		WHERE o.id = $1`, id).Scan(&o.ID, &o.Channel, &o.ExternalID, &o.Status, &o.Customer, &o.ShipTo,
		&o.PickupLocation, &o.ServiceLevel, &o.PaymentRef, &o.Currency, &o.Total, &o.PromisedBy, &o.PromiseDate,
		&o.RuleGroup, &o.Version, &o.CreatedAt, &o.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, fmt.Errorf("no order %s: %w", id, derrors.NotFound)
	}
	if err != nil {
		return Order{}, err
	}
	rows, err := q.Query(ctx, `
		SELECT ol.id, ol.line_no, k.code, ok.code, ol.qty, ol.unit_price::float8, ol.status,
			coalesce(jsonb_agg(jsonb_build_object('reservation_id', r.id, 'location', l.code, 'location_id', l.id, 'qty', r.qty)
				ORDER BY l.code) FILTER (WHERE r.id IS NOT NULL), '[]')
		FROM order_lines ol
		JOIN skus k ON k.id = ol.sku_id
		JOIN skus ok ON ok.id = ol.ordered_sku_id
		LEFT JOIN reservations r ON r.line_id = ol.id AND r.status = 'active'
		LEFT JOIN locations l ON l.id = r.location_id
		WHERE ol.order_id = $1
		GROUP BY ol.id, k.code, ok.code
		ORDER BY ol.line_no`, id)
	if err != nil {
		return Order{}, err
	}
	o.Lines, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Line, error) {
		var l Line
		err := r.Scan(&l.ID, &l.LineNo, &l.SKU, &l.OrderedSKU, &l.Qty, &l.UnitPrice, &l.Status, &l.Allocations)
		if l.OrderedSKU == l.SKU {
			l.OrderedSKU = ""
		}
		return l, err
	})
	return o, err
}

// GetOrderByExternalID finds an order by its channel and the channel's order number.
func (s *Service) GetOrderByExternalID(ctx context.Context, channel, externalID string) (_ Order, err error) {
	defer derrors.Wrap(&err, "GetOrderByExternalID(%q, %q)", channel, externalID)
	var id uuid.UUID
	err = s.pool.QueryRow(ctx, `
		SELECT o.id FROM orders o JOIN channels c ON c.id = o.channel_id
		WHERE c.code = $1 AND o.external_id = $2`, channel, externalID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, fmt.Errorf("no order %s in channel %s: %w", externalID, channel, derrors.NotFound)
	}
	if err != nil {
		return Order{}, err
	}
	return getOrder(ctx, s.pool, id)
}
