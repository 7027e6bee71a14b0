package orchestration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Exception kinds: every step that needs a decision raises one of these.
const (
	KindPaymentFailed      = "payment_failed"
	KindFraudReview        = "fraud_review"
	KindAddressInvalid     = "address_invalid"
	KindStockout           = "stockout"
	KindReleaseRejected    = "release_rejected"
	KindCarrierDelay       = "carrier_delay"
	KindCarrierDisruption  = "carrier_disruption"
	KindERPPostingFailed   = "erp_posting_failed"
	KindIntegrationError   = "integration_error"
	KindRefundReview       = "refund_review"
	KindStaleInventory     = "stale_inventory"
	KindPickupNotCollected = "pickup_not_collected"
)

// ExceptionKinds lists every exception kind.
func ExceptionKinds() []string {
	return []string{KindPaymentFailed, KindFraudReview, KindAddressInvalid, KindStockout, KindReleaseRejected,
		KindCarrierDelay, KindCarrierDisruption, KindERPPostingFailed, KindIntegrationError, KindRefundReview,
		KindStaleInventory, KindPickupNotCollected}
}

// Severities.
const (
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Severities lists the severities, least first.
func Severities() []string {
	return []string{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}
}

// Exception is a step that needs a decision, in the canonical model.
type Exception struct {
	ID       uuid.UUID   `json:"id"`
	Kind     string      `json:"kind"`
	Severity string      `json:"severity"`
	Status   string      `json:"status"`
	Source   string      `json:"source"` // core, or the outside system that reported it
	OrderID  *uuid.UUID  `json:"order_id,omitempty"`
	LineIDs  []uuid.UUID `json:"line_ids,omitempty"`
	SKU      string      `json:"sku,omitempty"`
	Location string      `json:"location,omitempty"`
	Carrier  string      `json:"carrier,omitempty"`
	Endpoint string      `json:"endpoint,omitempty"`
	// Code and Message are as the outside system sent them, or the core's own.
	Code       string          `json:"code,omitempty"`
	Message    string          `json:"message"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	OccurredAt time.Time       `json:"occurred_at"`
	CreatedAt  time.Time       `json:"created_at"`
}

// Validate names each bad field.
func (e Exception) Validate() error {
	v := &derrors.ValidationError{}
	if !slices.Contains(ExceptionKinds(), e.Kind) {
		v.Add("kind", "want one of %s", strings.Join(ExceptionKinds(), ", "))
	}
	if !slices.Contains(Severities(), e.Severity) {
		v.Add("severity", "want one of %s", strings.Join(Severities(), ", "))
	}
	if strings.TrimSpace(e.Message) == "" {
		v.Add("message", "required: the outside system's message, as it sent it")
	}
	if len(e.Message) > 8000 {
		v.Add("message", "at most 8000 bytes")
	}
	if !e.OccurredAt.IsZero() && !PlausibleTime(e.OccurredAt) {
		v.Add("occurred_at", "want a date-time from 2000 to 2100, like 2026-12-24T18:00:00Z")
	}
	if len(e.Payload) > 0 && !json.Valid(e.Payload) {
		v.Add("payload", "must be JSON")
	}
	for name, val := range map[string]string{"sku": e.SKU, "location": e.Location, "carrier": e.Carrier,
		"endpoint": e.Endpoint, "code": e.Code, "source": e.Source} {
		if len(val) > 500 {
			v.Add(name, "at most 500 bytes")
		}
	}
	return v.Err()
}

// ExceptionHook is told of every exception written, inside the transaction
// that writes it, so triage can be enqueued atomically with it. cmd wires the
// triage's intake here; orchestration knows nothing of triage.
type ExceptionHook func(ctx context.Context, tx pgx.Tx, e Exception) error

// raise writes e in tx, tells the hook, and returns its id.
func (s *Service) raise(ctx context.Context, tx pgx.Tx, e Exception) (uuid.UUID, error) {
	if e.OccurredAt.IsZero() {
		e.OccurredAt = s.now()
	}
	id, err := insertException(ctx, tx, e)
	if err != nil {
		return uuid.Nil, err
	}
	e.ID = id
	if s.hook != nil {
		if err := s.hook(ctx, tx, e); err != nil {
			return uuid.Nil, fmt.Errorf("exception hook: %w", err)
		}
	}
	return id, nil
}
