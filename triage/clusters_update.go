package triage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// ClusterUpdate changes what people track on a cluster; nil fields stay
// as they are.
type ClusterUpdate struct {
	Status *string `json:"status,omitempty"`
	// FixedAt is the day of the fix (YYYY-MM-DD), with status fixed; a
	// cluster marked fixed without one is fixed today.
	FixedAt *string `json:"fixed_at,omitempty"`
	Owner   *string `json:"owner,omitempty"`
	Notes   *string `json:"notes,omitempty"`
}

// Limits of what people write on a cluster.
const (
	maxOwner = 200
	maxNotes = 4000
)

// validate names each bad field; today is the fix date's latest value.
func (u ClusterUpdate) validate(current string, today time.Time) (status string, fixed *time.Time, err error) {
	v := &derrors.ValidationError{}
	status = current
	if u.Status != nil {
		if !slices.Contains(ClusterStatuses(), *u.Status) {
			v.Add("status", "want one of %s", strings.Join(ClusterStatuses(), ", "))
		}
		status = *u.Status
	}
	if u.FixedAt != nil && *u.FixedAt != "" {
		d, perr := time.Parse(time.DateOnly, *u.FixedAt)
		switch {
		case perr != nil:
			v.Add("fixed_at", "want the day of the fix as YYYY-MM-DD")
		case d.After(today):
			v.Add("fixed_at", "the day of the fix is after today (%s); give the day the fix went live", today.Format(time.DateOnly))
		case status != ClusterFixed:
			v.Add("fixed_at", "a fix date goes with status fixed (the status is %s)", status)
		default:
			fixed = &d
		}
	}
	if u.Owner != nil {
		if err := web.CheckText("owner", *u.Owner, false); err != nil {
			v.Add("owner", "%s", derrors.Plain(err))
		} else if len([]rune(*u.Owner)) > maxOwner {
			v.Add("owner", "at most %d characters", maxOwner)
		}
	}
	if u.Notes != nil {
		if err := web.CheckText("notes", *u.Notes, true); err != nil {
			v.Add("notes", "%s", derrors.Plain(err))
		} else if len([]rune(*u.Notes)) > maxNotes {
			v.Add("notes", "at most %d characters", maxNotes)
		}
	}
	if status == ClusterFixed && fixed == nil && v.Err() == nil {
		d := today
		fixed = &d
	}
	return status, fixed, v.Err()
}

// UpdateCluster sets a cluster's status (with its fix date), owner or
// notes, as actor. Marking it fixed (or moving the fix date) clears the
// recurring flag, then flags it again at once when exceptions already
// came after the new date.
func (c *Clusterer) UpdateCluster(ctx context.Context, id int64, u ClusterUpdate, actor string) (_ ClusterDetail, err error) {
	defer derrors.Wrap(&err, "UpdateCluster(%d)", id)
	now := c.s.now()
	today := now.UTC().Truncate(24 * time.Hour)
	err = pgx.BeginFunc(ctx, c.s.pool, func(tx pgx.Tx) error {
		var status string
		var fixedAt *time.Time
		if err := tx.QueryRow(ctx, `SELECT status, fixed_at FROM clusters WHERE id = $1 FOR UPDATE`, id).Scan(&status, &fixedAt); err != nil {
			if isNoRows(err) {
				return fmt.Errorf("no cluster %d: %w", id, derrors.NotFound)
			}
			return err
		}
		newStatus, fixed, err := u.validate(status, today)
		if err != nil {
			return err
		}
		if newStatus == ClusterFixed && status == ClusterFixed && fixed != nil && (u.FixedAt == nil || *u.FixedAt == "") {
			fixed = fixedAt // still fixed, the date unchanged
		}
		reset := newStatus != status || !sameDay(fixed, fixedAt)
		if _, err := tx.Exec(ctx, `UPDATE clusters SET status = $2, fixed_at = $3::date, owner = coalesce($4, owner), notes = coalesce($5, notes),
			recurring_at = CASE WHEN $6 THEN NULL ELSE recurring_at END,
			recurring_notified_at = CASE WHEN $6 THEN NULL ELSE recurring_notified_at END,
			updated_at = $7, updated_by = $8 WHERE id = $1`,
			id, newStatus, fixed, trimmed(u.Owner), u.Notes, reset, now, actor); err != nil {
			return err
		}
		return flagRecurring(ctx, tx, now, []int64{id})
	})
	if err != nil {
		return ClusterDetail{}, err
	}
	return c.GetCluster(ctx, id, "")
}

func trimmed(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	return &t
}

func sameDay(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Format(time.DateOnly) == b.Format(time.DateOnly)
}

// RecurringEvent is the webhook's body for a fixed cluster that came back.
type RecurringEvent struct {
	Event       string    `json:"event"` // "cluster.recurring"
	ClusterID   int64     `json:"cluster_id"`
	URL         string    `json:"url"`
	Kind        string    `json:"kind"`
	Template    string    `json:"template"`
	FixedAt     string    `json:"fixed_at"`
	RecurringAt time.Time `json:"recurring_at"`
	Owner       string    `json:"owner,omitempty"`
}

// ClusterURL is the page of a cluster.
func (c *Clusterer) ClusterURL(id int64) string {
	return fmt.Sprintf("%s/clusters/%d", c.s.baseURL, id)
}

// NotifyRecurring POSTs a RecurringEvent to the SLA webhook for each
// recurring cluster it has not been told of (up to limit), signed as the
// SLA job signs, and records each 2xx answer so a recurrence is announced
// once. A failed delivery is tried again on the next run. Without a
// webhook it does nothing.
func (c *Clusterer) NotifyRecurring(ctx context.Context, limit int) (sent int, err error) {
	defer derrors.Wrap(&err, "NotifyRecurring")
	if c.cfg.WebhookURL == "" {
		return 0, nil
	}
	rows, err := c.s.pool.Query(ctx, `SELECT id, kind, template, to_char(fixed_at, 'YYYY-MM-DD'), recurring_at, owner FROM clusters
		WHERE status = 'fixed' AND recurring_at IS NOT NULL AND recurring_notified_at IS NULL ORDER BY recurring_at, id LIMIT $1`, limit)
	if err != nil {
		return 0, err
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RecurringEvent, error) {
		ev := RecurringEvent{Event: "cluster.recurring"}
		err := r.Scan(&ev.ClusterID, &ev.Kind, &ev.Template, &ev.FixedAt, &ev.RecurringAt, &ev.Owner)
		ev.URL = c.ClusterURL(ev.ClusterID)
		return ev, err
	})
	if err != nil {
		return 0, err
	}
	var firstErr error
	for _, ev := range events {
		if err := c.post(ctx, ev); err != nil {
			c.s.log.Warn("recurring cluster webhook", "cluster", ev.ClusterID, "err", err)
			firstErr = cmpErr(firstErr, err)
			continue
		}
		if _, err := c.s.pool.Exec(ctx, `UPDATE clusters SET recurring_notified_at = $2 WHERE id = $1 AND recurring_at = $3`,
			ev.ClusterID, c.s.now(), ev.RecurringAt); err != nil {
			return sent, err
		}
		sent++
	}
	if firstErr != nil {
		return sent, fmt.Errorf("%d of %d deliveries failed, retried next run: %w", len(events)-sent, len(events), firstErr)
	}
	return sent, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (c *Clusterer) post(ctx context.Context, ev RecurringEvent) error {
	w := webhook{name: "SLA_WEBHOOK_URL", url: c.cfg.WebhookURL, secret: c.cfg.Secret, client: c.cfg.Client}
	// One key per recurrence: a fix date moved and missed again is news.
	return w.post(ctx, c.s.now(), fmt.Sprintf("cluster-recurring-%d-%d", ev.ClusterID, ev.RecurringAt.Unix()), ev)
}

// Collector returns the clusters' Prometheus metrics, read from the
// database at each scrape: omnitriage_clusters_recurring (fixed clusters
// that came back) and omnitriage_clusters_active.
func (c *Clusterer) Collector() prometheus.Collector { return clusterCollector{c} }

type clusterCollector struct{ c *Clusterer }

var (
	recurringDesc = prometheus.NewDesc("omnitriage_clusters_recurring",
		"Root-cause clusters marked fixed that got a new exception after their fix date.", nil, nil)
	activeDesc = prometheus.NewDesc("omnitriage_clusters_active",
		"Root-cause clusters with exceptions in the clustering window, by status.", []string{"status"}, nil)
)

func (cc clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- recurringDesc
	ch <- activeDesc
}

func (cc clusterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var recurring int
	if err := cc.c.s.pool.QueryRow(ctx, `SELECT count(*) FROM clusters WHERE status = 'fixed' AND recurring_at IS NOT NULL AND merged_into IS NULL`).
		Scan(&recurring); err != nil {
		ch <- prometheus.NewInvalidMetric(recurringDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(recurringDesc, prometheus.GaugeValue, float64(recurring))
	rows, err := cc.c.s.pool.Query(ctx, `SELECT status, count(*) FROM clusters WHERE active GROUP BY status`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(activeDesc, err)
		return
	}
	byStatus := map[string]float64{}
	for rows.Next() {
		var s string
		var n int64
		if rows.Scan(&s, &n) == nil {
			byStatus[s] = float64(n)
		}
	}
	rows.Close()
	for _, s := range ClusterStatuses() {
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, byStatus[s], s)
	}
}
