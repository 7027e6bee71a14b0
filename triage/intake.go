package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// Enqueue gives exception e a case waiting for triage, in the transaction
// that writes e. It has the shape of orchestration.ExceptionHook: cmd
// wires it there so every exception the core raises becomes exactly one
// case, atomically, with the job that triages it (TriageArgs) in the same
// transaction; the sweep of open cases retries a triage that failed.
func (s *Service) Enqueue(ctx context.Context, tx pgx.Tx, e orchestration.Exception) error {
	created, err := insertOpenCase(ctx, tx, e, RecommendContext{})
	if err != nil || !created {
		return err
	}
	return enqueueTriage(ctx, tx, e.ID)
}

// Intake triages an exception: it loads the exception and its context,
// embeds it, classifies its cause, scores its risks, ranks the fixes and
// lets the policy decide. The exception's one case is created if it has
// none. Triage happens once: a case that is no longer open is returned as
// it is, and concurrent intakes of one exception leave one decision.
func (s *Service) Intake(ctx context.Context, exceptionID uuid.UUID) (_ Case, err error) {
	defer derrors.Wrap(&err, "Intake(%s)", exceptionID)
	c, err := s.CaseOfException(ctx, exceptionID)
	if err == nil && c.Status != StatusOpen {
		return c, nil
	}
	if err != nil && !errors.Is(err, derrors.NotFound) {
		return Case{}, err
	}
	exc, err := loadException(ctx, s.pool, exceptionID)
	if err != nil {
		return Case{}, err
	}
	if c.ID == uuid.Nil {
		if _, err := insertOpenCase(ctx, s.pool, exc, RecommendContext{}); err != nil {
			return Case{}, err
		}
		if c, err = s.CaseOfException(ctx, exceptionID); err != nil {
			return Case{}, err
		}
		if c.Status != StatusOpen {
			return c, nil
		}
	}
	out, err := s.evaluate(ctx, exc, c.context)
	if err != nil {
		s.recordFailure(ctx, c.ID, err)
		return Case{}, err
	}
	var final Case
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		final, err = s.commitTx(ctx, tx, c.ID, exc, out)
		return err
	})
	if err != nil {
		return Case{}, err
	}
	return final, nil
}

// outcome is a recommendation computed but not yet committed.
type outcome struct {
	text     string
	vec      []float32 // nil when the text has no words
	cls      Classification
	cause    Cause
	risks    Risks
	cands    []Candidate
	best     *Candidate
	input    rules.DecisionInput
	policy   *rules.Policy
	decision *rules.Decision
	status   string // StatusAutoApplied means "apply now"
	reason   string
	notes    []string
	extra    RecommendContext
	// subStockout is the stockout risk of the substitute the best fix
	// ships, when it is a substitute.
	subStockout *Risk
	// unknown says why the cause is unknown, when it is.
	unknown string
}

// evaluate computes exc's recommendation and the policy's verdict on it.
// It only reads: exc need not be stored yet, and nothing it computes is
// written until commitTx.
func (s *Service) evaluate(ctx context.Context, exc orchestration.Exception, extra RecommendContext) (*outcome, error) {
	pol := s.policy()
	cc, err := s.gather(ctx, exc, extra)
	if err != nil {
		return nil, err
	}
	out := &outcome{policy: pol, notes: cc.notes, extra: extra}
	var salient []string
	if cc.locationKind != "" {
		salient = append(salient, "at "+strings.ReplaceAll(cc.locationKind, "_", " "))
	}
	if exc.Endpoint != "" {
		salient = append(salient, "endpoint "+exc.Endpoint)
	}
	out.text = ExceptionText(exc.Kind, exc.Code, exc.Message, salient...)
	vecs, err := s.emb.Embed(ctx, []string{out.text})
	if err != nil {
		return nil, fmt.Errorf("embedding: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("embedder %s returned %d vectors for 1 text", s.emb.Model(), len(vecs))
	}
	vec := vecs[0]
	if err := s.checkVector(vec); err != nil {
		if len(vec) != s.emb.Dim() {
			return nil, err
		}
		out.notes = append(out.notes, "not classified: "+err.Error())
	} else {
		out.vec = vec
		if out.cls, err = s.classify(ctx, vec, exc.Kind); err != nil {
			return nil, err
		}
		if note := s.outOfDistribution(&out.cls, exc.Code+" "+exc.Message); note != "" {
			out.notes = append(out.notes, note)
			out.unknown = note
		}
	}
	if out.risks.Stockout, err = s.stockoutRisk(ctx, cc); err != nil {
		return nil, err
	}
	if out.risks.Delivery, err = s.deliveryRisk(ctx, cc); err != nil {
		return nil, err
	}
	var known bool
	if out.cls.Cause != "" {
		if out.cause, known, err = s.causeByCode(ctx, out.cls.Cause); err != nil {
			return nil, err
		}
		if known {
			if out.cands, err = s.rankCandidates(ctx, cc, out.cause); err != nil {
				return nil, err
			}
			if err := s.checkState(ctx, exc, out.cands); err != nil {
				return nil, err
			}
			if len(out.cands) > 0 && out.cands[0].Feasible {
				out.best = &out.cands[0]
			}
			if b := out.best; b != nil && b.Action == rules.ActionSubstitute {
				if sub, ok := b.Params["substitute"].(string); ok {
					r, err := s.stockoutRisk(ctx, cc.withSKU(sub))
					if err != nil {
						return nil, err
					}
					out.subStockout = &r
				}
			}
		}
	}
	s.decide(cc, out, known)
	return out, nil
}

// decide sets out's status and reason: no action, automatic, or review.
func (s *Service) decide(cc *caseContext, out *outcome, known bool) {
	exc := cc.exc
	out.status = StatusQueued
	switch {
	case exc.Status == "resolved" || exc.Status == "dismissed":
		out.status, out.reason = StatusNoAction, "the exception was already "+exc.Status
		return
	case cc.order != nil && cc.order.Status == orchestration.StatusCancelled && exc.Kind != orchestration.KindRefundReview:
		out.status, out.reason = StatusNoAction, "the order is cancelled; nothing to fix"
		return
	case out.cls.Cause == "":
		out.reason = fmt.Sprintf("no labelled example of kind %s for model %s: a person must classify it", exc.Kind, s.emb.Model())
		return
	case out.unknown != "":
		out.reason = out.unknown + ": a person must classify it"
		return
	case !known:
		out.reason = fmt.Sprintf("cause %s is no longer active", out.cls.Cause)
		return
	case out.best == nil:
		why := "the cause lists no fix"
		if len(out.cands) > 0 {
			why = out.cands[0].Action + ": " + out.cands[0].ExpectedEffect
		}
		out.reason = "no feasible fix (" + why + ")"
		return
	}
	b := out.best
	out.input = rules.DecisionInput{
		Action: b.Action, Cause: out.cause.Code, Kind: exc.Kind, Channel: cc.channel(), CustomerTier: cc.customerTier(),
		Confidence: out.cls.Confidence, OrderValue: cc.orderValue(), StockoutRisk: out.risks.Stockout.Probability,
		DeliveryRisk: out.risks.Delivery.Probability, FraudBand: cc.fraudBand(out.policy.Limits.Fraud),
	}
	out.input.FraudScore, _ = cc.fraudScore()
	if b.Action == rules.ActionSubstitute && out.subStockout != nil {
		// The guard on substitutes is about the substitute's supply.
		out.input.StockoutRisk = out.subStockout.Probability
	}
	switch b.Action {
	case rules.ActionRefund:
		out.input.RefundAmount, _ = b.Params["amount"].(float64)
	case rules.ActionCompensate:
		out.input.CompensationAmount, _ = b.Params["amount"].(float64)
	}
	d := out.policy.Evaluate(out.input)
	out.decision = &d
	switch {
	case !d.Auto:
		out.reason = d.Reason
	case out.cls.TopSimilarity < s.minSim:
		out.reason = fmt.Sprintf("nearest labelled example is only %.2f similar (automatic needs %.2f): too unlike known cases; policy: %s",
			out.cls.TopSimilarity, s.minSim, d.Reason)
	case s.applier == nil:
		out.reason = "no applier configured; policy would apply it: " + d.Reason
	default:
		if v, ok := s.applier.(Validator); ok {
			err := v.Validate(Command{ExceptionID: exc.ID, OrderID: exc.OrderID, Action: b.Action, Params: b.Params,
				Actor: "triage:auto", Reason: d.Reason})
			if err != nil {
				out.reason = fmt.Sprintf("cannot be applied automatically (%v); policy would apply it: %s", err, d.Reason)
				return
			}
		}
		out.status, out.reason = StatusAutoApplied, d.Reason
	}
}

// decisionJSON is rules.Decision and its input as a case stores them.
type decisionJSON struct {
	Action             string   `json:"action"`
	Cause              string   `json:"cause"`
	Kind               string   `json:"kind"`
	Channel            string   `json:"channel"`
	CustomerTier       string   `json:"customer_tier"`
	Confidence         float64  `json:"confidence"`
	OrderValue         float64  `json:"order_value"`
	RefundAmount       float64  `json:"refund_amount"`
	CompensationAmount float64  `json:"compensation_amount"`
	StockoutRisk       float64  `json:"stockout_risk"`
	DeliveryRisk       float64  `json:"delivery_risk"`
	FraudScore         float64  `json:"fraud_score"`
	FraudBand          string   `json:"fraud_band,omitempty"`
	Auto               bool     `json:"auto"`
	Threshold          float64  `json:"threshold"`
	GuardsFailed       []string `json:"guards_failed,omitempty"`
	Reason             string   `json:"reason"`
}

func (out *outcome) inputsJSON() ([]byte, error) {
	in := map[string]any{"text": out.text, "search": out.cls.Search, "classification": map[string]any{
		"cause": out.cls.Cause, "score": out.cls.Score, "confidence": out.cls.Confidence,
		"top_similarity": out.cls.TopSimilarity, "nearness": out.cls.Nearness, "support": out.cls.Support, "votes": out.cls.Votes,
	}}
	if out.decision != nil {
		i, d := out.input, out.decision
		in["policy"] = decisionJSON{Action: i.Action, Cause: i.Cause, Kind: i.Kind, Channel: i.Channel,
			CustomerTier: i.CustomerTier, Confidence: i.Confidence, OrderValue: i.OrderValue, RefundAmount: i.RefundAmount,
			CompensationAmount: i.CompensationAmount, StockoutRisk: i.StockoutRisk, DeliveryRisk: i.DeliveryRisk,
			FraudScore: i.FraudScore, FraudBand: i.FraudBand, Auto: d.Auto, Threshold: d.Threshold, GuardsFailed: d.GuardsFailed, Reason: d.Reason}
	}
	if len(out.notes) > 0 {
		in["notes"] = out.notes
	}
	if out.extra != (RecommendContext{}) {
		in["context"] = out.extra
	}
	return json.Marshal(in)
}

// commitTx writes out as the case's triage in tx, applying the fix first
// when the policy allows it, and marks the case for the worker to store the
// exception's vector (StoreVectors), off the request's path. The case
// row is locked, so of two concurrent intakes the second finds the case no
// longer open, changes nothing and returns the case as the first left it.
func (s *Service) commitTx(ctx context.Context, tx pgx.Tx, caseID uuid.UUID, exc orchestration.Exception, out *outcome) (Case, error) {
	// Lock the case and read only its status: the whole case (and its json
	// columns) is read once, after the writes.
	var current string
	if err := tx.QueryRow(ctx, `SELECT status FROM cases WHERE id = $1 FOR UPDATE`, caseID).Scan(&current); err != nil {
		if isNoRows(err) {
			return Case{}, fmt.Errorf("no case %s: %w", caseID, derrors.NotFound)
		}
		return Case{}, err
	}
	if current != StatusOpen {
		return s.caseWhere(ctx, tx, `c.id = $1`, caseID, false)
	}
	t, err := triageOf(out)
	if err != nil {
		return Case{}, err
	}
	if t.status == StatusAutoApplied {
		// The row lock makes this the only application; the command id
		// makes a retry after a crash between here and the commit harmless.
		res, err := s.applier.Apply(ctx, Command{ID: commandID(caseID, "auto"), CaseID: caseID, ExceptionID: exc.ID,
			OrderID: exc.OrderID, Action: *t.action, Params: t.params, Actor: "triage:auto", Reason: t.reason})
		if err != nil {
			t.status, t.reason = StatusQueued, fmt.Sprintf("automatic application failed (%v); policy: %s", err, t.reason)
		} else {
			t.result = &res
		}
	}
	if err := s.assignCluster(ctx, tx, exc.ID, exc.Kind, exc.Code, exc.Endpoint, exc.Message, exc.OccurredAt); err != nil {
		return Case{}, err
	}
	now := s.now()
	b := &pgx.Batch{}
	b.Queue(`
		UPDATE cases SET status = $2, cause = $3, confidence = $4, raw_score = $5, risks = $6, action = $7,
			params = $8, expected_effect = $9, alternatives = $10, reason = $11, inputs = $12, neighbours = $13,
			embedding_model = $14, classifier_version = $15, risk_versions = $16, policy_version = $17,
			result = $18, triaged_at = $19, last_error = '', vector_pending = $20
		WHERE id = $1`,
		caseID, t.status, t.cause, t.conf, t.raw, out.risks, t.action, t.params, t.effect, t.alts, t.reason, t.inputs, t.neigh,
		s.emb.Model(), out.cls.Version, out.riskVersions(), out.policy.Version, t.result, now, out.vec != nil)
	queueDecision(b, caseID, "triage", t.status, t.action, t.params, t.cause, t.reason, "", t.result != nil, t.result, out.policy.Version, now)
	s.core.QueueExceptionStatus(b, exc.ID, exceptionStatusOf(t.status), now, true)
	b.Queue(`SELECT `+caseCols+caseFrom+` WHERE c.id = $1`, caseID)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for i := range b.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			return Case{}, fmt.Errorf("writing the triage of case %s (statement %d): %w", caseID, i, err)
		}
	}
	final, err := s.scanCase(br.QueryRow())
	if err != nil {
		return Case{}, err
	}
	return final, br.Close()
}

// triageRow is an outcome as a case's columns hold it.
type triageRow struct {
	status, reason, effect string
	cause, action          *string
	conf, raw              *float64
	params                 map[string]any
	alts                   []Candidate
	neigh                  []Neighbour
	inputs                 []byte
	result                 *Result // set once the fix is applied
}

// triageOf lays out's triage out as a case's columns.
func triageOf(out *outcome) (triageRow, error) {
	t := triageRow{status: out.status, reason: out.reason, alts: []Candidate{}, neigh: out.cls.Neighbours}
	var err error
	if t.inputs, err = out.inputsJSON(); err != nil {
		return t, err
	}
	if out.best != nil {
		t.action, t.params, t.effect = &out.best.Action, out.best.Params, out.best.ExpectedEffect
		t.alts = out.cands[1:]
	} else if len(out.cands) > 0 {
		t.alts = out.cands
	}
	if t.params == nil {
		t.params = map[string]any{}
	}
	if out.cls.Cause != "" {
		t.cause, t.conf, t.raw = &out.cls.Cause, &out.cls.Confidence, &out.cls.Score
	}
	if t.neigh == nil {
		t.neigh = []Neighbour{}
	}
	return t, nil
}

// riskVersions is the risk_versions column of out's case.
func (out *outcome) riskVersions() map[string]string {
	return map[string]string{"stockout": out.risks.Stockout.Version, "delivery": out.risks.Delivery.Version}
}

// exceptionStatusOf is the status an exception takes when its case is
// triaged to status.
func exceptionStatusOf(status string) string {
	switch status {
	case StatusAutoApplied:
		return orchestration.ExceptionResolved
	case StatusNoAction:
		return orchestration.ExceptionDismissed
	}
	return orchestration.ExceptionTriaged
}

// queueDecision appends to a case's audit trail.
func queueDecision(b *pgx.Batch, caseID uuid.UUID, actor, decision string, action *string, params map[string]any,
	cause *string, reason, note string, applied bool, result *Result, policyVersion string, at time.Time) {
	if params == nil {
		params = map[string]any{}
	}
	b.Queue(`
		INSERT INTO case_decisions (case_id, actor, decision, action, params, cause, reason, note, applied, result,
			policy_version, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		caseID, actor, decision, action, params, cause, reason, note, applied, result, policyVersion, at)
}

// recordFailure notes a failed triage on an open case and schedules the
// next attempt with exponential backoff (15 s doubling, at most an hour).
func (s *Service) recordFailure(ctx context.Context, caseID uuid.UUID, cause error) {
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	_, err := s.pool.Exec(context.WithoutCancel(ctx), `
		UPDATE cases SET attempts = attempts + 1, last_error = $2,
			next_attempt_at = $3::timestamptz + least(interval '15 seconds' * power(2, attempts), interval '1 hour')
		WHERE id = $1 AND (status = 'open') IS TRUE`, caseID, msg, s.now()) // by the key, not the open-cases index (see commitTx)
	if err != nil {
		s.log.Error("recording a failed triage", "case", caseID, "err", err, "triage_err", cause)
	}
}
