package adapter

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// ERP receives the financial documents of an order. A posting may be
// acknowledged at once, accepted for later (Status pending, settled by Status
// or by a callback carrying a [Posting]) or rejected; all three are results.
//
// The document key is the idempotency key and the ERP's handle on the
// document: posting the same key again returns the first posting. A rejected
// key is spent: fix the cause and post under a new key.
type ERP interface {
	PostInvoice(ctx context.Context, doc Document) (Posting, error)
	PostCreditMemo(ctx context.Context, doc Document) (Posting, error)
	PostPaymentCapture(ctx context.Context, doc Document) (Posting, error)
	PostRefund(ctx context.Context, doc Document) (Posting, error)
	Status(ctx context.Context, documentKey string) (Posting, error)
}

// Posting statuses.
const (
	PostingAcknowledged = "acknowledged"
	PostingPending      = "pending"
	PostingRejected     = "rejected"
)

// ERP rejection codes the simulator uses; a real ERP sends its own.
const (
	ERPPeriodClosed    = "period_closed"
	ERPAmountMismatch  = "amount_mismatch"
	ERPCustomerBlocked = "customer_blocked"
	ERPAccountMissing  = "gl_account_missing"
	ERPTaxCodeInvalid  = "tax_code_invalid"
)

// Document is an invoice, credit memo, payment capture or refund as the ERP
// receives it. Total is what the document is worth; when Lines are given their
// Net + Tax must add up to it.
type Document struct {
	DocumentKey string         `json:"document_key"`
	OrderID     uuid.UUID      `json:"order_id"`
	Reference   string         `json:"reference,omitempty"` // e.g. the invoice a credit memo corrects, or the gateway transaction id
	Currency    string         `json:"currency"`
	PostingDate time.Time      `json:"posting_date,omitzero"` // zero means today
	Lines       []DocumentLine `json:"lines,omitempty"`
	Total       float64        `json:"total"`
}

// DocumentLine is one line of a document.
type DocumentLine struct {
	LineID uuid.UUID `json:"line_id"`
	SKU    string    `json:"sku,omitempty"`
	Qty    int       `json:"qty"`
	Net    float64   `json:"net"`
	Tax    float64   `json:"tax"`
}

// Validate names each bad field. That the lines add up to the total is the
// ERP's check, answered with a rejected posting.
func (d Document) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "document_key", d.DocumentKey)
	checkOrder(v, d.OrderID)
	checkMoney(v, d.Total, d.Currency)
	for i, l := range d.Lines {
		if l.LineID == uuid.Nil || l.Qty < 0 || !validAmount(l.Net, false) || !validAmount(l.Tax, false) {
			v.Add(indexed("lines", i), "want line_id, qty of 0 or more, net and tax of 0 or more")
		}
	}
	return v.Err()
}

// Posting is the ERP's answer for a document.
type Posting struct {
	DocumentKey string `json:"document_key"`
	DocumentID  string `json:"document_id,omitempty"` // the ERP's document number, once assigned
	Kind        string `json:"kind"`                  // the Op… constant of the post: OpPostInvoice, …
	Status      string `json:"status"`                // PostingAcknowledged, PostingPending or PostingRejected
	Code        string `json:"code,omitempty"`
	Message     string `json:"message,omitempty"`
}
