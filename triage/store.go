package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
)

// Case statuses.
const (
	// StatusOpen: the case waits for triage.
	StatusOpen = "open"
	// StatusAutoApplied: the fix was applied without a person.
	StatusAutoApplied = "auto_applied"
	// StatusQueued: the case waits for a person.
	StatusQueued = "queued_for_review"
	// StatusDecided: a person decided.
	StatusDecided = "decided"
	// StatusNoAction: nothing needs doing.
	StatusNoAction = "no_action"
)

// CaseStatuses lists the case statuses.
func CaseStatuses() []string {
	return []string{StatusOpen, StatusAutoApplied, StatusQueued, StatusDecided, StatusNoAction}
}

// Versions are the versions of everything a case's recommendation came
// from, so it can be explained and replayed.
type Versions struct {
	Embedding  string `json:"embedding"`
	Classifier string `json:"classifier"`
	Stockout   string `json:"stockout"`
	Delivery   string `json:"delivery"`
	Policy     string `json:"policy"`
}

// CaseDecision is what a person decided on a case.
type CaseDecision struct {
	Decision string         `json:"decision"`
	Action   string         `json:"action,omitempty"`
	Params   map[string]any `json:"params,omitempty"`
	Note     string         `json:"note,omitempty"`
	By       string         `json:"by"`
	At       time.Time      `json:"at"`
}

// Case is one exception's triage: the cause, the risks, the recommended fix
// with its alternatives, whether it was applied, and why.
type Case struct {
	ID             uuid.UUID      `json:"id"`
	URL            string         `json:"url"`
	ExceptionID    uuid.UUID      `json:"exception_id"`
	Status         string         `json:"status"`
	Kind           string         `json:"kind"`
	Severity       string         `json:"severity"`
	OrderID        *uuid.UUID     `json:"order_id,omitempty"`
	Cause          string         `json:"cause,omitempty"`
	CauseTitle     string         `json:"cause_title,omitempty"`
	Confidence     *float64       `json:"confidence,omitempty"`
	RawScore       *float64       `json:"raw_score,omitempty"`
	Risks          Risks          `json:"risks"`
	Action         string         `json:"action,omitempty"`
	Params         map[string]any `json:"params,omitempty"`
	ExpectedEffect string         `json:"expected_effect,omitempty"`
	Alternatives   []Candidate    `json:"alternatives"`
	// Reason says why the fix was or was not applied automatically.
	Reason string `json:"reason,omitempty"`
	// Inputs are what the decision saw: the text embedded, the policy's
	// input, the search and what could not be loaded.
	Inputs     json.RawMessage `json:"inputs,omitempty"`
	Neighbours []Neighbour     `json:"neighbours"`
	Versions   Versions        `json:"versions"`
	Result     *Result         `json:"result,omitempty"`
	Decision   *CaseDecision   `json:"decision,omitempty"`
	Attempts   int             `json:"attempts,omitempty"`
	LastError  string          `json:"last_error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	TriagedAt  *time.Time      `json:"triaged_at,omitempty"`

	context RecommendContext
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

const caseCols = `c.id, c.exception_id, c.status, c.kind, c.severity, c.order_id, c.context, coalesce(c.cause, ''),
	coalesce(k.title, ''), c.confidence, c.raw_score, c.risks, coalesce(c.action, ''), c.params, c.expected_effect,
	c.alternatives, c.reason, c.inputs, c.neighbours, c.embedding_model, c.classifier_version, c.risk_versions,
	c.policy_version, c.result, c.decision, c.decided_action, c.decided_params, c.decision_note, c.decided_by,
	c.decided_at, c.attempts, c.last_error, c.created_at, c.triaged_at`

const caseFrom = ` FROM cases c LEFT JOIN causes k ON k.code = c.cause `

// scanCase reads one row of caseCols.
func (s *Service) scanCase(r pgx.Row) (Case, error) {
	var c Case
	var rv map[string]string
	var inputs []byte
	var decision, decAction *string
	var decParams map[string]any
	var decidedAt *time.Time
	var decidedBy, note string
	err := r.Scan(&c.ID, &c.ExceptionID, &c.Status, &c.Kind, &c.Severity, &c.OrderID, &c.context, &c.Cause,
		&c.CauseTitle, &c.Confidence, &c.RawScore, &c.Risks, &c.Action, &c.Params, &c.ExpectedEffect,
		&c.Alternatives, &c.Reason, &inputs, &c.Neighbours, &c.Versions.Embedding, &c.Versions.Classifier, &rv,
		&c.Versions.Policy, &c.Result, &decision, &decAction, &decParams, &note, &decidedBy,
		&decidedAt, &c.Attempts, &c.LastError, &c.CreatedAt, &c.TriagedAt)
	if err != nil {
		return Case{}, err
	}
	c.URL = s.CaseURL(c.ID)
	c.Versions.Stockout, c.Versions.Delivery = rv["stockout"], rv["delivery"]
	if len(inputs) > 2 {
		c.Inputs = inputs
	}
	if decision != nil {
		d := &CaseDecision{Decision: *decision, Params: decParams, Note: note, By: decidedBy}
		if decAction != nil {
			d.Action = *decAction
		}
		if decidedAt != nil {
			d.At = *decidedAt
		}
		c.Decision = d
	}
	if c.Alternatives == nil {
		c.Alternatives = []Candidate{}
	}
	if c.Neighbours == nil {
		c.Neighbours = []Neighbour{}
	}
	return c, nil
}

// caseWhere reads the case matching cond (on the alias c), locking it when
// lock is set.
func (s *Service) caseWhere(ctx context.Context, q querier, cond string, arg any, lock bool) (Case, error) {
	sql := `SELECT ` + caseCols + caseFrom + ` WHERE ` + cond
	if lock {
		sql += ` FOR UPDATE OF c`
	}
	c, err := s.scanCase(q.QueryRow(ctx, sql, arg))
	if isNoRows(err) {
		return Case{}, fmt.Errorf("no case for %v: %w", arg, derrors.NotFound)
	}
	return c, err
}

// GetCase returns a case by id.
func (s *Service) GetCase(ctx context.Context, id uuid.UUID) (_ Case, err error) {
	defer derrors.Wrap(&err, "GetCase(%s)", id)
	return s.caseWhere(ctx, s.pool, `c.id = $1`, id, false)
}

// CaseOfException returns the case of an exception.
func (s *Service) CaseOfException(ctx context.Context, exceptionID uuid.UUID) (_ Case, err error) {
	defer derrors.Wrap(&err, "CaseOfException(%s)", exceptionID)
	return s.caseWhere(ctx, s.pool, `c.exception_id = $1`, exceptionID, false)
}

// CaseFilter selects cases for ListCases.
type CaseFilter struct {
	Status string
	// Limit is the page size; 0 means 50.
	Limit int
	// After is the last case of the previous page.
	After *uuid.UUID
}

// ListCases returns cases newest first, a page at a time, and the cursor
// of the next page (nil on the last).
func (s *Service) ListCases(ctx context.Context, f CaseFilter) (_ []Case, next *uuid.UUID, err error) {
	defer derrors.Wrap(&err, "ListCases(%+v)", f)
	limit := pageLimit(f.Limit)
	rows, err := s.pool.Query(ctx, `SELECT `+caseCols+caseFrom+`
		WHERE ($1 = '' OR c.status = $1)
			AND ($2::uuid IS NULL OR (c.created_at, c.id) < (SELECT created_at, id FROM cases WHERE id = $2))
		ORDER BY c.created_at DESC, c.id DESC LIMIT $3`, f.Status, f.After, limit+1)
	if err != nil {
		return nil, nil, err
	}
	cases, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Case, error) { return s.scanCase(r) })
	if err != nil {
		return nil, nil, err
	}
	if len(cases) > limit {
		cases = cases[:limit]
		id := cases[limit-1].ID
		next = &id
	}
	return cases, next, nil
}

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}

// insertOpenCase creates exc's case, waiting for triage, unless it has
// one. It returns whether it created it.
func insertOpenCase(ctx context.Context, q querier, exc orchestration.Exception, extra RecommendContext) (bool, error) {
	tag, err := q.Exec(ctx, `
		INSERT INTO cases (exception_id, kind, severity, order_id, context) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (exception_id) DO NOTHING`, exc.ID, exc.Kind, exc.Severity, exc.OrderID, extra)
	if err != nil {
		return false, derrors.Frame(err, "insertOpenCase(%s)", exc.ID)
	}
	return tag.RowsAffected() == 1, nil
}

const exceptionCols = `id, kind, severity, status, source, order_id, line_ids, sku, location, carrier, endpoint, code,
	message, payload, occurred_at, created_at`

func scanException(r pgx.Row) (orchestration.Exception, error) {
	var e orchestration.Exception
	var payload []byte
	err := r.Scan(&e.ID, &e.Kind, &e.Severity, &e.Status, &e.Source, &e.OrderID, &e.LineIDs, &e.SKU, &e.Location,
		&e.Carrier, &e.Endpoint, &e.Code, &e.Message, &payload, &e.OccurredAt, &e.CreatedAt)
	if len(payload) > 0 && string(payload) != "{}" {
		e.Payload = payload
	}
	if len(e.LineIDs) == 0 {
		e.LineIDs = nil
	}
	return e, err
}

// loadException reads an exception.
func loadException(ctx context.Context, q querier, id uuid.UUID) (orchestration.Exception, error) {
	e, err := scanException(q.QueryRow(ctx, `SELECT `+exceptionCols+` FROM core_exceptions WHERE id = $1`, id))
	if isNoRows(err) {
		return e, fmt.Errorf("no exception %s: %w", id, derrors.NotFound)
	}
	return e, err
}

// ExceptionFilter selects exceptions for ListExceptions.
type ExceptionFilter struct {
	Kind    string
	Status  string
	OrderID *uuid.UUID
	Limit   int
	After   *uuid.UUID
}

// ExceptionItem is an exception with the state of its case.
type ExceptionItem struct {
	orchestration.Exception
	CaseID     *uuid.UUID `json:"case_id,omitempty"`
	CaseStatus string     `json:"case_status,omitempty"`
}

// ListExceptions returns exceptions newest first, a page at a time, and
// the cursor of the next page (nil on the last).
func (s *Service) ListExceptions(ctx context.Context, f ExceptionFilter) (_ []ExceptionItem, next *uuid.UUID, err error) {
	defer derrors.Wrap(&err, "ListExceptions(%+v)", f)
	limit := pageLimit(f.Limit)
	rows, err := s.pool.Query(ctx, `
		SELECT e.id, e.kind, e.severity, e.status, e.source, e.order_id, e.line_ids, e.sku, e.location, e.carrier,
			e.endpoint, e.code, e.message, e.payload, e.occurred_at, e.created_at, c.id, coalesce(c.status, '')
		FROM core_exceptions e LEFT JOIN cases c ON c.exception_id = e.id
		WHERE ($1 = '' OR e.kind = $1) AND ($2 = '' OR e.status = $2) AND ($3::uuid IS NULL OR e.order_id = $3)
			AND ($4::uuid IS NULL OR (e.created_at, e.id) < (SELECT created_at, id FROM core_exceptions WHERE id = $4))
		ORDER BY e.created_at DESC, e.id DESC LIMIT $5`, f.Kind, f.Status, f.OrderID, f.After, limit+1)
	if err != nil {
		return nil, nil, err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExceptionItem, error) {
		var it ExceptionItem
		var payload []byte
		e := &it.Exception
		err := r.Scan(&e.ID, &e.Kind, &e.Severity, &e.Status, &e.Source, &e.OrderID, &e.LineIDs, &e.SKU, &e.Location,
			&e.Carrier, &e.Endpoint, &e.Code, &e.Message, &payload, &e.OccurredAt, &e.CreatedAt, &it.CaseID, &it.CaseStatus)
		if len(payload) > 0 && string(payload) != "{}" {
			e.Payload = payload
		}
		return it, err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(items) > limit {
		items = items[:limit]
		id := items[limit-1].ID
		next = &id
	}
	return items, next, nil
}

// causeByCode returns an active cause, loading the library on first use.
func (s *Service) causeByCode(ctx context.Context, code string) (Cause, bool, error) {
	s.mu.RLock()
	causes := s.causes
	s.mu.RUnlock()
	if causes == nil {
		rows, err := s.pool.Query(ctx, `SELECT code, kind, title, description, default_action, actions, params FROM causes WHERE active`)
		if err != nil {
			return Cause{}, false, fmt.Errorf("loading causes: %w", err)
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Cause, error) {
			var c Cause
			err := r.Scan(&c.Code, &c.Kind, &c.Title, &c.Description, &c.DefaultAction, &c.Actions, &c.Params)
			return c, err
		})
		if err != nil {
			return Cause{}, false, fmt.Errorf("loading causes: %w", err)
		}
		causes = make(map[string]Cause, len(list))
		for _, c := range list {
			causes[c.Code] = c
		}
		s.mu.Lock()
		s.causes = causes
		s.mu.Unlock()
	}
	c, ok := causes[code]
	return c, ok, nil
}

// Causes lists the active causes by kind and code.
func (s *Service) Causes(ctx context.Context) (_ []Cause, err error) {
	defer derrors.Wrap(&err, "Causes")
	rows, err := s.pool.Query(ctx, `SELECT code, kind, title, description, default_action, actions, params FROM causes
		WHERE active ORDER BY kind, code`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Cause, error) {
		var c Cause
		err := r.Scan(&c.Code, &c.Kind, &c.Title, &c.Description, &c.DefaultAction, &c.Actions, &c.Params)
		return c, err
	})
}
