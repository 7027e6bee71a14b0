package adapter

import (
	"context"
	"fmt"
	"slices"
)

// Paths of the operations, appended to each system's base URL.
const (
	PathAuthorize          = "/payments/authorize"
	PathCapture            = "/payments/capture"
	PathVoid               = "/payments/void"
	PathRefund             = "/payments/refund"
	PathFraudScore         = "/fraud/score"
	PathValidateAddress    = "/addresses/validate"
	PathQuoteTax           = "/tax/quote"
	PathRelease            = "/fulfillment/release"
	PathBook               = "/shipments/book"
	PathTrack              = "/shipments/track"
	PathPostInvoice        = "/erp/invoices"
	PathPostCreditMemo     = "/erp/credit-memos"
	PathPostPaymentCapture = "/erp/payment-captures"
	PathPostRefund         = "/erp/refunds"
	PathERPStatus          = "/erp/status"
	PathSend               = "/notifications/send"
)

// request is what every state-changing request type is: valid or not, and
// keyed.
type request interface {
	Validate() error
	idempotencyKey() string
}

func (r AuthorizeRequest) idempotencyKey() string   { return r.IdempotencyKey }
func (r TransactionRequest) idempotencyKey() string { return r.IdempotencyKey }
func (r FraudRequest) idempotencyKey() string       { return r.IdempotencyKey }
func (r AddressRequest) idempotencyKey() string     { return r.IdempotencyKey }
func (r TaxRequest) idempotencyKey() string         { return r.IdempotencyKey }
func (r ReleaseRequest) idempotencyKey() string     { return r.IdempotencyKey }
func (r BookRequest) idempotencyKey() string        { return r.IdempotencyKey }
func (d Document) idempotencyKey() string           { return d.DocumentKey }
func (n Notification) idempotencyKey() string       { return n.Key }

// exchange validates req, posts it and decodes the answer.
func exchange[T any](ctx context.Context, c *HTTPClient, system, op, path string, req request) (T, error) {
	var out T
	if err := req.Validate(); err != nil {
		return out, invalid(system, op, err)
	}
	if err := c.do(ctx, system, op, path, req.idempotencyKey(), req, &out); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// Authorize posts to PathAuthorize.
func (c *HTTPClient) Authorize(ctx context.Context, req AuthorizeRequest) (Authorization, error) {
	return exchange[Authorization](ctx, c, SystemPayment, OpAuthorize, PathAuthorize, req)
}

// Capture posts to PathCapture.
func (c *HTTPClient) Capture(ctx context.Context, req TransactionRequest) (Transaction, error) {
	return exchange[Transaction](ctx, c, SystemPayment, OpCapture, PathCapture, req)
}

// Void posts to PathVoid.
func (c *HTTPClient) Void(ctx context.Context, req TransactionRequest) (Transaction, error) {
	return exchange[Transaction](ctx, c, SystemPayment, OpVoid, PathVoid, req)
}

// Refund posts to PathRefund.
func (c *HTTPClient) Refund(ctx context.Context, req TransactionRequest) (Transaction, error) {
	return exchange[Transaction](ctx, c, SystemPayment, OpRefund, PathRefund, req)
}

// Score posts to PathFraudScore.
func (c *HTTPClient) Score(ctx context.Context, req FraudRequest) (FraudResult, error) {
	return exchange[FraudResult](ctx, c, SystemFraud, OpScore, PathFraudScore, req)
}

// ValidateAddress posts to PathValidateAddress.
func (c *HTTPClient) ValidateAddress(ctx context.Context, req AddressRequest) (AddressResult, error) {
	return exchange[AddressResult](ctx, c, SystemTax, OpValidateAddress, PathValidateAddress, req)
}

// QuoteTax posts to PathQuoteTax.
func (c *HTTPClient) QuoteTax(ctx context.Context, req TaxRequest) (TaxQuote, error) {
	return exchange[TaxQuote](ctx, c, SystemTax, OpQuoteTax, PathQuoteTax, req)
}

// Release posts to PathRelease.
func (c *HTTPClient) Release(ctx context.Context, req ReleaseRequest) (ReleaseResult, error) {
	return exchange[ReleaseResult](ctx, c, SystemFulfillment, OpRelease, PathRelease, req)
}

// Book posts to PathBook.
func (c *HTTPClient) Book(ctx context.Context, req BookRequest) (Booking, error) {
	return exchange[Booking](ctx, c, SystemCarrier, OpBook, PathBook, req)
}

// trackRequest and trackResponse are the wire form of Track.
type (
	trackRequest struct {
		TrackingNumber string `json:"tracking_number"`
	}
	trackResponse struct {
		Events []TrackingEvent `json:"events"`
	}
)

// Track posts {"tracking_number"} to PathTrack and returns the events
// {"events": [...]} of the answer.
func (c *HTTPClient) Track(ctx context.Context, trackingNumber string) ([]TrackingEvent, error) {
	if trackingNumber == "" {
		return nil, &Error{System: SystemCarrier, Op: OpTrack, Code: CodeInvalidRequest, Message: "tracking number required"}
	}
	var out trackResponse
	if err := c.do(ctx, SystemCarrier, OpTrack, PathTrack, "", trackRequest{trackingNumber}, &out); err != nil {
		return nil, err
	}
	if out.Events == nil {
		out.Events = []TrackingEvent{}
	}
	return out.Events, nil
}

// PostInvoice posts to PathPostInvoice.
func (c *HTTPClient) PostInvoice(ctx context.Context, doc Document) (Posting, error) {
	return exchange[Posting](ctx, c, SystemERP, OpPostInvoice, PathPostInvoice, doc)
}

// PostCreditMemo posts to PathPostCreditMemo.
func (c *HTTPClient) PostCreditMemo(ctx context.Context, doc Document) (Posting, error) {
	return exchange[Posting](ctx, c, SystemERP, OpPostCreditMemo, PathPostCreditMemo, doc)
}

// PostPaymentCapture posts to PathPostPaymentCapture.
func (c *HTTPClient) PostPaymentCapture(ctx context.Context, doc Document) (Posting, error) {
	return exchange[Posting](ctx, c, SystemERP, OpPostPaymentCapture, PathPostPaymentCapture, doc)
}

// PostRefund posts to PathPostRefund.
func (c *HTTPClient) PostRefund(ctx context.Context, doc Document) (Posting, error) {
	return exchange[Posting](ctx, c, SystemERP, OpPostRefund, PathPostRefund, doc)
}

// statusRequest is the wire form of Status.
type statusRequest struct {
	DocumentKey string `json:"document_key"`
}

// Status posts {"document_key"} to PathERPStatus.
func (c *HTTPClient) Status(ctx context.Context, documentKey string) (Posting, error) {
	if documentKey == "" {
		return Posting{}, &Error{System: SystemERP, Op: OpStatus, Code: CodeInvalidRequest, Message: "document key required"}
	}
	var out Posting
	if err := c.do(ctx, SystemERP, OpStatus, PathERPStatus, "", statusRequest{documentKey}, &out); err != nil {
		return Posting{}, err
	}
	return out, nil
}

// notificationWire is a notification as sent: with its rendered text, so a
// plain email or SMS gateway can deliver it without our templates.
type notificationWire struct {
	Notification
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body"`
}

// Send renders the notification and posts it, with "subject" and "body"
// added, to PathSend.
func (c *HTTPClient) Send(ctx context.Context, n Notification) (Receipt, error) {
	if err := n.Validate(); err != nil {
		return Receipt{}, invalid(SystemNotify, OpSend, err)
	}
	m, err := Render(n.Channel, n.Template, n.Data)
	if err != nil {
		return Receipt{}, invalid(SystemNotify, OpSend, err)
	}
	var out Receipt
	if err := c.do(ctx, SystemNotify, OpSend, PathSend, n.Key, notificationWire{n, m.Subject, m.Body}, &out); err != nil {
		return Receipt{}, err
	}
	return out, nil
}

// The checks below refuse 2xx answers that are not what the wire format
// promises, so nonsense never reaches the lifecycle as a result.

func (a *Authorization) check() error {
	if a.ID == "" || !slices.Contains([]string{AuthApproved, AuthDeclined}, a.Status) {
		return fmt.Errorf("authorization: want an id and status approved or declined, got %q %q", a.ID, a.Status)
	}
	return nil
}

func (t *Transaction) check() error {
	if !slices.Contains([]string{TxSucceeded, TxFailed}, t.Status) {
		return fmt.Errorf("transaction: want status succeeded or failed, got %q", t.Status)
	}
	return nil
}

func (f *FraudResult) check() error {
	if !(f.Score >= 0 && f.Score <= 1) {
		return fmt.Errorf("fraud result: score %g outside [0, 1]", f.Score)
	}
	return nil
}

func (r *ReleaseResult) check() error {
	if !r.Accepted && r.RejectReason == "" {
		return fmt.Errorf("release result: neither accepted nor a reject reason")
	}
	return nil
}

func (b *Booking) check() error {
	if b.TrackingNumber == "" {
		return fmt.Errorf("booking: no tracking number")
	}
	return nil
}

func (p *Posting) check() error {
	if !slices.Contains([]string{PostingAcknowledged, PostingPending, PostingRejected}, p.Status) {
		return fmt.Errorf("posting: want status acknowledged, pending or rejected, got %q", p.Status)
	}
	return nil
}

func (r *Receipt) check() error {
	if r.ID == "" {
		return fmt.Errorf("receipt: no id")
	}
	return nil
}
