package review

import (
	"net/http"

	"github.com/omnitriage/omnitriage/orchestration"
)

// stalledLimit bounds the drill-down's list.
const stalledLimit = 100

// dashboardOrdersPage is the model of templates/dashboard_orders.html.
type dashboardOrdersPage struct {
	Page
	Journey, State string
	Filter         orchestration.Filter
	Orders         []orchestration.StalledOrder
	Limit          int
}

// handleDashboardOrders lists the orders (or returns) sitting in a state of
// their journey now, longest waiting first: the stall view's drill-down.
func (s *Server) handleDashboardOrders(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	journey := q.Get("journey")
	if journey == "" {
		journey = "order"
	}
	f := orchestration.Filter{Channel: q.Get("channel"), Region: q.Get("region"), Node: q.Get("node")}
	orders, err := s.cfg.Orch.StalledOrders(r.Context(), journey, q.Get("state"), f, stalledLimit)
	if err != nil {
		return err
	}
	title := "Orders waiting"
	if journey == "return" {
		title = "Returns waiting"
	}
	p := dashboardOrdersPage{Page: s.page(r, title), Journey: journey, State: q.Get("state"), Filter: f, Orders: orders, Limit: stalledLimit}
	p.Assets = []string{"review.css", "dashboard.css"}
	return s.render(w, r, http.StatusOK, "dashboard_orders.html", p)
}
