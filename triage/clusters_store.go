package triage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// Cluster statuses.
const (
	ClusterNew           = "new"
	ClusterInvestigating = "investigating"
	ClusterFixed         = "fixed"
	ClusterIgnored       = "ignored"
)

// ClusterStatuses lists the statuses a cluster can have.
func ClusterStatuses() []string {
	return []string{ClusterNew, ClusterInvestigating, ClusterFixed, ClusterIgnored}
}

// ClusterPeriods are the periods a cluster list or page can cover, by name.
var ClusterPeriods = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "14d": 14 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// ClusterPeriodNames lists ClusterPeriods' names, shortest first.
func ClusterPeriodNames() []string { return []string{"24h", "7d", "14d", "30d"} }

// DefaultClusterPeriod is the period when none is asked for.
const DefaultClusterPeriod = "7d"

// Manual touch: a person's decision costs the time from their claim to
// the decision, at most maxTouch (a claim left open over lunch is not
// work); a decision made without a claim counts unclaimedTouch.
const (
	maxTouchMinutes       = 30
	unclaimedTouchMinutes = 2
)

// touchSQL is the reviewer minutes of case c.
const touchSQL = `CASE WHEN c.status = 'decided' AND c.decided_by <> '' THEN
	CASE WHEN c.claimed_at IS NOT NULL AND c.decided_at >= c.claimed_at
		THEN least(extract(epoch FROM c.decided_at - c.claimed_at) / 60, 30)
		ELSE 2 END
	ELSE 0 END`

// Cluster is a root-cause cluster with its figures over a period.
type Cluster struct {
	ID             int64      `json:"id"`
	Kind           string     `json:"kind"`
	Code           string     `json:"code"`
	System         string     `json:"system"`
	Template       string     `json:"template"`
	Representative string     `json:"representative"`
	Status         string     `json:"status"`
	Owner          string     `json:"owner"`
	Notes          string     `json:"notes"`
	FixedAt        *string    `json:"fixed_at"` // YYYY-MM-DD
	Recurring      bool       `json:"recurring"`
	RecurringAt    *time.Time `json:"recurring_at,omitempty"`
	Active         bool       `json:"active"`
	MergedInto     *int64     `json:"merged_into,omitempty"`
	FirstSeen      *time.Time `json:"first_seen"`
	LastSeen       *time.Time `json:"last_seen"`
	UpdatedAt      time.Time  `json:"updated_at"`
	UpdatedBy      string     `json:"updated_by,omitempty"`
	// Figures over the period asked for.
	Period string `json:"period"`
	Count  int    `json:"count"`
	// Recent and Earlier split Count at the period's middle: the trend.
	Recent  int `json:"recent"`
	Earlier int `json:"earlier"`
	// Trend is Recent against Earlier, as a fraction (0.5: half as many
	// again); nil when Earlier is 0.
	Trend *float64 `json:"trend"`
	// Automatic and Manual count the members resolved by triage alone and
	// by a person's decision.
	Automatic     int     `json:"automatic"`
	Manual        int     `json:"manual"`
	ManualMinutes float64 `json:"manual_minutes"`
	// Impact is Count × (1 + reviewer minutes per exception): what the
	// list is sorted by.
	Impact float64 `json:"impact"`
	// Daily is the count of each day of the period, oldest first.
	Daily []DayCount `json:"daily"`
}

// DayCount is one day's count.
type DayCount struct {
	Day   string `json:"day"` // YYYY-MM-DD, UTC
	Count int    `json:"count"`
}

// ClusterFilter selects clusters for ListClusters.
type ClusterFilter struct {
	Period string // one of ClusterPeriodNames; "" is DefaultClusterPeriod
	Kind   string
	Status string
	Owner  string
	// Recurring keeps only fixed clusters that recur.
	Recurring bool
	Limit     int // 0 means 50
	Offset    int
}

// Validate names each bad field.
func (f ClusterFilter) Validate() error {
	v := &derrors.ValidationError{}
	if _, ok := ClusterPeriods[f.Period]; f.Period != "" && !ok {
		v.Add("period", "want one of %s", strings.Join(ClusterPeriodNames(), ", "))
	}
	if f.Status != "" && !slices.Contains(ClusterStatuses(), f.Status) {
		v.Add("status", "want one of %s", strings.Join(ClusterStatuses(), ", "))
	}
	if err := web.CheckText("kind", f.Kind, false); err != nil || len(f.Kind) > 100 {
		v.Add("kind", "want an exception kind")
	}
	if err := web.CheckText("owner", f.Owner, false); err != nil || len(f.Owner) > 200 {
		v.Add("owner", "want an owner's name of at most 200 characters, without control characters")
	}
	if f.Limit < 0 || f.Limit > 500 {
		v.Add("limit", "want a whole number from 1 to 500")
	}
	if f.Offset < 0 {
		v.Add("offset", "want a whole number of 0 or more")
	}
	return v.Err()
}

// since is the start of the period ending at now.
func periodStart(now time.Time, period string) (time.Time, string) {
	if period == "" {
		period = DefaultClusterPeriod
	}
	return now.Add(-ClusterPeriods[period]), period
}

const clusterCols = `cl.id, cl.kind, cl.code, cl.system, cl.template, cl.representative, cl.status, cl.owner, cl.notes,
	to_char(cl.fixed_at, 'YYYY-MM-DD'), cl.recurring_at, cl.active, cl.merged_into, cl.first_seen, cl.last_seen, cl.updated_at, cl.updated_by`

// clusterFiguresSQL computes, per cluster, the figures of members that
// occurred from $1 (the period's start) with $2 its middle.
const clusterFiguresSQL = `
WITH fig AS (
	SELECT m.cluster_id,
		count(*)::int AS n,
		(count(*) FILTER (WHERE m.occurred_at >= $2))::int AS recent,
		(count(*) FILTER (WHERE c.status = 'auto_applied'))::int AS automatic,
		(count(*) FILTER (WHERE c.status = 'decided' AND c.decided_by <> ''))::int AS manual,
		coalesce(sum(` + touchSQL + `), 0)::float8 AS minutes
	FROM cluster_members m LEFT JOIN cases c ON c.exception_id = m.exception_id
	WHERE m.occurred_at >= $1
	GROUP BY m.cluster_id
)`

func scanCluster(r pgx.Row, c *Cluster, extra ...any) error {
	var recur *time.Time
	dst := []any{&c.ID, &c.Kind, &c.Code, &c.System, &c.Template, &c.Representative, &c.Status, &c.Owner, &c.Notes,
		&c.FixedAt, &recur, &c.Active, &c.MergedInto, &c.FirstSeen, &c.LastSeen, &c.UpdatedAt, &c.UpdatedBy}
	if err := r.Scan(append(dst, extra...)...); err != nil {
		return err
	}
	c.RecurringAt = recur
	c.Recurring = recur != nil && c.Status == ClusterFixed
	return nil
}

// figures finishes c's derived figures.
func (c *Cluster) figures(n, recent, auto, manual int, minutes float64) {
	c.Count, c.Recent, c.Earlier, c.Automatic, c.Manual, c.ManualMinutes = n, recent, n-recent, auto, manual, minutes
	if c.Earlier > 0 {
		t := float64(c.Recent-c.Earlier) / float64(c.Earlier)
		c.Trend = &t
	}
	c.Impact = float64(n)
	if n > 0 {
		c.Impact = float64(n) * (1 + minutes/float64(n))
	}
}

// ListClusters returns the clusters with members in the period, or
// active, biggest impact first, and the offset of the next page (0 when
// this is the last).
func (c *Clusterer) ListClusters(ctx context.Context, f ClusterFilter) (_ []Cluster, next int, err error) {
	defer derrors.Wrap(&err, "ListClusters")
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	now := c.s.now()
	since, period := periodStart(now, f.Period)
	mid := since.Add(now.Sub(since) / 2)
	limit := f.Limit
	if limit == 0 {
		limit = 50
	}
	rows, err := c.s.pool.Query(ctx, clusterFiguresSQL+`
		SELECT `+clusterCols+`, coalesce(fig.n, 0), coalesce(fig.recent, 0), coalesce(fig.automatic, 0), coalesce(fig.manual, 0), coalesce(fig.minutes, 0)
		FROM clusters cl LEFT JOIN fig ON fig.cluster_id = cl.id
		WHERE (fig.n > 0 OR cl.active) AND cl.merged_into IS NULL
			AND ($3 = '' OR cl.kind = $3) AND ($4 = '' OR cl.status = $4) AND ($5 = '' OR lower(cl.owner) = lower($5))
			AND (NOT $6 OR (cl.status = 'fixed' AND cl.recurring_at IS NOT NULL))
		ORDER BY coalesce(fig.n, 0) + coalesce(fig.minutes, 0) DESC, cl.id
		LIMIT $7 OFFSET $8`, since, mid, f.Kind, f.Status, f.Owner, f.Recurring, limit+1, f.Offset)
	if err != nil {
		return nil, 0, err
	}
	var out []Cluster
	for rows.Next() {
		var cl Cluster
		var n, recent, auto, manual int
		var minutes float64
		if err := scanCluster(rows, &cl, &n, &recent, &auto, &manual, &minutes); err != nil {
			rows.Close()
			return nil, 0, err
		}
		cl.Period = period
		cl.figures(n, recent, auto, manual, minutes)
		out = append(out, cl)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(out) > limit {
		out, next = out[:limit], f.Offset+limit
	}
	if err := c.daily(ctx, out, since, now); err != nil {
		return nil, 0, err
	}
	return out, next, nil
}

// daily fills each cluster's Daily series over [since, now].
func (c *Clusterer) daily(ctx context.Context, cls []Cluster, since, now time.Time) error {
	if len(cls) == 0 {
		return nil
	}
	ids := make([]int64, len(cls))
	at := map[int64]int{}
	for i, cl := range cls {
		ids[i] = cl.ID
		at[cl.ID] = i
	}
	days := dayRange(since, now)
	for i := range cls {
		cls[i].Daily = make([]DayCount, len(days))
		for j, d := range days {
			cls[i].Daily[j].Day = d
		}
	}
	rows, err := c.s.pool.Query(ctx, `SELECT cluster_id, to_char((occurred_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'), count(*)::int
		FROM cluster_members WHERE cluster_id = ANY($1) AND occurred_at >= $2 GROUP BY 1, 2`, ids, since)
	if err != nil {
		return err
	}
	dayAt := map[string]int{}
	for j, d := range days {
		dayAt[d] = j
	}
	for rows.Next() {
		var id int64
		var day string
		var n int
		if err := rows.Scan(&id, &day, &n); err != nil {
			rows.Close()
			return err
		}
		if j, ok := dayAt[day]; ok {
			cls[at[id]].Daily[j].Count = n
		}
	}
	return rows.Err()
}

// dayRange lists the UTC days from since's to now's.
func dayRange(since, now time.Time) []string {
	var out []string
	for d := since.UTC().Truncate(24 * time.Hour); !d.After(now.UTC()); d = d.Add(24 * time.Hour) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// ValueCount is one value of a breakdown with its count.
type ValueCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// CauseCount is a cause triage assigned, how often, and how often people
// corrected it (a modified or rejected fix).
type CauseCount struct {
	Cause     string `json:"cause"`
	Count     int    `json:"count"`
	Corrected int    `json:"corrected"`
}

// ClusterSample is one member exception.
type ClusterSample struct {
	ExceptionID uuid.UUID  `json:"exception_id"`
	CaseID      *uuid.UUID `json:"case_id,omitempty"`
	Message     string     `json:"message"`
	OccurredAt  time.Time  `json:"occurred_at"`
	SKU         string     `json:"sku,omitempty"`
	Location    string     `json:"location,omitempty"`
	Carrier     string     `json:"carrier,omitempty"`
	CaseStatus  string     `json:"case_status,omitempty"`
}

// ClusterEvent is a merge or split a run recorded.
type ClusterEvent struct {
	RunID     int64     `json:"run_id"`
	Kind      string    `json:"kind"` // merge, split
	ClusterID int64     `json:"cluster_id"`
	Others    []int64   `json:"others"`
	At        time.Time `json:"at"`
	// Text says what happened in words, from this cluster's side.
	Text string `json:"text"`
}

// ClusterDetail is a cluster with its breakdowns, samples and history.
type ClusterDetail struct {
	Cluster
	Breakdowns map[string][]ValueCount `json:"breakdowns"` // sku, location, carrier, channel, endpoint, code
	Causes     []CauseCount            `json:"causes"`
	Samples    []ClusterSample         `json:"samples"`
	Events     []ClusterEvent          `json:"events"`
	// Summary is the machine-written paragraph (with LLM_URL), nil when
	// none was written; SummaryFailure the last failed attempt after it.
	Summary        *ClusterSummary `json:"summary"`
	SummaryFailure *SummaryFailure `json:"summary_failure,omitempty"`
}

// BreakdownNames are the breakdowns of a cluster, in the page's order.
func BreakdownNames() []string {
	return []string{"sku", "location", "carrier", "channel", "endpoint", "code"}
}

// GetCluster returns cluster id with its figures over the period.
func (c *Clusterer) GetCluster(ctx context.Context, id int64, period string) (_ ClusterDetail, err error) {
	defer derrors.Wrap(&err, "GetCluster(%d)", id)
	if _, ok := ClusterPeriods[period]; period != "" && !ok {
		ve := &derrors.ValidationError{}
		ve.Add("period", "want one of %s", strings.Join(ClusterPeriodNames(), ", "))
		return ClusterDetail{}, ve
	}
	now := c.s.now()
	since, period := periodStart(now, period)
	mid := since.Add(now.Sub(since) / 2)
	var d ClusterDetail
	var n, recent, auto, manual int
	var minutes float64
	err = scanCluster(c.s.pool.QueryRow(ctx, clusterFiguresSQL+`
		SELECT `+clusterCols+`, coalesce(fig.n, 0), coalesce(fig.recent, 0), coalesce(fig.automatic, 0), coalesce(fig.manual, 0), coalesce(fig.minutes, 0)
		FROM clusters cl LEFT JOIN fig ON fig.cluster_id = cl.id WHERE cl.id = $3`, since, mid, id),
		&d.Cluster, &n, &recent, &auto, &manual, &minutes)
	if isNoRows(err) {
		return ClusterDetail{}, fmt.Errorf("no cluster %d: %w", id, derrors.NotFound)
	}
	if err != nil {
		return ClusterDetail{}, err
	}
	d.Period = period
	d.figures(n, recent, auto, manual, minutes)
	one := []Cluster{d.Cluster}
	if err := c.daily(ctx, one, since, now); err != nil {
		return ClusterDetail{}, err
	}
	d.Daily = one[0].Daily
	if d.Breakdowns, err = c.breakdowns(ctx, id, since); err != nil {
		return ClusterDetail{}, err
	}
	if d.Causes, err = c.causes(ctx, id, since); err != nil {
		return ClusterDetail{}, err
	}
	if d.Samples, err = c.samples(ctx, id, 20); err != nil {
		return ClusterDetail{}, err
	}
	if d.Events, err = c.events(ctx, id); err != nil {
		return ClusterDetail{}, err
	}
	if err := c.summaryOf(ctx, &d); err != nil {
		return ClusterDetail{}, err
	}
	return d, nil
}

// breakdownTop is how many values each breakdown shows.
const breakdownTop = 5

func (c *Clusterer) breakdowns(ctx context.Context, id int64, since time.Time) (map[string][]ValueCount, error) {
	rows, err := c.s.pool.Query(ctx, `
		WITH f AS (
			SELECT f.sku, f.location, f.carrier, f.channel, f.endpoint, f.code
			FROM cluster_members m JOIN exception_facts f ON f.id = m.exception_id
			WHERE m.cluster_id = $1 AND m.occurred_at >= $2
		), v AS (
			SELECT 'sku' AS dim, sku AS value FROM f UNION ALL SELECT 'location', location FROM f
			UNION ALL SELECT 'carrier', carrier FROM f UNION ALL SELECT 'channel', channel FROM f
			UNION ALL SELECT 'endpoint', endpoint FROM f UNION ALL SELECT 'code', code FROM f
		), c AS (
			SELECT dim, value, count(*)::int AS n, row_number() OVER (PARTITION BY dim ORDER BY count(*) DESC, value) AS rk
			FROM v WHERE value <> '' GROUP BY dim, value
		)
		SELECT dim, value, n FROM c WHERE rk <= $3 ORDER BY dim, rk`, id, since, breakdownTop)
	if err != nil {
		return nil, err
	}
	out := map[string][]ValueCount{}
	for _, n := range BreakdownNames() {
		out[n] = []ValueCount{}
	}
	for rows.Next() {
		var dim string
		var cnt ValueCount
		if err := rows.Scan(&dim, &cnt.Value, &cnt.Count); err != nil {
			rows.Close()
			return nil, err
		}
		out[dim] = append(out[dim], cnt)
	}
	return out, rows.Err()
}

func (c *Clusterer) causes(ctx context.Context, id int64, since time.Time) ([]CauseCount, error) {
	rows, err := c.s.pool.Query(ctx, `
		SELECT coalesce(c.cause, 'unknown'), count(*)::int,
			(count(*) FILTER (WHERE c.decision IN ('modify', 'reject')))::int
		FROM cluster_members m JOIN cases c ON c.exception_id = m.exception_id
		WHERE m.cluster_id = $1 AND m.occurred_at >= $2
		GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`, id, since)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CauseCount, error) {
		var cc CauseCount
		return cc, r.Scan(&cc.Cause, &cc.Count, &cc.Corrected)
	})
	if out == nil {
		out = []CauseCount{}
	}
	return out, err
}

func (c *Clusterer) samples(ctx context.Context, id int64, limit int) ([]ClusterSample, error) {
	rows, err := c.s.pool.Query(ctx, `
		SELECT f.id, c.id, f.message, f.occurred_at, f.sku, f.location, f.carrier, coalesce(c.status, '')
		FROM cluster_members m JOIN exception_facts f ON f.id = m.exception_id
		LEFT JOIN cases c ON c.exception_id = m.exception_id
		WHERE m.cluster_id = $1 ORDER BY m.occurred_at DESC, m.exception_id LIMIT $2`, id, limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClusterSample, error) {
		var s ClusterSample
		return s, r.Scan(&s.ExceptionID, &s.CaseID, &s.Message, &s.OccurredAt, &s.SKU, &s.Location, &s.Carrier, &s.CaseStatus)
	})
	if out == nil {
		out = []ClusterSample{}
	}
	return out, err
}

func (c *Clusterer) events(ctx context.Context, id int64) ([]ClusterEvent, error) {
	rows, err := c.s.pool.Query(ctx, `SELECT run_id, kind, cluster_id, others, created_at FROM cluster_events
		WHERE cluster_id = $1 OR $1 = ANY(others) ORDER BY id DESC LIMIT 50`, id)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClusterEvent, error) {
		var e ClusterEvent
		err := r.Scan(&e.RunID, &e.Kind, &e.ClusterID, &e.Others, &e.At)
		e.Text = eventText(e, id)
		return e, err
	})
	if out == nil {
		out = []ClusterEvent{}
	}
	return out, err
}

// eventText says what e did, seen from cluster self.
func eventText(e ClusterEvent, self int64) string {
	ids := make([]string, len(e.Others))
	for i, o := range e.Others {
		ids[i] = fmt.Sprintf("#%d", o)
	}
	list := strings.Join(ids, ", ")
	switch {
	case e.Kind == "merge" && e.ClusterID == self:
		return fmt.Sprintf("%s merged into this cluster", list)
	case e.Kind == "merge":
		return fmt.Sprintf("this cluster merged into #%d", e.ClusterID)
	case e.ClusterID == self:
		return fmt.Sprintf("split from %s", list)
	default:
		return fmt.Sprintf("#%d split from this cluster", e.ClusterID)
	}
}

// LastRun returns the latest finished run, ok false when none has run.
func (c *Clusterer) LastRun(ctx context.Context) (_ RunSummary, ok bool, err error) {
	defer derrors.Wrap(&err, "LastRun")
	var r RunSummary
	var ms int64
	err = c.s.pool.QueryRow(ctx, `SELECT id, exceptions, clusters, created, merges, splits, started_at, duration_ms FROM cluster_runs
		WHERE finished_at IS NOT NULL AND error = '' ORDER BY id DESC LIMIT 1`).Scan(&r.RunID, &r.Exceptions, &r.Clusters, &r.New,
		&r.Merges, &r.Splits, &r.Started, &ms)
	if isNoRows(err) {
		return RunSummary{}, false, nil
	}
	r.Duration = time.Duration(ms) * time.Millisecond
	return r, err == nil, err
}
