package adapter

import (
	"context"
	"math"
	"strings"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// FraudScreen scores an order's fraud risk. What to do with the score (accept,
// review, cancel) is policy: see rules.FraudLimits.
type FraudScreen interface {
	Score(ctx context.Context, req FraudRequest) (FraudResult, error)
}

// FraudRequest is what the screen sees of an order.
type FraudRequest struct {
	IdempotencyKey string    `json:"idempotency_key"`
	OrderID        uuid.UUID `json:"order_id"`
	Amount         float64   `json:"amount"`
	Currency       string    `json:"currency"`
	CustomerID     string    `json:"customer_id"`
	CustomerTier   string    `json:"customer_tier,omitempty"`
	CustomerEmail  string    `json:"customer_email,omitempty"`
	ShipToCountry  string    `json:"ship_to_country,omitempty"` // empty for pickup orders
	ShipToPostal   string    `json:"ship_to_postal,omitempty"`
	Channel        string    `json:"channel"`
	LineCount      int       `json:"line_count"`
}

// Validate names each bad field.
func (r FraudRequest) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "idempotency_key", r.IdempotencyKey)
	checkOrder(v, r.OrderID)
	if !validAmount(r.Amount, false) {
		v.Add("amount", "want a finite amount, 0 or more")
	}
	checkCurrency(v, r.Currency)
	if r.CustomerID == "" {
		v.Add("customer_id", "required")
	}
	if r.Channel == "" {
		v.Add("channel", "required")
	}
	if r.LineCount < 1 {
		v.Add("line_count", "want at least 1")
	}
	return v.Err()
}

// FraudResult is a score in [0, 1] (higher is riskier) and the signals behind it,
// as short snake_case tokens such as "billing_shipping_mismatch".
type FraudResult struct {
	ID      string   `json:"id"`
	Score   float64  `json:"score"`
	Reasons []string `json:"reasons"`
}

// TaxAddress validates and normalizes shipping addresses and quotes sales tax
// (one vendor usually does both).
type TaxAddress interface {
	ValidateAddress(ctx context.Context, req AddressRequest) (AddressResult, error)
	QuoteTax(ctx context.Context, req TaxRequest) (TaxQuote, error)
}

// Address is a postal address. Lat and Lon are optional.
type Address struct {
	Name       string   `json:"name,omitempty"`
	Line1      string   `json:"line1"`
	Line2      string   `json:"line2,omitempty"`
	City       string   `json:"city"`
	Region     string   `json:"region,omitempty"`
	PostalCode string   `json:"postal_code"`
	Country    string   `json:"country"`
	Lat        *float64 `json:"lat,omitempty"`
	Lon        *float64 `json:"lon,omitempty"`
}

// AddressRequest asks whether an address is deliverable.
type AddressRequest struct {
	IdempotencyKey string    `json:"idempotency_key"`
	OrderID        uuid.UUID `json:"order_id"`
	Address        Address   `json:"address"`
}

// Validate names each bad field. An incomplete address is not a bad request:
// the validator answers it with Valid false.
func (r AddressRequest) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "idempotency_key", r.IdempotencyKey)
	checkOrder(v, r.OrderID)
	a := r.Address
	if len(a.Name)+len(a.Line1)+len(a.Line2)+len(a.City)+len(a.Region)+len(a.PostalCode)+len(a.Country) > 2000 {
		v.Add("address", "too long")
	}
	return v.Err()
}

// Address validation codes for an invalid address.
const (
	AddrMissingField       = "missing_field"
	AddrInvalidPostalCode  = "invalid_postal_code"
	AddrStreetNotFound     = "street_not_found"
	AddrPostalCodeMismatch = "postal_code_mismatch"
	AddrUndeliverable      = "undeliverable"
	AddrMissingUnit        = "missing_unit"
)

// AddressResult says whether the address is deliverable and gives its
// normalized form (trimmed, upper-case codes, standard street suffixes), which
// the lifecycle should store in place of what the customer typed.
type AddressResult struct {
	Valid      bool    `json:"valid"`
	Code       string  `json:"code,omitempty"` // one of the Addr… codes when not valid
	Message    string  `json:"message,omitempty"`
	Normalized Address `json:"normalized"`
}

// TaxRequest asks for the sales tax on the lines and shipping of an order
// shipped to ShipTo.
type TaxRequest struct {
	IdempotencyKey string    `json:"idempotency_key"`
	OrderID        uuid.UUID `json:"order_id"`
	Currency       string    `json:"currency"`
	ShipFrom       string    `json:"ship_from,omitempty"` // location code
	ShipTo         Address   `json:"ship_to"`
	Lines          []TaxLine `json:"lines"`
	Shipping       float64   `json:"shipping,omitempty"`
}

// TaxLine is one taxable line: Amount is the extended price (qty × unit price).
type TaxLine struct {
	LineID  uuid.UUID `json:"line_id"`
	SKU     string    `json:"sku"`
	Qty     int       `json:"qty"`
	Amount  float64   `json:"amount"`
	TaxCode string    `json:"tax_code,omitempty"` // "exempt" for untaxed goods
}

// Validate names each bad field.
func (r TaxRequest) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "idempotency_key", r.IdempotencyKey)
	checkOrder(v, r.OrderID)
	checkCurrency(v, r.Currency)
	if len(r.ShipTo.Country) != 2 {
		v.Add("ship_to.country", "want an ISO 3166 two-letter code")
	}
	if len(r.Lines) == 0 {
		v.Add("lines", "want at least one line")
	}
	for i, l := range r.Lines {
		if l.LineID == uuid.Nil || l.SKU == "" || l.Qty < 1 || !validAmount(l.Amount, false) {
			v.Add(indexed("lines", i), "want line_id, sku, qty of at least 1 and an amount of 0 or more")
		}
	}
	if !validAmount(r.Shipping, false) {
		v.Add("shipping", "want a finite amount, 0 or more")
	}
	return v.Err()
}

// TaxQuote is the tax due: Amount in total (lines and shipping), Rate the
// combined rate applied, and the tax per line.
type TaxQuote struct {
	Amount float64        `json:"amount"`
	Rate   float64        `json:"rate"`
	Lines  []TaxLineQuote `json:"lines"`
}

// TaxLineQuote is the tax on one line.
type TaxLineQuote struct {
	LineID uuid.UUID `json:"line_id"`
	Amount float64   `json:"amount"`
	Rate   float64   `json:"rate"`
}

// normalizeAddress trims and upper-cases the codes of a, collapses inner
// spaces and abbreviates the common street suffixes, the way address
// validators answer.
func normalizeAddress(a Address) Address {
	clean := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	n := a
	n.Name, n.Line1, n.Line2, n.City = clean(a.Name), clean(a.Line1), clean(a.Line2), clean(a.City)
	n.Region, n.PostalCode, n.Country = strings.ToUpper(clean(a.Region)), strings.ToUpper(clean(a.PostalCode)),
		strings.ToUpper(clean(a.Country))
	words := strings.Fields(n.Line1)
	if k := len(words); k > 1 {
		if abbr, ok := streetSuffixes[strings.ToLower(strings.TrimSuffix(words[k-1], "."))]; ok {
			words[k-1] = abbr
			n.Line1 = strings.Join(words, " ")
		}
	}
	return n
}

// streetSuffixes are the USPS abbreviations of the common street suffixes.
var streetSuffixes = map[string]string{
	"street": "St", "st": "St", "avenue": "Ave", "ave": "Ave", "road": "Rd", "rd": "Rd",
	"boulevard": "Blvd", "blvd": "Blvd", "drive": "Dr", "dr": "Dr", "lane": "Ln", "ln": "Ln",
	"court": "Ct", "ct": "Ct", "place": "Pl", "pl": "Pl", "highway": "Hwy", "hwy": "Hwy",
}

// validLatLon reports whether an optional coordinate pair is in range.
func validLatLon(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}
