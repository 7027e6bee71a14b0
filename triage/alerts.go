package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
)

// SLA alerts: the policy's process targets (rules.SLAAlerts) checked by a
// leader-only River job. A figure past its target fires an alert (one row
// in alerts, one webhook message); the figure back within target resolves
// it (one more message). The figures are read in SQL over the policy's
// window, aggregated.

// Alert figures.
const (
	FigureReviewTime      = "review_time_p90"       // seconds, above target is a breach
	FigurePostingLag      = "erp_posting_lag_p95"   // seconds, above
	FigurePromise         = "promise_adherence"     // ratio, below
	FigureEndpointFailure = "endpoint_failure_rate" // ratio per endpoint, above
)

// Alert states.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Measure is one figure over the window, beside its target.
type Measure struct {
	Figure     string  `json:"figure"`
	Subject    string  `json:"subject"` // the endpoint, or "" for the whole service
	Value      float64 `json:"value"`
	Target     float64 `json:"target"`
	Comparison string  `json:"comparison"` // "above" or "below": the side of the target that is a breach
	Unit       string  `json:"unit"`       // "seconds" or "ratio"
	Sample     int     `json:"sample"`     // observations measured
}

// Breached reports whether m is past its target.
func (m Measure) Breached() bool {
	if m.Comparison == "below" {
		return m.Value < m.Target
	}
	return m.Value > m.Target
}

// Alert is a breach of an SLA target: firing while it lasts, resolved once
// it cleared.
type Alert struct {
	ID            int64      `json:"id"`
	Figure        string     `json:"figure"`
	Subject       string     `json:"subject"`
	State         string     `json:"state"`
	Value         float64    `json:"value"`      // when it fired
	LastValue     float64    `json:"last_value"` // at the latest evaluation, or when it resolved
	Target        float64    `json:"target"`
	Comparison    string     `json:"comparison"`
	Unit          string     `json:"unit"`
	PolicyVersion string     `json:"policy_version"`
	StartedAt     time.Time  `json:"started_at"`
	ResolvedAt    *time.Time `json:"resolved_at,omitempty"`
	FireSentAt    *time.Time `json:"fire_sent_at,omitempty"`
	ResolveSentAt *time.Time `json:"resolve_sent_at,omitempty"`
}

const alertColumns = `id, figure, subject, state, value, last_value, target, comparison, unit, policy_version,
	started_at, resolved_at, fire_sent_at, resolve_sent_at`

// MeasureSLA reads every alert figure over the policy's window ending now.
// Only figures with at least the policy's MinSample observations are
// returned: the others cannot be judged.
func (s *Service) MeasureSLA(ctx context.Context) (_ []Measure, err error) {
	defer derrors.Wrap(&err, "MeasureSLA")
	a := s.policy().SLA.Alerts
	now := s.now()
	since := now.Add(-a.Window())
	min := a.Sample()
	var out []Measure
	add := func(m Measure) {
		if m.Sample >= min {
			out = append(out, m)
		}
	}

	// Review time: cases decided by a person in the window, and those
	// waiting for one now, counted as waiting until now (so a queue nobody
	// works breaches too).
	m := Measure{Figure: FigureReviewTime, Target: a.ReviewTimeP90().Seconds(), Comparison: "above", Unit: "seconds"}
	if err := s.pool.QueryRow(ctx, `
		WITH obs AS (
			SELECT extract(epoch FROM decided_at - triaged_at)::float8 AS v FROM cases
			WHERE status = 'decided' AND decided_by <> '' AND decided_at >= $1 AND triaged_at IS NOT NULL
			UNION ALL
			SELECT extract(epoch FROM $2 - triaged_at)::float8 FROM cases
			WHERE status = 'queued_for_review' AND triaged_at IS NOT NULL
		)
		SELECT count(*)::int, coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY v), 0) FROM obs`, since, now).
		Scan(&m.Sample, &m.Value); err != nil {
		return nil, err
	}
	add(m)

	w, err := s.core.WindowFigures(ctx, since, now)
	if err != nil {
		return nil, err
	}
	add(Measure{Figure: FigurePostingLag, Value: w.PostingLagP95, Target: a.PostingLagP95().Seconds(), Comparison: "above",
		Unit: "seconds", Sample: w.PostingLagSample})
	add(Measure{Figure: FigurePromise, Value: w.PromiseRate, Target: a.PromiseAdherence(), Comparison: "below",
		Unit: "ratio", Sample: w.Delivered})
	for _, r := range w.Endpoints {
		add(Measure{Figure: FigureEndpointFailure, Subject: r.Endpoint, Value: r.Rate, Target: a.EndpointFailureRate(),
			Comparison: "above", Unit: "ratio", Sample: int(r.Calls)})
	}
	return out, nil
}

// EvaluateAlerts measures every figure and moves the alerts: a breach with
// no alert firing fires one, a firing alert whose figure is within target
// (or can no longer be judged) resolves. Each move enqueues its webhook
// delivery in the same transaction when deliver is true. Evaluations are
// serialised by an advisory lock, so two never fire the same breach.
func (s *Service) EvaluateAlerts(ctx context.Context, deliver bool) (fired, resolved []Alert, err error) {
	defer derrors.Wrap(&err, "EvaluateAlerts")
	pol := s.policy()
	measures, err := s.MeasureSLA(ctx)
	if err != nil {
		return nil, nil, err
	}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		fired, resolved = nil, nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('omnitriage.alerts'))`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE state = 'firing'`)
		if err != nil {
			return err
		}
		firing, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Alert])
		if err != nil {
			return err
		}
		open := map[[2]string]Alert{}
		for _, a := range firing {
			open[[2]string{a.Figure, a.Subject}] = a
		}
		now := s.now()
		breached := map[[2]string]Measure{}
		for _, m := range measures {
			if m.Breached() {
				breached[[2]string{m.Figure, m.Subject}] = m
			}
		}
		for key, m := range breached {
			if a, ok := open[key]; ok {
				if _, err := tx.Exec(ctx, `UPDATE alerts SET last_value = $2 WHERE id = $1`, a.ID, m.Value); err != nil {
					return err
				}
				continue
			}
			row, err := tx.Query(ctx, `
				INSERT INTO alerts (figure, subject, state, value, last_value, target, comparison, unit, policy_version, started_at)
				VALUES ($1, $2, 'firing', $3, $3, $4, $5, $6, $7, $8) RETURNING `+alertColumns,
				m.Figure, m.Subject, m.Value, m.Target, m.Comparison, m.Unit, pol.Version, now)
			if err != nil {
				return err
			}
			a, err := pgx.CollectExactlyOneRow(row, pgx.RowToStructByPos[Alert])
			if err != nil {
				return err
			}
			fired = append(fired, a)
		}
		last := map[[2]string]float64{}
		for _, m := range measures {
			last[[2]string{m.Figure, m.Subject}] = m.Value
		}
		for key, a := range open {
			if _, ok := breached[key]; ok {
				continue
			}
			v, ok := last[key]
			if !ok {
				v = a.LastValue // no longer judged: too few observations
			}
			row, err := tx.Query(ctx, `UPDATE alerts SET state = 'resolved', resolved_at = $2, last_value = $3
				WHERE id = $1 AND state = 'firing' RETURNING `+alertColumns, a.ID, now, v)
			if err != nil {
				return err
			}
			r, err := pgx.CollectExactlyOneRow(row, pgx.RowToStructByPos[Alert])
			if err != nil {
				return err
			}
			resolved = append(resolved, r)
		}
		if !deliver {
			return nil
		}
		for _, a := range append(append([]Alert(nil), fired...), resolved...) {
			raw, err := json.Marshal(AlertDeliverArgs{AlertID: a.ID, State: a.State})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, orchestration.EnqueueSQL, raw, AlertDeliverArgs{}.Kind(), alertDeliverAttempts, nil); err != nil {
				return fmt.Errorf("enqueueing the delivery of alert %d: %w", a.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return fired, resolved, nil
}

// AlertFilter selects alerts.
type AlertFilter struct {
	State string // firing, resolved or "" for both
	Limit int    // 0 means 100
}

// Alerts lists alerts: firing first, then the most recent.
func (s *Service) Alerts(ctx context.Context, f AlertFilter) (_ []Alert, err error) {
	defer derrors.Wrap(&err, "Alerts")
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE ($1 = '' OR state = $1)
		ORDER BY state = 'firing' DESC, started_at DESC, id DESC LIMIT $2`, f.State, f.Limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Alert])
	if out == nil && err == nil {
		out = []Alert{}
	}
	return out, err
}

// getAlert reads one alert.
func (s *Service) getAlert(ctx context.Context, id int64) (Alert, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id)
	if err != nil {
		return Alert{}, err
	}
	a, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Alert])
	if errors.Is(err, pgx.ErrNoRows) {
		return Alert{}, fmt.Errorf("no alert %d: %w", id, derrors.NotFound)
	}
	return a, err
}
