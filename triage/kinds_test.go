package triage

import (
	"slices"
	"testing"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
)

// TestDatabaseAcceptsTheCaseStatuses holds cases.status to CaseStatuses.
func TestDatabaseAcceptsTheCaseStatuses(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	want := slices.Sorted(slices.Values(CaseStatuses()))
	if got := dbtest.CheckValues(t, pool, "cases", "cases_status_check"); !slices.Equal(got, want) {
		t.Errorf("cases.status accepts %v, want CaseStatuses %v", got, want)
	}
}
