package triage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/idempotency"
	"github.com/omnitriage/omnitriage/orchestration"
)

// Recommend modes.
const (
	// ModeCreate stores the exception and its case (the default).
	ModeCreate = "create"
	// ModeDryRun answers what triage would recommend and decide, storing
	// and applying nothing.
	ModeDryRun = "dry_run"
)

// DecisionDryRun is a dry run's decision; WouldDecide says what a real
// request would have decided.
const DecisionDryRun = "dry_run"

// defaultDedupeWindow is how long after its last report an open case
// absorbs repeated reports of its problem.
const defaultDedupeWindow = 24 * time.Hour

// masked are the parts of a message that differ between reports of one
// problem: ids, numbers, hex and timestamps.
var masked = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\b[0-9a-fA-F]*[0-9][0-9a-fA-F]*\b|\d+`)

// dedupeKey identifies the problem e reports: its order, kind, code, what
// it concerns and its message, with the numbers and ids masked when the
// order is known.
func dedupeKey(e orchestration.Exception) []byte {
	// Without an order id, the message's numbers are what tell two
	// orders' problems apart (an external order number, a tracking
	// number), so only repeats of the same message are one problem.
	order, msg := "", strings.ToLower(e.Message)
	if e.OrderID != nil {
		order, msg = e.OrderID.String(), masked.ReplaceAllString(msg, "#")
	}
	msg = strings.Join(strings.Fields(msg), " ")
	h := sha256.Sum256([]byte(strings.Join([]string{order, e.Kind, e.Code, e.SKU, e.Location, e.Carrier, e.Endpoint, msg}, "\x00")))
	return h[:]
}

// lockDedupe serialises, until tx ends, the requests that report the
// problem key: of 20 identical reports at once, one creates the case and
// the others find it.
func lockDedupe(ctx context.Context, tx pgx.Tx, key []byte) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, hex.EncodeToString(key))
	return err
}

// openDuplicate finds the open case of the problem key reported within the
// window.
func (s *Service) openDuplicate(ctx context.Context, q querier, key []byte) (uuid.UUID, bool, error) {
	var id uuid.UUID
	err := q.QueryRow(ctx, `SELECT id FROM cases WHERE dedupe_key = $1 AND status IN ('open', 'queued_for_review')
		AND coalesce(last_seen_at, created_at) > $2::timestamptz - $3::interval ORDER BY created_at LIMIT 1`,
		key, s.now(), s.dedupeWindow).Scan(&id)
	if isNoRows(err) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("finding a duplicate case: %w", err)
	}
	return id, true, nil
}

// answerDuplicate links report e to the open case caseID, counts it, and
// answers with the case; with a key, the answer is stored for replays.
func (s *Service) answerDuplicate(ctx context.Context, tx pgx.Tx, caseID uuid.UUID, e orchestration.Exception, actor string,
	idem *Idempotency) (RecommendResult, error) {
	c, n, err := s.countRepeat(ctx, tx, caseID, e, actor)
	if err != nil {
		return RecommendResult{}, err
	}
	rec := recommendationOf(c)
	if n > 1 {
		rec.Occurrences = n
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return RecommendResult{}, err
	}
	if idem != nil {
		claimed, err := idempotency.Claim(ctx, tx, idem, idempotency.Record{Status: 200, Response: body, ResourceID: c.ExceptionID})
		if err != nil {
			return RecommendResult{}, err
		}
		if !claimed {
			return RecommendResult{}, errLostRace
		}
	}
	return RecommendResult{Recommendation: rec, Response: body}, nil
}

// countRepeat links report e to the open case caseID and counts it (a
// retry of the case's own exception is not counted again), answering with
// the case and the number of reports of its problem.
func (s *Service) countRepeat(ctx context.Context, tx pgx.Tx, caseID uuid.UUID, e orchestration.Exception, actor string) (Case, int, error) {
	var n int
	err := tx.QueryRow(ctx, `
		WITH r AS (
			INSERT INTO case_reports (case_id, exception_id, actor, reported_at)
			SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM cases WHERE id = $1 AND exception_id = $2)
			ON CONFLICT DO NOTHING RETURNING 1)
		UPDATE cases SET occurrences = occurrences + (SELECT count(*) FROM r)::int, last_seen_at = $4
		WHERE id = $1 RETURNING occurrences`, caseID, e.ID, actor, s.now()).Scan(&n)
	if err != nil {
		return Case{}, 0, fmt.Errorf("counting a repeated report: %w", err)
	}
	c, err := s.caseWhere(ctx, tx, `c.id = $1`, caseID, false)
	return c, n, err
}

// dryRun answers what triage would recommend for e, storing nothing and
// applying nothing.
func (s *Service) dryRun(ctx context.Context, e orchestration.Exception, extra RecommendContext) (RecommendResult, error) {
	out, err := s.evaluate(ctx, e, extra)
	if err != nil {
		return RecommendResult{}, fmt.Errorf("triage failed; nothing was stored: %w", orUnavailable(err))
	}
	t, err := triageOf(out)
	if err != nil {
		return RecommendResult{}, err
	}
	rec := Recommendation{Mode: ModeDryRun, ExceptionID: e.ID, Decision: DecisionDryRun, WouldDecide: t.status, Reason: t.reason,
		Risks: out.risks, Params: t.params, ExpectedEffect: t.effect, Alternatives: t.alts,
		Versions: Versions{Embedding: s.emb.Model(), Classifier: out.cls.Version, Stockout: out.risks.Stockout.Version,
			Delivery: out.risks.Delivery.Version, Policy: out.policy.Version}}
	if t.cause != nil {
		rec.Cause, rec.CauseTitle, rec.Confidence = *t.cause, out.cause.Title, *t.conf
	}
	if t.action != nil {
		rec.Action = *t.action
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return RecommendResult{}, err
	}
	return RecommendResult{Recommendation: rec, Response: body}, nil
}
