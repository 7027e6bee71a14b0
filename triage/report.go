package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/idempotency"
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
		res.Exception, res.Case, res.Created, err = s.admit(ctx, tx, e, ctxData, nil, okOutcome(out, evalErr))
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
	idem *Idempotency, out *outcome) (orchestration.Exception, Case, bool, error) {
	b := &pgx.Batch{}
	queueException(b, e)
	if idem != nil {
		// Of two calls with one key, the second waits here for the first to
		// commit, then inserts nothing.
		idempotency.QueueClaim(b, idem, idempotency.Record{ResourceID: e.ID})
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
		if !idempotency.ClaimedBy(tag) {
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

// insertTriaged writes a new exception (prepared by prepareException) with
// its case already triaged, the
// case's audit record and, with a key, the answer's bytes, in one statement
// where the general path (admit, then commitTx) inserts, locks, updates and
// reads back over five round trips. The answer is built from out as the
// stored case reads. It takes no outcome whose fix is to be applied: that
// needs the case locked before the application, which commitTx does. It
// reports created false, having written nothing, when the exception's id
// is stored already, and errLostRace when another request holds the key.
func (s *Service) insertTriaged(ctx context.Context, tx pgx.Tx, e orchestration.Exception, extra RecommendContext,
	idem *Idempotency, out *outcome) (_ Recommendation, body []byte, created bool, err error) {
	if out.status == StatusAutoApplied {
		return Recommendation{}, nil, false, fmt.Errorf("insertTriaged: case %s is to be applied, which commitTx does", e.ID)
	}
	t, err := triageOf(out)
	if err != nil {
		return Recommendation{}, nil, false, err
	}
	caseID := uuid.New()
	c := Case{ID: caseID, URL: s.CaseURL(caseID), ExceptionID: e.ID, Status: t.status, Reason: t.reason, Risks: out.risks,
		Params: t.params, ExpectedEffect: t.effect, Alternatives: t.alts,
		Versions: Versions{Embedding: s.emb.Model(), Classifier: out.cls.Version, Stockout: out.risks.Stockout.Version,
			Delivery: out.risks.Delivery.Version, Policy: out.policy.Version}}
	if t.cause != nil {
		// The stored case takes its cause's title from the causes table,
		// which is where out.cause came from (empty when the code is not
		// there).
		c.Cause, c.CauseTitle, c.Confidence = *t.cause, out.cause.Title, t.conf
	}
	if t.action != nil {
		c.Action = *t.action
	}
	rec := recommendationOf(c)
	if body, err = json.Marshal(rec); err != nil {
		return Recommendation{}, nil, false, err
	}
	now := s.now()
	excStatus := exceptionStatusOf(t.status)
	var resolvedAt *time.Time
	if excStatus == "resolved" || excStatus == "dismissed" {
		resolvedAt = &now
	}
	var nExc int
	err = tx.QueryRow(ctx, `
		WITH e AS (
			INSERT INTO exceptions (id, kind, severity, source, order_id, line_ids, sku, location, carrier, endpoint,
				code, message, payload, occurred_at, status, resolved_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (id) DO NOTHING RETURNING id),
		c AS (
			INSERT INTO cases (id, exception_id, kind, severity, order_id, context, status, cause, confidence, raw_score,
				risks, action, params, expected_effect, alternatives, reason, inputs, neighbours, embedding_model,
				classifier_version, risk_versions, policy_version, triaged_at, vector_pending)
			SELECT $17, e.id, $2, $3, $5, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31,
				$32, $33, $34, $35, $36 FROM e RETURNING id),
		d AS (
			INSERT INTO case_decisions (case_id, actor, decision, action, params, cause, reason, policy_version, created_at)
			SELECT c.id, 'triage', $19, $24, $25, $20, $28, $34, $35 FROM c)
		SELECT (SELECT count(*) FROM e)::int`,
		e.ID, e.Kind, e.Severity, e.Source, e.OrderID, e.LineIDs, e.SKU, e.Location, e.Carrier, e.Endpoint,
		e.Code, e.Message, []byte(e.Payload), e.OccurredAt, excStatus, resolvedAt,
		caseID, extra, t.status, t.cause, t.conf, t.raw,
		out.risks, t.action, t.params, t.effect, t.alts, t.reason, t.inputs, t.neigh, s.emb.Model(),
		out.cls.Version, out.riskVersions(), out.policy.Version, now, out.vec != nil).Scan(&nExc)
	switch {
	case err != nil:
		return Recommendation{}, nil, false, exceptionInsertError(err, e)
	case nExc == 0:
		return Recommendation{}, nil, false, nil
	}
	if idem != nil {
		claimed, err := idempotency.Claim(ctx, tx, idem, idempotency.Record{Status: 200, Response: body, ResourceID: e.ID})
		if err != nil {
			return Recommendation{}, nil, false, err
		}
		if !claimed {
			return Recommendation{}, nil, false, errLostRace
		}
	}
	return rec, body, true, nil
}
