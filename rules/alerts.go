package rules

import (
	"fmt"
	"time"
)

// SLAAlerts is the sla.alerts section: the process targets the alert job
// checks on a schedule. Each figure is measured over the last Window; a
// figure past its target raises an alert, which resolves when the figure is
// back within it. A figure measured on fewer than MinSample observations is
// not judged (an alert it raised earlier resolves). Omitted values take the
// defaults below.
type SLAAlerts struct {
	// WindowMinutes is how far back each figure looks. Omitted: 60.
	WindowMinutes int `json:"window_minutes" yaml:"window_minutes"`
	// MinSample is the fewest observations a figure is judged on. Omitted: 10.
	MinSample int `json:"min_sample" yaml:"min_sample"`
	// ReviewTimeP90Minutes bounds the 90th percentile of review time (a case
	// queued for review to a person's decision). Omitted: 240.
	ReviewTimeP90Minutes int `json:"review_time_p90_minutes" yaml:"review_time_p90_minutes"`
	// PostingLagP95Seconds bounds the 95th percentile of ERP posting lag
	// (created to acknowledged; a posting still waiting counts as waiting
	// until now). Omitted: 300.
	PostingLagP95Seconds int `json:"posting_lag_p95_seconds" yaml:"posting_lag_p95_seconds"`
	// PromiseAdherenceMin is the least share of orders delivered in the
	// window that may meet their promised day. Omitted: 0.9.
	PromiseAdherenceMin float64 `json:"promise_adherence_min" yaml:"promise_adherence_min"`
	// EndpointFailureRateMax is the most share of calls to one outside
	// endpoint (system/op) that may fail, retries included. Omitted: 0.2.
	EndpointFailureRateMax float64 `json:"endpoint_failure_rate_max" yaml:"endpoint_failure_rate_max"`
}

// Defaults of the alert targets a policy may omit.
const (
	DefaultAlertWindow            = time.Hour
	DefaultAlertMinSample         = 10
	DefaultReviewTimeP90          = 4 * time.Hour
	DefaultPostingLagP95          = 5 * time.Minute
	DefaultPromiseAdherenceMin    = 0.9
	DefaultEndpointFailureRateMax = 0.2
)

// Window is how far back each figure looks.
func (a SLAAlerts) Window() time.Duration {
	if a.WindowMinutes == 0 {
		return DefaultAlertWindow
	}
	return time.Duration(a.WindowMinutes) * time.Minute
}

// Sample is the fewest observations a figure is judged on.
func (a SLAAlerts) Sample() int {
	if a.MinSample == 0 {
		return DefaultAlertMinSample
	}
	return a.MinSample
}

// ReviewTimeP90 is the review-time target.
func (a SLAAlerts) ReviewTimeP90() time.Duration {
	if a.ReviewTimeP90Minutes == 0 {
		return DefaultReviewTimeP90
	}
	return time.Duration(a.ReviewTimeP90Minutes) * time.Minute
}

// PostingLagP95 is the ERP posting lag target.
func (a SLAAlerts) PostingLagP95() time.Duration {
	if a.PostingLagP95Seconds == 0 {
		return DefaultPostingLagP95
	}
	return time.Duration(a.PostingLagP95Seconds) * time.Second
}

// PromiseAdherence is the least on-time share.
func (a SLAAlerts) PromiseAdherence() float64 {
	if a.PromiseAdherenceMin == 0 {
		return DefaultPromiseAdherenceMin
	}
	return a.PromiseAdherenceMin
}

// EndpointFailureRate is the most failing share of one endpoint's calls.
func (a SLAAlerts) EndpointFailureRate() float64 {
	if a.EndpointFailureRateMax == 0 {
		return DefaultEndpointFailureRateMax
	}
	return a.EndpointFailureRateMax
}

func (a *SLAAlerts) check(c *checker) {
	const path = "sla.alerts"
	for _, f := range []struct {
		name string
		v    int
	}{
		{"window_minutes", a.WindowMinutes},
		{"min_sample", a.MinSample},
		{"review_time_p90_minutes", a.ReviewTimeP90Minutes},
		{"posting_lag_p95_seconds", a.PostingLagP95Seconds},
	} {
		if f.v < 0 {
			c.errorf(fmt.Sprintf("%s.%s", path, f.name), "must be positive (or omitted for the default), got %d", f.v)
		}
	}
	c.fraction(path+".promise_adherence_min", a.PromiseAdherenceMin)
	c.fraction(path+".endpoint_failure_rate_max", a.EndpointFailureRateMax)
}
