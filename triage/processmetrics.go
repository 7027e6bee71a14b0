package triage

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
)

// ReviewTimeBuckets are the review-time histogram's bounds, in seconds: a
// case queued for review (triaged) to a person's decision.
var ReviewTimeBuckets = []float64{60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 172800}

// CaseOutcome counts the triaged cases of one exception kind by how they
// ended: applied automatically, handled by a person (queued for review or
// decided), or closed with nothing to do.
type CaseOutcome struct {
	Kind     string
	Auto     int64
	Manual   int64
	NoAction int64
}

// KindPrecision is the precision of the automatic fixes of one exception
// kind: fixes applied automatically and those that held (see
// MetricPrecision), as the dashboard's rollup counts them.
type KindPrecision struct {
	Kind  string
	Fixes int64
	Held  int64
}

// CaseExport is the case figures for /metrics.
type CaseExport struct {
	Outcomes   []CaseOutcome
	Precision  []KindPrecision            // from the case rollup: as fresh as its last refresh
	ReviewTime orchestration.Histogram    // seconds, cases a person decided
	Waiting    []orchestration.LabelCount // queued for review now, by severity
	Alerts     []orchestration.LabelCount // firing now, by figure
}

// CaseExportFigures reads the case figures in SQL, aggregated.
func (s *Service) CaseExportFigures(ctx context.Context) (_ CaseExport, err error) {
	defer derrors.Wrap(&err, "CaseExportFigures")
	x := CaseExport{ReviewTime: orchestration.Histogram{Bounds: ReviewTimeBuckets, Counts: make([]uint64, len(ReviewTimeBuckets))}}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT kind, count(*) FILTER (WHERE status = 'auto_applied'),
				count(*) FILTER (WHERE status IN ('queued_for_review', 'decided')),
				count(*) FILTER (WHERE status = 'no_action')
			FROM cases WHERE status <> 'open' GROUP BY 1 ORDER BY 1`)
		if err != nil {
			return err
		}
		if x.Outcomes, err = pgx.CollectRows(rows, pgx.RowToStructByPos[CaseOutcome]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			WITH obs AS (
				SELECT extract(epoch FROM decided_at - triaged_at)::float8 AS v FROM cases
				WHERE status = 'decided' AND decided_by <> '' AND triaged_at IS NOT NULL AND decided_at IS NOT NULL
			)
			SELECT (SELECT count(*)::int FROM unnest($1::float8[]) le WHERE le < v), count(*)::bigint, sum(v)::float8
			FROM obs GROUP BY 1`, ReviewTimeBuckets)
		if err != nil {
			return err
		}
		for rows.Next() {
			var b int
			var n int64
			var sum float64
			if err := rows.Scan(&b, &n, &sum); err != nil {
				rows.Close()
				return err
			}
			x.ReviewTime.Count += uint64(n)
			x.ReviewTime.Sum += sum
			for i := b; i < len(ReviewTimeBuckets); i++ {
				x.ReviewTime.Counts[i] += uint64(n)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			SELECT dim, sum(n)::bigint, sum(hits)::bigint FROM case_daily
			WHERE metric = 'precision' AND channel = '*' AND region = '*' AND node = '*'
			GROUP BY 1 ORDER BY 1`)
		if err != nil {
			return err
		}
		if x.Precision, err = pgx.CollectRows(rows, pgx.RowToStructByPos[KindPrecision]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT severity, count(*)::bigint FROM cases WHERE status = 'queued_for_review' GROUP BY 1 ORDER BY 1`)
		if err != nil {
			return err
		}
		if x.Waiting, err = pgx.CollectRows(rows, pgx.RowToStructByPos[orchestration.LabelCount]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT figure, count(*)::bigint FROM alerts WHERE state = 'firing' GROUP BY 1 ORDER BY 1`)
		if err != nil {
			return err
		}
		x.Alerts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[orchestration.LabelCount])
		return err
	})
	return x, err
}

// ProcessSource reads the figures a ProcessCollector exports; *Service is
// one (its core's figures and its own).
type ProcessSource interface {
	ProcessExport(ctx context.Context) (orchestration.ProcessExport, error)
	CaseExportFigures(ctx context.Context) (CaseExport, error)
}

// ProcessExport reads the core's process figures.
func (s *Service) ProcessExport(ctx context.Context) (orchestration.ProcessExport, error) {
	return s.core.ProcessExport(ctx)
}

// ProcessCollector is a prometheus.Collector of the process figures. It
// queries on scrape, aggregated in SQL, and keeps the answer for TTL, so
// scrapes within TTL of each other (two Prometheus servers, say) cost one
// read. A failed read is logged and exported as omnitriage_process_up 0
// with no figures (never as zeros), and the rest of /metrics still answers.
type ProcessCollector struct {
	src     ProcessSource
	ttl     time.Duration
	now     func() time.Time
	timeout time.Duration
	log     *slog.Logger

	mu    sync.Mutex
	at    time.Time
	proc  orchestration.ProcessExport
	cases CaseExport

	descs map[string]*prometheus.Desc
}

// ProcessCollectorConfig configures a ProcessCollector.
type ProcessCollectorConfig struct {
	// TTL is how long a read is reused; 0 means 10 s.
	TTL time.Duration
	// Timeout bounds one read; 0 means 10 s.
	Timeout time.Duration
	// Now is the clock of the cache; nil means time.Now.
	Now func() time.Time
	// Log receives failed reads; nil discards them.
	Log *slog.Logger
}

// Metric names and label names the ProcessCollector exports.
var processMetrics = []struct {
	name, help string
	labels     []string
}{
	{"omnitriage_order_cycle_time_hours", "Order cycle time, capture to delivery, of delivered orders, by channel.", []string{"channel"}},
	{"omnitriage_allocation_orders_total", "Orders captured, by channel.", []string{"channel"}},
	{"omnitriage_allocation_allocated_total", "Orders every line of which was reserved at capture, by channel.", []string{"channel"}},
	{"omnitriage_allocation_success_ratio", "Share of captured orders fully reserved at capture, by channel.", []string{"channel"}},
	{"omnitriage_exceptions_total", "Exceptions raised or reported, by kind.", []string{"kind"}},
	{"omnitriage_refund_time_hours", "Refund processing time, return received to refund succeeded.", nil},
	{"omnitriage_refunds_waiting", "Returns received and not refunded yet.", nil},
	{"omnitriage_erp_posting_lag_seconds", "ERP posting lag, created to acknowledged, by document kind.", []string{"kind"}},
	{"omnitriage_erp_postings_waiting", "ERP postings queued or pending now, by document kind.", []string{"kind"}},
	{"omnitriage_erp_postings_rejected_total", "ERP postings the ERP rejected, by document kind.", []string{"kind"}},
	{"omnitriage_integration_calls_total", "Calls to outside systems, by system and endpoint (system/op).", []string{"system", "endpoint"}},
	{"omnitriage_integration_failures_total", "Failed calls to outside systems, by endpoint and class (transient: a retry may cure it; failed: the rest).", []string{"system", "endpoint", "class"}},
	{"omnitriage_integration_failure_ratio", "Share of calls to an endpoint that failed, retries included.", []string{"system", "endpoint"}},
	{"omnitriage_handoff_exceptions_total", "Exceptions raised for an outside endpoint, by kind (integration_error, erp_posting_failed).", []string{"system", "endpoint", "kind"}},
	{"omnitriage_promise_delivered_total", "Delivered orders with a promise date, by channel.", []string{"channel"}},
	{"omnitriage_promise_on_time_total", "Delivered orders delivered on or before the promised day, by channel.", []string{"channel"}},
	{"omnitriage_promise_adherence_ratio", "Share of delivered orders delivered on or before the promised day, by channel.", []string{"channel"}},
	{"omnitriage_orders_in_state", "Orders not finished, by state and the node of their first reservation.", []string{"state", "node"}},
	{"omnitriage_cases_total", "Triaged cases by exception kind and outcome (auto, manual, no_action).", []string{"kind", "outcome"}},
	{"omnitriage_automation_ratio", "Share of triaged cases applied automatically.", nil},
	{"omnitriage_orders_finished", "Orders finished (delivered, cancelled or rejected), by channel, as of the last rollup refresh.", []string{"channel"}},
	{"omnitriage_orders_touched", "Finished orders a person touched (an order event by support, engineer or admin staff), by channel, as of the last rollup refresh.", []string{"channel"}},
	{"omnitriage_manual_touch_ratio", "Manual touch rate: share of finished orders a person touched, as the dashboard counts it.", nil},
	{"omnitriage_auto_fixes", "Cases fixed automatically, by exception kind, as of the last rollup refresh.", []string{"kind"}},
	{"omnitriage_auto_fixes_held", "Automatic fixes that held: no person touched the order and no case of the same kind on it went to a person within the precision window, by exception kind.", []string{"kind"}},
	{"omnitriage_auto_fix_precision_ratio", "Precision of automatic fixes: share of the fixes that held, as the dashboard counts it.", nil},
	{"omnitriage_review_time_seconds", "Review time: a case queued for review to a person's decision.", nil},
	{"omnitriage_review_queue", "Cases waiting for a person now, by severity.", []string{"severity"}},
	{"omnitriage_alerts_firing", "SLA alerts firing now, by figure.", []string{"figure"}},
	{"omnitriage_process_scrape_timestamp_seconds", "When the process figures were read from the database.", nil},
	{"omnitriage_process_up", "1 when the process figures could be read from the database, 0 when the read failed.", nil},
}

// processHistograms are the histograms among processMetrics.
var processHistograms = []string{"omnitriage_order_cycle_time_hours", "omnitriage_refund_time_hours",
	"omnitriage_erp_posting_lag_seconds", "omnitriage_review_time_seconds"}

// ProcessMetricNames lists the series names a ProcessCollector exports: a
// histogram's name with _bucket, _sum and _count, every other name as is.
func ProcessMetricNames() []string {
	out := make([]string, 0, len(processMetrics)+3*len(processHistograms))
	for _, m := range processMetrics {
		if slices.Contains(processHistograms, m.name) {
			out = append(out, m.name+"_bucket", m.name+"_sum", m.name+"_count")
			continue
		}
		out = append(out, m.name)
	}
	return out
}

// NewProcessCollector returns a collector over src.
func NewProcessCollector(src ProcessSource, cfg ProcessCollectorConfig) *ProcessCollector {
	c := &ProcessCollector{src: src, ttl: cfg.TTL, now: cfg.Now, timeout: cfg.Timeout, log: cfg.Log, descs: map[string]*prometheus.Desc{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.ttl <= 0 {
		c.ttl = 10 * time.Second
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, m := range processMetrics {
		c.descs[m.name] = prometheus.NewDesc(m.name, m.help, m.labels, nil)
	}
	return c
}

// Describe sends every metric's description.
func (c *ProcessCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range processMetrics {
		ch <- c.descs[m.name]
	}
}

// read returns the figures, from the cache when younger than TTL. The lock
// is held through the read, so concurrent scrapes wait for one query.
func (c *ProcessCollector) read() (orchestration.ProcessExport, CaseExport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && c.now().Sub(c.at) < c.ttl {
		return c.proc, c.cases, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	p, err := c.src.ProcessExport(ctx)
	if err != nil {
		return p, CaseExport{}, err
	}
	k, err := c.src.CaseExportFigures(ctx)
	if err != nil {
		return p, k, err
	}
	c.proc, c.cases, c.at = p, k, c.now()
	return p, k, nil
}

// Collect reads the figures (or reuses the cached ones) and sends them.
func (c *ProcessCollector) Collect(ch chan<- prometheus.Metric) {
	p, k, err := c.read()
	if err != nil {
		c.log.Error("reading the process figures for /metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(c.descs["omnitriage_process_up"], prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.descs["omnitriage_process_up"], prometheus.GaugeValue, 1)
	gauge := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v, labels...)
	}
	counter := func(name string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.CounterValue, v, labels...)
	}
	hist := func(name string, h orchestration.Histogram, labels ...string) {
		buckets := make(map[float64]uint64, len(h.Bounds))
		for i, b := range h.Bounds {
			buckets[b] = h.Counts[i]
		}
		ch <- prometheus.MustNewConstHistogram(c.descs[name], h.Count, h.Sum, buckets, labels...)
	}
	ratio := func(num, den int64) float64 {
		if den == 0 {
			return 0
		}
		return float64(num) / float64(den)
	}
	for _, h := range p.CycleTime {
		hist("omnitriage_order_cycle_time_hours", h, h.Label)
	}
	for _, a := range p.Allocation {
		counter("omnitriage_allocation_orders_total", float64(a.Orders), a.Channel)
		counter("omnitriage_allocation_allocated_total", float64(a.FullyAllocated), a.Channel)
		gauge("omnitriage_allocation_success_ratio", ratio(a.FullyAllocated, a.Orders), a.Channel)
	}
	for _, e := range p.Exceptions {
		counter("omnitriage_exceptions_total", float64(e.Count), kindLabel(e.Label))
	}
	hist("omnitriage_refund_time_hours", p.RefundTime)
	gauge("omnitriage_refunds_waiting", float64(p.RefundsWaiting))
	for _, h := range p.PostingLag {
		hist("omnitriage_erp_posting_lag_seconds", h, h.Label)
	}
	for _, w := range p.PostingsWaiting {
		gauge("omnitriage_erp_postings_waiting", float64(w.Count), w.Label)
	}
	for _, r := range p.PostingsRejected {
		counter("omnitriage_erp_postings_rejected_total", float64(r.Count), r.Label)
	}
	for _, e := range p.Endpoints {
		sys := systemOf(e.Endpoint)
		counter("omnitriage_integration_calls_total", float64(e.Calls), sys, e.Endpoint)
		counter("omnitriage_integration_failures_total", float64(e.Transient), sys, e.Endpoint, "transient")
		counter("omnitriage_integration_failures_total", float64(e.Failed), sys, e.Endpoint, "failed")
		if e.Calls > 0 {
			gauge("omnitriage_integration_failure_ratio", ratio(e.Transient+e.Failed, e.Calls), sys, e.Endpoint)
		}
		counter("omnitriage_handoff_exceptions_total", float64(e.IntegrationErrors), sys, e.Endpoint, orchestration.KindIntegrationError)
		counter("omnitriage_handoff_exceptions_total", float64(e.ERPPostingFailures), sys, e.Endpoint, orchestration.KindERPPostingFailed)
	}
	for _, pr := range p.Promise {
		counter("omnitriage_promise_delivered_total", float64(pr.Delivered), pr.Channel)
		counter("omnitriage_promise_on_time_total", float64(pr.OnTime), pr.Channel)
		gauge("omnitriage_promise_adherence_ratio", ratio(pr.OnTime, pr.Delivered), pr.Channel)
	}
	for _, s := range p.OrdersInState {
		gauge("omnitriage_orders_in_state", float64(s.Count), s.State, s.Node)
	}
	var auto, all int64
	for _, o := range k.Outcomes {
		kind := kindLabel(o.Kind)
		counter("omnitriage_cases_total", float64(o.Auto), kind, "auto")
		counter("omnitriage_cases_total", float64(o.Manual), kind, "manual")
		counter("omnitriage_cases_total", float64(o.NoAction), kind, "no_action")
		auto, all = auto+o.Auto, all+o.Auto+o.Manual+o.NoAction
	}
	gauge("omnitriage_automation_ratio", ratio(auto, all))
	var finished, touched int64
	for _, m := range p.ManualTouch {
		gauge("omnitriage_orders_finished", float64(m.Finished), m.Channel)
		gauge("omnitriage_orders_touched", float64(m.Touched), m.Channel)
		finished, touched = finished+m.Finished, touched+m.Touched
	}
	gauge("omnitriage_manual_touch_ratio", ratio(touched, finished))
	var fixes, held int64
	for _, f := range k.Precision {
		kind := kindLabel(f.Kind)
		gauge("omnitriage_auto_fixes", float64(f.Fixes), kind)
		gauge("omnitriage_auto_fixes_held", float64(f.Held), kind)
		fixes, held = fixes+f.Fixes, held+f.Held
	}
	if fixes > 0 {
		gauge("omnitriage_auto_fix_precision_ratio", ratio(held, fixes))
	}
	hist("omnitriage_review_time_seconds", k.ReviewTime)
	for _, w := range k.Waiting {
		gauge("omnitriage_review_queue", float64(w.Count), w.Label)
	}
	for _, a := range k.Alerts {
		gauge("omnitriage_alerts_firing", float64(a.Count), a.Label)
	}
	gauge("omnitriage_process_scrape_timestamp_seconds", float64(p.At.UnixMilli())/1000)
}

// kindLabel is kind when the core knows it, else other: cases and
// exceptions are validated at intake, so other means a kind since removed.
func kindLabel(kind string) string {
	if slices.Contains(orchestration.ExceptionKinds(), kind) {
		return kind
	}
	return orchestration.ExportOther
}
