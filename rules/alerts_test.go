package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSLAAlerts checks the alert targets: the default policy's values, the
// defaults of an omitted section, and the problems of bad values.
func TestSLAAlerts(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	a := p.SLA.Alerts
	if a.Window() != time.Hour || a.Sample() != 10 || a.ReviewTimeP90() != 4*time.Hour || a.PostingLagP95() != 5*time.Minute ||
		a.PromiseAdherence() != 0.9 || a.EndpointFailureRate() != 0.2 {
		t.Errorf("default sla.alerts = %+v", a)
	}
	doc := string(DefaultYAML())
	start := strings.Index(doc, "  # Process targets the alert job")
	if start < 0 {
		t.Fatal("default.yaml has no sla.alerts section")
	}
	omitted, err := Load("omitted.yaml", []byte(doc[:start]))
	if err != nil {
		t.Fatalf("Load without sla.alerts: %v", err)
	}
	if omitted.SLA.Alerts.Window() != DefaultAlertWindow || omitted.SLA.Alerts.EndpointFailureRate() != DefaultEndpointFailureRateMax ||
		omitted.SLA.Alerts.PostingLagP95() != DefaultPostingLagP95 {
		t.Errorf("omitted sla.alerts = %+v, want the defaults", omitted.SLA.Alerts)
	}
	for _, tc := range []struct{ old, repl, want string }{
		{"window_minutes: 60", "window_minutes: -5", "sla.alerts.window_minutes: must be positive"},
		{"posting_lag_p95_seconds: 300", "posting_lag_p95_seconds: -1", "sla.alerts.posting_lag_p95_seconds: must be positive"},
		{"promise_adherence_min: 0.9", "promise_adherence_min: 90", "sla.alerts.promise_adherence_min: 90 is out of range [0, 1]"},
		{"endpoint_failure_rate_max: 0.2", "endpoint_failure_rate_max: -0.1", "sla.alerts.endpoint_failure_rate_max: -0.1 is out of range"},
		{"min_sample: 10", "min_samples: 10", "min_samples"},
	} {
		_, err := Load("bad.yaml", []byte(mutate(t, doc, tc.old, tc.repl)))
		var le *LoadError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load with %q = %v, want a LoadError with %q", tc.repl, err, tc.want)
		}
	}
}
