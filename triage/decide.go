package triage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// Decisions a person can take on a case.
const (
	// DecisionApprove applies the recommended fix as it is.
	DecisionApprove = "approve"
	// DecisionModify applies another fix, or the same with other parameters.
	DecisionModify = "modify"
	// DecisionReject applies nothing.
	DecisionReject = "reject"
)

// DecisionRequest is a person's decision on a case.
type DecisionRequest struct {
	Decision string `json:"decision"`
	// Action and Params are the fix to apply instead, for modify.
	Action string         `json:"action,omitempty"`
	Params map[string]any `json:"params,omitempty"`
	// Cause corrects the classified cause; the labelled example the
	// decision adds gets this cause.
	Cause string `json:"cause,omitempty"`
	Note  string `json:"note"`
}

// Validate names each bad field.
func (r DecisionRequest) Validate() error {
	v := &derrors.ValidationError{}
	switch r.Decision {
	case DecisionApprove, DecisionReject:
		if r.Action != "" || r.Params != nil {
			v.Add("action", "only a modify decision names an action and params")
		}
	case DecisionModify:
		if !slices.Contains(rules.Actions(), r.Action) {
			v.Add("action", "want one of %s", strings.Join(rules.Actions(), ", "))
		}
	default:
		v.Add("decision", "want approve, modify or reject")
	}
	if r.Cause != "" && !causeCodeRE.MatchString(r.Cause) {
		v.Add("cause", "want a cause code")
	}
	if len(r.Note) > 4000 {
		v.Add("note", "at most 4000 bytes")
	}
	return v.Err()
}

// DecideResult is the answer to Decide.
type DecideResult struct {
	Case Case
	// Replayed is true when the same decision had been recorded before
	// (a double submit): nothing was applied again.
	Replayed bool
}

// Decide records a person's decision on a case waiting for review (or one
// triage found nothing to do for), applies the chosen fix exactly once
// through the Applier, and, for approve and modify, adds the exception's
// text as a labelled example of its cause. Submitting the same decision
// again returns the recorded one; a different decision on a decided case
// is a conflict.
func (s *Service) Decide(ctx context.Context, caseID uuid.UUID, actor string, req DecisionRequest) (_ DecideResult, err error) {
	defer derrors.Wrap(&err, "Decide(%s, %s)", caseID, req.Decision)
	if err := req.Validate(); err != nil {
		return DecideResult{}, err
	}
	var res DecideResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.caseWhere(ctx, tx, `c.id = $1`, caseID, true)
		if err != nil {
			return err
		}
		action, params := req.Action, req.Params
		if req.Decision == DecisionApprove {
			action, params = c.Action, c.Params
		}
		if params == nil && req.Decision != DecisionReject {
			params = map[string]any{}
		}
		switch c.Status {
		case StatusDecided:
			if c.Decision != nil && c.Decision.Decision == req.Decision && c.Decision.Action == action &&
				sameParams(c.Decision.Params, params) {
				res = DecideResult{Case: c, Replayed: true}
				return nil
			}
			if c.Decision != nil {
				return fmt.Errorf("case %s: %w", caseID, &DecidedError{Decision: *c.Decision})
			}
			return fmt.Errorf("case %s was decided already: %w", caseID, derrors.Conflict)
		case StatusQueued, StatusNoAction:
		default:
			return fmt.Errorf("case %s is %s, not waiting for a decision: %w", caseID, c.Status, derrors.Conflict)
		}
		// A reviewer's live claim keeps others from deciding the case; it is
		// read under the case's row lock, so a claim taken meanwhile waits.
		if cl, err := s.claimOf(ctx, tx, caseID, actor); err != nil {
			return err
		} else if cl.By != "" && !cl.Mine {
			return fmt.Errorf("case %s: %w", caseID, &ClaimedError{By: cl.By, Until: cl.Until})
		}
		if req.Decision == DecisionApprove && action == "" {
			ve := &derrors.ValidationError{}
			ve.Add("decision", "the case has no recommended fix to approve; modify with an action, or reject")
			return ve
		}
		cause := c.Cause
		if req.Cause != "" {
			k, ok, err := s.causeByCode(ctx, req.Cause)
			if err != nil {
				return err
			}
			if !ok || k.Kind != c.Kind {
				ve := &derrors.ValidationError{}
				ve.Add("cause", "no active cause %q of kind %s", req.Cause, c.Kind)
				return ve
			}
			cause = req.Cause
		}
		var result *Result
		if req.Decision != DecisionReject {
			if s.applier == nil {
				return fmt.Errorf("no applier configured: the decision cannot be applied yet, so it was not recorded: %w", derrors.Unavailable)
			}
			r, err := s.applier.Apply(ctx, Command{ID: commandID(caseID, "decision"), CaseID: caseID, ExceptionID: c.ExceptionID,
				OrderID: c.OrderID, Action: action, Params: params, Actor: actor, Reason: req.Note})
			if err != nil {
				return fmt.Errorf("applying %s: %w", action, err)
			}
			result = &r
		}
		now := s.now()
		var act *string
		if action != "" {
			act = &action
		}
		_, err = tx.Exec(ctx, `
			UPDATE cases SET status = 'decided', decision = $2, decided_action = $3, decided_params = $4,
				decision_note = $5, decided_by = $6, decided_at = $7, result = coalesce($8, result),
				claimed_by = '', claimed_until = NULL
			WHERE id = $1`, caseID, req.Decision, act, params, req.Note, actor, now, result)
		if err != nil {
			return err
		}
		var causeArg *string
		if cause != "" {
			causeArg = &cause
		}
		b := &pgx.Batch{}
		queueDecision(b, caseID, actor, req.Decision, act, params, causeArg, "", req.Note, result != nil, result, s.policy().Version, now)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if req.Decision != DecisionReject {
			if err := s.core.SetExceptionStatusTx(ctx, tx, c.ExceptionID, orchestration.ExceptionResolved, now); err != nil {
				return err
			}
			if cause != "" {
				if err := s.addReviewExample(ctx, tx, c, cause, actor); err != nil {
					return err
				}
			}
		}
		res.Case, err = s.caseWhere(ctx, tx, `c.id = $1`, caseID, false)
		return err
	})
	if err != nil {
		return DecideResult{}, err
	}
	return res, nil
}

// sameParams compares parameters as JSON, so numbers read back from the
// database equal those in a request.
func sameParams(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// addReviewExample adds a decided case's exception text as a labelled
// example of cause, with its vector under the service's model, so the next
// similar exception finds it at once.
func (s *Service) addReviewExample(ctx context.Context, tx pgx.Tx, c Case, cause, actor string) error {
	var in struct {
		Text string `json:"text"`
	}
	if len(c.Inputs) > 0 {
		if err := json.Unmarshal(c.Inputs, &in); err != nil {
			return fmt.Errorf("case inputs: %w", err)
		}
	}
	if in.Text == "" {
		return nil // never triaged far enough to have a text
	}
	exc, err := loadException(ctx, tx, c.ExceptionID)
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(in.Text))
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO cause_examples (cause, code, message, text, text_hash, source, case_id, created_by)
		VALUES ($1, $2, $3, $4, $5, 'review', $6, $7) ON CONFLICT (cause, text_hash) DO NOTHING RETURNING id`,
		cause, exc.Code, exc.Message, in.Text, h[:], c.ID, actor).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the same text is an example of this cause already
	}
	if err != nil {
		return fmt.Errorf("adding example: %w", err)
	}
	// The example's vector is the text's under the service's model (the
	// exception's own may not be stored yet); other models get it when they
	// embed the examples (EmbedExamples).
	vecs, err := s.emb.Embed(ctx, []string{in.Text})
	if err != nil {
		return fmt.Errorf("embedding the example: %w", err)
	}
	if len(vecs) != 1 || s.checkVector(vecs[0]) != nil {
		return nil // the text embeds to nothing this model can use; the example stays for other models
	}
	if err := s.ensureIndex(ctx, tableExampleEmbeddings); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO example_embeddings (example_id, model, dim, cause, kind, embedding) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (example_id, model) DO NOTHING`, id, s.emb.Model(), len(vecs[0]), cause, c.Kind, pgvector.NewVector(vecs[0]))
	if err != nil {
		return fmt.Errorf("adding the example's vector: %w", err)
	}
	return nil
}
