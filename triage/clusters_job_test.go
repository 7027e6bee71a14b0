package triage

import (
	"strings"
	"testing"
)

func TestNewClusterJobs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec string
		ok   bool
	}{{"@hourly", true}, {"*/15 * * * *", true}, {"@every 30m", true}, {"every hour", false}, {"61 * * * *", false}} {
		j, err := NewClusterJobs(&Clusterer{}, tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("NewClusterJobs(%q) = %v, want ok %v", tc.spec, err, tc.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "CLUSTER_SCHEDULE") {
			t.Errorf("NewClusterJobs(%q) = %v, want an error naming CLUSTER_SCHEDULE", tc.spec, err)
		}
		if err == nil && len(j.PeriodicJobs()) != 2 {
			t.Errorf("NewClusterJobs(%q) has %d periodic jobs, want the run and the webhook", tc.spec, len(j.PeriodicJobs()))
		}
	}
}
