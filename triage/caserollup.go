package triage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/rollup"
	"github.com/omnitriage/omnitriage/orchestration"
)

// The case figures of the process dashboard, kept by triage in case_daily
// (migrations/00038_case_rollup.sql) in the shape of orchestration's
// process_daily, per UTC day, channel, region and node of the case's order
// (orchestration's process_order_dims; '' for a case without an order) and
// dim the exception kind:
//
//   - automation: cases triaged that day (auto-applied, queued for review,
//     decided or found nothing to do); hits are the auto-applied ones.
//   - precision: cases auto-applied (triaged) that day; hits are those that
//     held: within PrecisionWindow after the fix neither did a person touch
//     the order (an order event by a support, engineer or admin actor, the
//     view process_person_touches: reversing or redoing the fix by hand) nor
//     was a case of the same kind on the same order put in front of a person
//     (the problem came back: re-opened). A case without an order counts as
//     held. The last PrecisionWindow of days are provisional and recomputed
//     by every refresh.
//   - review_time: cases a person decided that day; the time from being
//     queued for review (triaged_at) to the decision; hits are approvals.

// CaseTable is the rollup table triage keeps.
const CaseTable = "case_daily"

// Case rollup metrics.
const (
	MetricAutomation = "automation"
	MetricPrecision  = "precision"
	MetricReviewTime = "review_time"
)

// PrecisionWindow is how long after an automatic fix a person's touch or a
// new review case of the same kind counts against it.
const PrecisionWindow = 7 * 24 * time.Hour

// caseDims are the channel, region and node columns of a case c from the
// order dims d.
const caseDims = `coalesce(d.channel, '') AS channel, coalesce(d.region, '') AS region, coalesce(d.node, '') AS node`

// caseFactsSQL is every case fact of the days from $1 to $2 ($3: the
// precision window).
const caseFactsSQL = `
SELECT (c.triaged_at AT TIME ZONE 'UTC')::date AS day, 'automation'::text AS metric, ` + caseDims + `,
	c.kind AS dim, 1::bigint AS n, (c.status = 'auto_applied')::int::bigint AS hits, NULL::float8 AS secs
FROM cases c LEFT JOIN process_order_dims d ON d.order_id = c.order_id
WHERE c.triaged_at >= $1 AND c.triaged_at < $2 AND c.status IN ('auto_applied', 'queued_for_review', 'decided', 'no_action')
UNION ALL
SELECT (c.triaged_at AT TIME ZONE 'UTC')::date, 'precision', ` + caseDims + `, c.kind, 1,
	(c.order_id IS NULL OR NOT (
		EXISTS (SELECT 1 FROM process_person_touches t WHERE t.order_id = c.order_id
			AND t.created_at > c.triaged_at AND t.created_at <= c.triaged_at + $3::interval)
		OR EXISTS (SELECT 1 FROM cases r WHERE r.order_id = c.order_id AND r.kind = c.kind AND r.id <> c.id
			AND r.created_at > c.triaged_at AND r.created_at <= c.triaged_at + $3::interval
			AND r.status IN ('queued_for_review', 'decided'))))::int,
	NULL
FROM cases c LEFT JOIN process_order_dims d ON d.order_id = c.order_id
WHERE c.triaged_at >= $1 AND c.triaged_at < $2 AND c.status = 'auto_applied'
UNION ALL
SELECT (c.decided_at AT TIME ZONE 'UTC')::date, 'review_time', ` + caseDims + `, c.kind, 1,
	(c.decision = 'approve')::int, extract(epoch FROM c.decided_at - c.triaged_at)::float8
FROM cases c LEFT JOIN process_order_dims d ON d.order_id = c.order_id
WHERE c.decided_at >= $1 AND c.decided_at < $2 AND c.decided_by <> '' AND c.decision IS NOT NULL AND c.triaged_at IS NOT NULL`

// RefreshCaseRollup recomputes the case rollup: the days of the last
// PrecisionWindow and today (by the service's clock), or, the first time,
// every day from the oldest triaged case. The order dims it reads are
// orchestration's, as fresh as its last RefreshRollup.
func (s *Service) RefreshCaseRollup(ctx context.Context) (err error) {
	defer derrors.Wrap(&err, "RefreshCaseRollup")
	now := s.now()
	to := rollup.Day(now).AddDate(0, 0, 1)
	from := rollup.Day(now.Add(-PrecisionWindow)).AddDate(0, 0, -1)
	var at time.Time
	err = s.pool.QueryRow(ctx, `SELECT refreshed_at FROM case_rollup_state WHERE name = 'case'`).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		var oldest *time.Time
		if err := s.pool.QueryRow(ctx, `SELECT min(triaged_at) FROM cases`).Scan(&oldest); err != nil {
			return err
		}
		if oldest != nil && oldest.Before(from) {
			from = rollup.Day(*oldest)
		}
	} else if err != nil {
		return err
	}
	window := fmt.Sprintf("%d seconds", int64(PrecisionWindow.Seconds()))
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('case_rollup'))`); err != nil {
			return err
		}
		if err := rollup.Replace(ctx, tx, CaseTable, caseFactsSQL, from, to, window); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO case_rollup_state (name, refreshed_at) VALUES ('case', $1)
			ON CONFLICT (name) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at`, now)
		return err
	})
	if err == nil && to.Sub(from) > 10*24*time.Hour { // a first refresh: the planner sees the new size
		_, err = s.pool.Exec(ctx, `ANALYZE case_daily, case_daily_hist`)
	}
	return err
}

var caseDefs = []rollup.Def{
	rollup.NewDef(MetricAutomation, MetricAutomation, "Automation rate", rollup.UnitShare,
		"Share of the cases triaged in the period whose fix was applied automatically (the rest went to a person or needed nothing).", "rate"),
	rollup.NewDef(MetricPrecision, MetricPrecision, "Precision of automatic fixes", rollup.UnitShare,
		"Share of the automatic fixes of the period that held: in the 7 days after, no person touched the order and no case of the same kind on it went to review.", "rate"),
	rollup.NewDef(MetricReviewTime, MetricReviewTime, "Review time", rollup.UnitDuration,
		"Mean time from a case being queued for review to a person's decision, over the cases decided in the period.", "mean"),
}

// ProcessFigures returns the process dashboard's figures for p and the
// period before, narrowed by f: orchestration's (see
// orchestration.(*Service).ProcessFigures) followed by the case figures
// (automation rate, precision of automatic fixes, review time), with the
// automation rate by exception kind. The dashboard and the Prometheus
// gauges read this one method.
func (s *Service) ProcessFigures(ctx context.Context, p orchestration.Period, f orchestration.Filter) (_ orchestration.Figures, err error) {
	defer derrors.Wrap(&err, "triage.ProcessFigures")
	var figs orchestration.Figures
	var sums rollup.Sums
	var q rollup.Quantiles
	metrics := []string{MetricAutomation, MetricPrecision, MetricReviewTime}
	err = rollup.Parallel(
		func() (err error) {
			figs, err = s.core.ProcessFigures(ctx, p, f)
			return err
		},
		func() (err error) {
			if err := p.Validate(); err != nil {
				return err
			}
			sums, err = rollup.Read(ctx, s.pool, CaseTable, metrics, nil, p, f)
			return err
		},
		func() (err error) {
			if err := p.Validate(); err != nil {
				return err
			}
			q, err = rollup.ReadQuantiles(ctx, s.pool, CaseTable, []string{MetricReviewTime}, p, f, false)
			return err
		},
	)
	if err != nil {
		return orchestration.Figures{}, err
	}
	for _, d := range caseDefs {
		figs.Headline = append(figs.Headline, rollup.Build(d, rollup.All, sums, q))
	}
	for _, kind := range rollup.Dims(sums, MetricAutomation) {
		figs.Automation = append(figs.Automation, rollup.Build(caseDefs[0], kind, sums, q))
	}
	return figs, nil
}

// CaseRollupArgs is the periodic job that refreshes the case rollup.
type CaseRollupArgs struct{}

// Kind names the job for River.
func (CaseRollupArgs) Kind() string { return "case_rollup" }

type caseRollupWorker struct {
	river.WorkerDefaults[CaseRollupArgs]
	s *Service
}

// Work refreshes the case rollup.
func (w *caseRollupWorker) Work(ctx context.Context, _ *river.Job[CaseRollupArgs]) error {
	return w.s.RefreshCaseRollup(ctx)
}

// Timeout bounds one refresh.
func (w *caseRollupWorker) Timeout(*river.Job[CaseRollupArgs]) time.Duration { return 5 * time.Minute }

// RegisterWorkers adds the triage service's job workers: the case rollup's.
func (s *Service) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, &caseRollupWorker{s: s})
}

// PeriodicJobs lists the jobs River's leader runs for the triage service:
// the case rollup, as often as orchestration's (RollupEvery) and at start.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(orchestration.RollupEvery),
			func() (river.JobArgs, *river.InsertOpts) { return CaseRollupArgs{}, nil },
			&river.PeriodicJobOpts{ID: CaseRollupArgs{}.Kind(), RunOnStart: true}),
	}
}
