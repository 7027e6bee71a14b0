package orchestration

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// refundDecision says whether the policy approves a return's refund by
// itself, and otherwise the refund_review exception that asks a person. The
// limit is compared as a plain amount, as the compensation limits are: the
// policy's limits.currency is not converted.
func (s *Service) refundDecision(o Order, r Return, condition string) (bool, Exception) {
	limit := s.policy().Limits.Refund.AutoApproveMax
	oid := o.ID
	e := Exception{Kind: KindRefundReview, Severity: SeverityMedium, OrderID: &oid, Code: "REFUND_LIMIT"}
	for _, l := range r.Lines {
		e.LineIDs = append(e.LineIDs, l.LineID)
	}
	if len(r.Lines) == 1 {
		e.SKU = r.Lines[0].SKU
	}
	switch {
	case condition == ConditionMissing:
		e.Code, e.Severity = "RETURN_ITEM_MISSING", SeverityHigh
		e.Message = fmt.Sprintf("Refund of %.2f %s for %s: inspection found the goods missing from the return parcel (%d of %d lines)",
			r.Amount, r.Currency, r.RMA, len(r.Lines), len(r.Lines))
	case r.Amount > limit:
		e.Message = fmt.Sprintf("Refund of %.2f %s for %s exceeds auto-approve limit %.2f; return received, inspection %s",
			r.Amount, r.Currency, r.RMA, limit, condition)
	default:
		return true, Exception{}
	}
	e.Payload = mustJSON(map[string]any{"return_id": r.ID, "rma": r.RMA, "refund_amount": r.Amount, "amount": r.Amount,
		"currency": r.Currency, "limit": limit, "condition": condition, "lines": len(r.Lines), "customer_tier": o.Customer.Tier})
	return false, e
}

// ApproveRefund approves the refund of a return under review (or whose refund
// failed, to try it again) and enqueues it. Approving an approved or refunded
// return changes nothing.
func (s *Service) ApproveRefund(ctx context.Context, actor string, returnID uuid.UUID) (_ Return, err error) {
	defer derrors.Wrap(&err, "ApproveRefund(%s)", returnID)
	var out Return
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		o, r, err := lockReturn(ctx, tx, returnID)
		if err != nil {
			return err
		}
		switch r.Status {
		case ReturnRefundPending, ReturnRefunded:
			out = r
			return nil
		case ReturnRequested:
			return fmt.Errorf("return %s is not received yet; receive and inspect it first: %w", r.RMA, derrors.Conflict)
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `UPDATE returns SET status = 'refund_pending', approved_by = $2, approved_at = $3, updated_at = $3 WHERE id = $1`,
			r.ID, actor, now); err != nil {
			return err
		}
		if r.ExceptionID != nil && r.Status == ReturnRefundReview {
			// "IS TRUE" keeps the planner on the primary key rather than the
			// partial index of unresolved exceptions, whose dead entries it
			// would scan.
			if _, err := tx.Exec(ctx, `UPDATE exceptions SET status = 'resolved', resolved_at = $2 WHERE id = $1 AND (status IN ('open', 'triaged')) IS TRUE`,
				*r.ExceptionID, now); err != nil {
				return err
			}
		}
		if err := enqueue(ctx, tx, RefundArgs{ReturnID: r.ID}, nil); err != nil {
			return err
		}
		if err := s.event(ctx, tx, o.ID, "refund_approved", actor, fmt.Sprintf("%.2f %s approved (was %s)", r.Amount, r.Currency, r.Status),
			map[string]any{"return_id": r.ID, "amount": r.Amount}); err != nil {
			return err
		}
		out, err = getReturn(ctx, tx, r.ID)
		return err
	})
	return out, err
}

// RefundArgs pays back an approved return.
type RefundArgs struct {
	ReturnID uuid.UUID `json:"return_id"`
}

// Kind names the job for River.
func (RefundArgs) Kind() string { return "return_refund" }

// registerReturnWorkers adds the returns' job workers to w.
func (s *Service) registerReturnWorkers(w *river.Workers) {
	river.AddWorker(w, &refundWorker{s: s})
}

type refundWorker struct {
	river.WorkerDefaults[RefundArgs]
	s *Service
}

// Work refunds an approved return against the order's authorization, then in
// one transaction records the refund, posts a credit memo per returned line
// and the refund to the ERP, and tells the customer. The gateway's
// idempotency key makes a retried job refund once; the return's status makes
// a second job a no-op.
func (w *refundWorker) Work(ctx context.Context, job *river.Job[RefundArgs]) error {
	s := w.s
	r, err := getReturn(ctx, s.pool, job.Args.ReturnID)
	if err != nil {
		return err
	}
	if r.Status != ReturnRefundPending {
		return nil // refunded already, or not approved
	}
	key, err := s.refundKey(ctx, r)
	if err != nil {
		return err
	}
	if r.Amount == 0 {
		return s.refunded(ctx, r, key, adapter.Transaction{Status: adapter.TxSucceeded})
	}
	var authID string
	var captured int
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce((SELECT external_id FROM payments WHERE order_id = $1 AND kind = 'authorize' AND status = $2 ORDER BY created_at DESC LIMIT 1), ''),
			(SELECT count(*) FROM payments WHERE order_id = $1 AND kind = 'capture' AND status = $3)::int`,
		r.OrderID, adapter.AuthApproved, adapter.TxSucceeded).Scan(&authID, &captured)
	if err != nil {
		return err
	}
	if authID == "" || captured == 0 {
		return s.refundFailed(ctx, r, key, KindPaymentFailed, adapter.Transaction{Code: "not_captured",
			Message: fmt.Sprintf("order has no captured payment to refund %.2f %s against", r.Amount, r.Currency)})
	}
	tx, err := s.sys.Payment.Refund(ctx, adapter.TransactionRequest{IdempotencyKey: key, OrderID: r.OrderID, AuthorizationID: authID,
		Amount: r.Amount, Currency: r.Currency, Reason: "return " + r.RMA})
	if err != nil {
		if adapter.IsRetryable(err) {
			return err
		}
		var ae *adapter.Error
		f := adapter.Transaction{Message: err.Error()}
		if errors.As(err, &ae) {
			f.Code, f.Message = ae.Code, ae.Message
		}
		return s.refundFailed(ctx, r, key, KindIntegrationError, f)
	}
	if tx.Status != adapter.TxSucceeded {
		return s.refundFailed(ctx, r, key, KindPaymentFailed, tx)
	}
	return s.refunded(ctx, r, key, tx)
}

// refundKey is the gateway idempotency key of a return's next refund attempt:
// refund:<return id>, with a counter after a failed attempt, whose key the
// gateway has spent.
func (s *Service) refundKey(ctx context.Context, r Return) (string, error) {
	base := "refund:" + r.ID.String()
	var failed int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE order_id = $1 AND kind = 'refund' AND status <> $2
		AND (key = $3 OR key LIKE $3 || ':%')`, r.OrderID, adapter.TxSucceeded, base).Scan(&failed)
	if err != nil || failed == 0 {
		return base, err
	}
	return fmt.Sprintf("%s:%d", base, failed), nil
}

// refunded records a refund that succeeded, posts the credit memos and the
// refund to the ERP, and tells the customer.
func (s *Service) refunded(ctx context.Context, r Return, key string, t adapter.Transaction) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		o, r, err := lockReturn(ctx, tx, r.ID)
		if err != nil || r.Status != ReturnRefundPending {
			return err
		}
		now := s.now()
		if r.Amount > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO payments (key, order_id, kind, status, amount, external_id, code, message)
				VALUES ($1, $2, 'refund', $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`,
				key, o.ID, t.Status, r.Amount, t.ID, t.Code, t.Message); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE returns SET status = 'refunded', refunded_at = $2, payment_key = $3, refund_id = $4, updated_at = $2
			WHERE id = $1`, r.ID, now, key, t.ID); err != nil {
			return err
		}
		// One credit memo per returned line (a line is returned once), and
		// the refund paid out; zero amounts have nothing to post.
		for _, l := range r.Lines {
			if l.Amount == 0 {
				continue
			}
			lid := l.LineID
			if err := s.post(ctx, tx, "credit_memo", "credit_memo:"+l.LineID.String(), o.ID, &lid, adapter.Document{
				Currency: r.Currency, Reference: r.RMA, Total: l.Amount,
				Lines: []adapter.DocumentLine{{LineID: l.LineID, SKU: l.SKU, Qty: l.Qty, Net: l.Amount}}}); err != nil {
				return err
			}
		}
		if r.Amount > 0 {
			if err := s.post(ctx, tx, "refund", "refund:"+r.ID.String(), o.ID, nil, adapter.Document{
				Currency: r.Currency, Reference: t.ID, Total: r.Amount}); err != nil {
				return err
			}
			if err := s.notify(ctx, tx, o, "refund:"+r.ID.String(), adapter.TemplateRefund, map[string]any{
				"refund_amount": fmt.Sprintf("%.2f", r.Amount), "currency": r.Currency, "reason": "return " + r.RMA}); err != nil {
				return err
			}
		}
		if err := s.setLineStatuses(ctx, tx, r.ID, LineRefunded); err != nil {
			return err
		}
		return s.syncReturnStatus(ctx, tx, o.ID, "refunded", returnsActor, fmt.Sprintf("%.2f %s refunded for %s", r.Amount, r.Currency, r.RMA),
			map[string]any{"return_id": r.ID, "amount": r.Amount, "transaction": t.ID})
	})
}

// refundFailed records a refund the gateway refused, or could not be made,
// and raises an exception for a person; ApproveRefund tries it again under a
// new key.
func (s *Service) refundFailed(ctx context.Context, r Return, key, kind string, t adapter.Transaction) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		o, r, err := lockReturn(ctx, tx, r.ID)
		if err != nil || r.Status != ReturnRefundPending {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO payments (key, order_id, kind, status, amount, external_id, code, message)
			VALUES ($1, $2, 'refund', $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`,
			key, o.ID, adapter.TxFailed, r.Amount, t.ID, t.Code, t.Message); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE returns SET status = 'refund_failed', updated_at = $2 WHERE id = $1`, r.ID, s.now()); err != nil {
			return err
		}
		oid := o.ID
		e := Exception{Kind: kind, Severity: SeverityHigh, Source: adapter.SystemPayment, OrderID: &oid, Endpoint: "payment/refund",
			Code: t.Code, Message: t.Message, Payload: mustJSON(map[string]any{"return_id": r.ID, "rma": r.RMA, "refund_amount": r.Amount,
				"amount": r.Amount, "currency": r.Currency, "idempotency_key": key})}
		for _, l := range r.Lines {
			e.LineIDs = append(e.LineIDs, l.LineID)
		}
		if _, err := s.raise(ctx, tx, e); err != nil {
			return err
		}
		return s.event(ctx, tx, o.ID, "refund_failed", returnsActor, t.Code+": "+t.Message, map[string]any{"return_id": r.ID, "key": key})
	})
}

// RefundAckGrace is how long a refund's ERP posting may wait for its
// acknowledgement before reconciliation reports it.
const RefundAckGrace = 24 * time.Hour

// Reasons a refund does not reconcile with the ERP.
const (
	MismatchMissing        = "missing"         // no refund posting for the refund
	MismatchRejected       = "rejected"        // the ERP rejected the posting
	MismatchAmount         = "amount_mismatch" // the posting's amount differs from what the gateway paid back
	MismatchUnacknowledged = "unacknowledged"  // not acknowledged RefundAckGrace after it was queued
)

// RefundMismatch is a refund the gateway made whose ERP refund posting is
// missing, rejected, of another amount, or unacknowledged for too long.
type RefundMismatch struct {
	PaymentKey    string     `json:"payment_key"`
	OrderID       uuid.UUID  `json:"order_id"`
	ReturnID      *uuid.UUID `json:"return_id,omitempty"`
	RMA           string     `json:"rma,omitempty"`
	Refunded      float64    `json:"refunded"` // what the gateway paid back
	TransactionID string     `json:"transaction_id"`
	RefundedAt    time.Time  `json:"refunded_at"`
	DocKey        string     `json:"doc_key"`
	ERPStatus     string     `json:"erp_status,omitempty"` // empty when the posting is missing
	ERPAmount     *float64   `json:"erp_amount,omitempty"`
	DocumentID    string     `json:"document_id,omitempty"`
	Code          string     `json:"code,omitempty"` // the ERP's rejection code and message
	Message       string     `json:"message,omitempty"`
	Reason        string     `json:"reason"`
}

// ReconcileRefunds lists the refunds the gateway made (payments of kind
// refund that succeeded) whose ERP refund posting is missing, rejected, of a
// different amount, or still unacknowledged RefundAckGrace after it was
// queued. A return's refund posts under refund:<return id>; any other refund
// is expected under its payment key. Oldest first.
func (s *Service) ReconcileRefunds(ctx context.Context) (_ []RefundMismatch, err error) {
	defer derrors.Wrap(&err, "ReconcileRefunds")
	rows, err := s.pool.Query(ctx, `
		SELECT p.key, p.order_id, r.id, coalesce(r.rma, ''), p.amount::float8, p.external_id, p.created_at,
			coalesce('refund:' || r.id::text, p.key), coalesce(e.status, ''), e.amount::float8, coalesce(e.document_id, ''),
			coalesce(e.code, ''), coalesce(e.message, ''),
			CASE WHEN e.doc_key IS NULL THEN $1
				WHEN e.status = 'rejected' THEN $2
				WHEN e.amount <> p.amount THEN $3
				ELSE $4 END
		FROM payments p
		LEFT JOIN returns r ON r.payment_key = p.key
		LEFT JOIN erp_postings e ON e.doc_key = coalesce('refund:' || r.id::text, p.key) AND e.kind = 'refund'
		WHERE p.kind = 'refund' AND p.status = $5
		AND (e.doc_key IS NULL OR e.status = 'rejected' OR e.amount <> p.amount
			OR (e.status <> 'acknowledged' AND e.created_at < now() - make_interval(secs => $6)))
		ORDER BY p.created_at, p.key`,
		MismatchMissing, MismatchRejected, MismatchAmount, MismatchUnacknowledged, adapter.TxSucceeded, RefundAckGrace.Seconds())
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RefundMismatch, error) {
		var m RefundMismatch
		err := row.Scan(&m.PaymentKey, &m.OrderID, &m.ReturnID, &m.RMA, &m.Refunded, &m.TransactionID, &m.RefundedAt,
			&m.DocKey, &m.ERPStatus, &m.ERPAmount, &m.DocumentID, &m.Code, &m.Message, &m.Reason)
		return m, err
	})
	if out == nil && err == nil {
		out = []RefundMismatch{}
	}
	return out, err
}
