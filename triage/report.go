package triage

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
)

// ReportResult is the answer to Report.
type ReportResult struct {
	Exception orchestration.Exception `json:"exception"`
	Case      Case                    `json:"case"`
	// Created is false when an exception with the same id was reported before.
	Created bool `json:"-"`
}

// Report stores an exception an outside system reports and triages it: the
// exception, its case and the triage are written in one transaction. A
// report with an id already stored returns what exists (Created false), or
// a conflict when it differs. When triage fails (the embedding server is
// down, say) the exception and its open case are stored all the same and
// TriageOpen retries them.
func (s *Service) Report(ctx context.Context, actor string, e orchestration.Exception, extra *RecommendContext) (_ ReportResult, err error) {
	defer derrors.Wrap(&err, "Report(%s)", e.Kind)
	ctxData, err := checkContext(extra)
	if err != nil {
		return ReportResult{}, err
	}
	if err := s.prepareException(&e, actor); err != nil {
		return ReportResult{}, err
	}
	out, evalErr := s.evaluate(ctx, e, ctxData)
	var res ReportResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res.Exception, res.Case, res.Created, err = s.admit(ctx, tx, e, ctxData, nil, nil, okOutcome(out, evalErr))
		return err
	})
	if err != nil {
		return ReportResult{}, err
	}
	if evalErr != nil && res.Case.Status == StatusOpen {
		s.log.Warn("triage of a reported exception failed; it stays open and will be retried", "exception", e.ID, "err", evalErr)
		s.recordFailure(ctx, res.Case.ID, evalErr)
		if res.Case, err = s.GetCase(ctx, res.Case.ID); err != nil {
			return ReportResult{}, err
		}
	}
	return res, nil
}

// okOutcome is out when it was computed, else nil.
func okOutcome(out *outcome, err error) *outcome {
	if err != nil {
		return nil
	}
	return out
}

// checkContext validates the reporter's context.
func checkContext(extra *RecommendContext) (RecommendContext, error) {
	if extra == nil {
		return RecommendContext{}, nil
	}
	v := &derrors.ValidationError{}
	extra.validate(v, "context.")
	return *extra, v.Err()
}

// admit writes, in tx, a reported exception (unless its id is stored
// already, with the same content), its open case, the idempotency key when
// there is one, and, when out is set, the case's triage. The inserts go in
// one round trip. It returns errLostRace when another request holds the key.
func (s *Service) admit(ctx context.Context, tx pgx.Tx, e orchestration.Exception, extra RecommendContext,
	idem *Idempotency, hash []byte, out *outcome) (orchestration.Exception, Case, bool, error) {
	b := &pgx.Batch{}
	queueException(b, e)
	if idem != nil {
		// Of two calls with one key, the second waits here for the first to
		// commit, then inserts nothing.
		b.Queue(`INSERT INTO recommendation_keys (scope, key, request_hash, exception_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, idem.Scope, idem.Key, hash, e.ID)
	}
	b.Queue(`INSERT INTO cases (exception_id, kind, severity, order_id, context) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (exception_id) DO NOTHING`, e.ID, e.Kind, e.Severity, e.OrderID, extra)
	b.Queue(`SELECT `+exceptionCols+` FROM exceptions WHERE id = $1`, e.ID)
	b.Queue(`SELECT id FROM cases WHERE exception_id = $1`, e.ID)
	fail := func(err error) (orchestration.Exception, Case, bool, error) {
		return orchestration.Exception{}, Case{}, false, err
	}
	br := tx.SendBatch(ctx, b)
	tag, err := br.Exec()
	if err != nil {
		br.Close()
		return fail(exceptionInsertError(err, e))
	}
	created := tag.RowsAffected() == 1
	if idem != nil {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return fail(err)
		}
		if tag.RowsAffected() == 0 {
			br.Close()
			return fail(errLostRace)
		}
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fail(err)
	}
	stored, err := scanException(br.QueryRow())
	if err != nil {
		br.Close()
		return fail(err)
	}
	var caseID uuid.UUID
	if err := br.QueryRow().Scan(&caseID); err != nil {
		br.Close()
		return fail(err)
	}
	if err := br.Close(); err != nil {
		return fail(err)
	}
	if !created && !sameException(stored, e) {
		return fail(fmt.Errorf("exception %s exists with other content; report a new exception under a new id: %w", e.ID, derrors.Conflict))
	}
	var c Case
	if out != nil {
		c, err = s.commitTx(ctx, tx, caseID, stored, out)
	} else {
		c, err = s.caseWhere(ctx, tx, `c.id = $1`, caseID, false)
	}
	return stored, c, created, err
}
