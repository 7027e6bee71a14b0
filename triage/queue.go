package triage

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

// unfiltered is whether f selects every waiting case.
func (f QueueFilter) unfiltered() bool {
	return f.Kind == "" && f.Cause == "" && f.Channel == "" && f.Location == "" && f.Carrier == "" && f.MinAge == 0 &&
		!f.Mine && !f.Overdue
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
	// RankAt is the effective due time the queue is ordered by, earliest
	// first: DueAt brought forward by customer impact and risk (see
	// queueWhere's comment).
	RankAt time.Time
	// Priority is the case's priority points at the moment the page was
	// read: 50 × the share of its SLA used plus its impact and risk. Among
	// cases of one severity it orders as RankAt does.
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

// queueCursor is where a page of the queue ends: the moment the page's
// priorities and times left were computed at, and the last case's rank and
// id.
type queueCursor struct {
	At   time.Time
	Rank time.Time
	ID   uuid.UUID
}

func (c queueCursor) String() string {
	return strconv.FormatInt(c.At.UnixMicro(), 36) + "_" + strconv.FormatInt(c.Rank.UnixMicro(), 36) + "_" + c.ID.String()
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
	rank, err2 := strconv.ParseInt(parts[1], 36, 64)
	id, err3 := uuid.Parse(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return bad()
	}
	return queueCursor{At: time.UnixMicro(at).UTC(), Rank: time.UnixMicro(rank).UTC(), ID: id}, nil
}

// The queue reads review_queue, the narrow table the database keeps with
// one row per case waiting for a person (migration 00035 has the trigger
// and the priority's terms). Its rank_at is the case's effective due time:
// the SLA due time brought forward by customer impact and risk, one
// priority point being 2% of the case's SLA target. It does not move with
// the clock, so the queue's order is an index scan and a page continues
// from its cursor's (rank_at, id).
//
// A case's priority points at a moment are 50 + 50 × (now − rank_at) /
// target, which add:
//   - urgency: 50 × the share of the SLA used (50 at the due time);
//   - customer impact, 0–45: order value (one point per 100, at most 20),
//     tier (vip 15, gold 8, silver 4) and a promise due within a day of
//     the SLA due time (10);
//   - risk, 0–15: 15 × the larger of the stockout and delivery risk;
//   - escalation: 25 per escalation by the SLA job.
//
// The terms are taken when the case enters the queue and again whenever
// its severity, cause, risks, order or escalation change.

// queueWhere is the filter over review_queue q: $1 is the moment, $2.. are
// QueueFilter's fields.
const queueWhere = `
	($2 = '' OR q.kind = $2) AND ($3 = '' OR q.cause = $3) AND ($4 = '' OR q.channel = $4)
	AND ($5 = '' OR q.location = $5) AND ($6 = '' OR q.carrier = $6)
	AND ($7::bigint = 0 OR q.queued_at <= $1::timestamptz - make_interval(secs => $7::bigint))
	AND (NOT $8 OR q.case_id IN (` + claimedBySQL + `)) AND (NOT $10 OR q.due_at < $1)`

// claimedBySQL is the cases $9 holds a live claim on at $1.
const claimedBySQL = `SELECT m.id FROM cases m WHERE m.status = 'queued_for_review' AND m.claimed_by = $9
	AND m.claimed_by <> '' AND m.claimed_until > $1`

// queueItemSQL reads what the queue shows of the review_queue rows q, at
// the moment $1.
const queueItemSQL = `
	SELECT q.case_id, q.kind, q.severity, q.cause, coalesce(k.title, ''), coalesce(c.action, ''), c.confidence,
		e.code, e.message, q.channel, q.location, q.carrier, c.order_id, coalesce(o.total, 0)::float8,
		coalesce(o.currency, ''), coalesce(o.customer_tier, ''), coalesce(o.customer_name, ''),
		coalesce(o.promised_by < $1::timestamptz + interval '1 day', false),
		greatest(coalesce((c.risks->'stockout'->>'probability')::float8, 0),
			coalesce((c.risks->'delivery'->>'probability')::float8, 0)),
		q.queued_at, q.due_at, q.escalation_level,
		CASE WHEN c.claimed_until > $1 THEN c.claimed_by ELSE '' END,
		CASE WHEN c.claimed_until > $1 THEN c.claimed_until END, q.rank_at, q.target_min
	FROM q JOIN cases c ON c.id = q.case_id
	JOIN core_exceptions e ON e.id = c.exception_id
	LEFT JOIN causes k ON k.code = q.cause
	LEFT JOIN core_order_summaries o ON o.id = c.order_id
	ORDER BY q.rank_at, q.case_id`

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
	if err := s.syncQueueTargets(ctx); err != nil {
		return QueuePage{}, err
	}
	args := []any{at, f.Kind, f.Cause, f.Channel, f.Location, f.Carrier, int64(f.MinAge / time.Second),
		f.Mine, f.Reviewer, f.Overdue}
	page := QueuePage{At: at}

	b := &pgx.Batch{}
	pageArgs := append(append([]any{}, args...), limit+1, cur != nil, at, uuid.Nil)
	if cur != nil {
		pageArgs[len(pageArgs)-2], pageArgs[len(pageArgs)-1] = cur.Rank, cur.ID
	}
	b.Queue(`WITH q AS (
		SELECT * FROM review_queue q WHERE`+queueWhere+` AND (NOT $12 OR (q.rank_at, q.case_id) > ($13, $14))
		ORDER BY q.rank_at, q.case_id LIMIT $11)`+queueItemSQL, pageArgs...)
	if f.unfiltered() {
		// The counters the database keeps, and the two counts that move
		// with the clock or the claims, each through an index.
		b.Queue(`
			SELECT dim, value, n::int FROM review_queue_counts WHERE n > 0
			UNION ALL SELECT 'overdue', '', count(*)::int FROM review_queue q WHERE q.due_at < $1
			UNION ALL SELECT 'mine', '', count(*)::int FROM cases m
				WHERE m.status = 'queued_for_review' AND m.claimed_by = $2 AND m.claimed_by <> '' AND m.claimed_until > $1`,
			at, f.Reviewer)
	} else {
		b.Queue(`
			SELECT CASE grouping(kind, cause, channel, location, carrier) WHEN 15 THEN 'kind' WHEN 23 THEN 'cause'
				WHEN 27 THEN 'channel' WHEN 29 THEN 'location' WHEN 30 THEN 'carrier' ELSE 'total' END,
				coalesce(kind, cause, channel, location, carrier, ''), count(*)::int
			FROM review_queue q WHERE`+queueWhere+`
			GROUP BY GROUPING SETS ((kind), (cause), (channel), (location), (carrier), ())
			UNION ALL SELECT 'overdue', '', count(*)::int FROM review_queue q WHERE`+queueWhere+` AND q.due_at < $1
			UNION ALL SELECT 'mine', '', count(*)::int FROM review_queue q
				WHERE`+queueWhere+` AND q.case_id IN (`+claimedBySQL+`)`, args...)
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return QueuePage{}, err
	}
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueueItem, error) {
		return scanQueueItem(r, at)
	})
	if err != nil {
		return QueuePage{}, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.Next = queueCursor{At: at, Rank: last.RankAt, ID: last.CaseID}.String()
	}
	rows, err = br.Query()
	if err != nil {
		return QueuePage{}, err
	}
	c := &page.Counts
	for rows.Next() {
		var dim, value string
		var n int
		if err := rows.Scan(&dim, &value, &n); err != nil {
			rows.Close()
			return QueuePage{}, err
		}
		switch dim {
		case "kind":
			c.Kind = append(c.Kind, Count{value, n})
			if f.unfiltered() {
				c.Total += n
			}
		case "cause":
			c.Cause = append(c.Cause, Count{value, n})
		case "channel":
			c.Channel = append(c.Channel, Count{value, n})
		case "location":
			c.Location = append(c.Location, Count{value, n})
		case "carrier":
			c.Carrier = append(c.Carrier, Count{value, n})
		case "total":
			c.Total = n
		case "overdue":
			c.Overdue = n
		case "mine":
			c.Mine = n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return QueuePage{}, err
	}
	for _, cs := range [][]Count{c.Kind, c.Cause, c.Channel, c.Location, c.Carrier} {
		slices.SortFunc(cs, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Value, b.Value)) })
	}
	return page, br.Close()
}

// scanQueueItem reads a row of queueItemSQL with its priority at at.
func scanQueueItem(r pgx.Row, at time.Time) (QueueItem, error) {
	var it QueueItem
	var level, target int
	err := r.Scan(&it.CaseID, &it.Kind, &it.Severity, &it.Cause, &it.CauseTitle, &it.Action, &it.Confidence, &it.Code,
		&it.Message, &it.Channel, &it.Location, &it.Carrier, &it.OrderID, &it.OrderValue, &it.Currency, &it.CustomerTier,
		&it.CustomerName, &it.PromiseAtRisk, &it.Risk, &it.QueuedAt, &it.DueAt, &level, &it.ClaimedBy, &it.ClaimedUntil,
		&it.RankAt, &target)
	it.Overdue, it.Escalated = it.DueAt.Before(at), level > 0
	if target > 0 {
		it.Priority = 50 + 50*at.Sub(it.RankAt).Minutes()/float64(target)
	}
	return it, err
}

// syncQueueTargets writes the policy's first-response targets (minutes by
// severity, rules' SLA section) to review_sla_targets, where the queue's
// trigger reads them, and re-ranks every waiting case when they differ from
// what is there. A case's SLA runs from when it was queued (triaged) to its
// first response, which a decision is. It asks the database once per
// policy the service sees.
func (s *Service) syncQueueTargets(ctx context.Context) error {
	b, err := json.Marshal(s.policy().SLA.ReviewFirstResponseMinutes)
	if err != nil {
		return fmt.Errorf("sla targets: %w", err)
	}
	key := string(b)
	if p := s.queueTargets.Load(); p != nil && *p == key {
		return nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var differ bool
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM (SELECT key AS severity, value::int AS minutes FROM jsonb_each_text($1)) w
				FULL JOIN review_sla_targets t USING (severity) WHERE w.minutes IS DISTINCT FROM t.minutes)`, b).Scan(&differ)
		if err != nil || !differ {
			return err
		}
		_, err = tx.Exec(ctx, `
			WITH d AS (DELETE FROM review_sla_targets)
			INSERT INTO review_sla_targets (severity, minutes) SELECT key, value::int FROM jsonb_each_text($1)`, b)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE review_queue q SET target_min = r.target_min, score = r.score, due_at = r.due_at, rank_at = r.rank_at
			FROM (SELECT (review_queue_row(c)).* FROM cases c JOIN review_queue x ON x.case_id = c.id) r
			WHERE q.case_id = r.case_id`)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing the sla targets: %w", err)
	}
	s.queueTargets.Store(&key)
	return nil
}

// NextInQueue is the id of the case after caseID in the queue as it stands
// now (the highest-priority waiting case other than caseID that reviewer
// can decide, that is, not claimed by another), for landing on the next
// case after a decision. It is false when the queue holds nothing else.
func (s *Service) NextInQueue(ctx context.Context, reviewer string, caseID uuid.UUID) (_ uuid.UUID, ok bool, err error) {
	defer derrors.Wrap(&err, "NextInQueue(%s)", caseID)
	if err := s.syncQueueTargets(ctx); err != nil {
		return uuid.Nil, false, err
	}
	var id uuid.UUID
	err = s.pool.QueryRow(ctx, `
		SELECT q.case_id FROM review_queue q JOIN cases c ON c.id = q.case_id
		WHERE q.case_id <> $2 AND (c.claimed_by = '' OR c.claimed_by = $3 OR NOT coalesce(c.claimed_until > $1, false))
		ORDER BY q.rank_at, q.case_id LIMIT 1`, s.now(), caseID, reviewer).Scan(&id)
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
	if err := s.syncQueueTargets(ctx); err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	var p, n *uuid.UUID
	err = s.pool.QueryRow(ctx, `
		SELECT (SELECT b.case_id FROM review_queue b WHERE (b.rank_at, b.case_id) < (q.rank_at, q.case_id)
				ORDER BY b.rank_at DESC, b.case_id DESC LIMIT 1),
			(SELECT a.case_id FROM review_queue a WHERE (a.rank_at, a.case_id) > (q.rank_at, q.case_id)
				ORDER BY a.rank_at, a.case_id LIMIT 1)
		FROM review_queue q WHERE q.case_id = $1`, caseID).Scan(&p, &n)
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
