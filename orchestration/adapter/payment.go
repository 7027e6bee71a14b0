package adapter

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// PaymentGateway authorizes a payment at capture time, captures it when the
// order ships, voids it when the order is cancelled before that, and refunds
// captured money (partially or fully, in several refunds).
//
// A declined authorization or a failed capture is a result (Status declined or
// failed), not an error.
type PaymentGateway interface {
	Authorize(ctx context.Context, req AuthorizeRequest) (Authorization, error)
	Capture(ctx context.Context, req TransactionRequest) (Transaction, error)
	Void(ctx context.Context, req TransactionRequest) (Transaction, error)
	Refund(ctx context.Context, req TransactionRequest) (Transaction, error)
}

// Authorization statuses.
const (
	AuthApproved = "approved"
	AuthDeclined = "declined"
)

// Transaction statuses for captures, voids and refunds.
const (
	TxSucceeded = "succeeded"
	TxFailed    = "failed"
)

// Transaction kinds.
const (
	TxCapture = "capture"
	TxVoid    = "void"
	TxRefund  = "refund"
)

// AuthorizeRequest asks the gateway to hold Amount on the customer's payment
// method. Amounts are in the currency's major unit, rounded to cents.
type AuthorizeRequest struct {
	IdempotencyKey string    `json:"idempotency_key"`
	OrderID        uuid.UUID `json:"order_id"`
	Amount         float64   `json:"amount"`
	Currency       string    `json:"currency"`
	PaymentRef     string    `json:"payment_ref"` // the channel's token for the payment method
}

// Validate names each bad field.
func (r AuthorizeRequest) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "idempotency_key", r.IdempotencyKey)
	checkOrder(v, r.OrderID)
	checkMoney(v, r.Amount, r.Currency)
	if r.PaymentRef == "" || len(r.PaymentRef) > 200 {
		v.Add("payment_ref", "required, at most 200 bytes")
	}
	return v.Err()
}

// Authorization is the gateway's answer to an authorization request. A declined
// one carries the gateway's decline code (insufficient_funds, do_not_honor, …)
// and its message ("card_declined: Your card has insufficient funds.").
type Authorization struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"` // AuthApproved or AuthDeclined
	Amount    float64   `json:"amount"`
	Currency  string    `json:"currency"`
	Code      string    `json:"code,omitempty"`
	Message   string    `json:"message,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"` // capture before this, or reauthorize
}

// TransactionRequest captures, voids or refunds (part of) an authorization.
// Capture takes at most the authorized amount, once; Void releases an
// uncaptured authorization; Refund returns captured money, in as many partial
// refunds as needed up to the captured amount.
type TransactionRequest struct {
	IdempotencyKey  string    `json:"idempotency_key"`
	OrderID         uuid.UUID `json:"order_id"`
	AuthorizationID string    `json:"authorization_id"`
	Amount          float64   `json:"amount"`
	Currency        string    `json:"currency"`
	Reason          string    `json:"reason,omitempty"` // for refunds and voids, e.g. "return", "cancelled"
}

// Validate names each bad field.
func (r TransactionRequest) Validate() error {
	v := &derrors.ValidationError{}
	checkKey(v, "idempotency_key", r.IdempotencyKey)
	checkOrder(v, r.OrderID)
	if r.AuthorizationID == "" || len(r.AuthorizationID) > 200 {
		v.Add("authorization_id", "required, at most 200 bytes")
	}
	checkMoney(v, r.Amount, r.Currency)
	if len(r.Reason) > 200 {
		v.Add("reason", "at most 200 bytes")
	}
	return v.Err()
}

// Transaction is the gateway's answer to a capture, void or refund. A failed
// one (an expired authorization, say) carries the gateway's code and message.
type Transaction struct {
	ID              string  `json:"id"`
	AuthorizationID string  `json:"authorization_id"`
	Kind            string  `json:"kind"`   // TxCapture, TxVoid or TxRefund
	Status          string  `json:"status"` // TxSucceeded or TxFailed
	Amount          float64 `json:"amount"`
	Currency        string  `json:"currency"`
	Code            string  `json:"code,omitempty"`
	Message         string  `json:"message,omitempty"`
}

// checkKey validates an idempotency key field.
func checkKey(v *derrors.ValidationError, field, key string) {
	if !validKey(key) {
		v.Add(field, keyReason)
	}
}

// checkOrder validates an order id field.
func checkOrder(v *derrors.ValidationError, id uuid.UUID) {
	if id == uuid.Nil {
		v.Add("order_id", "required")
	}
}

// checkMoney validates a positive amount and its currency.
func checkMoney(v *derrors.ValidationError, amount float64, currency string) {
	if !validAmount(amount, true) {
		v.Add("amount", "want a positive amount of at least 0.01")
	}
	checkCurrency(v, currency)
}

// checkCurrency validates an ISO 4217 code.
func checkCurrency(v *derrors.ValidationError, currency string) {
	if len(currency) != 3 || currency[0] < 'A' || currency[0] > 'Z' || currency[1] < 'A' || currency[1] > 'Z' ||
		currency[2] < 'A' || currency[2] > 'Z' {
		v.Add("currency", "want an ISO 4217 code such as USD")
	}
}
