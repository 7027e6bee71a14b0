// Package rollup keeps and reads daily rollup tables: per UTC day, metric,
// channel, region, node and dim, the count of facts, of those that pass, of
// those with a duration and the sum of the durations, with a log histogram
// of the durations (a pgvector vector, in table_hist) for medians and p90s. orchestration (process_daily) and
// triage (case_daily) each keep their own table of this shape; this package
// is the SQL both share, so that a figure means the same in both.
//
// Every figure is computed in PostgreSQL, over the small rollup tables:
// nothing here loads facts into Go.
package rollup

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// DB is what the rollup needs of a pool or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Period is a run of whole UTC days, From (inclusive) to To (exclusive).
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Day is the UTC day of t, at midnight.
func Day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// LastDays is the period of the n days that end with the day of now
// (today included).
func LastDays(now time.Time, n int) Period {
	to := Day(now).AddDate(0, 0, 1)
	return Period{From: to.AddDate(0, 0, -n), To: to}
}

// Days is how many days p spans.
func (p Period) Days() int { return int(p.To.Sub(p.From).Hours()/24 + 0.5) }

// Previous is the period of the same length just before p.
func (p Period) Previous() Period { return Period{From: p.From.AddDate(0, 0, -p.Days()), To: p.From} }

// MaxDays is the longest period Validate accepts.
const MaxDays = 366

// Validate checks that p is a run of 1 to MaxDays whole days.
func (p Period) Validate() error {
	v := &derrors.ValidationError{}
	switch {
	case !p.From.Equal(Day(p.From)) || !p.To.Equal(Day(p.To)):
		v.Add("from", "the period starts and ends at midnight UTC")
	case !p.From.Before(p.To):
		v.Add("to", "the period ends after it starts")
	case p.Days() > MaxDays:
		v.Add("from", "at most %d days", MaxDays)
	}
	return v.Err()
}

// Filter narrows the figures to one channel, region and node; "" is all.
type Filter struct {
	Channel string `json:"channel,omitempty"`
	Region  string `json:"region,omitempty"`
	Node    string `json:"node,omitempty"`
}

var codeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,79}$`)

// Validate checks that each value is a plain code.
func (f Filter) Validate() error {
	v := &derrors.ValidationError{}
	for _, c := range []struct{ name, val string }{{"channel", f.Channel}, {"region", f.Region}, {"node", f.Node}} {
		if c.val != "" && !codeRE.MatchString(c.val) {
			v.Add(c.name, "want a code of letters, digits and - _ . : /")
		}
	}
	return v.Err()
}

// Agg is a sum over rollup rows.
type Agg struct {
	// N counts the facts; Hits those that pass; Timed those with a duration.
	N, Hits, Timed int64
	// Seconds is the sum of the durations.
	Seconds float64
}

// Rate is Hits over N; ok is false when N is 0.
func (a Agg) Rate() (float64, bool) {
	if a.N == 0 {
		return 0, false
	}
	return float64(a.Hits) / float64(a.N), true
}

// Mean is the mean duration in seconds; ok is false when nothing was timed.
func (a Agg) Mean() (float64, bool) {
	if a.Timed == 0 {
		return 0, false
	}
	return a.Seconds / float64(a.Timed), true
}

// Key names a figure's rows: a metric and a dim, "*" for the sum over
// every dim.
type Key struct{ Metric, Dim string }

// All is the Dim of a sum over every dim, and the Node of a sum over every
// node.
const All = "*"

// Sums are a period's aggregates.
type Sums struct {
	// Current and Previous are the sums of the period and of the one before.
	Current, Previous map[Key]Agg
	// Daily is each day of the period (oldest first), summed over every dim.
	Daily map[string][]Agg
	// Days are the days of Daily, as YYYY-MM-DD.
	Days []string
}

var tableRE = regexp.MustCompile(`^[a-z_]+$`)

// Levels: the rollup keeps every combination of channel, region and node
// summed away (CUBE): a row whose channel, region or node is All ("*") is
// the sum over it. A read picks the one level its filter names, so the
// whole network's figures read a few rows per day, not every node's.

// level maps a filter value to its rollup level: "" (any) is All.
func level(v string) string {
	if v == "" {
		return All
	}
	return v
}

// filterSQL is the WHERE part shared by every read: the days from $1 to $2,
// the metrics $3, and the level $4-$6 (channel, region, node), which metrics
// $7 ignore (facts that belong to no channel or node, such as API calls:
// they are read at the top level).
const filterSQL = `day >= $1 AND day < $2 AND metric = ANY($3)
	AND CASE WHEN metric = ANY($7) THEN channel = '*' AND region = '*' AND node = '*'
		ELSE channel = $4 AND region = $5 AND node = $6 END`

// byNodeSQL is filterSQL for reading each node: the rows of every node
// (not their sum) at the channel and region level $4 and $5, or of node $6
// alone.
const byNodeSQL = `day >= $1 AND day < $2 AND metric = ANY($3) AND channel = $4 AND region = $5
	AND (node = $6 OR ($6 = '*' AND node <> '*')) AND NOT metric = ANY($7)`

// Read sums the metrics of table over p and the period before it, by
// metric and dim (and over every dim), and each day of p by metric, in two
// queries run at once (db should be a pool). Metrics in unfiltered are
// summed whatever f says.
func Read(ctx context.Context, db DB, table string, metrics, unfiltered []string, p Period, f Filter) (_ Sums, err error) {
	defer derrors.Wrap(&err, "rollup.Read(%s)", table)
	if !tableRE.MatchString(table) {
		return Sums{}, fmt.Errorf("bad table %q", table)
	}
	if unfiltered == nil {
		unfiltered = []string{}
	}
	prev := p.Previous()
	out := Sums{Current: map[Key]Agg{}, Previous: map[Key]Agg{}, Daily: map[string][]Agg{}}
	for d := p.From; d.Before(p.To); d = d.AddDate(0, 0, 1) {
		out.Days = append(out.Days, d.Format(time.DateOnly))
	}
	for _, m := range metrics {
		out.Daily[m] = make([]Agg, len(out.Days))
	}
	err = Parallel(func() error {
		rows, err := db.Query(ctx, `
			SELECT metric, CASE WHEN grouping(dim) = 1 THEN '*' ELSE dim END, day >= $8,
				sum(n)::bigint, sum(hits)::bigint, sum(timed)::bigint, sum(sum_s)::float8
			FROM `+table+` WHERE `+filterSQL+`
			GROUP BY GROUPING SETS ((metric, dim, day >= $8), (metric, day >= $8))`,
			prev.From, p.To, metrics, level(f.Channel), level(f.Region), level(f.Node), unfiltered, p.From)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k Key
			var cur bool
			var a Agg
			if err := rows.Scan(&k.Metric, &k.Dim, &cur, &a.N, &a.Hits, &a.Timed, &a.Seconds); err != nil {
				return err
			}
			if cur {
				out.Current[k] = a
			} else {
				out.Previous[k] = a
			}
		}
		return rows.Err()
	}, func() error {
		rows, err := db.Query(ctx, `
			SELECT metric, (day - $1::date)::int, sum(n)::bigint, sum(hits)::bigint, sum(timed)::bigint, sum(sum_s)::float8
			FROM `+table+` WHERE `+filterSQL+` GROUP BY 1, 2`,
			p.From, p.To, metrics, level(f.Channel), level(f.Region), level(f.Node), unfiltered)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m string
			var i int
			var a Agg
			if err := rows.Scan(&m, &i, &a.N, &a.Hits, &a.Timed, &a.Seconds); err != nil {
				return err
			}
			if d := out.Daily[m]; i >= 0 && i < len(d) {
				d[i] = a
			}
		}
		return rows.Err()
	})
	return out, err
}

// QKey names a quantile: a metric, a dim and a node ("*" for every dim or
// node).
type QKey struct{ Metric, Dim, Node string }

// Quantiles are a period's median and p90 durations, in seconds.
type Quantiles map[QKey][2]float64

// ReadQuantiles reads the median and p90 durations of the metrics of
// table over p, by metric and dim and over every dim; with byNode also by
// node. A period's histogram is the sum (pgvector's, in C) of its days'
// vectors in table_hist; each quantile is interpolated within its bucket (buckets
// are 19% wide).
func ReadQuantiles(ctx context.Context, db DB, table string, metrics []string, p Period, f Filter, byNode bool) (_ Quantiles, err error) {
	defer derrors.Wrap(&err, "rollup.ReadQuantiles(%s)", table)
	if !tableRE.MatchString(table) {
		return nil, fmt.Errorf("bad table %q", table)
	}
	sets, nodeCol, where := `(metric, dim), (metric)`, `'*'`, filterSQL
	if byNode {
		sets += `, (metric, dim, node), (metric, node)`
		nodeCol = `CASE WHEN grouping(node) = 1 THEN '*' ELSE node END`
		where = byNodeSQL
	}
	rows, err := db.Query(ctx, `
		WITH s AS (
			SELECT metric, CASE WHEN grouping(dim) = 1 THEN '*' ELSE dim END AS dim, `+nodeCol+` AS node, sum(hist) AS h
			FROM `+table+`_hist WHERE `+where+`
			GROUP BY GROUPING SETS (`+sets+`)
		), e AS (
			SELECT metric, dim, node, u.b::int AS bucket, u.x::float8 AS n
			FROM s, unnest(s.h::real[]) WITH ORDINALITY AS u(x, b) WHERE u.x > 0
		), c AS (
			SELECT metric, dim, node, bucket, n,
				sum(n) OVER (PARTITION BY metric, dim, node ORDER BY bucket) - n AS below,
				sum(n) OVER (PARTITION BY metric, dim, node) AS total
			FROM e
		)
		SELECT DISTINCT ON (metric, dim, node, q) metric, dim, node, q,
			(CASE WHEN bucket = 1 THEN 0 ELSE 2 ^ ((bucket - 2) / 4.0) END
			 + (CASE WHEN bucket = 1 THEN 1 ELSE 2 ^ ((bucket - 1) / 4.0) - 2 ^ ((bucket - 2) / 4.0) END)
			   * least(1, greatest(0, (q * total - below) / n)))::float8
		FROM c CROSS JOIN (VALUES (0.5::float8), (0.9::float8)) AS qs(q)
		WHERE below + n >= q * total
		ORDER BY metric, dim, node, q, bucket`,
		p.From, p.To, metrics, level(f.Channel), level(f.Region), level(f.Node), []string{})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := Quantiles{}
	for rows.Next() {
		var k QKey
		var q, v float64
		if err := rows.Scan(&k.Metric, &k.Dim, &k.Node, &q, &v); err != nil {
			return nil, err
		}
		e := out[k]
		if q < 0.7 {
			e[0] = v
		} else {
			e[1] = v
		}
		out[k] = e
	}
	return out, rows.Err()
}

// cubeCols are channel, region and node of a CUBE's row, All where summed.
const cubeCols = `CASE WHEN grouping(channel) = 1 THEN '*' ELSE channel END AS channel,
	CASE WHEN grouping(region) = 1 THEN '*' ELSE region END AS region,
	CASE WHEN grouping(node) = 1 THEN '*' ELSE node END AS node`

// Replace recomputes the days from (inclusive) to to (exclusive) of table
// from facts, at every level (see filterSQL), in tx: a query whose columns are day (date), metric, channel,
// region, node, dim (text), n, hits (bigint) and secs (float8 seconds, NULL
// for a fact without a duration). Its $1 and $2 are from and to; args
// follow from $3.
func Replace(ctx context.Context, tx pgx.Tx, table, facts string, from, to time.Time, args ...any) (err error) {
	defer derrors.Wrap(&err, "rollup.Replace(%s)", table)
	if !tableRE.MatchString(table) {
		return fmt.Errorf("bad table %q", table)
	}
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS rollup_facts`); err != nil {
		return err
	}
	all := append([]any{from, to}, args...)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE rollup_facts ON COMMIT DROP AS `+facts, all...); err != nil {
		return fmt.Errorf("collecting facts: %w", err)
	}
	if _, err := tx.Exec(ctx, `ANALYZE rollup_facts`); err != nil { // so the histogram join is planned for its size
		return err
	}
	for _, t := range []string{table, table + "_hist"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE day >= $1 AND day < $2`, from, to); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO `+table+` (day, metric, channel, region, node, dim, n, hits, timed, sum_s)
		SELECT day, metric, `+cubeCols+`, dim, sum(n), sum(hits), count(secs), coalesce(sum(secs), 0)
		FROM rollup_facts WHERE day >= $1 AND day < $2 GROUP BY day, metric, dim, CUBE (channel, region, node)`, from, to); err != nil {
		return err
	}
	// Each key's histogram is dense: its 96 buckets, zero where empty.
	if _, err := tx.Exec(ctx, `
		INSERT INTO `+table+`_hist (day, metric, channel, region, node, dim, hist)
		WITH kb AS (
			SELECT day, metric, `+cubeCols+`, dim, process_bucket(greatest(secs, 0))::int AS b, count(*)::real AS c
			FROM rollup_facts WHERE secs IS NOT NULL AND day >= $1 AND day < $2
			GROUP BY day, metric, dim, process_bucket(greatest(secs, 0)), CUBE (channel, region, node)
		)
		SELECT k.day, k.metric, k.channel, k.region, k.node, k.dim, array_agg(coalesce(kb.c, 0) ORDER BY g)::real[]::vector
		FROM (SELECT DISTINCT day, metric, channel, region, node, dim FROM kb) k
		CROSS JOIN generate_series(1, 96) g
		LEFT JOIN kb ON kb.day = k.day AND kb.metric = k.metric AND kb.channel = k.channel AND kb.region = k.region
			AND kb.node = k.node AND kb.dim = k.dim AND kb.b = g
		GROUP BY 1, 2, 3, 4, 5, 6`, from, to); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `DROP TABLE rollup_facts`)
	return err
}
