package review_test

import (
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestDashboardRoles checks who sees the dashboard and its nav link, and
// that a bad period is refused naming the field.
func TestDashboardRoles(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	people := srv.Review.People()
	pws := map[review.Role]string{}
	for _, r := range review.Roles {
		pws[r] = reviewtest.CreateUser(t, people, string(r)+"@example.com", r)
	}
	for _, tc := range []struct {
		role   review.Role
		path   string
		status int
		want   string
	}{
		{review.Support, "/dashboard", 403, "this page is for engineer"},
		{review.Support, "/dashboard/orders?journey=order", 403, "this page is for engineer"},
		{review.Engineer, "/dashboard", 200, "Where it stalls"},
		{review.Admin, "/dashboard?period=30d&channel=web", 200, "Order cycle time"},
		{review.Engineer, "/dashboard?period=2w", 422, "period"},
		{review.Engineer, "/dashboard?from=2026-03-10&to=2026-03-01", 422, "the period ends after it starts"},
		{review.Engineer, "/dashboard?from=2026-03-01&to=2026-03-10", 200, "1 Mar – 10 Mar 2026"},
		{review.Engineer, "/dashboard?node=%3Cscript%3E", 422, "node"},
		{review.Engineer, "/dashboard/orders?journey=order&state=shipped", 200, "Nothing waits here now"},
		{review.Engineer, "/dashboard/orders?journey=order&state=nowhere", 422, "state"},
	} {
		c := reviewtest.NewClient(t, srv.URL)
		c.Login(string(tc.role)+"@example.com", pws[tc.role])
		resp, body := c.Get(tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("%s GET %s = %d, want %d", tc.role, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if !strings.Contains(body, tc.want) {
			t.Errorf("%s GET %s: no %q in the page", tc.role, tc.path, tc.want)
		}
		if got := strings.Contains(body, `href="/dashboard"`) && strings.Contains(body, ">Dashboard</a>"); got != (tc.role != review.Support) {
			t.Errorf("%s GET %s: nav shows Dashboard = %v, want %v", tc.role, tc.path, got, tc.role != review.Support)
		}
	}
}
