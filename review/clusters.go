package review

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/triage"
)

// engineers see and track the root-cause clusters (admins too).
var engineers = []Role{Engineer}

// registerClusterRoutes mounts the cluster list, a cluster's page, its
// form and the on-demand run. Without a clusterer there are none.
func (s *Server) registerClusterRoutes(r chi.Router) {
	if s.cfg.Clusters == nil {
		return
	}
	r.With(s.requireRole(engineers...)).Get("/clusters", s.h(s.handleClusters))
	r.With(s.requireRole(engineers...)).Post("/clusters/run", s.h(s.handleClusterRun))
	r.With(s.requireRole(engineers...)).Get("/clusters/{id}", s.h(s.handleCluster))
	r.With(s.requireRole(engineers...)).Post("/clusters/{id}", s.h(s.handleClusterUpdate))
	r.With(s.requireRole(engineers...)).Post("/clusters/{id}/summary", s.h(s.handleClusterSummary))
}

// clusterRow is one cluster of the list, formatted.
type clusterRow struct {
	triage.Cluster
	Href, Trend, TrendClass, Impact, Minutes string
	// Spark is the daily counts as JSON for the row's chart; Days the same
	// numbers for people without JavaScript.
	Spark, Days string
}

// clustersPage is the model of templates/clusters.html.
type clustersPage struct {
	Page
	Rows     []clusterRow
	Filter   triage.ClusterFilter
	Period   string
	Periods  []string
	Kinds    []string
	Statuses []string
	NextHref string
	LastRun  *triage.RunSummary
	Window   string
}

// trendText renders a trend ("+35%", "−20%", "new"), with its class.
func trendText(c triage.Cluster) (string, string) {
	switch {
	case c.Trend == nil && c.Recent > 0:
		return "new", "trend-up"
	case c.Trend == nil:
		return "–", ""
	case *c.Trend >= 0.1:
		return fmt.Sprintf("+%.0f%%", *c.Trend*100), "trend-up"
	case *c.Trend <= -0.1:
		return fmt.Sprintf("−%.0f%%", -*c.Trend*100), "trend-down"
	default:
		return "steady", ""
	}
}

func dailyJSON(days []triage.DayCount) (string, string) {
	type series struct {
		Days   []string `json:"days"`
		Counts []int    `json:"counts"`
	}
	var sr series
	var text []string
	for _, d := range days {
		sr.Days = append(sr.Days, d.Day)
		sr.Counts = append(sr.Counts, d.Count)
		text = append(text, fmt.Sprint(d.Count))
	}
	b, _ := json.Marshal(sr)
	return string(b), strings.Join(text, " · ")
}

// handleClusters lists the clusters, biggest impact first.
func (s *Server) handleClusters(w http.ResponseWriter, r *http.Request) error {
	f, err := triage.ClusterFilterFromQuery(r.URL.Query())
	if err != nil {
		return err
	}
	items, next, err := s.cfg.Clusters.ListClusters(r.Context(), f)
	if err != nil {
		return err
	}
	p := clustersPage{Page: s.page(r, "Root-cause clusters"), Filter: f, Period: f.Period, Periods: triage.ClusterPeriodNames(),
		Kinds: orchestration.ExceptionKinds(), Statuses: triage.ClusterStatuses(), Window: span(s.cfg.Clusters.Window())}
	if p.Period == "" {
		p.Period = triage.DefaultClusterPeriod
	}
	p.Assets = []string{"review.css", "vendor/uplot/uPlot.min.css", "clusters.css", "vendor/uplot/uPlot.iife.min.js", "clusters.js"}
	for _, c := range items {
		row := clusterRow{Cluster: c, Href: fmt.Sprintf("/clusters/%d?period=%s", c.ID, p.Period),
			Impact: fmt.Sprintf("%.0f", math.Round(c.Impact)), Minutes: fmt.Sprintf("%.0f", c.ManualMinutes)}
		row.Trend, row.TrendClass = trendText(c)
		row.Spark, row.Days = dailyJSON(c.Daily)
		p.Rows = append(p.Rows, row)
	}
	if next > 0 {
		q := r.URL.Query()
		q.Set("offset", fmt.Sprint(next))
		p.NextHref = "/clusters?" + q.Encode()
	}
	if run, ok, err := s.cfg.Clusters.LastRun(r.Context()); err != nil {
		return err
	} else if ok {
		p.LastRun = &run
	}
	return s.render(w, r, http.StatusOK, "clusters.html", p)
}

// handleClusterRun runs the clustering now and comes back to the list.
func (s *Server) handleClusterRun(w http.ResponseWriter, r *http.Request) error {
	u, _ := UserFrom(r.Context())
	sum, err := s.cfg.Clusters.Run(r.Context(), triage.RunOptions{Trigger: "page", Actor: u.Actor()})
	if errors.Is(err, triage.ErrRunInProgress) {
		s.flash(r, "A clustering run is in progress already; its clusters show here when it finishes.")
		http.Redirect(w, r, "/clusters", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	s.flash(r, fmt.Sprintf("Clustered %d exceptions into %d clusters in %s: %d new, %d merged, %d split.",
		sum.Exceptions, sum.Clusters, sum.Duration.Round(time.Millisecond), sum.New, sum.Merges, sum.Splits))
	http.Redirect(w, r, "/clusters", http.StatusSeeOther)
	return nil
}

// breakdown is one breakdown table of a cluster's page.
type breakdown struct {
	Title string
	Rows  []triage.ValueCount
}

// clusterPage is the model of templates/cluster.html.
type clusterPage struct {
	Page
	triage.ClusterDetail
	Period, Trend, TrendClass string
	Periods                   []string
	Statuses                  []string
	Daily                     string
	Breakdowns                []breakdown
	AutoShare, ManualShare    string
	// Open counts the members neither triage nor a person has resolved.
	Open    int
	Minutes string
	Today   string
	CanEdit bool
	// CanSummarise shows the "Write summary" button: a model is configured
	// (LLM_URL) and the person is an engineer or admin.
	CanSummarise bool
}

var breakdownTitles = map[string]string{"sku": "Top SKUs", "location": "Top locations", "carrier": "Top carriers",
	"channel": "Top channels", "endpoint": "Top outside endpoints", "code": "Top error codes"}

func clusterID(r *http.Request) (int64, error) { return triage.ClusterID(r) }

func share(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(of))
}

// handleCluster shows one cluster.
func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) error {
	id, err := clusterID(r)
	if err != nil {
		return err
	}
	d, err := s.cfg.Clusters.GetCluster(r.Context(), id, r.URL.Query().Get("period"))
	if err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	p := clusterPage{Page: s.page(r, fmt.Sprintf("Cluster #%d", d.ID)), ClusterDetail: d, Period: d.Period,
		Periods: triage.ClusterPeriodNames(), Statuses: triage.ClusterStatuses(), CanEdit: u.Can(engineers...),
		Today: s.now().UTC().Format(time.DateOnly), Minutes: fmt.Sprintf("%.0f", d.ManualMinutes)}
	p.CanSummarise = p.CanEdit && s.cfg.Clusters.Summaries() && d.Active
	p.Assets = []string{"review.css", "vendor/uplot/uPlot.min.css", "clusters.css", "vendor/uplot/uPlot.iife.min.js", "clusters.js"}
	p.Trend, p.TrendClass = trendText(d.Cluster)
	p.Daily, _ = dailyJSON(d.Cluster.Daily)
	decided := d.Automatic + d.Manual
	p.AutoShare, p.ManualShare = share(d.Automatic, d.Count), share(d.Manual, d.Count)
	p.Open = max(d.Count-decided, 0)
	for _, n := range triage.BreakdownNames() {
		p.Breakdowns = append(p.Breakdowns, breakdown{Title: breakdownTitles[n], Rows: d.Breakdowns[n]})
	}
	return s.render(w, r, http.StatusOK, "cluster.html", p)
}

// handleClusterSummary asks the configured model (LLM_URL) for a new
// summary of the cluster; the job writes it, and the page shows it once
// written.
func (s *Server) handleClusterSummary(w http.ResponseWriter, r *http.Request) error {
	id, err := clusterID(r)
	if err != nil {
		return err
	}
	u, _ := UserFrom(r.Context())
	if err := s.cfg.Clusters.RequestSummary(r.Context(), id, u.Actor()); err != nil {
		return err
	}
	s.flash(r, fmt.Sprintf("A summary of cluster #%d was requested; it shows here once the model has answered (reload in a few seconds).", id))
	http.Redirect(w, r, fmt.Sprintf("/clusters/%d", id), http.StatusSeeOther)
	return nil
}

// handleClusterUpdate saves the form: status, fix date, owner, notes.
func (s *Server) handleClusterUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := clusterID(r)
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("reading the form: %w", derrors.Invalid)
	}
	form := func(k string) *string {
		if _, ok := r.PostForm[k]; !ok {
			return nil
		}
		v := r.PostForm.Get(k)
		return &v
	}
	upd := triage.ClusterUpdate{Status: form("status"), FixedAt: form("fixed_at"), Owner: form("owner"), Notes: form("notes")}
	if upd.Status != nil && *upd.Status != triage.ClusterFixed {
		upd.FixedAt = nil // the date field is ignored unless the cluster is fixed
	}
	u, _ := UserFrom(r.Context())
	if _, err := s.cfg.Clusters.UpdateCluster(r.Context(), id, upd, u.Actor()); err != nil {
		return err
	}
	s.flash(r, fmt.Sprintf("Cluster #%d saved.", id))
	back := fmt.Sprintf("/clusters/%d", id)
	if p := r.PostForm.Get("period"); p != "" {
		back += "?period=" + url.QueryEscape(p)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}
