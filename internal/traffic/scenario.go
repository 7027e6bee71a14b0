package traffic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// The simulated clock begins on a Monday at 08:00 and runs Config.Day to
// the day, so a run with the same seed sees the same hours, promotions and
// outages whenever it is started.
var simEpoch = time.Date(2024, time.January, 1, 8, 0, 0, 0, time.UTC) // a Monday

// hourly is the order intake by hour of day (a night trough, a lunch peak,
// an evening peak), before normalising to a mean of one.
var hourly = normalised([]float64{0.15, 0.10, 0.07, 0.06, 0.07, 0.14, 0.30, 0.50, 0.75, 0.95, 1.10, 1.25,
	1.35, 1.25, 1.15, 1.10, 1.15, 1.30, 1.50, 1.65, 1.60, 1.35, 0.90, 0.45})

// daily is the intake by weekday, Monday first: busier towards the weekend.
var daily = normalised([]float64{0.95, 0.90, 0.92, 0.97, 1.08, 1.20, 1.10})

func normalised(w []float64) []float64 {
	var sum float64
	for _, x := range w {
		sum += x
	}
	out := make([]float64, len(w))
	for i, x := range w {
		out[i] = x * float64(len(w)) / sum
	}
	return out
}

// incident is a window of the simulated day in which something goes wrong.
type incident struct {
	name       string
	from, till float64 // hours of the simulated day
}

// The day's incidents, at the same hours every simulated day.
var (
	promoWindow    = incident{"promotion", 11, 13}
	paymentWindow  = incident{"payment declines", 14, 14.75}
	carrierWindow  = incident{"carrier disruption", 16, 19}
	erpWindow      = incident{"ERP outage", 21, 23.5}
	dayIncidents   = []incident{promoWindow, paymentWindow, carrierWindow, erpWindow}
	promoIntensity = 2.5 // the promotion's extra orders, as a factor of the usual rate
)

func (in incident) active(hour float64) bool { return hour >= in.from && hour < in.till }

// shape is the factor on the target rate at a simulated time.
func shape(sim time.Time) float64 {
	h := sim.Hour()
	frac := float64(sim.Minute())/60 + float64(sim.Second())/3600
	// Interpolate between hours so the rate has no steps.
	f := hourly[h]*(1-frac) + hourly[(h+1)%24]*frac
	f *= daily[(int(sim.Weekday())+6)%7]
	if promoWindow.active(hourOf(sim)) {
		f *= 1 + promoIntensity
	}
	return f
}

func hourOf(t time.Time) float64 {
	return float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
}

// dayIndex counts simulated days from the epoch.
func dayIndex(sim time.Time) int {
	return int(sim.Sub(simEpoch.Truncate(24*time.Hour)) / (24 * time.Hour))
}

// expGap is an exponential inter-arrival gap for the given rate per second.
func expGap(r *rand.Rand, perSecond float64) time.Duration {
	if perSecond <= 0 {
		return time.Hour
	}
	return time.Duration(r.ExpFloat64() / perSecond * float64(time.Second))
}

// pickWeighted returns an index drawn with the given weights.
func pickWeighted(r *rand.Rand, w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	x := r.Float64() * sum
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

// zipfIndex draws an index in [0, n) with a long tail: a few items
// (the fast movers, first in the list) are picked most.
func zipfIndex(r *rand.Rand, n int) int {
	if n <= 1 {
		return 0
	}
	// Inverse of a continuous power law with exponent ~1.1 over [1, n+1).
	u := r.Float64()
	x := math.Pow(float64(n+1), u) - 1
	return min(int(x), n-1)
}

// The outside systems' own words, as they send them.

type report struct {
	kind, severity, source, endpoint, code, message string
}

var paymentDeclines = []report{
	{"payment_failed", "medium", "payment-gateway", "/v1/payment_intents/confirm", "card_declined",
		"Your card was declined. decline_code=do_not_honor network=visa"},
	{"payment_failed", "medium", "payment-gateway", "/v1/payment_intents/confirm", "insufficient_funds",
		"The card has insufficient funds to complete the purchase (issuer response 51)"},
	{"payment_failed", "high", "payment-gateway", "/v1/payment_intents/confirm", "processing_error",
		"An error occurred while processing the card: issuer unavailable (response 91), retry later"},
	{"payment_failed", "medium", "payment-gateway", "/v1/payment_intents/confirm", "authentication_required",
		"3-D Secure authentication failed or was abandoned by the cardholder"},
}

func carrierDisruption(carrier, region, hub string) report {
	return report{"carrier_disruption", "high", "carrier:" + carrier, "/track/v1/trackingnumbers", "SERVICE_SUSPENDED",
		fmt.Sprintf("Service alert: pickups and deliveries suspended in %s, hub %s closed by severe weather; expect 1-3 day delays", region, hub)}
}

func carrierDelay(carrier, hub string) report {
	return report{"carrier_delay", "medium", "carrier:" + carrier, "/track/v1/trackingnumbers", "DELAY_WEATHER",
		fmt.Sprintf("Shipment delayed at %s sort facility: weather; new delivery date pending", hub)}
}

var erpFailures = []report{
	{"erp_posting_failed", "high", "erp", "/sap/opu/odata/sap/API_BILLING_DOCUMENT_SRV/A_BillingDocument", "HTTP 503",
		"Service Unavailable: backend system not reachable (RFC destination ERP_PRD, connection pool exhausted)"},
	{"erp_posting_failed", "high", "erp", "/sap/opu/odata/sap/API_BILLING_DOCUMENT_SRV/A_BillingDocument", "HTTP 504",
		"Gateway Timeout: no response from ERP application server within 60 s"},
	{"integration_error", "high", "erp", "/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder", "ECONNREFUSED",
		"connect ECONNREFUSED 10.20.4.17:44300 after 3 retries (erp-connector)"},
}

var addressProblems = []report{
	{"address_invalid", "medium", "address-validation", "/v2/addresses/verify", "ZIP_CITY_MISMATCH",
		"Postal code does not match the city; no deliverable candidate found"},
	{"address_invalid", "low", "address-validation", "/v2/addresses/verify", "MISSING_SECONDARY",
		"Apartment or suite number missing for a multi-unit building"},
}

var fraudFlags = []report{
	{"fraud_review", "high", "fraud-screening", "/v1/decisions", "REVIEW",
		"Risk score 0.81: shipping address 2,400 km from the card's billing address, new device, 3 cards in 24 h"},
}

func staleFeed(store string, hours int) report {
	return report{"stale_inventory", "medium", "pos:" + store, "/pos/inventory/export", "HEARTBEAT_MISSED",
		fmt.Sprintf("POS inventory export for store %s has not run for %d h (last batch failed: disk full on till server)", store, hours)}
}

// Customers live in these cities; the region of each is the region of the
// nearest location the server knows.
var cities = []struct {
	name, state, zip string
	lat, lon         float64
}{
	{"New York", "NY", "10001", 40.7128, -74.0060}, {"Brooklyn", "NY", "11201", 40.6928, -73.9903},
	{"Boston", "MA", "02108", 42.3601, -71.0589}, {"Philadelphia", "PA", "19103", 39.9526, -75.1652},
	{"Newark", "NJ", "07102", 40.7357, -74.1724}, {"Chicago", "IL", "60601", 41.8781, -87.6298},
	{"Detroit", "MI", "48226", 42.3314, -83.0458}, {"Minneapolis", "MN", "55401", 44.9778, -93.2650},
	{"Milwaukee", "WI", "53202", 43.0389, -87.9065}, {"Los Angeles", "CA", "90012", 34.0522, -118.2437},
	{"San Francisco", "CA", "94103", 37.7749, -122.4194}, {"Seattle", "WA", "98101", 47.6062, -122.3321},
	{"San Diego", "CA", "92101", 32.7157, -117.1611}, {"Portland", "OR", "97204", 45.5152, -122.6784},
}

var streets = []string{"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Park Ave", "Lake Rd", "Hill St", "2nd Ave", "Pine St"}
var hubs = []string{"MEM", "IND", "SDF", "ONT", "DFW", "ORD", "ATL", "EWR", "CVG", "RNO"}
var carriers = []string{"ups", "usps", "fedex", "courier"}
