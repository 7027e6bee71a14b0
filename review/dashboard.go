package review

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/rollup"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/triage"
)

// dashboardViewers see the process dashboard: engineers (and admins).
var dashboardViewers = []Role{Engineer}

// registerDashboardRoutes mounts the process dashboard and its order
// drill-down.
func (s *Server) registerDashboardRoutes(r chi.Router) {
	r.With(s.requireRole(dashboardViewers...)).Get("/dashboard", s.h(s.handleDashboard))
	r.With(s.requireRole(dashboardViewers...)).Get("/dashboard/orders", s.h(s.handleDashboardOrders))
}

// periodOptions are the period picker's choices, in days.
var periodOptions = []struct {
	Value string
	Days  int
	Label string
}{{"1d", 1, "today"}, {"7d", 7, "last 7 days"}, {"30d", 30, "last 30 days"}, {"90d", 90, "last 90 days"}}

// lowerIsBetter names the figures that improve as they fall.
var lowerIsBetter = map[string]bool{
	orchestration.MetricCycleTime: true, orchestration.MetricExceptions: true, orchestration.MetricRefundTime: true,
	orchestration.MetricAPI: true, orchestration.MetricManualTouch: true, orchestration.MetricERPLag: true,
	triage.MetricReviewTime: true,
}

// dashCard is one figure, formatted.
type dashCard struct {
	orchestration.Figure
	ID, Value, Previous, Delta, Trend, Detail string
	// Better is "good", "bad" or "" (no change or nothing to compare).
	Better string
	// Days and Values are the daily trend as JSON, for the chart script.
	Days, Values string
	Daily        []dashDay
	Links        []dashLink
}

type dashDay struct{ Day, Value string }

type dashLink struct{ Label, Href string }

// dashRow is one row of a by-kind or by-endpoint table.
type dashRow struct {
	Name, Value, Previous, Count string
	Links                        []dashLink
}

// dashTable is a table of figures by dim.
type dashTable struct {
	Title, Value, Count, Empty string
	Rows                       []dashRow
}

// stallCell is one state at one node.
type stallCell struct {
	P50, P90, Now, NowHref string
	Stays                  int64
	Stuck                  bool
}

// stallRow is one node's row of a journey.
type stallRow struct {
	Node, Href string
	Cells      []stallCell
}

// stallTable is a journey's stall view.
type stallTable struct {
	Journey, Title string
	States         []string
	Rows           []stallRow
}

// dashboardPage is the model of templates/dashboard.html.
type dashboardPage struct {
	Page
	Period, From, To string
	Periods          []filterOption
	Filters          []queueFilterField
	Range, PrevRange string
	RefreshedAt      time.Time
	Cards            []dashCard
	Tables           []dashTable
	Stalls           []stallTable
	Query            string
	Alerts           []dashAlert
}

// handleDashboard shows the process figures for a period beside the period
// before, narrowed by channel, region and node, with their daily trends and
// where orders stall.
func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	period, pname, err := parsePeriod(q, s.now())
	if err != nil {
		return err
	}
	f := orchestration.Filter{Channel: q.Get("channel"), Region: q.Get("region"), Node: q.Get("node")}
	figs, err := s.cfg.Triage.ProcessFigures(r.Context(), period, f)
	if err != nil {
		return err
	}
	p := dashboardPage{Page: s.page(r, "Process dashboard"), Period: pname, RefreshedAt: figs.RefreshedAt,
		Range: rangeLabel(figs.Period), PrevRange: rangeLabel(figs.Previous)}
	p.Assets = []string{"review.css", "vendor/uplot/uPlot.min.css", "dashboard.css", "vendor/uplot/uPlot.iife.min.js", "dashboard.js"}
	if pname == "custom" {
		p.From, p.To = period.From.Format(time.DateOnly), period.To.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	for _, o := range periodOptions {
		p.Periods = append(p.Periods, filterOption{Value: o.Value, Label: o.Label, Selected: o.Value == pname})
	}
	if err := s.dashFilters(r, &p, f); err != nil {
		return err
	}
	keep := url.Values{}
	for _, k := range []string{"channel", "region", "node"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	p.Query = keep.Encode()
	for _, fig := range figs.Headline {
		p.Cards = append(p.Cards, card(fig, figs.Days, f))
	}
	p.Tables = []dashTable{
		{"Exceptions by kind", "Exceptions", "Share", "No exceptions in the period.",
			rows(figs.Exceptions, func(fig orchestration.Figure) []dashLink {
				return []dashLink{{"cases", queueHref(url.Values{"kind": {fig.Dim}}, f)}, {"clusters", "/clusters?kind=" + url.QueryEscape(fig.Dim)}}
			})},
		{"Handoff failures by system and endpoint", "Failure rate", "Failed / calls", "No outside calls counted in the period.",
			rows(figs.Endpoints, func(orchestration.Figure) []dashLink {
				return []dashLink{{"cases", queueHref(url.Values{"kind": {orchestration.KindIntegrationError}}, f)}}
			})},
		{"Automation by exception kind", "Automation", "Automatic / cases", "No cases triaged in the period.",
			rows(figs.Automation, func(fig orchestration.Figure) []dashLink {
				return []dashLink{{"cases", queueHref(url.Values{"kind": {fig.Dim}}, f)}}
			})},
		{"ERP posting lag by document", "Mean lag", "Postings", "No ERP postings in the period.", rows(figs.ERP, nil)},
	}
	p.Stalls = stallTables(figs.Stalls, f)
	if p.Alerts, err = s.dashAlerts(r.Context()); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "dashboard.html", p)
}

// parsePeriod reads the period picker: period=1d|7d|30d|90d (7d when
// absent), or from and to (YYYY-MM-DD, both days included).
func parsePeriod(q url.Values, now time.Time) (orchestration.Period, string, error) {
	from, to := q.Get("from"), q.Get("to")
	if from != "" || to != "" {
		ve := &derrors.ValidationError{}
		f, err1 := time.Parse(time.DateOnly, from)
		if err1 != nil {
			ve.Add("from", "want a day as YYYY-MM-DD")
		}
		t, err2 := time.Parse(time.DateOnly, to)
		if err2 != nil {
			ve.Add("to", "want a day as YYYY-MM-DD")
		}
		if err := ve.Err(); err != nil {
			return orchestration.Period{}, "", err
		}
		p := orchestration.Period{From: f, To: t.AddDate(0, 0, 1)}
		return p, "custom", p.Validate()
	}
	name := q.Get("period")
	if name == "" {
		name = "7d"
	}
	for _, o := range periodOptions {
		if o.Value == name {
			return rollup.LastDays(now, o.Days), name, nil
		}
	}
	ve := &derrors.ValidationError{}
	ve.Add("period", "want one of 1d, 7d, 30d, 90d, or from and to")
	return orchestration.Period{}, "", ve
}

// rangeLabel is "3 Mar – 9 Mar 2026" (the last day included).
func rangeLabel(p orchestration.Period) string {
	last := p.To.AddDate(0, 0, -1)
	if p.Days() == 1 {
		return p.From.Format("2 Jan 2006")
	}
	return p.From.Format("2 Jan") + " – " + last.Format("2 Jan 2006")
}

// dashFilters fills the channel, region and node selects from the network.
func (s *Server) dashFilters(r *http.Request, p *dashboardPage, f orchestration.Filter) error {
	chans, err := s.cfg.Orch.ListChannels(r.Context())
	if err != nil {
		return err
	}
	locs, err := s.cfg.Orch.ListLocations(r.Context())
	if err != nil {
		return err
	}
	ch := queueFilterField{Name: "channel", Label: "Channel", Options: []filterOption{{Value: "", Label: "all", Selected: f.Channel == ""}}}
	for _, c := range chans {
		ch.Options = append(ch.Options, filterOption{Value: c.Code, Label: c.Code, Selected: c.Code == f.Channel})
	}
	var regions []string
	nd := queueFilterField{Name: "node", Label: "Node", Options: []filterOption{{Value: "", Label: "all", Selected: f.Node == ""}}}
	for _, l := range locs {
		if !slices.Contains(regions, l.Region) {
			regions = append(regions, l.Region)
		}
		nd.Options = append(nd.Options, filterOption{Value: l.Code, Label: l.Code, Selected: l.Code == f.Node})
	}
	sort.Strings(regions)
	rg := queueFilterField{Name: "region", Label: "Region", Options: []filterOption{{Value: "", Label: "all", Selected: f.Region == ""}}}
	for _, g := range regions {
		rg.Options = append(rg.Options, filterOption{Value: g, Label: g, Selected: g == f.Region})
	}
	for _, fld := range []*queueFilterField{&ch, &rg, &nd} {
		if !selected(fld.Options) { // a code not in the network (any more): keep it selectable
			cur := map[string]string{"channel": f.Channel, "region": f.Region, "node": f.Node}[fld.Name]
			fld.Options = append(fld.Options, filterOption{Value: cur, Label: cur, Selected: true})
		}
	}
	p.Filters = []queueFilterField{ch, rg, nd}
	return nil
}

// card formats a headline figure with its trend and drill-down links.
func card(fig orchestration.Figure, days []string, f orchestration.Filter) dashCard {
	c := dashCard{Figure: fig, ID: "fig-" + fig.Key, Value: fmtValue(fig.Unit, fig.Value), Previous: fmtValue(fig.Unit, fig.Previous)}
	if fig.Value != nil && fig.Previous != nil {
		d := *fig.Value - *fig.Previous
		switch {
		case math.Abs(d) < 1e-9:
			c.Delta = "no change"
		case fig.Unit == orchestration.UnitShare:
			c.Delta = fmt.Sprintf("%+.1f pts", 100*d)
		default:
			sign := "+"
			if d < 0 {
				sign = "−"
			}
			c.Delta = sign + fmtValue(fig.Unit, ptr(math.Abs(d)))
		}
		if math.Abs(d) >= 1e-9 {
			if (d < 0) == lowerIsBetter[fig.Key] {
				c.Better = "good"
			} else {
				c.Better = "bad"
			}
		}
	}
	var parts []string
	switch fig.Key {
	case orchestration.MetricCycleTime:
		parts = append(parts, fmt.Sprintf("%d delivered", fig.N), fmt.Sprintf("%d on the promised day", fig.Hits))
	case orchestration.MetricAllocation:
		parts = append(parts, fmt.Sprintf("%d of %d orders", fig.Hits, fig.N))
	case orchestration.MetricRefundTime:
		parts = append(parts, fmt.Sprintf("%d refunds", fig.N))
	case orchestration.MetricAPI:
		parts = append(parts, fmt.Sprintf("%d of %d calls failed", fig.Hits, fig.N))
	case orchestration.MetricManualTouch:
		parts = append(parts, fmt.Sprintf("%d of %d finished orders", fig.Hits, fig.N))
	case orchestration.MetricERPLag:
		parts = append(parts, fmt.Sprintf("%d postings", fig.N), fmt.Sprintf("%d rejected", fig.Hits))
	case triage.MetricAutomation:
		parts = append(parts, fmt.Sprintf("%d of %d cases", fig.Hits, fig.N))
	case triage.MetricPrecision:
		parts = append(parts, fmt.Sprintf("%d of %d fixes held", fig.Hits, fig.N))
	case triage.MetricReviewTime:
		parts = append(parts, fmt.Sprintf("%d decided", fig.N))
	}
	if fig.P50 != nil {
		parts = append(parts, "median "+fmtValue(fig.Unit, fig.P50), "p90 "+fmtValue(fig.Unit, fig.P90))
	}
	for i, p := range parts {
		if i > 0 {
			c.Detail += " · "
		}
		c.Detail += p
	}
	vals := make([]*float64, len(fig.Daily))
	for i, v := range fig.Daily {
		if v != nil {
			x := *v
			if fig.Unit == orchestration.UnitShare {
				x *= 100
			}
			vals[i] = &x
		}
		day := ""
		if i < len(days) {
			day = days[i]
		}
		c.Daily = append(c.Daily, dashDay{Day: day, Value: fmtValue(fig.Unit, v)})
	}
	dj, _ := json.Marshal(days)
	vj, _ := json.Marshal(vals)
	c.Days, c.Values = string(dj), string(vj)
	switch fig.Key {
	case orchestration.MetricExceptions:
		c.Links = []dashLink{{"open cases", queueHref(nil, f)}, {"clusters", "/clusters"}}
	case orchestration.MetricAllocation:
		c.Links = []dashLink{{"stockout cases", queueHref(url.Values{"kind": {orchestration.KindStockout}}, f)},
			{"backordered orders", ordersHref("order", orchestration.StatusBackordered, f.Node, f)}}
	case orchestration.MetricAPI:
		c.Links = []dashLink{{"integration cases", queueHref(url.Values{"kind": {orchestration.KindIntegrationError}}, f)},
			{"clusters", "/clusters?kind=" + orchestration.KindIntegrationError}}
	case orchestration.MetricERPLag:
		c.Links = []dashLink{{"ERP cases", queueHref(url.Values{"kind": {orchestration.KindERPPostingFailed}}, f)}}
	case orchestration.MetricRefundTime:
		c.Links = []dashLink{{"returns waiting", ordersHref("return", "", f.Node, f)}}
	case orchestration.MetricCycleTime:
		c.Links = []dashLink{{"orders shipped, not delivered", ordersHref("order", orchestration.StatusShipped, f.Node, f)}}
	case triage.MetricReviewTime, triage.MetricAutomation, triage.MetricPrecision:
		c.Links = []dashLink{{"review queue", queueHref(nil, f)}}
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// queueHref links to the review queue with extra filters and the
// dashboard's channel and node (the queue's location).
func queueHref(extra url.Values, f orchestration.Filter) string {
	v := url.Values{}
	for k, x := range extra {
		v[k] = x
	}
	if f.Channel != "" {
		v.Set("channel", f.Channel)
	}
	if f.Node != "" {
		v.Set("location", f.Node)
	}
	if len(v) == 0 {
		return "/review"
	}
	return "/review?" + v.Encode()
}

// ordersHref links to the orders (or returns) sitting in a state now.
func ordersHref(journey, state, node string, f orchestration.Filter) string {
	v := url.Values{"journey": {journey}}
	if state != "" {
		v.Set("state", state)
	}
	if node != "" && node != rollup.All {
		v.Set("node", node)
	}
	if f.Channel != "" {
		v.Set("channel", f.Channel)
	}
	if f.Region != "" {
		v.Set("region", f.Region)
	}
	return "/dashboard/orders?" + v.Encode()
}

// rows formats figures by dim. The count column is the share of the
// period's total for counts, hits of N for shares, N for durations.
func rows(figs []orchestration.Figure, links func(orchestration.Figure) []dashLink) []dashRow {
	var out []dashRow
	var total int64
	for _, fig := range figs {
		total += fig.N
	}
	for _, fig := range figs {
		r := dashRow{Name: fig.Dim, Value: fmtValue(fig.Unit, fig.Value), Previous: fmtValue(fig.Unit, fig.Previous),
			Count: fmt.Sprint(fig.N)}
		switch {
		case fig.Unit == orchestration.UnitShare:
			r.Count = fmt.Sprintf("%d of %d", fig.Hits, fig.N)
		case fig.Unit == orchestration.UnitCount && total > 0:
			r.Count = fmt.Sprintf("%.0f%%", 100*float64(fig.N)/float64(total))
		}
		if links != nil {
			r.Links = links(fig)
		}
		out = append(out, r)
	}
	return out
}

// stallTables lays the stall view out as one table per journey: a row per
// node (every node first), a column per state that has stays or orders.
func stallTables(stalls []orchestration.Stall, f orchestration.Filter) []stallTable {
	var out []stallTable
	for _, j := range []struct {
		journey, title string
		states         []string
	}{{"order", "Order journey", orchestration.OrderJourney}, {"return", "Return journey", orchestration.ReturnJourney}} {
		t := stallTable{Journey: j.journey, Title: j.title}
		by := map[string]map[string]orchestration.Stall{}
		var nodes []string
		used := map[string]bool{}
		for _, st := range stalls {
			if st.Journey != j.journey {
				continue
			}
			if by[st.Node] == nil {
				by[st.Node] = map[string]orchestration.Stall{}
				nodes = append(nodes, st.Node)
			}
			by[st.Node][st.State] = st
			used[st.State] = true
		}
		for _, s := range j.states {
			if used[s] {
				t.States = append(t.States, s)
			}
		}
		if len(t.States) == 0 {
			out = append(out, t)
			continue
		}
		// The slowest p90 of each state (over the nodes) is marked.
		worst := map[string]float64{}
		real := 0
		for _, n := range nodes {
			if n == rollup.All || n == "" {
				continue
			}
			real++
			for s, st := range by[n] {
				if st.P90 != nil && *st.P90 > worst[s] {
					worst[s] = *st.P90
				}
			}
		}
		for _, n := range nodes {
			label := n
			switch n {
			case rollup.All:
				label = "all nodes"
			case "":
				label = "no node yet"
			}
			row := stallRow{Node: label}
			if n != rollup.All && n != "" {
				row.Href = "/dashboard?" + url.Values{"node": {n}}.Encode()
			}
			for _, s := range t.States {
				st := by[n][s]
				c := stallCell{P50: fmtValue(orchestration.UnitDuration, st.P50), P90: fmtValue(orchestration.UnitDuration, st.P90),
					Now: fmt.Sprint(st.Now), Stays: st.N}
				if st.Now > 0 {
					c.NowHref = ordersHref(j.journey, s, n, f)
				}
				c.Stuck = n != rollup.All && st.P90 != nil && *st.P90 == worst[s] && real >= 2
				row.Cells = append(row.Cells, c)
			}
			t.Rows = append(t.Rows, row)
		}
		out = append(out, t)
	}
	return out
}

// fmtValue formats a figure's value for people: "2.5 h", "93.4%", "1,204".
func fmtValue(unit string, v *float64) string {
	if v == nil {
		return "–"
	}
	x := *v
	switch unit {
	case orchestration.UnitShare:
		return fmt.Sprintf("%.1f%%", 100*x)
	case orchestration.UnitDuration:
		return fmtSeconds(x)
	default:
		return fmtCount(int64(math.Round(x)))
	}
}

// fmtSeconds is a duration in the unit that reads best.
func fmtSeconds(x float64) string {
	switch {
	case x < 90:
		return fmt.Sprintf("%.0f s", x)
	case x < 90*60:
		return fmt.Sprintf("%.1f min", x/60)
	case x < 48*3600:
		return fmt.Sprintf("%.1f h", x/3600)
	default:
		return fmt.Sprintf("%.1f days", x/86400)
	}
}

// fmtCount writes n with thousands separators.
func fmtCount(n int64) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "−" + s
	}
	return s
}
