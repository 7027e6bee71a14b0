package triage

import (
	"context"
	"encoding/json"
	"fmt"

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
	// Created is false when an exception with the same id was reported
	// before, or when this report was a repeat of an open case's problem.
	Created bool `json:"-"`
	// Occurrences counts the reports of the case's problem when this one
	// was a repeat answered with the open case of the first (see dedupeKey).
	Occurrences int `json:"occurrences,omitempty"`
}

// Report stores an exception an outside system reports and triages it: the
// exception, its case and the triage are written in one transaction. A
// report with an id already stored returns what exists (Created false), or
// a conflict when it differs. When triage fails (the embedding server is
// down, say) the exception and its open case are stored all the same and
// TriageOpen retries them. A repeated report of a problem whose case is
// still open (see dedupeKey and Config.DedupeWindow) opens no new case and
// stores no exception: it is counted on that case and answered with it,
// as POST /v1/recommendations does.
func (s *Service) Report(ctx context.Context, actor string, e orchestration.Exception, extra *RecommendContext) (_ ReportResult, err error) {
	defer derrors.Wrap(&err, "Report(%s)", e.Kind)
	ctxData, err := checkContext(extra)
	if err != nil {
		return ReportResult{}, err
	}
	if err := s.prepareException(&e, actor); err != nil {
		return ReportResult{}, err
	}
	key := dedupeKey(e)
	var res ReportResult
	dup := false
	// repeat answers with the open case of e's problem, if there is one,
	// under the problem's lock.
	repeat := func(ctx context.Context, tx pgx.Tx) error {
		if err := lockDedupe(ctx, tx, key); err != nil {
			return err
		}
		id, ok, err := s.openDuplicate(ctx, tx, key)
		if err != nil || !ok {
			return err
		}
		dup = true
		res, err = s.reportRepeat(ctx, tx, id, e, actor)
		return err
	}
	if _, ok, err := s.openDuplicate(ctx, s.pool, key); err != nil {
		return ReportResult{}, err
	} else if ok {
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return repeat(ctx, tx) }); err != nil || dup {
			return res, err
		}
	}
	out, evalErr := s.evaluate(ctx, e, ctxData)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := repeat(ctx, tx); err != nil || dup {
			return err
		}
		var err error
		res.Exception, res.Case, res.Created, err = s.admit(ctx, tx, e, ctxData, nil, okOutcome(out, evalErr))
		if err != nil {
			return err
		}
		// The case carries the problem's key for the next report.
		_, err = tx.Exec(ctx, `UPDATE cases SET dedupe_key = $1 WHERE id = $2`, key, res.Case.ID)
		return err
	})
	if err != nil {
		return ReportResult{}, err
	}
	if dup {
		return res, nil
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

// reportRepeat counts report e on the open case caseID of its problem and
// answers with the case and the exception that opened it. A retry of that
// exception under its id with other content is a conflict, as in admit.
func (s *Service) reportRepeat(ctx context.Context, tx pgx.Tx, caseID uuid.UUID, e orchestration.Exception, actor string) (ReportResult, error) {
	c, n, err := s.countRepeat(ctx, tx, caseID, e, actor)
	if err != nil {
		return ReportResult{}, err
	}
	stored, err := loadException(ctx, tx, c.ExceptionID)
	if err != nil {
		return ReportResult{}, err
	}
	if stored.ID == e.ID && !sameException(stored, e) {
		return ReportResult{}, fmt.Errorf("exception %s exists with other content; report a new exception under a new id: %w", e.ID, derrors.Conflict)
	}
	res := ReportResult{Exception: stored, Case: c}
	if n > 1 {
		res.Occurrences = n
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
	s.core.QueueReport(b, e)
	if idem != nil {
		// Of two calls with one key, the second waits here for the first to
		// commit, then inserts nothing.
		idempotency.QueueClaim(b, idem, idempotency.Record{ResourceID: e.ID})
	}
	b.Queue(`INSERT INTO cases (exception_id, kind, severity, order_id, context) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (exception_id) DO NOTHING`, e.ID, e.Kind, e.Severity, e.OrderID, extra)
	b.Queue(`SELECT `+exceptionCols+` FROM core_exceptions WHERE id = $1`, e.ID)
	b.Queue(`SELECT id FROM cases WHERE exception_id = $1`, e.ID)
	fail := func(err error) (orchestration.Exception, Case, bool, error) {
		return orchestration.Exception{}, Case{}, false, err
	}
	br := tx.SendBatch(ctx, b)
	tag, err := br.Exec()
	if err != nil {
		br.Close()
		return fail(orchestration.ReportError(err, e))
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

// insertTriaged writes a new exception (prepared by prepareException,
// through orchestration's RecordReportTx) and then, in one statement, its
// case already triaged, the case's audit record and, with a key, the
// answer's bytes, where the general path (admit, then commitTx) inserts, locks, updates and
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
	// The exception is orchestration's to write; the case, its audit
	// record and the key follow in one statement.
	created, err = s.core.RecordReportTx(ctx, tx, e, exceptionStatusOf(t.status), now)
	if err != nil || !created {
		return Recommendation{}, nil, false, err
	}
	err = tx.QueryRow(ctx, `
		WITH c AS (
			INSERT INTO cases (id, exception_id, kind, severity, order_id, context, status, cause, confidence, raw_score,
				risks, action, params, expected_effect, alternatives, reason, inputs, neighbours, embedding_model,
				classifier_version, risk_versions, policy_version, triaged_at, vector_pending)
			VALUES ($4, $1, $2, $3, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
				$20, $21, $22, $23, $24) RETURNING id),
		d AS (
			INSERT INTO case_decisions (case_id, actor, decision, action, params, cause, reason, policy_version, created_at)
			SELECT c.id, 'triage', $7, $12, $13, $8, $16, $22, $23 FROM c)
		SELECT 1`,
		e.ID, e.Kind, e.Severity, caseID, e.OrderID, extra, t.status, t.cause, t.conf, t.raw,
		out.risks, t.action, t.params, t.effect, t.alts, t.reason, t.inputs, t.neigh, s.emb.Model(),
		out.cls.Version, out.riskVersions(), out.policy.Version, now, out.vec != nil).Scan(new(int))
	if err != nil {
		return Recommendation{}, nil, false, err
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
