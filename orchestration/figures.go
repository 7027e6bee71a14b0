package orchestration

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/rollup"
)

// Period is a run of whole UTC days the process figures cover.
type Period = rollup.Period

// Filter narrows the process figures to a channel, region and node.
type Filter = rollup.Filter

// Figure is one process figure over a period, beside the period before.
type Figure = rollup.Figure

// Units of a Figure's values.
const (
	UnitDuration = rollup.UnitDuration
	UnitShare    = rollup.UnitShare
	UnitCount    = rollup.UnitCount
)

// Stall is how long orders (or returns) spend in one state at one node,
// over a period, and how many sit there now.
type Stall struct {
	// Journey is "order" or "return"; State the status.
	Journey, State string
	// Node is a location code, "" for none, rollup.All for every node.
	Node string
	// N counts the stays that ended in the period.
	N int64
	// P50 and P90 are the median and 90th percentile stay, in seconds.
	P50, P90 *float64
	// Now counts the orders or returns in the state as of the refresh.
	Now int64
}

// Figures are the process dashboard's figures.
type Figures struct {
	Period, Previous Period
	Filter           Filter
	// Days are the days of the period, as YYYY-MM-DD, for Figure.Daily.
	Days []string
	// RefreshedAt is when the rollup was last refreshed (zero: never).
	RefreshedAt time.Time
	// Headline are the figures, one each.
	Headline []Figure
	// Exceptions are the exceptions by kind; Endpoints the outside calls by
	// system/op; ERP the postings by document kind.
	Exceptions, Endpoints, ERP []Figure
	// Automation is the automation rate by exception kind (filled by
	// triage.(*Service).ProcessFigures).
	Automation []Figure
	// Stalls are the journeys' states, every node's and each node's.
	Stalls []Stall
}

// OrderJourney and ReturnJourney are the states of each journey, in order.
var (
	OrderJourney  = []string{StatusCaptured, StatusBackordered, StatusOnHold, StatusAuthorised, StatusReleased, StatusPartiallyShipped, StatusReadyForPickup, StatusShipped}
	ReturnJourney = []string{ReturnRequested, ReturnRefundReview, ReturnRefundPending, ReturnRefundFailed}
)

var processDefs = []rollup.Def{
	rollup.NewDef(MetricCycleTime, MetricCycleTime, "Order cycle time", UnitDuration, "Mean time from capture to delivery of the orders delivered in the period.", "mean"),
	rollup.NewDef(MetricAllocation, MetricAllocation, "Allocation success", UnitShare, "Share of the orders captured in the period with every line reserved at capture.", "rate"),
	rollup.NewDef(MetricExceptions, MetricExceptions, "Exceptions", UnitCount, "Exceptions that occurred in the period (by kind below).", "count"),
	rollup.NewDef(MetricRefundTime, MetricRefundTime, "Refund processing time", UnitDuration, "Mean time from a return's receipt to its refund, over the returns refunded in the period.", "mean"),
	rollup.NewDef(MetricAPI, MetricAPI, "API failure rate", UnitShare, "Share of outside calls that failed (timeouts, 5xx, 429, refused), retries included; not narrowed by channel or node.", "rate"),
	rollup.NewDef(MetricManualTouch, MetricManualTouch, "Manual touch rate", UnitShare, "Share of the orders finished in the period (delivered, cancelled, rejected) that a person touched before.", "rate"),
	rollup.NewDef(MetricERPLag, MetricERPLag, "ERP posting lag", UnitDuration, "Mean time from an ERP document being queued to its acknowledgement, over those acknowledged in the period.", "mean"),
}

// ProcessFigures reads the process figures of orchestration's rollup for p
// and the period before it, narrowed by f, with the stall view. The reads
// run at once on their own connections; each sees the rollup as one
// refresh left it (a refresh replaces its days in one transaction), so two
// reads straddling a refresh may differ by that refresh. The figures are as
// fresh as the last RefreshRollup. triage.(*Service).ProcessFigures adds
// the case figures (automation, precision of automatic fixes, review time).
func (s *Service) ProcessFigures(ctx context.Context, p Period, f Filter) (_ Figures, err error) {
	defer derrors.Wrap(&err, "ProcessFigures")
	if err := p.Validate(); err != nil {
		return Figures{}, err
	}
	if err := f.Validate(); err != nil {
		return Figures{}, err
	}
	out := Figures{Period: p, Previous: p.Previous(), Filter: f}
	metrics := []string{MetricCycleTime, MetricAllocation, MetricExceptions, MetricRefundTime, MetricAPI, MetricManualTouch, MetricERPLag}
	var sums rollup.Sums
	var q rollup.Quantiles
	err = rollup.Parallel(
		func() error {
			var at *time.Time
			err := s.pool.QueryRow(ctx, `SELECT refreshed_at FROM process_rollup_state WHERE name = 'process'`).Scan(&at)
			if at != nil {
				out.RefreshedAt = *at
			}
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		},
		func() (err error) {
			sums, err = rollup.Read(ctx, s.pool, ProcessTable, metrics, []string{MetricAPI}, p, f)
			return err
		},
		func() (err error) {
			q, err = rollup.ReadQuantiles(ctx, s.pool, ProcessTable, []string{MetricCycleTime, MetricRefundTime, MetricERPLag}, p, f, false)
			return err
		},
		func() (err error) {
			out.Stalls, err = s.stalls(ctx, p, f)
			return err
		},
	)
	if err != nil {
		return Figures{}, err
	}
	out.Days = sums.Days
	for _, d := range processDefs {
		out.Headline = append(out.Headline, rollup.Build(d, rollup.All, sums, q))
	}
	for _, k := range rollup.Dims(sums, MetricExceptions) {
		out.Exceptions = append(out.Exceptions, rollup.Build(processDefs[2], k, sums, q))
	}
	for _, k := range rollup.Dims(sums, MetricAPI) {
		out.Endpoints = append(out.Endpoints, rollup.Build(processDefs[4], k, sums, q))
	}
	for _, k := range rollup.Dims(sums, MetricERPLag) {
		out.ERP = append(out.ERP, rollup.Build(processDefs[6], k, sums, q))
	}
	return out, nil
}

// level maps a filter value to its rollup level ("" is every value).
func level(v string) string {
	if v == "" {
		return rollup.All
	}
	return v
}

// stalls reads the stall view: every journey state's stays by node (and
// over every node) with the count sitting there now.
func (s *Service) stalls(ctx context.Context, p Period, f Filter) ([]Stall, error) {
	type key struct{ journey, state, node string }
	type count struct {
		key
		n int64
	}
	var q rollup.Quantiles
	var stays, now []count
	scan := func(sql string, args ...any) ([]count, error) {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (count, error) {
			var c count
			err := r.Scan(&c.journey, &c.state, &c.node, &c.n)
			return c, err
		})
	}
	err := rollup.Parallel(
		func() (err error) {
			q, err = rollup.ReadQuantiles(ctx, s.pool, ProcessTable, []string{MetricState, MetricReturnState}, p, f, true)
			return err
		},
		func() (err error) {
			stays, err = scan(`
				SELECT CASE metric WHEN 'state' THEN 'order' ELSE 'return' END, dim,
					CASE WHEN grouping(node) = 1 THEN '*' ELSE node END, sum(n)::bigint
				FROM process_daily WHERE day >= $1 AND day < $2 AND metric IN ('state', 'return_state')
					AND channel = $3 AND region = $4 AND (node = $5 OR ($5 = '*' AND node <> '*'))
				GROUP BY GROUPING SETS ((metric, dim, node), (metric, dim))`, p.From, p.To, level(f.Channel), level(f.Region), level(f.Node))
			return err
		},
		func() (err error) {
			now, err = scan(`
				SELECT journey, state, CASE WHEN grouping(node) = 1 THEN '*' ELSE node END, sum(n)::bigint
				FROM process_stall_now WHERE ($1 = '' OR channel = $1) AND ($2 = '' OR region = $2) AND ($3 = '' OR node = $3)
				GROUP BY GROUPING SETS ((journey, state, node), (journey, state))`, f.Channel, f.Region, f.Node)
			return err
		},
	)
	if err != nil {
		return nil, err
	}
	by := map[key]*Stall{}
	get := func(k key) *Stall {
		if st, ok := by[k]; ok {
			return st
		}
		st := &Stall{Journey: k.journey, State: k.state, Node: k.node}
		by[k] = st
		return st
	}
	journeyOf := map[string]string{MetricState: "order", MetricReturnState: "return"}
	for k, v := range q {
		if k.Dim == rollup.All {
			continue
		}
		st := get(key{journeyOf[k.Metric], k.Dim, k.Node})
		st.P50, st.P90 = &v[0], &v[1]
	}
	for _, c := range stays {
		get(c.key).N = c.n
	}
	for _, c := range now {
		get(c.key).Now = c.n
	}
	out := make([]Stall, 0, len(by))
	for _, st := range by {
		out = append(out, *st)
	}
	rank := func(st Stall) int {
		if st.Journey == "order" {
			return slices.Index(OrderJourney, st.State)
		}
		return 100 + slices.Index(ReturnJourney, st.State)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Node == rollup.All) != (b.Node == rollup.All) {
			return a.Node == rollup.All
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return rank(a) < rank(b)
	})
	return out, nil
}
