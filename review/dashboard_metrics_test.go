package review_test

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/metricstest"
	"github.com/omnitriage/omnitriage/review/reviewtest"
	"github.com/omnitriage/omnitriage/triage"
)

// gatherProcess reads the process collector over srv as one scrape of
// /metrics would, into "name{l=v,…}" → value (a histogram as name_count,
// name_sum and name_bucket{…,le=…}).
func gatherProcess(t *testing.T, srv *reviewtest.Server) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(triage.NewProcessCollector(srv.Triage, triage.ProcessCollectorConfig{}))
	return metricstest.Scrape(t, reg)
}

// scenarioMetrics is what /metrics must say about dashScenario, worked out
// by hand from the script. /metrics counts over all time, so beside the
// period's facts (the page's figures) it holds the period before's: P-1
// and P-2 (web, both reserved) and the stockout of 2 March. Every
// dashboard figure is one of these over the other:
//
//   - cycle time (2.0 days): O1..O4, web, delivered 48+24+72+48 = 192 h
//     after capture, 4 orders; no app order was delivered.
//   - allocation (80.0% = 8 of 10; 100% before): web P-1, P-2, O1..O5 all
//     reserved (7 of 7); app O6..O10, O9 and O10 backordered (3 of 5).
//   - exceptions (7; 1 before): stockout 1 + 3 cases + 2 backorders = 6,
//     carrier_delay 1, payment_failed 1.
//   - refund time (3.0 h): 1 + 2 + 6 = 9 h over 3 refunds.
//   - API failures (23.3% = 7 of 30): payment/authorize 2 transient of 20,
//     erp/post_invoice 3 transient and 2 failed of 10.
//   - manual touch (25.0% = 1 of 4): of the 4 delivered (web) orders only
//     O2 was touched by a person before it finished.
//   - ERP lag (48 s): 4 × 30 + 120 = 240 s over 5 payment_capture postings;
//     the late one's 120 s falls past the 90 s bucket.
//   - automation (60.0% = 3 of 5 cases).
//   - precision (66.7% = 2 of 3): the stockout fixes of O6, O7 held; the
//     carrier_delay fix of O5 did not (a person notified O5 two days on).
//   - review time (20.0 min): 10 + 30 = 40 min = 2400 s over 2 decisions.
var scenarioMetrics = map[string]float64{
	"omnitriage_order_cycle_time_hours_count{channel=web}":        4,
	"omnitriage_order_cycle_time_hours_sum{channel=web}":          192,
	"omnitriage_order_cycle_time_hours_bucket{channel=web,le=12}": 0,
	"omnitriage_order_cycle_time_hours_bucket{channel=web,le=24}": 1,
	"omnitriage_order_cycle_time_hours_bucket{channel=web,le=48}": 3,
	"omnitriage_order_cycle_time_hours_bucket{channel=web,le=72}": 4,

	"omnitriage_allocation_orders_total{channel=web}":    7,
	"omnitriage_allocation_allocated_total{channel=web}": 7,
	"omnitriage_allocation_success_ratio{channel=web}":   1,
	"omnitriage_allocation_orders_total{channel=app}":    5,
	"omnitriage_allocation_allocated_total{channel=app}": 3,
	"omnitriage_allocation_success_ratio{channel=app}":   0.6,

	"omnitriage_exceptions_total{kind=stockout}":       6,
	"omnitriage_exceptions_total{kind=carrier_delay}":  1,
	"omnitriage_exceptions_total{kind=payment_failed}": 1,

	"omnitriage_refund_time_hours_count{}":       3,
	"omnitriage_refund_time_hours_sum{}":         9,
	"omnitriage_refund_time_hours_bucket{le=1}":  1,
	"omnitriage_refund_time_hours_bucket{le=4}":  2,
	"omnitriage_refund_time_hours_bucket{le=12}": 3,

	"omnitriage_integration_calls_total{endpoint=payment/authorize,system=payment}":                    20,
	"omnitriage_integration_failures_total{class=transient,endpoint=payment/authorize,system=payment}": 2,
	"omnitriage_integration_failures_total{class=failed,endpoint=payment/authorize,system=payment}":    0,
	"omnitriage_integration_failure_ratio{endpoint=payment/authorize,system=payment}":                  0.1,
	"omnitriage_integration_calls_total{endpoint=erp/post_invoice,system=erp}":                         10,
	"omnitriage_integration_failures_total{class=transient,endpoint=erp/post_invoice,system=erp}":      3,
	"omnitriage_integration_failures_total{class=failed,endpoint=erp/post_invoice,system=erp}":         2,
	"omnitriage_integration_failure_ratio{endpoint=erp/post_invoice,system=erp}":                       0.5,

	"omnitriage_orders_finished{channel=web}": 4,
	"omnitriage_orders_touched{channel=web}":  1,
	"omnitriage_manual_touch_ratio{}":               0.25,

	"omnitriage_erp_posting_lag_seconds_count{kind=payment_capture}":         5,
	"omnitriage_erp_posting_lag_seconds_sum{kind=payment_capture}":           240,
	"omnitriage_erp_posting_lag_seconds_bucket{kind=payment_capture,le=30}":  4,
	"omnitriage_erp_posting_lag_seconds_bucket{kind=payment_capture,le=90}":  4,
	"omnitriage_erp_posting_lag_seconds_bucket{kind=payment_capture,le=120}": 5,

	"omnitriage_cases_total{kind=carrier_delay,outcome=auto}":    1,
	"omnitriage_cases_total{kind=stockout,outcome=auto}":         2,
	"omnitriage_cases_total{kind=stockout,outcome=manual}":       1,
	"omnitriage_cases_total{kind=payment_failed,outcome=manual}": 1,
	"omnitriage_automation_ratio{}":                              0.6,

	"omnitriage_auto_fixes{kind=carrier_delay}":      1,
	"omnitriage_auto_fixes_held{kind=carrier_delay}": 0,
	"omnitriage_auto_fixes{kind=stockout}":           2,
	"omnitriage_auto_fixes_held{kind=stockout}":      2,
	"omnitriage_auto_fix_precision_ratio{}":                2.0 / 3,

	"omnitriage_review_time_seconds_count{}":         2,
	"omnitriage_review_time_seconds_sum{}":           2400,
	"omnitriage_review_time_seconds_bucket{le=900}":  1,
	"omnitriage_review_time_seconds_bucket{le=1800}": 2,

	"omnitriage_process_up{}": 1,
}

// checkScenarioMetrics checks /metrics' process figures for dashScenario
// against scenarioMetrics, and that no series the script cannot have made
// is there (an app cycle time, an app manual touch).
func checkScenarioMetrics(t *testing.T, srv *reviewtest.Server) {
	t.Helper()
	got := gatherProcess(t, srv)
	for k, w := range scenarioMetrics {
		g, ok := got[k]
		if !ok {
			t.Errorf("/metrics lacks %s (want %g)", k, w)
			continue
		}
		if math.Abs(g-w) > 1e-9 {
			t.Errorf("/metrics %s = %g, want %g", k, g, w)
		}
	}
	for _, k := range []string{"omnitriage_order_cycle_time_hours_count{channel=app}", "omnitriage_orders_finished{channel=app}"} {
		if v, ok := got[k]; ok {
			t.Errorf("/metrics has %s = %g, want no such series", k, v)
		}
	}
}
