package orchestration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// Order statuses after capture.
const (
	StatusAuthorised       = "authorised"        // payment held, checks passed
	StatusOnHold           = "on_hold"           // waiting for a decision (see hold_reason and the open exception)
	StatusReleased         = "released"          // sent to the fulfilling locations
	StatusPartiallyShipped = "partially_shipped" // some shipments left
	StatusShipped          = "shipped"           // every line left a location
	StatusReadyForPickup   = "ready_for_pickup"  // a pickup order waits at its store for the customer
	StatusDelivered        = "delivered"
)

// Line statuses after capture.
const (
	LineReleased  = "released"
	LineShipped   = "shipped"
	LineDelivered = "delivered"
)

// transitions lists the legal moves of the order state machine.
var transitions = map[string][]string{
	StatusCaptured:         {StatusAuthorised, StatusOnHold, StatusCancelled, StatusBackordered, StatusCaptured},
	StatusBackordered:      {StatusCaptured, StatusBackordered, StatusCancelled, StatusOnHold},
	StatusOnHold:           {StatusCaptured, StatusAuthorised, StatusReleased, StatusCancelled, StatusOnHold},
	StatusAuthorised:       {StatusReleased, StatusOnHold, StatusCancelled},
	StatusReleased:         {StatusReleased, StatusPartiallyShipped, StatusShipped, StatusReadyForPickup, StatusOnHold, StatusCancelled},
	StatusPartiallyShipped: {StatusPartiallyShipped, StatusShipped, StatusReadyForPickup, StatusOnHold},
	StatusShipped:          {StatusDelivered, StatusShipped},
	StatusReadyForPickup:   {StatusDelivered, StatusReadyForPickup}, // delivered: collected by the customer
	StatusDelivered:        {StatusReturnRequested},
	StatusReturnRequested:  {StatusReturned},
	StatusReturned:         {StatusRefunded},
	StatusRefunded:         {},
	StatusCancelled:        {},
	StatusRejected:         {StatusCancelled},
}

// Terminal reports whether an order in status will not move again by itself.
func Terminal(status string) bool {
	return status == StatusDelivered || status == StatusCancelled || status == StatusRejected || status == StatusRefunded
}

// CanTransition reports whether an order may move from one status to another.
func CanTransition(from, to string) bool {
	return slices.Contains(transitions[from], to)
}

// Job kinds: each step of the lifecycle is a durable River job, inserted in
// the transaction that makes it due.
type (
	// ChecksArgs authorises payment and screens fraud, address and tax.
	ChecksArgs struct {
		OrderID uuid.UUID `json:"order_id"`
	}
	// ReleaseArgs releases an order's lines at one location.
	ReleaseArgs struct {
		OrderID    uuid.UUID `json:"order_id"`
		LocationID int64     `json:"location_id"`
	}
	// ShipArgs books the carrier for a released shipment.
	ShipArgs struct {
		ShipmentID uuid.UUID `json:"shipment_id"`
	}
	// TrackArgs polls the carrier for a shipment's events.
	TrackArgs struct {
		ShipmentID uuid.UUID `json:"shipment_id"`
	}
	// PostArgs posts one ERP document.
	PostArgs struct {
		DocKey string `json:"doc_key"`
	}
	// VoidArgs releases a cancelled order's payment authorization.
	VoidArgs struct {
		OrderID uuid.UUID `json:"order_id"`
	}
	// NotifyArgs sends one customer notification.
	NotifyArgs struct {
		Key string `json:"key"`
	}
)

// Kind names the job for River.
func (ChecksArgs) Kind() string { return "order_checks" }

// Kind names the job for River.
func (ReleaseArgs) Kind() string { return "order_release" }

// Kind names the job for River.
func (ShipArgs) Kind() string { return "shipment_book" }

// Kind names the job for River.
func (TrackArgs) Kind() string { return "shipment_track" }

// Kind names the job for River.
func (PostArgs) Kind() string { return "erp_post" }

// Kind names the job for River.
func (NotifyArgs) Kind() string { return "notify" }

// Kind names the job for River.
func (VoidArgs) Kind() string { return "payment_void" }

// EnqueueSQL inserts a River job directly, so a job can ride in the same
// pipelined batch or transaction as the state change that makes it due. It is
// River's documented way to insert from SQL; River's workers pick it up on
// their next fetch.
const EnqueueSQL = `INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, scheduled_at)
	VALUES ($1, $2, $3, 1, 'default', 'available', coalesce($4, now()))`

// maxAttempts is how often River tries a lifecycle job before it is
// discarded (and shows as dead in GET /v1/jobs).
const maxAttempts = 12

func queueJob(b *pgx.Batch, args river.JobArgs, at *time.Time) {
	raw, _ := json.Marshal(args)
	b.Queue(EnqueueSQL, raw, args.Kind(), maxAttempts, at)
}

func enqueue(ctx context.Context, tx pgx.Tx, args river.JobArgs, at *time.Time) error {
	raw, err := json.Marshal(args)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, EnqueueSQL, raw, args.Kind(), maxAttempts, at)
	return err
}

// setStatus moves an order through the state machine, refusing illegal
// moves, bumps its version, and writes the event: the audit trail. Staying
// in the same status (cancelling some lines, say) is always allowed and
// records the event.
func (s *Service) setStatus(ctx context.Context, tx pgx.Tx, id uuid.UUID, to, kind, actor, reason string, data any) (from string, err error) {
	var ext string
	if err := tx.QueryRow(ctx, `SELECT status, external_id FROM orders WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&from, &ext); err != nil {
		return "", derrors.Frame(err, "setStatus(%s)", id)
	}
	if from != to && !CanTransition(from, to) {
		return from, fmt.Errorf("order %s cannot go from %s to %s: %w", id, from, to, derrors.Conflict)
	}
	hold := ""
	if to == StatusOnHold {
		hold = reason
	}
	if _, err := tx.Exec(ctx, `UPDATE orders SET status = $2, hold_reason = $3, version = version + 1, updated_at = $4 WHERE id = $1`,
		id, to, hold, s.now()); err != nil {
		return from, err
	}
	raw, _ := json.Marshal(data)
	if data == nil {
		raw = []byte(`{}`)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO order_events (order_id, kind, from_status, to_status, actor, reason, correlation_id, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, kind, from, to, actor, reason, ext, raw, s.now())
	return from, err
}

// event writes an order event without a status change.
func (s *Service) event(ctx context.Context, tx pgx.Tx, id uuid.UUID, kind, actor, reason string, data any) error {
	raw, _ := json.Marshal(data)
	if data == nil {
		raw = []byte(`{}`)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO order_events (order_id, kind, actor, reason, correlation_id, data, created_at)
		SELECT $1, $2, $3, $4, external_id, $5, $6 FROM orders WHERE id = $1`, id, kind, actor, reason, raw, s.now())
	return err
}

// notify records a notification and enqueues its sending, once per key.
func (s *Service) notify(ctx context.Context, tx pgx.Tx, o Order, key, template string, data map[string]any) error {
	to := o.Customer.Email
	channel := adapter.ChannelEmail
	if to == "" {
		to, channel = "customer:"+o.Customer.ID, adapter.ChannelPush
	}
	if data == nil {
		data = map[string]any{}
	}
	data["order_number"] = o.ExternalID
	if o.Customer.Name != "" {
		data["customer_name"] = o.Customer.Name
	}
	tag, err := tx.Exec(ctx, `INSERT INTO notifications (key, order_id, template, channel, recipient, data)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING`, key, o.ID, template, channel, to, data)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	return enqueue(ctx, tx, NotifyArgs{Key: key}, nil)
}

// post records an ERP document and enqueues its posting, once per key.
func (s *Service) post(ctx context.Context, tx pgx.Tx, kind, key string, orderID uuid.UUID, lineID *uuid.UUID, doc adapter.Document) error {
	doc.DocumentKey = key
	doc.OrderID = orderID
	raw, _ := json.Marshal(doc)
	tag, err := tx.Exec(ctx, `INSERT INTO erp_postings (doc_key, kind, order_id, line_id, amount, document)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, key, kind, orderID, lineID, doc.Total, raw)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	return enqueue(ctx, tx, PostArgs{DocKey: key}, nil)
}

// failStep raises the exception for a step that needs a decision and puts
// the order on hold, in one transaction.
func (s *Service) failStep(ctx context.Context, o Order, e Exception, hold string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		oid := o.ID
		e.OrderID = &oid
		if _, err := s.raise(ctx, tx, e); err != nil {
			return err
		}
		if hold != "" {
			if _, err := s.setStatus(ctx, tx, o.ID, StatusOnHold, "held", "system:lifecycle", hold, map[string]any{"exception": e.Kind, "code": e.Code}); err != nil {
				return err
			}
		}
		return nil
	})
}

// integrationFailure turns an outside system's non-retryable error into an
// integration_error exception; a retryable one is returned for River to retry.
func (s *Service) integrationFailure(ctx context.Context, o Order, system, op string, err error, hold bool) error {
	if adapter.IsRetryable(err) {
		return err
	}
	var ae *adapter.Error
	code, msg := "", err.Error()
	if errors.As(err, &ae) {
		code, msg = ae.Code, ae.Message
	}
	h := ""
	if hold {
		h = fmt.Sprintf("%s %s failed", system, op)
	}
	return s.failStep(ctx, o, Exception{Kind: KindIntegrationError, Severity: SeverityHigh, Source: system,
		Endpoint: system + "/" + op, Code: code, Message: msg}, h)
}

// addressOf converts an order address for the adapters.
func addressOf(a *Address) adapter.Address {
	if a == nil {
		return adapter.Address{}
	}
	return adapter.Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.Region,
		PostalCode: a.PostalCode, Country: a.Country, Lat: a.Lat, Lon: a.Lon}
}
