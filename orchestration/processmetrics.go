package orchestration

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// The process figures as Prometheus wants them: counts and bucketed
// histograms per bounded label, every one aggregated in SQL, so an export
// reads a few hundred rows however many orders there are. Labels come from
// the catalogue (channels, locations), from the code (exception kinds, order
// states, document kinds, the endpoints the CallCounter counts) and are
// capped: a channel or location past the first ExportLabelCap of the
// catalogue, or an endpoint named only by an outside reporter, is "other".

// ExportLabelCap bounds the channels, nodes and endpoints an export names one
// by one; the rest are summed under ExportOther.
const ExportLabelCap = 64

// ExportOther is the label value of everything past ExportLabelCap, and of
// an endpoint no counted call used.
const ExportOther = "other"

// Histogram buckets of the exported figures (upper bounds, inclusive).
var (
	CycleTimeBuckets  = []float64{1, 4, 12, 24, 48, 72, 120, 168, 336}       // hours
	RefundTimeBuckets = []float64{1, 4, 12, 24, 48, 72, 120, 168}            // hours
	PostingLagBuckets = []float64{1, 5, 15, 30, 60, 90, 120, 300, 900, 3600} // seconds
)

// Histogram is a bucketed distribution of one label set: Counts[i] is how
// many observations are at most Bounds[i] (cumulative, as Prometheus keeps
// them); Count and Sum cover every observation.
type Histogram struct {
	Label  string
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// LabelCount is a count for one label value.
type LabelCount struct {
	Label string
	Count int64
}

// ChannelAllocation is the allocation figure of one channel.
type ChannelAllocation struct {
	Channel        string
	Orders         int64
	FullyAllocated int64
}

// ChannelPromise is the promise adherence of one channel.
type ChannelPromise struct {
	Channel   string
	Delivered int64
	OnTime    int64
}

// EndpointCalls is the outside calls of one endpoint (system/op) and the
// exceptions raised for it.
type EndpointCalls struct {
	Endpoint           string
	Calls              int64
	Transient          int64
	Failed             int64
	IntegrationErrors  int64
	ERPPostingFailures int64
}

// ChannelTouch is the manual touch figure of one channel: orders that
// finished (delivered, cancelled or rejected) and those of them a person
// touched first, as the dashboard's rollup counts them.
type ChannelTouch struct {
	Channel  string
	Finished int64
	Touched  int64
}

// StateCount is how many orders sit in a state at a node now.
type StateCount struct {
	State string
	Node  string
	Count int64
}

// ProcessExport is every process figure as counts and histograms over all
// time, for /metrics. Orders sitting in a state are those not finished
// (delivered, cancelled, rejected or refunded), by the node of their first
// reservation ("none" before one).
type ProcessExport struct {
	CycleTime        []Histogram // by channel, hours
	Allocation       []ChannelAllocation
	Exceptions       []LabelCount // by kind
	RefundTime       Histogram    // hours
	RefundsWaiting   int64
	PostingLag       []Histogram  // by document kind, seconds, acknowledged postings
	PostingsWaiting  []LabelCount // by document kind: queued or pending
	PostingsRejected []LabelCount // by document kind
	Endpoints        []EndpointCalls
	Promise          []ChannelPromise
	OrdersInState    []StateCount
	ManualTouch      []ChannelTouch // from the rollup: as fresh as its last refresh
	At               time.Time
}

// channelLabel names the capped channel label of channels c.
const channelLabel = `CASE WHEN c.id IN (SELECT id FROM channels ORDER BY id LIMIT 64) THEN c.code ELSE 'other' END`

// ProcessExport reads the process figures for /metrics in one read-only
// repeatable-read transaction, so they agree with each other.
func (s *Service) ProcessExport(ctx context.Context) (_ ProcessExport, err error) {
	defer derrors.Wrap(&err, "ProcessExport")
	x := ProcessExport{At: s.now()}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// The planner overestimates the views' correlated subqueries and
		// compiles them (hundreds of ms a scrape) for queries that run in
		// less than the compilation.
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		var err error
		if x.CycleTime, x.Promise, err = deliveries(ctx, tx); err != nil {
			return err
		}
		if x.Allocation, err = collect[ChannelAllocation](ctx, tx, `
			SELECT `+channelLabel+` AS ch, count(*), count(*) FILTER (WHERE e.to_status = 'captured')
			FROM order_events e JOIN orders o ON o.id = e.order_id JOIN channels c ON c.id = o.channel_id
			WHERE e.kind = 'captured' GROUP BY 1 ORDER BY 1`); err != nil {
			return err
		}
		if x.Exceptions, err = collect[LabelCount](ctx, tx, `
			SELECT kind, count(*) FROM exceptions GROUP BY 1 ORDER BY 1`); err != nil {
			return err
		}
		refunds, err := histograms(ctx, tx, `
			SELECT '', extract(epoch FROM refunded_at - received_at)::float8 / 3600
			FROM returns WHERE refunded_at IS NOT NULL AND received_at IS NOT NULL`, RefundTimeBuckets)
		if err != nil {
			return err
		}
		x.RefundTime = Histogram{Bounds: RefundTimeBuckets, Counts: make([]uint64, len(RefundTimeBuckets))}
		if len(refunds) == 1 {
			x.RefundTime = refunds[0]
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM returns WHERE received_at IS NOT NULL AND refunded_at IS NULL`).
			Scan(&x.RefundsWaiting); err != nil {
			return err
		}
		if x.PostingLag, err = histograms(ctx, tx, `
			SELECT kind, extract(epoch FROM acknowledged_at - created_at)::float8
			FROM erp_postings WHERE acknowledged_at IS NOT NULL`, PostingLagBuckets); err != nil {
			return err
		}
		if x.PostingsWaiting, err = collect[LabelCount](ctx, tx, `
			SELECT kind, count(*) FROM erp_postings WHERE status IN ('queued', 'pending') GROUP BY 1 ORDER BY 1`); err != nil {
			return err
		}
		if x.PostingsRejected, err = collect[LabelCount](ctx, tx, `
			SELECT kind, count(*) FROM erp_postings WHERE status = 'rejected' GROUP BY 1 ORDER BY 1`); err != nil {
			return err
		}
		// Endpoints are those the CallCounter counted (named by our code);
		// an exception naming any other endpoint counts under other.
		if x.Endpoints, err = collect[EndpointCalls](ctx, tx, `
			WITH known AS (
				SELECT endpoint FROM (SELECT system || '/' || op AS endpoint FROM integration_calls GROUP BY 1) k
				ORDER BY endpoint LIMIT 64
			)
			SELECT CASE WHEN a.endpoint IN (SELECT endpoint FROM known) THEN a.endpoint ELSE 'other' END AS ep,
				sum(a.calls)::bigint, sum(a.transient)::bigint, sum(a.failed)::bigint,
				sum(a.integration_errors)::bigint, sum(a.erp_posting_failures)::bigint
			FROM process_api_failures a GROUP BY 1 ORDER BY 1`); err != nil {
			return err
		}
		// The dashboard's own rollup, summed over every day at the channel
		// level (region and node summed away), so /metrics and the page
		// count a manual touch the same way.
		if x.ManualTouch, err = collect[ChannelTouch](ctx, tx, `
			SELECT CASE WHEN channel IN (SELECT code FROM channels ORDER BY id LIMIT 64) THEN channel ELSE 'other' END,
				sum(n)::bigint, sum(hits)::bigint
			FROM process_daily WHERE metric = 'manual_touch' AND region = '*' AND node = '*' AND channel <> '*'
			GROUP BY 1 ORDER BY 1`); err != nil {
			return err
		}
		x.OrdersInState, err = collect[StateCount](ctx, tx, `
			SELECT o.status, coalesce(CASE WHEN l.id IN (SELECT id FROM locations ORDER BY id LIMIT 64) THEN l.code ELSE 'other' END, 'none') AS node,
				count(*)
			FROM orders o
			LEFT JOIN LATERAL (SELECT r.location_id FROM reservations r WHERE r.order_id = o.id AND r.kind = 'order'
				ORDER BY r.created_at, r.id LIMIT 1) r ON true
			LEFT JOIN locations l ON l.id = r.location_id
			WHERE o.status NOT IN ('delivered', 'cancelled', 'rejected', 'refunded')
			GROUP BY 1, 2 ORDER BY 1, 2`)
		return err
	})
	return x, err
}

// deliveries reads the cycle time histogram and the promise adherence of
// each channel in one pass over process_deliveries, the costliest view.
func deliveries(ctx context.Context, tx pgx.Tx) ([]Histogram, []ChannelPromise, error) {
	bounds := CycleTimeBuckets
	rows, err := tx.Query(ctx, `
		WITH d AS MATERIALIZED (
			SELECT `+channelLabel+` AS label, extract(epoch FROM d.delivered_at - d.captured_at)::float8 / 3600 AS v,
				d.promise_date IS NOT NULL AS promised,
				(d.delivered_at AT TIME ZONE 'UTC')::date <= (d.promise_date AT TIME ZONE 'UTC')::date AS on_time
			FROM process_deliveries d JOIN channels c ON c.code = d.channel
		)
		SELECT label, $2::int - width_bucket(-v, $1::float8[]), count(*)::bigint, sum(v)::float8,
			count(*) FILTER (WHERE promised)::bigint, count(*) FILTER (WHERE on_time)::bigint
		FROM d WHERE v IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`, negated(bounds), len(bounds))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	hs, ps := []Histogram{}, []ChannelPromise{}
	for rows.Next() {
		var label string
		var b int
		var n, promised, onTime int64
		var sum float64
		if err := rows.Scan(&label, &b, &n, &sum, &promised, &onTime); err != nil {
			return nil, nil, err
		}
		if len(hs) == 0 || hs[len(hs)-1].Label != label {
			hs = append(hs, Histogram{Label: label, Bounds: bounds, Counts: make([]uint64, len(bounds))})
			ps = append(ps, ChannelPromise{Channel: label})
		}
		h, p := &hs[len(hs)-1], &ps[len(ps)-1]
		h.Count += uint64(n)
		h.Sum += sum
		for i := b; i < len(bounds); i++ {
			h.Counts[i] += uint64(n)
		}
		p.Delivered += promised
		p.OnTime += onTime
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	// A channel none of whose deliveries had a promise has no adherence.
	out := ps[:0]
	for _, p := range ps {
		if p.Delivered > 0 {
			out = append(out, p)
		}
	}
	return hs, out, nil
}

// negated is bounds negated, ascending (-bounds[n-1] … -bounds[0]): with
// width_bucket(-v, negated(bounds)), len(bounds) minus the answer is the
// number of bounds below v, so a value equal to a bound falls in that
// bound's bucket, as Prometheus's le wants.
func negated(bounds []float64) []float64 {
	neg := make([]float64, len(bounds))
	for i, b := range bounds {
		neg[len(bounds)-1-i] = -b
	}
	return neg
}

// histograms buckets the (label, value) pairs q selects, in SQL: one pass
// over the observations, one row per label and bucket out, never one per
// observation. An observation's bucket is the number of bounds below it
// (len(bounds) past the last; see negated); Go makes the counts cumulative.
func histograms(ctx context.Context, tx pgx.Tx, q string, bounds []float64) ([]Histogram, error) {
	rows, err := tx.Query(ctx, `
		WITH obs(label, v) AS MATERIALIZED (`+q+`)
		SELECT label, $2::int - width_bucket(-v, $1::float8[]) AS b, count(*)::bigint, sum(v)::float8
		FROM obs WHERE v IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`, negated(bounds), len(bounds))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Histogram{}
	for rows.Next() {
		var label string
		var b int
		var n int64
		var sum float64
		if err := rows.Scan(&label, &b, &n, &sum); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Label != label {
			out = append(out, Histogram{Label: label, Bounds: bounds, Counts: make([]uint64, len(bounds))})
		}
		h := &out[len(out)-1]
		h.Count += uint64(n)
		h.Sum += sum
		for i := b; i < len(bounds); i++ {
			h.Counts[i] += uint64(n)
		}
	}
	return out, rows.Err()
}

// WindowFigures are the core's figures over a window, for the SLA alerts.
type WindowFigures struct {
	// PostingLagSample postings created in the window or waiting now; a
	// waiting one's lag runs until now. P95 in seconds.
	PostingLagSample int
	PostingLagP95    float64
	// Delivered orders with a promise date whose delivery was recorded in
	// the window, and the share of them delivered on or before the promised
	// day (1 with none).
	Delivered   int
	PromiseRate float64
	// Endpoints are the calls counted in the window by endpoint (system/op).
	Endpoints []EndpointRate
}

// EndpointRate is one endpoint's calls and failing share in a window.
type EndpointRate struct {
	Endpoint string
	Calls    int64
	Rate     float64 // (transient + failed) / calls
}

// WindowFigures reads the posting lag, promise adherence and endpoint
// failure rates from since to now, aggregated in SQL.
func (s *Service) WindowFigures(ctx context.Context, since, now time.Time) (_ WindowFigures, err error) {
	defer derrors.Wrap(&err, "WindowFigures")
	var w WindowFigures
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			WITH obs AS (
				SELECT extract(epoch FROM coalesce(acknowledged_at, $2) - created_at)::float8 AS v FROM erp_postings
				WHERE status <> 'rejected' AND (created_at >= $1 OR status IN ('queued', 'pending'))
			)
			SELECT count(*)::int, coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY v), 0) FROM obs`, since, now).
			Scan(&w.PostingLagSample, &w.PostingLagP95); err != nil {
			return err
		}
		// The orders whose delivered event falls in the window (indexed by
		// kind and time), delivered when process_deliveries says.
		if err := tx.QueryRow(ctx, `
			WITH ev AS (
				SELECT order_id, min(created_at) AS at FROM order_events
				WHERE kind = 'delivered' AND to_status = 'delivered' AND created_at >= $1 GROUP BY order_id
			), d AS (
				SELECT o.promise_date, coalesce((SELECT max(sh.delivered_at) FROM shipments sh
					WHERE sh.order_id = o.id AND sh.status = 'delivered'), ev.at) AS delivered_at
				FROM ev JOIN orders o ON o.id = ev.order_id WHERE o.promise_date IS NOT NULL
			)
			SELECT count(*)::int, coalesce((count(*) FILTER (WHERE (delivered_at AT TIME ZONE 'UTC')::date <= (promise_date AT TIME ZONE 'UTC')::date))::float8
				/ nullif(count(*), 0), 1)
			FROM d`, since).
			Scan(&w.Delivered, &w.PromiseRate); err != nil {
			return err
		}
		var err error
		w.Endpoints, err = collect[EndpointRate](ctx, tx, `
			SELECT system || '/' || op, sum(calls)::bigint, (sum(transient) + sum(failed))::float8 / sum(calls)
			FROM integration_calls WHERE bucket >= date_trunc('minute', $1::timestamptz)
			GROUP BY 1 HAVING sum(calls) > 0 ORDER BY 1`, since)
		return err
	})
	return w, err
}
