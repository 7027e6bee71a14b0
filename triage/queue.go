package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// QueueFilter selects the cases of the review queue. Empty fields select
// everything.
type QueueFilter struct {
	Kind     string
	Cause    string
	Channel  string
	Location string
	Carrier  string
	// MinAge keeps cases waiting at least this long.
	MinAge time.Duration
	// Mine keeps cases Reviewer holds a live claim on.
	Mine     bool
	Reviewer string
	// Overdue keeps cases past their SLA.
	Overdue bool
	// Limit is the page size; 0 means 50.
	Limit int
	// After is the cursor of the previous page's last case (QueuePage.Next).
	After string
}

// QueueItem is one case of the review queue with what orders it.
type QueueItem struct {
	CaseID       uuid.UUID
	Kind         string
	Severity     string
	Cause        string
	CauseTitle   string
	Action       string
	Confidence   *float64
	Code         string
	Message      string
	Channel      string
	Location     string
	Carrier      string
	OrderID      *uuid.UUID
	OrderValue   float64
	Currency     string
	CustomerTier string
	CustomerName string
	// PromiseAtRisk is set when the order's promised date is within a day.
	PromiseAtRisk bool
	// Risk is the larger of the stockout and delivery probabilities.
	Risk      float64
	QueuedAt  time.Time
	DueAt     time.Time
	Overdue   bool
	Escalated bool
	// ClaimedBy holds the live claim, "" when nobody holds one.
	ClaimedBy    string
	ClaimedUntil *time.Time
	// Priority orders the queue, highest first (see priorityExpr).
	Priority float64
}

// TimeLeft is how long until the case is overdue at now; negative once it is.
func (q QueueItem) TimeLeft(now time.Time) time.Duration { return q.DueAt.Sub(now) }

// Count is how many queued cases have a value of a filter.
type Count struct {
	Value string
	N     int
}

// QueueCounts are the counts per value of each filter over the cases that
// match the current filters.
type QueueCounts struct {
	Total    int
	Overdue  int
	Mine     int
	Kind     []Count
	Cause    []Count
	Channel  []Count
	Location []Count
	Carrier  []Count
}

// QueuePage is one page of the queue.
type QueuePage struct {
	Items  []QueueItem
	Counts QueueCounts
	// Next is the cursor of the next page, "" on the last.
	Next string
	// At is the moment the priorities were computed at; the cursor keeps it
	// so every page of one walk is ordered alike.
	At time.Time
}

// queueCursor is where a page of the queue ends: the moment its priorities
// were computed at, and the last case's priority and id.
type queueCursor struct {
	At       time.Time
	Priority float64
	ID       uuid.UUID
}

func (c queueCursor) String() string {
	return strconv.FormatInt(c.At.UnixMicro(), 36) + "_" + strconv.FormatFloat(c.Priority, 'g', -1, 64) + "_" + c.ID.String()
}

func parseQueueCursor(s string) (queueCursor, error) {
	parts := strings.SplitN(s, "_", 3)
	bad := func() (queueCursor, error) {
		ve := &derrors.ValidationError{}
		ve.Add("after", "not a queue cursor; start from the first page")
		return queueCursor{}, ve
	}
	if len(parts) != 3 {
		return bad()
	}
	at, err1 := strconv.ParseInt(parts[0], 36, 64)
	p, err2 := strconv.ParseFloat(parts[1], 64)
	id, err3 := uuid.Parse(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return bad()
	}
	return queueCursor{At: time.UnixMicro(at).UTC(), Priority: p, ID: id}, nil
}

// queueSQL computes, for every case waiting for a person, what the queue
// shows and filters on, its SLA due time and its priority. $1 is now, $2
// the first-response targets in minutes by severity (rules' SLA section).
//
// It reads the core's orders and channels for the customer impact, as the
// delivery risk does (context.go), in the same statement so 10,000 queued
// cases cost one scan.
//
// Priority, highest first, adds:
//   - urgency, 0–100: 50 × the share of the SLA used (1 at the due time),
//     capped at twice the target;
//   - customer impact, 0–45: order value (one point per 100, at most 20),
//     tier (vip 15, gold 8, silver 4) and a promise due within a day (10);
//   - risk, 0–15: 15 × the larger of the stockout and delivery risk;
//   - escalation: 25 per escalation by the SLA job.
const queueSQL = `
WITH q AS (
	SELECT c.id, c.kind, c.severity, coalesce(c.cause, '') AS cause, coalesce(k.title, '') AS cause_title,
		coalesce(c.action, '') AS action, c.confidence, e.code, e.message, coalesce(o.channel, '') AS channel,
		e.location, e.carrier, c.order_id, coalesce(o.total, 0)::float8 AS total, coalesce(o.currency, '') AS currency,
		coalesce(o.customer_tier, '') AS tier, coalesce(o.customer_name, '') AS customer_name,
		coalesce(o.promised_by < $1::timestamptz + interval '1 day', false) AS promise_at_risk,
		greatest(coalesce((c.risks->'stockout'->>'probability')::float8, 0),
			coalesce((c.risks->'delivery'->>'probability')::float8, 0)) AS risk,
		coalesce(c.triaged_at, c.created_at) AS queued_at,
		coalesce(($2::jsonb->>c.severity)::int, 1440) AS target_min,
		c.escalation_level,
		CASE WHEN c.claimed_until > $1 THEN c.claimed_by ELSE '' END AS claimed_by,
		CASE WHEN c.claimed_until > $1 THEN c.claimed_until END AS claimed_until
	FROM cases c
	JOIN core_exceptions e ON e.id = c.exception_id
	LEFT JOIN causes k ON k.code = c.cause
	LEFT JOIN core_order_summaries o ON o.id = c.order_id
	WHERE c.status = 'queued_for_review'
), s AS (
	SELECT q.*, q.queued_at + make_interval(mins => q.target_min) AS due_at,
		50 * least(greatest(extract(epoch FROM $1::timestamptz - q.queued_at)::float8 / (60 * q.target_min), 0), 2)
		+ least(q.total / 100, 20)
		+ CASE q.tier WHEN 'vip' THEN 15 WHEN 'gold' THEN 8 WHEN 'silver' THEN 4 ELSE 0 END
		+ CASE WHEN q.promise_at_risk THEN 10 ELSE 0 END
		+ 15 * q.risk
		+ 25 * q.escalation_level AS priority
	FROM q
)`

// queueWhere is the filter over s; $3.. are QueueFilter's fields.
const queueWhere = `
WHERE ($3 = '' OR kind = $3) AND ($4 = '' OR cause = $4) AND ($5 = '' OR channel = $5)
	AND ($6 = '' OR location = $6) AND ($7 = '' OR carrier = $7)
	AND ($8::bigint = 0 OR queued_at <= $1::timestamptz - make_interval(secs => $8::bigint))
	AND (NOT $9 OR claimed_by = $10) AND (NOT $11 OR due_at < $1)`

// Queue returns a page of the cases waiting for a person, highest priority
// first, with counts per filter value over all the cases the filter
// matches.
func (s *Service) Queue(ctx context.Context, f QueueFilter) (_ QueuePage, err error) {
	defer derrors.Wrap(&err, "Queue")
	limit := pageLimit(f.Limit)
	at := s.now().UTC().Truncate(time.Microsecond)
	var cur *queueCursor
	if f.After != "" {
		c, err := parseQueueCursor(f.After)
		if err != nil {
			return QueuePage{}, err
		}
		cur, at = &c, c.At
	}
	if f.Mine && f.Reviewer == "" {
		f.Mine = false
	}
	targets, err := s.slaTargets()
	if err != nil {
		return QueuePage{}, err
	}
	args := []any{at, targets, f.Kind, f.Cause, f.Channel, f.Location, f.Carrier, int64(f.MinAge / time.Second),
		f.Mine, f.Reviewer, f.Overdue}
	page := QueuePage{At: at}

	b := &pgx.Batch{}
	pageArgs := append(append([]any{}, args...), limit+1, cur != nil, 0.0, uuid.Nil)
	if cur != nil {
		pageArgs[len(pageArgs)-2], pageArgs[len(pageArgs)-1] = cur.Priority, cur.ID
	}
	b.Queue(queueSQL+`
		SELECT id, kind, severity, cause, cause_title, action, confidence, code, message, channel, location, carrier,
			order_id, total, currency, tier, customer_name, promise_at_risk, risk, queued_at, due_at, escalation_level,
			claimed_by, claimed_until, priority
		FROM s`+queueWhere+` AND (NOT $13 OR (priority, id) < ($14, $15))
		ORDER BY priority DESC, id DESC LIMIT $12`, pageArgs...)
	b.Queue(queueSQL+`
		SELECT grouping(kind, cause, channel, location, carrier), coalesce(kind, ''), coalesce(cause, ''),
			coalesce(channel, ''), coalesce(location, ''), coalesce(carrier, ''), count(*)::int,
			count(*) FILTER (WHERE due_at < $1)::int, count(*) FILTER (WHERE claimed_by = $10 AND $10 <> '')::int
		FROM s`+queueWhere+`
		GROUP BY GROUPING SETS ((kind), (cause), (channel), (location), (carrier), ())
		ORDER BY 7 DESC, 2, 3, 4, 5, 6`, args...)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return QueuePage{}, err
	}
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueueItem, error) {
		var it QueueItem
		var level int
		err := r.Scan(&it.CaseID, &it.Kind, &it.Severity, &it.Cause, &it.CauseTitle, &it.Action, &it.Confidence, &it.Code,
			&it.Message, &it.Channel, &it.Location, &it.Carrier, &it.OrderID, &it.OrderValue, &it.Currency, &it.CustomerTier,
			&it.CustomerName, &it.PromiseAtRisk, &it.Risk, &it.QueuedAt, &it.DueAt, &level, &it.ClaimedBy, &it.ClaimedUntil,
			&it.Priority)
		it.Overdue, it.Escalated = it.DueAt.Before(at), level > 0
		return it, err
	})
	if err != nil {
		return QueuePage{}, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.Next = queueCursor{At: at, Priority: last.Priority, ID: last.CaseID}.String()
	}
	rows, err = br.Query()
	if err != nil {
		return QueuePage{}, err
	}
	for rows.Next() {
		var g, n, overdue, mine int
		var kind, cause, channel, location, carrier string
		if err := rows.Scan(&g, &kind, &cause, &channel, &location, &carrier, &n, &overdue, &mine); err != nil {
			rows.Close()
			return QueuePage{}, err
		}
		c := &page.Counts
		// grouping() has a bit per column, set for the columns not grouped.
		switch g {
		case 0b01111:
			c.Kind = append(c.Kind, Count{kind, n})
		case 0b10111:
			c.Cause = append(c.Cause, Count{cause, n})
		case 0b11011:
			c.Channel = append(c.Channel, Count{channel, n})
		case 0b11101:
			c.Location = append(c.Location, Count{location, n})
		case 0b11110:
			c.Carrier = append(c.Carrier, Count{carrier, n})
		case 0b11111:
			c.Total, c.Overdue, c.Mine = n, overdue, mine
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return QueuePage{}, err
	}
	return page, br.Close()
}

// slaTargets is the policy's first-response target per severity in
// minutes, as JSON for queueSQL. A case's SLA runs from when it was queued
// (triaged) to its first response, which a decision is.
func (s *Service) slaTargets() ([]byte, error) {
	t := s.policy().SLA.ReviewFirstResponseMinutes
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("sla targets: %w", err)
	}
	return b, nil
}

// NextInQueue is the id of the case after caseID in the queue as it stands
// now (the highest-priority waiting case other than caseID that reviewer
// can decide, that is, not claimed by another), for landing on the next
// case after a decision. It is false when the queue holds nothing else.
func (s *Service) NextInQueue(ctx context.Context, reviewer string, caseID uuid.UUID) (_ uuid.UUID, ok bool, err error) {
	defer derrors.Wrap(&err, "NextInQueue(%s)", caseID)
	targets, err := s.slaTargets()
	if err != nil {
		return uuid.Nil, false, err
	}
	var id uuid.UUID
	err = s.pool.QueryRow(ctx, queueSQL+`
		SELECT id FROM s WHERE id <> $3 AND (claimed_by = '' OR claimed_by = $4)
		ORDER BY priority DESC, id DESC LIMIT 1`, s.now(), targets, caseID, reviewer).Scan(&id)
	if isNoRows(err) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, err
	}
	return id, true, nil
}

// QueueNeighbours is the case before and after caseID in the queue's order now,
// for j/k on the case page; uuid.Nil where there is none.
func (s *Service) QueueNeighbours(ctx context.Context, caseID uuid.UUID) (prev, next uuid.UUID, err error) {
	defer derrors.Wrap(&err, "QueueNeighbours(%s)", caseID)
	targets, err := s.slaTargets()
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	var p, n *uuid.UUID
	err = s.pool.QueryRow(ctx, queueSQL+`, o AS (
			SELECT id, lag(id) OVER w AS prev, lead(id) OVER w AS next FROM s
			WINDOW w AS (ORDER BY priority DESC, id DESC))
		SELECT prev, next FROM o WHERE id = $3`, s.now(), targets, caseID).Scan(&p, &n)
	if isNoRows(err) {
		return uuid.Nil, uuid.Nil, nil // not in the queue (decided): no neighbours
	}
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	if p != nil {
		prev = *p
	}
	if n != nil {
		next = *n
	}
	return prev, next, nil
}
