package review

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/triage"
)

// deciders may decide cases, claim them and approve in bulk; everyone of
// viewers sees the queue.
var (
	deciders = []Role{Support, Engineer}
	viewers  = []Role{Support, Engineer}
	// bulkers may approve several cases at once: support staff (and admins).
	bulkers = []Role{Support}
)

// registerQueueRoutes mounts the queue, the bulk approval and the team panel.
func (s *Server) registerQueueRoutes(r chi.Router) {
	r.With(s.requireRole(viewers...)).Get("/review", s.h(s.handleQueue))
	r.With(s.requireRole(bulkers...)).Post("/review/bulk-approve", s.h(s.handleBulkApprove))
	r.With(s.requireRole(viewers...)).Get("/review/team", s.h(s.handleTeam))
	s.registerCaseRoutes(r)
}

// queueRow is one case of the queue, formatted for the table.
type queueRow struct {
	triage.QueueItem
	Href, Value, TimeLeft, Risk string
	ClaimedByOther              bool
}

// filterOption is one value of a filter with its count.
type filterOption struct {
	Value, Label string
	N            int
	Selected     bool
}

// queueFilterField is one filter of the form.
type queueFilterField struct {
	Name, Label string
	Options     []filterOption
}

// queuePage is the model of templates/queue.html.
type queuePage struct {
	Page
	Rows     []queueRow
	Counts   triage.QueueCounts
	Filters  []queueFilterField
	Age      string
	Mine     bool
	Overdue  bool
	NextHref string
	// Query is the filter part of the URL, kept by paging links.
	Query   string
	CanBulk bool
	Team    []teamRow
}

// ageOptions are the queue's age filter values.
var ageOptions = []struct{ Value, Label string }{{"", "any age"}, {"1h", "over 1 hour"}, {"4h", "over 4 hours"}, {"24h", "over 1 day"}}

// handleQueue shows the cases waiting for a person, highest priority first.
func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) error {
	u, _ := UserFrom(r.Context())
	q := r.URL.Query()
	f := triage.QueueFilter{Kind: q.Get("kind"), Cause: q.Get("cause"), Channel: q.Get("channel"),
		Location: q.Get("location"), Carrier: q.Get("carrier"), Mine: q.Get("mine") == "1", Reviewer: u.Actor(),
		Overdue: q.Get("overdue") == "1", After: q.Get("after")}
	if a := q.Get("age"); a != "" {
		d, err := time.ParseDuration(a)
		if err != nil || d <= 0 {
			ve := &derrors.ValidationError{}
			ve.Add("age", "want a duration such as 4h")
			return ve
		}
		f.MinAge = d
	}
	page, err := s.cfg.Triage.Queue(r.Context(), f)
	if err != nil {
		return err
	}
	p := queuePage{Page: s.page(r, "Review queue"), Counts: page.Counts, Age: q.Get("age"), Mine: f.Mine,
		Overdue: f.Overdue, CanBulk: u.Can(bulkers...)}
	p.Assets = []string{"review.css", "queue.js"}
	keep := url.Values{}
	for _, k := range []string{"kind", "cause", "channel", "location", "carrier", "age", "mine", "overdue"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	p.Query = keep.Encode()
	if page.Next != "" {
		n := url.Values{}
		for k, v := range keep {
			n[k] = v
		}
		n.Set("after", page.Next)
		p.NextHref = "/review?" + n.Encode()
	}
	for _, it := range page.Items {
		p.Rows = append(p.Rows, queueRow{QueueItem: it, Href: "/review/cases/" + it.CaseID.String(),
			Value: money(it.OrderValue, it.Currency), TimeLeft: timeLeft(it.DueAt.Sub(page.At)),
			Risk:           fmt.Sprintf("%.0f%%", 100*it.Risk),
			ClaimedByOther: it.ClaimedBy != "" && it.ClaimedBy != u.Actor()})
	}
	for _, ff := range []struct {
		name, label string
		counts      []triage.Count
	}{
		{"kind", "Exception kind", page.Counts.Kind}, {"cause", "Cause", page.Counts.Cause},
		{"channel", "Channel", page.Counts.Channel}, {"location", "Location", page.Counts.Location},
		{"carrier", "Carrier", page.Counts.Carrier},
	} {
		field := queueFilterField{Name: ff.name, Label: ff.label}
		cur := q.Get(ff.name)
		field.Options = append(field.Options, filterOption{Value: "", Label: "all", N: page.Counts.Total, Selected: cur == ""})
		for _, c := range ff.counts {
			if c.Value == "" {
				continue // "" means "all" in the form
			}
			field.Options = append(field.Options, filterOption{Value: c.Value, Label: c.Value, N: c.N, Selected: cur == c.Value})
		}
		if cur != "" && !selected(field.Options) {
			field.Options = append(field.Options, filterOption{Value: cur, Label: cur, Selected: true})
		}
		p.Filters = append(p.Filters, field)
	}
	if p.Team, err = s.team(r); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "queue.html", p)
}

func selected(opts []filterOption) bool {
	for _, o := range opts {
		if o.Selected {
			return true
		}
	}
	return false
}

// handleBulkApprove approves the selected cases one by one through
// triage's Decide, then shows the queue with what became of each.
func (s *Server) handleBulkApprove(w http.ResponseWriter, r *http.Request) error {
	u, _ := UserFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("reading the form: %v: %w", err, derrors.Invalid)
	}
	var ids []uuid.UUID
	for _, v := range r.PostForm["case"] {
		id, err := uuid.Parse(v)
		if err != nil {
			ve := &derrors.ValidationError{}
			ve.Add("case", "%q is not a case id", v)
			return ve
		}
		ids = append(ids, id)
	}
	res, err := s.cfg.Triage.BulkApprove(r.Context(), u.Actor(), ids, "bulk approval")
	if err != nil {
		return err
	}
	ok := 0
	var failed []string
	for _, x := range res {
		if x.Err == nil {
			ok++
			continue
		}
		msg := web.PublicMessage(x.Err)
		if derrors.Status(x.Err) == http.StatusInternalServerError {
			s.log.ErrorContext(r.Context(), "bulk approve", "case", x.CaseID, "err", x.Err, "request_id", requestID(r))
			msg = "failed to apply; open the case to retry"
		}
		failed = append(failed, x.CaseID.String()[:8]+": "+msg)
	}
	summary := fmt.Sprintf("Approved %d of %d selected cases.", ok, len(res))
	if len(failed) > 0 {
		summary += " Not approved: " + strings.Join(failed, "; ")
	}
	s.flash(r, summary)
	back := "/review"
	if q := r.PostForm.Get("query"); q != "" {
		if _, err := url.ParseQuery(q); err == nil {
			back += "?" + q
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// teamRow is one reviewer's figures of the day, formatted.
type teamRow struct {
	Reviewer, Median, Agreement string
	Decided                     int
}

func (s *Server) team(r *http.Request) ([]teamRow, error) {
	stats, err := s.cfg.Triage.TeamStats(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]teamRow, 0, len(stats))
	for _, st := range stats {
		med := "–"
		if st.MedianTime > 0 {
			med = st.MedianTime.String()
		}
		out = append(out, teamRow{Reviewer: st.Reviewer, Decided: st.Decided, Median: med,
			Agreement: fmt.Sprintf("%.0f%%", 100*st.Agreement)})
	}
	return out, nil
}

// teamPage is the model of templates/team.html.
type teamPage struct {
	Page
	Team []teamRow
}

// handleTeam shows the per-reviewer panel on its own.
func (s *Server) handleTeam(w http.ResponseWriter, r *http.Request) error {
	p := teamPage{Page: s.page(r, "Team today")}
	p.Assets = []string{"review.css"}
	var err error
	if p.Team, err = s.team(r); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "team.html", p)
}

// money formats an amount with its currency.
func money(v float64, currency string) string {
	if currency == "" {
		return "–"
	}
	return fmt.Sprintf("%s %.2f", currency, v)
}

// timeLeft says how long until a due time, or how long past it.
func timeLeft(d time.Duration) string {
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if past {
		return strings.TrimSpace(s) + " overdue"
	}
	return s
}
