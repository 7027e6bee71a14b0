package orchestration

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/rollup"
)

// The process dashboard's rollup (migrations/00037_process_rollup.sql):
// RefreshRollup folds the order events, exceptions, returns, ERP postings
// and outside calls of each UTC day into process_daily, and ProcessFigures
// reads the dashboard's figures from it. The metrics, each per day, channel,
// region and node of the order:
//
//   - cycle_time: orders delivered that day; the time from capture (the
//     order's created_at) to the delivered event; hits are those delivered on
//     or before the promised day.
//   - allocation: orders captured that day; hits are those every line of
//     which was reserved at capture (captured, not backordered or rejected).
//   - exceptions: exceptions that occurred that day, dim the kind; node and
//     region are the exception's location when it names one, else the
//     order's.
//   - refund_time: returns refunded that day; the time from receipt to refund.
//   - erp_lag: ERP postings acknowledged that day (or rejected, by the day
//     they were queued), dim the document kind; the time from queued to
//     acknowledged; hits are the rejected ones.
//   - api: outside calls (integration_calls) of that day, dim system/op; hits
//     are the failed ones, transient or not. Calls belong to no channel or
//     node: the filter does not narrow them.
//   - manual_touch: orders that finished that day (delivered, cancelled or
//     rejected); hits are those a person touched before (an order event by a
//     support, engineer or admin actor: process_person_touches).
//   - state: the time an order spent in a state (dim), counted on the day it
//     left it: from the event that moved it there to the one that moved it on.
//   - return_state: the same for returns: requested (until received),
//     refund_review (received until approved), refund_pending (approved until
//     refunded).

// ProcessTable is the rollup table orchestration keeps.
const ProcessTable = "process_daily"

// Rollup metrics kept in process_daily.
const (
	MetricCycleTime   = "cycle_time"
	MetricAllocation  = "allocation"
	MetricExceptions  = "exceptions"
	MetricRefundTime  = "refund_time"
	MetricERPLag      = "erp_lag"
	MetricAPI         = "api"
	MetricManualTouch = "manual_touch"
	MetricState       = "state"
	MetricReturnState = "return_state"
)

// personActorRE matches the actors that are people (review staff); the
// same pattern as the view process_person_touches.
const personActorRE = `^(support|engineer|admin):`

// dimsSQL refreshes process_order_dims for the orders with an event from
// $1 to $2, stamping $3.
const dimsSQL = `
INSERT INTO process_order_dims (order_id, channel, region, node, updated_at)
SELECT o.id, c.code, coalesce(l.region, ''), coalesce(l.code, ''), $3
FROM (SELECT DISTINCT order_id FROM order_events WHERE created_at >= $1 AND created_at < $2) e
JOIN orders o ON o.id = e.order_id
JOIN channels c ON c.id = o.channel_id
LEFT JOIN LATERAL (
	SELECT coalesce(
		(SELECT lr.id FROM order_events r JOIN locations lr ON lr.code = r.data->>'location'
			WHERE r.order_id = o.id AND r.kind = 'released' ORDER BY r.id LIMIT 1),
		(SELECT rs.location_id FROM reservations rs WHERE rs.order_id = o.id AND rs.kind = 'order'
			ORDER BY rs.created_at LIMIT 1),
		o.pickup_location_id) AS loc
) n ON true
LEFT JOIN locations l ON l.id = n.loc
ON CONFLICT (order_id) DO UPDATE SET channel = EXCLUDED.channel, region = EXCLUDED.region,
	node = EXCLUDED.node, updated_at = EXCLUDED.updated_at
WHERE (process_order_dims.channel, process_order_dims.region, process_order_dims.node)
	IS DISTINCT FROM (EXCLUDED.channel, EXCLUDED.region, EXCLUDED.node)`

// dimCols are the channel, region and node columns of a fact from the
// order dims d.
const dimCols = `coalesce(d.channel, ''), coalesce(d.region, ''), coalesce(d.node, '')`

// factsSQL is every fact of the days from $1 to $2 (see rollup.Replace).
const factsSQL = `
WITH ev AS (
	SELECT e.id, e.order_id, e.kind, e.from_status, e.to_status, e.created_at, (e.created_at AT TIME ZONE 'UTC')::date AS day
	FROM order_events e WHERE e.created_at >= $1 AND e.created_at < $2
)
SELECT ev.day, 'cycle_time'::text AS metric, coalesce(d.channel, '') AS channel, coalesce(d.region, '') AS region,
	coalesce(d.node, '') AS node, ''::text AS dim, 1::bigint AS n,
	(o.promise_date IS NOT NULL AND ev.day <= (o.promise_date AT TIME ZONE 'UTC')::date)::int::bigint AS hits,
	extract(epoch FROM ev.created_at - o.created_at)::float8 AS secs
FROM ev JOIN orders o ON o.id = ev.order_id LEFT JOIN process_order_dims d ON d.order_id = ev.order_id
WHERE ev.kind = 'delivered' AND ev.to_status = 'delivered' AND ev.from_status IS DISTINCT FROM 'delivered'
UNION ALL
SELECT ev.day, 'allocation', ` + dimCols + `, '', 1, (ev.to_status = 'captured')::int, NULL
FROM ev LEFT JOIN process_order_dims d ON d.order_id = ev.order_id
WHERE ev.kind = 'captured' AND ev.from_status IS NULL
UNION ALL
SELECT ev.day, 'manual_touch', ` + dimCols + `, '', 1,
	EXISTS (SELECT 1 FROM order_events p WHERE p.order_id = ev.order_id AND p.id <= ev.id AND p.actor ~ '` + personActorRE + `')::int,
	NULL
FROM ev LEFT JOIN process_order_dims d ON d.order_id = ev.order_id
WHERE ev.to_status IN ('delivered', 'cancelled', 'rejected') AND ev.from_status IS DISTINCT FROM ev.to_status
UNION ALL
SELECT ev.day, 'state', ` + dimCols + `, ev.from_status, 1, 0, extract(epoch FROM ev.created_at - pr.created_at)::float8
FROM ev LEFT JOIN process_order_dims d ON d.order_id = ev.order_id
LEFT JOIN LATERAL (
	SELECT p.created_at FROM order_events p
	WHERE p.order_id = ev.order_id AND p.id < ev.id AND p.to_status = ev.from_status
		AND p.from_status IS DISTINCT FROM p.to_status
	ORDER BY p.id DESC LIMIT 1
) pr ON true
WHERE ev.from_status IS NOT NULL AND ev.to_status IS NOT NULL AND ev.from_status <> ev.to_status AND pr.created_at IS NOT NULL
UNION ALL
SELECT (x.occurred_at AT TIME ZONE 'UTC')::date, 'exceptions', coalesce(d.channel, ''),
	CASE WHEN l.id IS NOT NULL THEN l.region ELSE coalesce(d.region, '') END,
	CASE WHEN l.id IS NOT NULL THEN l.code ELSE coalesce(d.node, '') END,
	x.kind, 1, 0, NULL
FROM exceptions x LEFT JOIN process_order_dims d ON d.order_id = x.order_id
LEFT JOIN locations l ON l.code = x.location AND x.location <> ''
WHERE x.occurred_at >= $1 AND x.occurred_at < $2
UNION ALL
SELECT (r.refunded_at AT TIME ZONE 'UTC')::date, 'refund_time', ` + dimCols + `, '', 1, 0,
	extract(epoch FROM r.refunded_at - r.received_at)::float8
FROM returns r LEFT JOIN process_order_dims d ON d.order_id = r.order_id
WHERE r.refunded_at >= $1 AND r.refunded_at < $2 AND r.received_at IS NOT NULL
UNION ALL
SELECT (r.received_at AT TIME ZONE 'UTC')::date, 'return_state', ` + dimCols + `, 'requested', 1, 0,
	extract(epoch FROM r.received_at - r.requested_at)::float8
FROM returns r LEFT JOIN process_order_dims d ON d.order_id = r.order_id
WHERE r.received_at >= $1 AND r.received_at < $2
UNION ALL
SELECT (r.approved_at AT TIME ZONE 'UTC')::date, 'return_state', ` + dimCols + `, 'refund_review', 1, 0,
	extract(epoch FROM r.approved_at - r.received_at)::float8
FROM returns r LEFT JOIN process_order_dims d ON d.order_id = r.order_id
WHERE r.approved_at >= $1 AND r.approved_at < $2 AND r.received_at IS NOT NULL
UNION ALL
SELECT (r.refunded_at AT TIME ZONE 'UTC')::date, 'return_state', ` + dimCols + `, 'refund_pending', 1, 0,
	extract(epoch FROM r.refunded_at - coalesce(r.approved_at, r.received_at))::float8
FROM returns r LEFT JOIN process_order_dims d ON d.order_id = r.order_id
WHERE r.refunded_at >= $1 AND r.refunded_at < $2 AND r.received_at IS NOT NULL
UNION ALL
SELECT (coalesce(p.acknowledged_at, p.created_at) AT TIME ZONE 'UTC')::date, 'erp_lag', ` + dimCols + `, p.kind, 1,
	(p.status = 'rejected')::int, extract(epoch FROM p.acknowledged_at - p.created_at)::float8
FROM erp_postings p LEFT JOIN process_order_dims d ON d.order_id = p.order_id
WHERE (p.acknowledged_at >= $1 AND p.acknowledged_at < $2)
	OR (p.acknowledged_at IS NULL AND p.status = 'rejected' AND p.created_at >= $1 AND p.created_at < $2)
UNION ALL
SELECT (ic.bucket AT TIME ZONE 'UTC')::date, 'api', '', '', '', ic.system || '/' || ic.op, ic.calls, ic.transient + ic.failed, NULL
FROM integration_calls ic WHERE ic.bucket >= $1 AND ic.bucket < $2`

// stallSQL snapshots the unfinished orders and returns by state.
const stallSQL = `
INSERT INTO process_stall_now (journey, state, channel, region, node, n)
SELECT 'order', o.status, coalesce(d.channel, c.code), coalesce(d.region, ''), coalesce(d.node, ''), count(*)
FROM orders o JOIN channels c ON c.id = o.channel_id LEFT JOIN process_order_dims d ON d.order_id = o.id
WHERE o.status IN ('captured', 'backordered', 'on_hold', 'authorised', 'released', 'partially_shipped', 'ready_for_pickup', 'shipped')
GROUP BY 1, 2, 3, 4, 5
UNION ALL
SELECT 'return', r.status, coalesce(d.channel, ''), coalesce(d.region, ''), coalesce(d.node, ''), count(*)
FROM returns r LEFT JOIN process_order_dims d ON d.order_id = r.order_id
WHERE r.status <> 'refunded'
GROUP BY 1, 2, 3, 4, 5`

// rollupChunk is how many days one refresh transaction recomputes, so a
// first refresh over months of history commits as it goes.
const rollupChunk = 7

// RefreshRollup brings the process rollup up to date: it recomputes every
// day from that of the last refresh (the day before, within 5 minutes of
// midnight) up to today (by the service's clock), the order dims of the orders seen on those days, and the snapshot
// of what sits in each state now. The first refresh starts at the oldest
// fact. It takes a lock, so concurrent refreshes run one after the other.
func (s *Service) RefreshRollup(ctx context.Context) (err error) {
	defer derrors.Wrap(&err, "RefreshRollup")
	now := s.now()
	var through *time.Time
	err = s.pool.QueryRow(ctx, `SELECT through FROM process_rollup_state WHERE name = 'process'`).Scan(&through)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var from time.Time
	if through != nil {
		// The day of the last refresh, and the day before when it ran just
		// after midnight: a fact is stamped before its transaction commits.
		from = rollup.Day(through.Add(-5 * time.Minute))
	} else {
		var oldest *time.Time
		if err := s.pool.QueryRow(ctx, `SELECT least((SELECT min(created_at) FROM order_events),
			(SELECT min(occurred_at) FROM exceptions), (SELECT min(bucket) FROM integration_calls),
			(SELECT min(requested_at) FROM returns))`).Scan(&oldest); err != nil {
			return err
		}
		from = rollup.Day(now)
		if oldest != nil && oldest.Before(from) {
			from = rollup.Day(*oldest)
		}
	}
	to := rollup.Day(now).AddDate(0, 0, 1)
	for start := from; start.Before(to); start = start.AddDate(0, 0, rollupChunk) {
		end := start.AddDate(0, 0, rollupChunk)
		if end.After(to) {
			end = to
		}
		last := !end.Before(to)
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('process_rollup'))`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, dimsSQL, start, end, now); err != nil {
				return fmt.Errorf("order dims: %w", err)
			}
			if err := rollup.Replace(ctx, tx, ProcessTable, factsSQL, start, end); err != nil {
				return err
			}
			mark := end
			if last {
				mark = now
				if _, err := tx.Exec(ctx, `DELETE FROM process_stall_now`); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, stallSQL); err != nil {
					return fmt.Errorf("stall snapshot: %w", err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO process_rollup_state (name, through, refreshed_at) VALUES ('process', $1, $2)
				ON CONFLICT (name) DO UPDATE SET through = EXCLUDED.through, refreshed_at = EXCLUDED.refreshed_at`, mark, now)
			return err
		})
		if err != nil {
			return fmt.Errorf("days %s to %s: %w", start.Format(time.DateOnly), end.Format(time.DateOnly), err)
		}
	}
	if to.Sub(from) > 3*24*time.Hour { // a first refresh: let the planner see the tables' new sizes
		if _, err := s.pool.Exec(ctx, `ANALYZE process_daily, process_daily_hist, process_order_dims, process_stall_now`); err != nil {
			return err
		}
	}
	return nil
}

// RollupArgs is the periodic job that refreshes the process rollup.
type RollupArgs struct{}

// Kind names the job for River.
func (RollupArgs) Kind() string { return "process_rollup" }

// RollupEvery is how often River's leader refreshes the process rollup.
const RollupEvery = 30 * time.Second

type rollupWorker struct {
	river.WorkerDefaults[RollupArgs]
	s *Service
}

// Work refreshes the rollup.
func (w *rollupWorker) Work(ctx context.Context, _ *river.Job[RollupArgs]) error {
	return w.s.RefreshRollup(ctx)
}

// Timeout bounds one refresh: a first one over months of history takes a
// while, and a later one picks up where it stopped.
func (w *rollupWorker) Timeout(*river.Job[RollupArgs]) time.Duration { return 10 * time.Minute }

// registerRollupWorker adds the rollup's worker.
func (s *Service) registerRollupWorker(w *river.Workers) { river.AddWorker(w, &rollupWorker{s: s}) }

// rollupJob is the rollup's periodic job, run once at start.
func rollupJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(RollupEvery),
		func() (river.JobArgs, *river.InsertOpts) { return RollupArgs{}, nil },
		&river.PeriodicJobOpts{ID: RollupArgs{}.Kind(), RunOnStart: true})
}
