package adapter

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// postingState is the simulated ERP's record of a document.
type postingState struct {
	Posting Posting   `json:"posting"`
	ID      string    `json:"id"`     // the document number, revealed on acknowledgement
	AckAt   time.Time `json:"ack_at"` // when a pending posting is acknowledged
}

// PostInvoice posts an invoice (document numbers INV…).
func (s *Simulator) PostInvoice(ctx context.Context, doc Document) (Posting, error) {
	return s.post(ctx, OpPostInvoice, "INV", doc)
}

// PostCreditMemo posts a credit memo (document numbers CM…).
func (s *Simulator) PostCreditMemo(ctx context.Context, doc Document) (Posting, error) {
	return s.post(ctx, OpPostCreditMemo, "CM", doc)
}

// PostPaymentCapture posts a captured payment (document numbers PAY…).
func (s *Simulator) PostPaymentCapture(ctx context.Context, doc Document) (Posting, error) {
	return s.post(ctx, OpPostPaymentCapture, "PAY", doc)
}

// PostRefund posts a refund paid out (document numbers REF…).
func (s *Simulator) PostRefund(ctx context.Context, doc Document) (Posting, error) {
	return s.post(ctx, OpPostRefund, "REF", doc)
}

// post checks that the lines add up, then rejects, defers or acknowledges the
// document at the configured rates.
func (s *Simulator) post(ctx context.Context, op, prefix string, doc Document) (Posting, error) {
	if err := doc.Validate(); err != nil {
		return Posting{}, invalid(SystemERP, op, err)
	}
	return run(ctx, s, call{SystemERP, op, doc.DocumentKey, doc}, func(tx simTx, r *stream) (Posting, *Effect, error) {
		var prev postingState
		if found, err := tx.get(recPosting, doc.DocumentKey, &prev); err != nil {
			return Posting{}, nil, err
		} else if found {
			return Posting{}, nil, simError(SystemERP, op, 409, "document_key_reused",
				"Document key %s was already used for %s %s.", doc.DocumentKey, prev.Posting.Kind, prev.ID)
		}
		now := s.now()
		date := doc.PostingDate
		if date.IsZero() {
			date = now
		}
		st := &postingState{ID: fmt.Sprintf("%s%08d", prefix, r.next()%1e8)}
		p := Posting{DocumentKey: doc.DocumentKey, Kind: op}
		var sum int64
		for _, l := range doc.Lines {
			sum += cents(l.Net) + cents(l.Tax)
		}
		u := r.float()
		switch {
		case len(doc.Lines) > 0 && sum != cents(doc.Total):
			p.Status, p.Code = PostingRejected, ERPAmountMismatch
			p.Message = fmt.Sprintf("Document total %s does not equal the sum of its lines %s",
				money(cents(doc.Total), doc.Currency), money(sum, doc.Currency))
		case u < s.cfg.ERP.RejectRate:
			p.Status = PostingRejected
			switch r.intn(4) {
			case 0:
				p.Code, p.Message = ERPPeriodClosed, fmt.Sprintf("Posting period %d/%02d is closed", date.Year(), int(date.Month()))
			case 1:
				p.Code, p.Message = ERPCustomerBlocked, fmt.Sprintf("Customer account C-%05d is blocked for posting", r.intn(100000))
			case 2:
				p.Code, p.Message = ERPAccountMissing, fmt.Sprintf("G/L account %d requires a cost center", 400000+r.intn(1000))
			default:
				p.Code, p.Message = ERPTaxCodeInvalid, fmt.Sprintf("Tax code V%d is not defined for company code 1000", 1+r.intn(9))
			}
		case u < s.cfg.ERP.RejectRate+s.cfg.ERP.PendingRate:
			p.Status, p.Code, p.Message = PostingPending, "queued", "Document queued for posting; acknowledgement to follow"
			st.AckAt = now.Add(s.scaled(time.Duration(1+r.intn(30)) * time.Minute))
		default:
			p.Status, p.DocumentID = PostingAcknowledged, st.ID
		}
		st.Posting = p
		if err := tx.put(recPosting, doc.DocumentKey, st); err != nil {
			return Posting{}, nil, err
		}
		if p.Status == PostingRejected {
			return p, nil, nil
		}
		lines := make([]uuid.UUID, len(doc.Lines))
		for i, l := range doc.Lines {
			lines[i] = l.LineID
		}
		return p, &Effect{OrderID: doc.OrderID, Ref: st.ID, LineIDs: lines, Amount: round2(doc.Total)}, nil
	})
}

// Status returns the current posting of a document: a pending one is
// acknowledged, with its document number, once its time has come.
func (s *Simulator) Status(ctx context.Context, documentKey string) (Posting, error) {
	if documentKey == "" {
		return Posting{}, &Error{System: SystemERP, Op: OpStatus, Code: CodeInvalidRequest, Message: "document key required"}
	}
	return run(ctx, s, call{SystemERP, OpStatus, documentKey, nil}, func(tx simTx, _ *stream) (Posting, *Effect, error) {
		st := &postingState{}
		found, err := tx.get(recPosting, documentKey, st)
		if err != nil {
			return Posting{}, nil, err
		}
		if !found {
			return Posting{}, nil, simError(SystemERP, OpStatus, 404, CodeNotFound, "Document %s not found.", documentKey)
		}
		if st.Posting.Status == PostingPending && !s.now().Before(st.AckAt) {
			st.Posting.Status, st.Posting.DocumentID, st.Posting.Code, st.Posting.Message = PostingAcknowledged, st.ID, "", ""
			if err := tx.put(recPosting, documentKey, st); err != nil {
				return Posting{}, nil, err
			}
		}
		return st.Posting, nil, nil
	})
}

// Send checks the recipient and renders the template, then accepts the message.
func (s *Simulator) Send(ctx context.Context, n Notification) (Receipt, error) {
	if err := n.Validate(); err != nil {
		return Receipt{}, invalid(SystemNotify, OpSend, err)
	}
	return run(ctx, s, call{SystemNotify, OpSend, n.Key, n}, func(_ simTx, r *stream) (Receipt, *Effect, error) {
		if !validRecipient(n.Channel, n.To) {
			return Receipt{}, nil, simError(SystemNotify, OpSend, 422, "invalid_recipient", "'%s' is not a valid %s recipient.", n.To, n.Channel)
		}
		if _, err := Render(n.Channel, n.Template, n.Data); err != nil {
			return Receipt{}, nil, simError(SystemNotify, OpSend, 422, "template_error", "%v", err)
		}
		return Receipt{ID: r.id("msg_")}, &Effect{OrderID: n.OrderID, Ref: n.Template, To: n.To}, nil
	})
}
