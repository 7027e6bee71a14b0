package orchestration

import (
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// CatalogCurrency is the currency the catalogue's prices are in; an order
// in another currency could not be priced and is refused.
const CatalogCurrency = "USD"

// Bounds on a capture's promised_by: a promise in the past (beyond clock
// skew between the channel and omnitriage) cannot be kept, one more than a
// year out is a mistake.
const (
	promiseSkew    = 5 * time.Minute
	promiseHorizon = 366 * 24 * time.Hour
)

// PlausibleTime reports whether t is a date omnitriage's data can hold: from
// 2000 to 2100. It catches a zero time, a year typed wrong or a unit
// mistaken (seconds for milliseconds).
func PlausibleTime(t time.Time) bool {
	return t.Year() >= 2000 && t.Year() <= 2100
}

// checkCapture refuses what Validate cannot see without the clock and the
// catalogue: a promise in the past or too far out, a currency the prices
// are not in.
func checkCapture(req CaptureRequest, now time.Time) error {
	v := &derrors.ValidationError{}
	if req.Currency != CatalogCurrency {
		v.Add("currency", "want %s, the currency of the catalogue's prices", CatalogCurrency)
	}
	if p := req.PromisedBy; p != nil {
		switch {
		case p.Before(now.Add(-promiseSkew)):
			v.Add("promised_by", "is in the past (%s); give the date-time promised to the customer, like %s",
				p.UTC().Format(time.RFC3339), now.Add(72*time.Hour).UTC().Truncate(time.Hour).Format(time.RFC3339))
		case p.After(now.Add(promiseHorizon)):
			v.Add("promised_by", "is more than a year away (%s)", p.UTC().Format(time.RFC3339))
		}
	}
	return v.Err()
}
