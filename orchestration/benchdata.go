package orchestration

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// HistoryOptions size the process history GenerateHistory writes.
type HistoryOptions struct {
	// Orders is how many orders; Days how many days they span, ending at End.
	Orders int
	Days   int
	End    time.Time
	// Batch is how many orders one statement writes; 0 means 100,000.
	Batch int
	// Progress, when set, hears how many orders are written.
	Progress func(done, total int)
}

// historyBatchSQL writes the orders $1 to $2 of $3, captured evenly over
// the $4 seconds before $5, with channels $6 and nodes $7: their events
// (captured, authorised, released, shipped, delivered, as far as each got by
// $5), 3% backordered and 1% cancelled, an ERP invoice per shipped order, a
// return for 5% of the delivered, and an exception for 3%. Every "random"
// draw is a hash of the order's number, so the history is the same each
// time.
const historyBatchSQL = `
CREATE TEMP TABLE bench_o ON COMMIT DROP AS
WITH base AS (
	SELECT g, cap, ch, loc,
		(abs(hashint8(g * 7 + 1)) % 10000) / 10000.0 AS r1, (abs(hashint8(g * 7 + 2)) % 10000) / 10000.0 AS r2,
		(abs(hashint8(g * 7 + 3)) % 10000) / 10000.0 AS r3, (abs(hashint8(g * 7 + 4)) % 10000) / 10000.0 AS r4,
		(abs(hashint8(g * 7 + 5)) % 10000) / 10000.0 AS r5
	FROM (SELECT g, $5::timestamptz - make_interval(secs => $4::float8 * ($3 - g) / $3) AS cap,
		($6::bigint[])[1 + g % cardinality($6::bigint[])] AS ch,
		($7::text[])[1 + abs(hashint8(g * 31)) % cardinality($7::text[])] AS loc
		FROM generate_series($1::bigint, $2::bigint) g) x
)
SELECT g, gen_random_uuid() AS id, ch, loc, cap, r1, r2, r3, r4, r5,
	CASE WHEN r5 < 0.03 THEN 'backordered' WHEN r5 < 0.04 THEN 'cancelled' ELSE 'captured' END AS kind,
	cap + make_interval(secs => 120 + r1 * 7000) AS t_auth,
	cap + make_interval(secs => 120 + r1 * 7000 + 600 + r2 * 14000) AS t_rel,
	cap + make_interval(secs => 120 + r1 * 7000 + 600 + r2 * 14000 + 7200 + r3 * 100000) AS t_ship,
	cap + make_interval(secs => 120 + r1 * 7000 + 600 + r2 * 14000 + 7200 + r3 * 100000 + 43200 + r4 * 400000) AS t_del
FROM base;

INSERT INTO orders (id, channel_id, external_id, status, customer, service_level, total, promise_date, created_at, updated_at)
SELECT id, ch, 'BENCH-' || g,
	CASE WHEN kind <> 'captured' THEN kind WHEN t_del <= $5 THEN 'delivered' WHEN t_ship <= $5 THEN 'shipped'
		WHEN t_rel <= $5 THEN 'released' WHEN t_auth <= $5 THEN 'authorised' ELSE 'captured' END,
	'{"id":"bench"}', 'standard', 40, cap + interval '4 days', cap, cap
FROM bench_o;

INSERT INTO order_events (order_id, kind, from_status, to_status, actor, data, created_at)
SELECT o.id, e.kind, e.from_s, e.to_s, 'system:lifecycle', e.data, e.at
FROM bench_o o CROSS JOIN LATERAL (VALUES
	(1, 'captured', NULL, CASE o.kind WHEN 'backordered' THEN 'backordered' ELSE 'captured' END, '{}'::jsonb, o.cap),
	(2, 'cancelled', 'captured', 'cancelled', '{}'::jsonb, CASE WHEN o.kind = 'cancelled' THEN o.cap + interval '30 minutes' END),
	(3, 'authorised', 'captured', 'authorised', '{}'::jsonb, CASE WHEN o.kind = 'captured' THEN o.t_auth END),
	(4, 'released', 'authorised', 'released', jsonb_build_object('location', o.loc), CASE WHEN o.kind = 'captured' THEN o.t_rel END),
	(5, 'shipped', 'released', 'shipped', '{}'::jsonb, CASE WHEN o.kind = 'captured' THEN o.t_ship END),
	(6, 'delivered', 'shipped', 'delivered', '{}'::jsonb, CASE WHEN o.kind = 'captured' THEN o.t_del END)
) AS e(step, kind, from_s, to_s, data, at)
WHERE e.at IS NOT NULL AND e.at <= $5
ORDER BY o.g, e.step;

INSERT INTO erp_postings (doc_key, kind, order_id, amount, document, status, created_at, acknowledged_at)
SELECT 'bench-invoice:' || g, 'invoice', id, 40, '{}',
	CASE WHEN r5 > 0.995 THEN 'rejected' WHEN t_ship + make_interval(secs => 5 + r2 * 300) <= $5 THEN 'acknowledged' ELSE 'pending' END,
	t_ship,
	CASE WHEN r5 <= 0.995 AND t_ship + make_interval(secs => 5 + r2 * 300) <= $5 THEN t_ship + make_interval(secs => 5 + r2 * 300) END
FROM bench_o WHERE kind = 'captured' AND t_ship <= $5;

INSERT INTO returns (id, order_id, rma, status, condition, amount, currency, requested_by, requested_at, received_at,
	approved_at, approved_by, refunded_at, updated_at)
SELECT gen_random_uuid(), id, 'BENCH-' || g || '-R1',
	CASE WHEN t_del + interval '3 days' + make_interval(secs => 3600 + r1 * 80000) <= $5 THEN 'refunded'
		WHEN t_del + interval '3 days' <= $5 THEN 'refund_pending' ELSE 'requested' END,
	CASE WHEN t_del + interval '3 days' <= $5 THEN 'damaged' END, 20, 'USD', 'bench', t_del + interval '1 day',
	CASE WHEN t_del + interval '3 days' <= $5 THEN t_del + interval '3 days' END,
	CASE WHEN t_del + interval '3 days' <= $5 THEN t_del + interval '3 days' END,
	CASE WHEN t_del + interval '3 days' <= $5 THEN 'system:policy' ELSE '' END,
	CASE WHEN t_del + interval '3 days' + make_interval(secs => 3600 + r1 * 80000) <= $5
		THEN t_del + interval '3 days' + make_interval(secs => 3600 + r1 * 80000) END,
	t_del + interval '1 day'
FROM bench_o WHERE kind = 'captured' AND r4 < 0.05 AND t_del + interval '1 day' <= $5;

INSERT INTO exceptions (kind, severity, status, order_id, location, endpoint, message, occurred_at, created_at)
SELECT (ARRAY['stockout', 'carrier_delay', 'payment_declined', 'address_invalid', 'integration_error'])[1 + (g % 5)],
	'medium', 'triaged', id, loc, CASE WHEN g % 5 = 4 THEN 'carrier/book' ELSE '' END,
	'bench exception', cap + interval '1 hour', cap + interval '1 hour'
FROM bench_o WHERE r3 < 0.03 AND cap + interval '1 hour' <= $5;`

// GenerateHistory writes a process history straight into orchestration's
// tables, in SQL (generate_series), for the dashboard's benchmark: orders
// spread over the days before End through their journey, their events, ERP
// invoices, returns, exceptions, and outside calls every 10 minutes for 6
// endpoints. It needs the network: at least one channel and one location.
// It is not the lifecycle (no stock, lines or jobs); it is its trace.
func GenerateHistory(ctx context.Context, pool *pgxpool.Pool, o HistoryOptions) (err error) {
	defer derrors.Wrap(&err, "GenerateHistory(%d orders, %d days)", o.Orders, o.Days)
	if o.Batch <= 0 {
		o.Batch = 100000
	}
	var chans []int64
	var locs []string
	if err := pool.QueryRow(ctx, `SELECT array_agg(id ORDER BY id) FROM channels`).Scan(&chans); err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `SELECT array_agg(code ORDER BY code) FROM locations`).Scan(&locs); err != nil {
		return err
	}
	if len(chans) == 0 || len(locs) == 0 {
		return fmt.Errorf("no channels or locations: %w", derrors.Invalid)
	}
	span := float64(o.Days) * 86400
	for lo := 1; lo <= o.Orders; lo += o.Batch {
		hi := min(lo+o.Batch-1, o.Orders)
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		// The statements share the temporary table; one round trip each.
		for i, stmt := range splitSQL(historyBatchSQL) {
			args := []any{lo, hi, o.Orders, span, o.End, chans, locs}
			if i > 0 { // the rest use only the end, as $1
				stmt, args = strings.ReplaceAll(stmt, "$5", "$1"), []any{o.End}
			}
			if _, err := tx.Exec(ctx, stmt, args...); err != nil {
				_ = tx.Rollback(ctx)
				return fmt.Errorf("orders %d to %d: %w", lo, hi, err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		if o.Progress != nil {
			o.Progress(hi, o.Orders)
		}
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO integration_calls (bucket, system, op, calls, transient, failed)
		SELECT b, e.system, e.op, 40 + (abs(hashint8(extract(epoch FROM b)::bigint)) % 40),
			(abs(hashint8(extract(epoch FROM b)::bigint + e.k)) % 5) * e.k, CASE WHEN e.k = 3 THEN 1 ELSE 0 END
		FROM generate_series($1::timestamptz - make_interval(days => $2), $1::timestamptz - interval '10 minutes', interval '10 minutes') b
		CROSS JOIN (VALUES ('payment', 'authorize', 1), ('payment', 'capture', 0), ('carrier', 'book', 2),
			('carrier', 'track', 1), ('erp', 'post_invoice', 3), ('notify', 'send', 0)) AS e(system, op, k)`, o.End, o.Days)
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `ANALYZE`)
	return err
}

// splitSQL splits the batch into its statements (none contains a ';').
func splitSQL(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ';' {
			if stmt := s[start:i]; len(stmt) > 2 {
				out = append(out, stmt)
			}
			start = i + 1
		}
	}
	return out
}
