package orchestration

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// Process metrics, each read from its view in migrations/00010_process_views.sql.
// A row whose Channel or Kind is "*" is the total over every channel or kind.

// CycleTime is the order cycle time, capture to delivery, of one channel.
type CycleTime struct {
	Channel  string  `json:"channel"`
	Orders   int     `json:"orders"` // delivered orders measured
	AvgHours float64 `json:"avg_hours"`
	P50Hours float64 `json:"p50_hours"`
	P95Hours float64 `json:"p95_hours"`
	MaxHours float64 `json:"max_hours"`
}

// AllocationRate is the share of one channel's orders fully reserved at capture.
type AllocationRate struct {
	Channel        string  `json:"channel"`
	Orders         int     `json:"orders"`
	FullyAllocated int     `json:"fully_allocated"`
	Rate           float64 `json:"rate"`
}

// ExceptionCount is how many exceptions of a kind occurred on a day (UTC).
type ExceptionCount struct {
	Day        string `json:"day"` // YYYY-MM-DD
	Kind       string `json:"kind"`
	Exceptions int    `json:"exceptions"`
}

// RefundTime is the time from a return's receipt to its refund.
type RefundTime struct {
	Refunds  int     `json:"refunds"`
	AvgHours float64 `json:"avg_hours"`
	P50Hours float64 `json:"p50_hours"`
	P95Hours float64 `json:"p95_hours"`
	MaxHours float64 `json:"max_hours"`
	Waiting  int     `json:"waiting"` // received, not refunded yet
}

// PostingLag is the ERP's time to acknowledge one kind of document.
type PostingLag struct {
	Kind         string  `json:"kind"`
	Postings     int     `json:"postings"`
	Acknowledged int     `json:"acknowledged"`
	Rejected     int     `json:"rejected"`
	Waiting      int     `json:"waiting"`
	AvgSeconds   float64 `json:"avg_seconds"`
	P50Seconds   float64 `json:"p50_seconds"`
	P95Seconds   float64 `json:"p95_seconds"`
}

// EndpointFailures is the failure rate of one outside endpoint (system/op):
// calls counted by a CallCounter with their transient and failed shares, and
// the exceptions raised for it. FailureRate is nil when no calls were counted.
type EndpointFailures struct {
	Endpoint           string   `json:"endpoint"`
	Calls              int64    `json:"calls"`
	Transient          int64    `json:"transient"`
	Failed             int64    `json:"failed"`
	FailureRate        *float64 `json:"failure_rate"`
	IntegrationErrors  int64    `json:"integration_errors"`
	ERPPostingFailures int64    `json:"erp_posting_failures"`
}

// PromiseAdherence is the share of one channel's delivered orders delivered
// on or before the promised day.
type PromiseAdherence struct {
	Channel   string  `json:"channel"`
	Delivered int     `json:"delivered"`
	OnTime    int     `json:"on_time"`
	Rate      float64 `json:"rate"`
}

// Metrics are the process metrics. Exceptions cover the ExceptionDays days
// before now; the rest cover all time.
type Metrics struct {
	CycleTime   []CycleTime        `json:"cycle_time"`
	Allocation  []AllocationRate   `json:"allocation"`
	Exceptions  []ExceptionCount   `json:"exceptions_per_day"`
	RefundTime  RefundTime         `json:"refund_time"`
	ERPLag      []PostingLag       `json:"erp_posting_lag"`
	APIFailures []EndpointFailures `json:"api_failures"`
	Promise     []PromiseAdherence `json:"promise_adherence"`
	At          time.Time          `json:"at"`
}

// ExceptionDays is how many days of exception counts ProcessMetrics returns.
const ExceptionDays = 90

// ProcessMetrics reads every process metric from its view, in one
// repeatable-read transaction so the figures agree with each other.
func (s *Service) ProcessMetrics(ctx context.Context) (_ Metrics, err error) {
	defer derrors.Wrap(&err, "ProcessMetrics")
	m := Metrics{At: s.now()}
	since := m.At.UTC().AddDate(0, 0, -ExceptionDays).Format(time.DateOnly)
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if m.CycleTime, err = collect[CycleTime](ctx, tx, `SELECT channel, orders, coalesce(avg_hours, 0), coalesce(p50_hours, 0),
			coalesce(p95_hours, 0), coalesce(max_hours, 0) FROM process_cycle_time ORDER BY channel <> '*', channel COLLATE "C"`); err != nil {
			return err
		}
		if m.Allocation, err = collect[AllocationRate](ctx, tx, `SELECT channel, orders, fully_allocated, coalesce(rate, 0)
			FROM process_allocation ORDER BY channel <> '*', channel COLLATE "C"`); err != nil {
			return err
		}
		if m.Exceptions, err = collect[ExceptionCount](ctx, tx, `SELECT day::text, kind, exceptions FROM process_exception_daily
			WHERE day >= $1::date ORDER BY day, kind COLLATE "C"`, since); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT refunds, coalesce(avg_hours, 0), coalesce(p50_hours, 0), coalesce(p95_hours, 0),
			coalesce(max_hours, 0), waiting FROM process_refund_time`).Scan(&m.RefundTime.Refunds, &m.RefundTime.AvgHours,
			&m.RefundTime.P50Hours, &m.RefundTime.P95Hours, &m.RefundTime.MaxHours, &m.RefundTime.Waiting); err != nil {
			return err
		}
		if m.ERPLag, err = collect[PostingLag](ctx, tx, `SELECT kind, postings, acknowledged, rejected, waiting, coalesce(avg_seconds, 0),
			coalesce(p50_seconds, 0), coalesce(p95_seconds, 0) FROM process_erp_lag ORDER BY kind <> '*', kind COLLATE "C"`); err != nil {
			return err
		}
		if m.APIFailures, err = collect[EndpointFailures](ctx, tx, `SELECT endpoint, calls, transient, failed, failure_rate,
			integration_errors, erp_posting_failures FROM process_api_failures ORDER BY endpoint COLLATE "C"`); err != nil {
			return err
		}
		m.Promise, err = collect[PromiseAdherence](ctx, tx, `SELECT channel, delivered, on_time, coalesce(rate, 0)
			FROM process_promise ORDER BY channel <> '*', channel COLLATE "C"`)
		return err
	})
	return m, err
}

// collect reads every row of q into a T, by column position.
func collect[T any](ctx context.Context, tx pgx.Tx, q string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[T])
	if out == nil && err == nil {
		out = []T{}
	}
	return out, err
}

// handleProcessMetrics answers GET /v1/metrics/process.
func (h *Handlers) handleProcessMetrics(w http.ResponseWriter, r *http.Request) error {
	m, err := h.svc.ProcessMetrics(r.Context())
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, m)
}
