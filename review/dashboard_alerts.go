package review

import (
	"context"
	"fmt"
	"time"

	"github.com/omnitriage/omnitriage/triage"
)

// alertsShown bounds the alerts the dashboard reads: every firing one
// comes first (there is at most one per figure and endpoint), then the
// most recent resolved.
const alertsShown = 20

// resolvedShown is how long a resolved alert stays on the dashboard.
const resolvedShown = 24 * time.Hour

// dashAlert is one SLA alert, formatted for the dashboard's alert panel:
// Value at the latest evaluation, Fired when it fired.
type dashAlert struct {
	ID                                   int64
	Firing                               bool
	Title, Value, Fired, Target, Compare string
	StartedAt                            time.Time
	ResolvedAt                           *time.Time
}

// alertTitles name the alert figures for people.
var alertTitles = map[string]string{
	triage.FigureReviewTime:      "Review time (p90)",
	triage.FigurePostingLag:      "ERP posting lag (p95)",
	triage.FigurePromise:         "Promise adherence",
	triage.FigureEndpointFailure: "Failure rate",
}

// dashAlerts reads the SLA alerts the dashboard shows: those firing, and
// those resolved within resolvedShown of now.
func (s *Server) dashAlerts(ctx context.Context) ([]dashAlert, error) {
	alerts, err := s.cfg.Triage.Alerts(ctx, triage.AlertFilter{Limit: alertsShown})
	if err != nil {
		return nil, err
	}
	var out []dashAlert
	for _, a := range alerts {
		firing := a.State == triage.AlertFiring
		if !firing && (a.ResolvedAt == nil || s.now().Sub(*a.ResolvedAt) > resolvedShown) {
			continue
		}
		title := alertTitles[a.Figure]
		if title == "" {
			title = a.Figure
		}
		if a.Subject != "" {
			title += " of " + a.Subject
		}
		out = append(out, dashAlert{ID: a.ID, Firing: firing, Title: title, Value: fmtAlertValue(a.Unit, a.LastValue), Fired: fmtAlertValue(a.Unit, a.Value),
			Target: fmtAlertValue(a.Unit, a.Target), Compare: a.Comparison, StartedAt: a.StartedAt, ResolvedAt: a.ResolvedAt})
	}
	return out, nil
}

// fmtAlertValue formats an alert's figure: a duration or a share.
func fmtAlertValue(unit string, v float64) string {
	if unit == "ratio" {
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	return fmtSeconds(v)
}
