package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/idempotency"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// RecommendContext is what a reporter may tell triage about an order that
// omnitriage does not hold (or more than it holds): it feeds the risks
// and the policy's guards.
type RecommendContext struct {
	OrderValue        *float64   `json:"order_value,omitempty"`
	Currency          string     `json:"currency,omitempty"`
	CustomerTier      string     `json:"customer_tier,omitempty"`
	Channel           string     `json:"channel,omitempty"`
	ServiceLevel      string     `json:"service_level,omitempty"`
	PromisedBy        *time.Time `json:"promised_by,omitempty"`
	EstimatedDelivery *time.Time `json:"estimated_delivery,omitempty"`
	FraudScore        *float64   `json:"fraud_score,omitempty"`
	RefundAmount      *float64   `json:"refund_amount,omitempty"`
}

// validate adds c's bad fields to v under prefix.
func (c RecommendContext) validate(v *derrors.ValidationError, prefix string) {
	amount := func(name string, x *float64) {
		if x != nil && (math.IsNaN(*x) || *x < 0 || *x > 1e9) {
			v.Add(prefix+name, "want a non-negative amount")
		}
	}
	for name, t := range map[string]*time.Time{"promised_by": c.PromisedBy, "estimated_delivery": c.EstimatedDelivery} {
		if t != nil && !orchestration.PlausibleTime(*t) {
			v.Add(prefix+name, "want a date-time from 2000 to 2100, like 2026-12-24T18:00:00Z")
		}
	}
	amount("order_value", c.OrderValue)
	amount("refund_amount", c.RefundAmount)
	if c.FraudScore != nil && !(*c.FraudScore >= 0 && *c.FraudScore <= 1) {
		v.Add(prefix+"fraud_score", "want a score from 0 to 1")
	}
	if c.Currency != "" && (len(c.Currency) != 3 || strings.ToUpper(c.Currency) != c.Currency) {
		v.Add(prefix+"currency", "want an ISO 4217 code such as EUR")
	}
	if c.ServiceLevel != "" && !slices.Contains(rules.ServiceLevels(), c.ServiceLevel) {
		v.Add(prefix+"service_level", "want one of %s", strings.Join(rules.ServiceLevels(), ", "))
	}
	if len(c.CustomerTier) > 32 {
		v.Add(prefix+"customer_tier", "at most 32 bytes")
	}
	if len(c.Channel) > 64 {
		v.Add(prefix+"channel", "at most 64 bytes")
	}
}

// prepareException validates an exception reported from outside and fills
// in what the reporter may leave out. Fields only omnitriage sets (status,
// created_at) are ignored.
func (s *Service) prepareException(e *orchestration.Exception, actor string) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if e.ID == uuid.Nil {
		e.ID = uuid.New()
	}
	if e.Source == "" {
		e.Source = actor
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = s.now()
	}
	if len(e.Payload) == 0 {
		e.Payload = json.RawMessage(`{}`)
	}
	if e.LineIDs == nil {
		e.LineIDs = []uuid.UUID{}
	}
	e.Status = "open"
	return nil
}

// sameException reports whether a stored exception is the one reported
// again under its id.
func sameException(stored, e orchestration.Exception) bool {
	return stored.Kind == e.Kind && stored.Message == e.Message && stored.Code == e.Code &&
		(stored.OrderID == nil) == (e.OrderID == nil) && (stored.OrderID == nil || *stored.OrderID == *e.OrderID)
}

// RecommendRequest is the body of POST /v1/recommendations: an exception
// request, as POST /v1/exceptions takes it, and the mode.
type RecommendRequest struct {
	ExceptionRequest
	// Mode is create (the default: the exception and its case are stored,
	// and the fix may be applied) or dry_run (the answer only: nothing is
	// stored or applied).
	Mode string `json:"mode,omitempty"`
}

// Recommendation is the answer to an orchestrator: the cause, the risks,
// the fix and whether it was applied.
type Recommendation struct {
	CaseID      uuid.UUID `json:"case_id"`
	CaseURL     string    `json:"case_url"`
	ExceptionID uuid.UUID `json:"exception_id"`
	// Decision is auto_applied, queued_for_review or no_action (or open
	// when triage could not run yet and will be retried).
	Decision       string         `json:"decision"`
	Reason         string         `json:"reason"`
	Cause          string         `json:"cause,omitempty"`
	CauseTitle     string         `json:"cause_title,omitempty"`
	Confidence     float64        `json:"confidence"`
	Risks          Risks          `json:"risks"`
	Action         string         `json:"action,omitempty"`
	Params         map[string]any `json:"params,omitempty"`
	ExpectedEffect string         `json:"expected_effect,omitempty"`
	Alternatives   []Candidate    `json:"alternatives"`
	Result         *Result        `json:"result,omitempty"`
	Versions       Versions       `json:"versions"`
	// Mode is dry_run for a dry run, whose decision is dry_run, whose
	// WouldDecide is what a real request would have decided, and whose
	// case_id is the nil UUID: no case exists.
	Mode        string `json:"mode,omitempty"`
	WouldDecide string `json:"would_decide,omitempty"`
	// Occurrences counts the reports of the case's problem when this one
	// was a repeat answered with the open case of the first.
	Occurrences int `json:"occurrences,omitempty"`
}

// recommendationOf is the orchestrator's view of a case.
func recommendationOf(c Case) Recommendation {
	r := Recommendation{CaseID: c.ID, CaseURL: c.URL, ExceptionID: c.ExceptionID, Decision: c.Status, Reason: c.Reason,
		Cause: c.Cause, CauseTitle: c.CauseTitle, Risks: c.Risks, Action: c.Action, Params: c.Params,
		ExpectedEffect: c.ExpectedEffect, Alternatives: c.Alternatives, Result: c.Result, Versions: c.Versions}
	if c.Confidence != nil {
		r.Confidence = *c.Confidence
	}
	return r
}

// Idempotency is a client's retry key, scoped to the caller and route.
type Idempotency = idempotency.Key

// RecommendResult is the answer to Recommend: the exact bytes first
// answered for the idempotency key, and whether this is a replay.
type RecommendResult struct {
	Recommendation Recommendation
	Response       json.RawMessage
	Replayed       bool
}

// Recommend runs triage synchronously for an orchestrator: it stores the
// exception, its case and its triage in one transaction and answers with
// the recommendation. With an idempotency key, a retry with the same body
// returns the first answer byte for byte (also when both calls arrive at
// once), and the same key with another body is a conflict.
func (s *Service) Recommend(ctx context.Context, actor string, idem *Idempotency, req RecommendRequest) (_ RecommendResult, err error) {
	defer derrors.Wrap(&err, "Recommend(%s)", req.Exception.Kind)
	v := &derrors.ValidationError{}
	req.ExceptionRequest.validate(v, false)
	if req.Mode != "" && req.Mode != ModeCreate && req.Mode != ModeDryRun {
		v.Add("mode", "want %s or %s", ModeCreate, ModeDryRun)
	}
	if err := v.Err(); err != nil {
		return RecommendResult{}, err
	}
	if req.Mode == ModeDryRun {
		// No idempotency key is read or stored: a dry run has no effect
		// to repeat.
		e := req.Exception
		if err := s.prepareException(&e, actor); err != nil {
			return RecommendResult{}, err
		}
		var extra RecommendContext
		if req.Context != nil {
			extra = *req.Context
		}
		return s.dryRun(ctx, e, extra)
	}
	if idem != nil {
		if res, ok, err := s.replayRecommendation(ctx, idem); ok || err != nil {
			return res, err
		}
	}
	e := req.Exception
	if err := s.prepareException(&e, actor); err != nil {
		return RecommendResult{}, err
	}
	var extra RecommendContext
	if req.Context != nil {
		extra = *req.Context
	}
	// A repeated report of a problem whose case is open is answered with
	// that case, without triaging it again.
	key := dedupeKey(e)
	var res RecommendResult
	if _, ok, err := s.openDuplicate(ctx, s.pool, key); err != nil {
		return RecommendResult{}, err
	} else if ok {
		var found bool
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := lockDedupe(ctx, tx, key); err != nil {
				return err
			}
			id, ok, err := s.openDuplicate(ctx, tx, key)
			if err != nil || !ok {
				return err
			}
			found = true
			res, err = s.answerDuplicate(ctx, tx, id, e, actor, idem)
			return err
		})
		switch {
		case errors.Is(err, errLostRace):
			res, _, err := s.replayRecommendation(ctx, idem)
			return res, err
		case err != nil:
			return RecommendResult{}, err
		case found:
			return res, nil
		}
	}
	out, evalErr := s.evaluate(ctx, e, extra)
	var caseID uuid.UUID
	dup := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (txErr error) {
		if err := lockDedupe(ctx, tx, key); err != nil {
			return err
		}
		if id, ok, err := s.openDuplicate(ctx, tx, key); err != nil {
			return err
		} else if ok {
			dup = true
			res, err = s.answerDuplicate(ctx, tx, id, e, actor, idem)
			return err
		}
		// The new case carries the problem's key for the next report.
		defer func() {
			if txErr == nil {
				_, txErr = tx.Exec(ctx, `UPDATE cases SET dedupe_key = $1 WHERE exception_id = $2`, key, e.ID)
			}
		}()
		if evalErr == nil && out.status != StatusAutoApplied {
			rec, body, created, err := s.insertTriaged(ctx, tx, e, extra, idem, out)
			if err != nil || created {
				res.Recommendation, res.Response = rec, body
				return err
			}
			// The exception's id is stored already: admit compares the
			// two and answers with the stored case.
		}
		_, c, _, err := s.admit(ctx, tx, e, extra, idem, okOutcome(out, evalErr))
		if err != nil || evalErr != nil {
			caseID = c.ID
			return err
		}
		res.Recommendation = recommendationOf(c)
		if res.Response, err = json.Marshal(res.Recommendation); err != nil {
			return err
		}
		if idem != nil {
			_, err = idempotency.Answer(ctx, tx, idem, http.StatusOK, res.Response)
		}
		return err
	})
	switch {
	case errors.Is(err, errLostRace):
		res, _, err := s.replayRecommendation(ctx, idem)
		return res, err
	case err != nil:
		return RecommendResult{}, err
	case dup:
		return res, nil
	case evalErr != nil:
		s.recordFailure(ctx, caseID, evalErr)
		return RecommendResult{}, fmt.Errorf("triage failed; the case stays open and is retried in the background, and a retry of this request returns it: %w",
			orUnavailable(evalErr))
	}
	return res, nil
}

// errLostRace rolls back a transaction that found its idempotency key taken.
var errLostRace = errors.New("idempotency key taken by a concurrent request")

// replayRecommendation answers a key seen before: the stored bytes, or the
// case's recommendation when the first call has not stored them (it failed
// or is still triaging, in which case Intake waits for it).
func (s *Service) replayRecommendation(ctx context.Context, idem *Idempotency) (RecommendResult, bool, error) {
	stored, found, err := idempotency.Lookup(ctx, s.pool, idem)
	if err != nil || !found {
		return RecommendResult{}, false, err
	}
	if stored.Response != nil {
		var r Recommendation
		if err := json.Unmarshal(stored.Response, &r); err != nil {
			return RecommendResult{}, false, fmt.Errorf("stored recommendation: %w", err)
		}
		return RecommendResult{Recommendation: r, Response: stored.Response, Replayed: true}, true, nil
	}
	res, err := s.answer(ctx, idem, stored.ResourceID, true)
	return res, true, err
}

// answer triages the exception (a no-op when done already) and, with a
// key, stores the answer's bytes once, so every replay gets the same.
func (s *Service) answer(ctx context.Context, idem *Idempotency, excID uuid.UUID, replayed bool) (RecommendResult, error) {
	c, err := s.Intake(ctx, excID)
	if err != nil {
		return RecommendResult{}, fmt.Errorf("triage failed; the case stays open and is retried in the background, and a retry of this request returns it: %w",
			orUnavailable(err))
	}
	rec := recommendationOf(c)
	body, err := json.Marshal(rec)
	if err != nil {
		return RecommendResult{}, err
	}
	if idem == nil {
		return RecommendResult{Recommendation: rec, Response: body, Replayed: replayed}, nil
	}
	stored, err := idempotency.Answer(ctx, s.pool, idem, http.StatusOK, body)
	if err != nil {
		return RecommendResult{}, err
	}
	if !bytes.Equal(stored, body) {
		if err := json.Unmarshal(stored, &rec); err != nil {
			return RecommendResult{}, err
		}
	}
	return RecommendResult{Recommendation: rec, Response: stored, Replayed: replayed}, nil
}

// orUnavailable marks an error without a kind as Unavailable: the caller
// may retry.
func orUnavailable(err error) error {
	for _, k := range []error{derrors.Invalid, derrors.NotFound, derrors.Conflict, derrors.Unavailable} {
		if errors.Is(err, k) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", err, derrors.Unavailable)
}
