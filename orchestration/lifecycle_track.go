package orchestration

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/orchestration/sourcing"
)

// Dispatch is a shipment as it travels: what one location sends for one
// order, with its carrier, tracking and events. (A plan's Shipment is the
// sourcing estimate.)
type Dispatch struct {
	ID                uuid.UUID       `json:"id"`
	OrderID           uuid.UUID       `json:"order_id"`
	LocationID        int64           `json:"-"`
	Location          string          `json:"location"`
	Status            string          `json:"status"`
	Carrier           string          `json:"carrier,omitempty"`
	Service           string          `json:"service,omitempty"`
	TrackingNumber    string          `json:"tracking_number,omitempty"`
	EstimatedDelivery *time.Time      `json:"estimated_delivery,omitempty"`
	ShippedAt         *time.Time      `json:"shipped_at,omitempty"`
	ReadyAt           *time.Time      `json:"ready_at,omitempty"` // a pickup on the store's shelf since
	DeliveredAt       *time.Time      `json:"delivered_at,omitempty"`
	Lines             []ShipmentLine  `json:"lines"`
	Events            json.RawMessage `json:"events,omitempty"`
}

// ShipmentLine is a quantity of one order line in a shipment.
type ShipmentLine struct {
	LineID uuid.UUID `json:"line_id"`
	Qty    int       `json:"qty"`
}

func (s *Service) getShipment(ctx context.Context, id uuid.UUID) (Dispatch, error) {
	var sh Dispatch
	err := s.pool.QueryRow(ctx, `
		SELECT sh.id, sh.order_id, sh.location_id, l.code, sh.status, sh.carrier, sh.service, sh.tracking_number,
			sh.estimated_delivery, sh.shipped_at, sh.ready_at, sh.delivered_at,
			coalesce((SELECT jsonb_agg(jsonb_build_object('line_id', line_id, 'qty', qty)) FROM shipment_lines WHERE shipment_id = sh.id), '[]'),
			coalesce((SELECT jsonb_agg(jsonb_build_object('kind', kind, 'code', code, 'message', message, 'region', region, 'at', at) ORDER BY at)
				FROM shipment_events WHERE shipment_id = sh.id), '[]')
		FROM shipments sh JOIN locations l ON l.id = sh.location_id WHERE sh.id = $1`, id).Scan(
		&sh.ID, &sh.OrderID, &sh.LocationID, &sh.Location, &sh.Status, &sh.Carrier, &sh.Service, &sh.TrackingNumber,
		&sh.EstimatedDelivery, &sh.ShippedAt, &sh.ReadyAt, &sh.DeliveredAt, &sh.Lines, &sh.Events)
	if isNoRows(err) {
		return Dispatch{}, fmt.Errorf("no shipment %s: %w", id, derrors.NotFound)
	}
	return sh, err
}

// GetShipment returns a shipment with its lines and tracking events.
func (s *Service) GetShipment(ctx context.Context, id uuid.UUID) (_ Dispatch, err error) {
	defer derrors.Wrap(&err, "GetShipment(%s)", id)
	return s.getShipment(ctx, id)
}

type trackWorker struct {
	river.WorkerDefaults[TrackArgs]
	s *Service
}

// Work polls the carrier and applies what is new, then waits for the next poll
// until the shipment is delivered.
func (w *trackWorker) Work(ctx context.Context, job *river.Job[TrackArgs]) error {
	s := w.s
	sh, err := s.getShipment(ctx, job.Args.ShipmentID)
	if err != nil {
		return err
	}
	if sh.Status == "delivered" || sh.Status == "cancelled" || sh.TrackingNumber == "" {
		return nil
	}
	events, err := s.sys.Carrier.Track(ctx, sh.TrackingNumber)
	if err != nil {
		if adapter.IsRetryable(err) {
			return err
		}
		o, gerr := s.GetOrder(ctx, sh.OrderID)
		if gerr != nil {
			return gerr
		}
		if ferr := s.integrationFailure(ctx, o, adapter.SystemCarrier, "track", err, false); ferr != nil {
			return ferr
		}
		return river.JobSnooze(s.trackEvery())
	}
	delivered, err := s.ApplyTracking(ctx, sh.ID, "carrier", events)
	if err != nil {
		return err
	}
	if delivered {
		return nil
	}
	return river.JobSnooze(s.trackEvery())
}

// ApplyTracking records a shipment's tracking events (those already recorded
// are skipped, so carriers may resend) and acts on what is new: a delay raises
// carrier_delay and tells the customer once; an exception raises
// carrier_disruption; delivery completes the lines and, with the last
// shipment, the order. It reports whether the shipment is delivered.
func (s *Service) ApplyTracking(ctx context.Context, shipmentID uuid.UUID, source string, events []adapter.TrackingEvent) (delivered bool, err error) {
	defer derrors.Wrap(&err, "ApplyTracking(%s)", shipmentID)
	for i, e := range events {
		switch e.Kind {
		case adapter.TrackInTransit, adapter.TrackDelayed, adapter.TrackException, adapter.TrackDelivered:
		default:
			ve := &derrors.ValidationError{}
			ve.Add(fmt.Sprintf("events[%d].kind", i), "want in_transit, delayed, exception or delivered")
			return false, ve
		}
		if e.At.IsZero() {
			ve := &derrors.ValidationError{}
			ve.Add(fmt.Sprintf("events[%d].at", i), "required")
			return false, ve
		}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		var orderID uuid.UUID
		if err := tx.QueryRow(ctx, `SELECT status, order_id FROM shipments WHERE id = $1 FOR UPDATE`, shipmentID).Scan(&status, &orderID); err != nil {
			if isNoRows(err) {
				return fmt.Errorf("no shipment %s: %w", shipmentID, derrors.NotFound)
			}
			return err
		}
		switch status {
		case "released":
			return fmt.Errorf("shipment %s is not booked yet: %w", shipmentID, derrors.Conflict)
		case "ready_for_pickup":
			return fmt.Errorf("shipment %s waits at the store for pickup; no carrier carries it: %w", shipmentID, derrors.Conflict)
		}
		delivered = status == "delivered"
		// Lock the order: shipments of one order delivered at once must see
		// each other, or neither would complete the order.
		o, err := lockOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		var carrier, region string
		_ = tx.QueryRow(ctx, `SELECT sh.carrier, l.region FROM shipments sh JOIN locations l ON l.id = sh.location_id WHERE sh.id = $1`, shipmentID).Scan(&carrier, &region)
		for _, e := range events {
			tag, err := tx.Exec(ctx, `INSERT INTO shipment_events (shipment_id, kind, code, message, region, at, source)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, shipmentID, e.Kind, e.Code, e.Message, e.Region, e.At, source)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 || delivered {
				continue // seen before
			}
			oid := o.ID
			switch e.Kind {
			case adapter.TrackInTransit:
				_, err = tx.Exec(ctx, `UPDATE shipments SET status = 'in_transit', updated_at = now() WHERE id = $1 AND status = 'booked'`, shipmentID)
			case adapter.TrackDelayed:
				if _, err = tx.Exec(ctx, `UPDATE shipments SET status = 'delayed', updated_at = now() WHERE id = $1`, shipmentID); err != nil {
					return err
				}
				if _, err = s.raise(ctx, tx, Exception{Kind: KindCarrierDelay, Severity: SeverityMedium, Source: source, OrderID: &oid,
					Carrier: carrier, Location: region, Code: e.Code, Message: e.Message, OccurredAt: e.At,
					Payload: mustJSON(map[string]any{"shipment": shipmentID, "region": e.Region, "promise_date": o.PromiseDate})}); err != nil {
					return err
				}
				err = s.notify(ctx, tx, o, "delay:"+shipmentID.String(), adapter.TemplateDelay, map[string]any{"carrier": carrier, "reason": e.Message})
			case adapter.TrackException:
				if _, err = tx.Exec(ctx, `UPDATE shipments SET status = 'exception', updated_at = now() WHERE id = $1`, shipmentID); err != nil {
					return err
				}
				_, err = s.raise(ctx, tx, Exception{Kind: KindCarrierDisruption, Severity: SeverityHigh, Source: source, OrderID: &oid,
					Carrier: carrier, Location: region, Code: e.Code, Message: e.Message, OccurredAt: e.At,
					Payload: mustJSON(map[string]any{"shipment": shipmentID, "region": e.Region})})
			case adapter.TrackDelivered:
				delivered = true
				err = s.deliver(ctx, tx, o, shipmentID, e.At, "system:lifecycle", "every line delivered")
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return delivered, err
}

// deliver completes a shipment's lines and, when nothing else is open, the
// order, with actor and reason on its event.
func (s *Service) deliver(ctx context.Context, tx pgx.Tx, o Order, shipmentID uuid.UUID, at time.Time, actor, reason string) error {
	if _, err := tx.Exec(ctx, `UPDATE shipments SET status = 'delivered', delivered_at = $2, updated_at = now() WHERE id = $1`, shipmentID, at); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE order_lines SET status = 'delivered', updated_at = now()
		WHERE id IN (SELECT line_id FROM shipment_lines WHERE shipment_id = $1) AND status = 'shipped'`, shipmentID); err != nil {
		return err
	}
	var open int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM order_lines WHERE order_id = $1 AND status NOT IN ('delivered', 'cancelled', 'rejected')`, o.ID).Scan(&open); err != nil {
		return err
	}
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1`, o.ID).Scan(&status); err != nil {
		return err
	}
	if open == 0 && (status == StatusShipped || status == StatusReadyForPickup) {
		_, err := s.setStatus(ctx, tx, o.ID, StatusDelivered, "delivered", actor, reason, map[string]any{"shipment": shipmentID})
		return err
	}
	return s.event(ctx, tx, o.ID, "shipment_delivered", actor, "", map[string]any{"shipment": shipmentID})
}

type postWorker struct {
	river.WorkerDefaults[PostArgs]
	s *Service
}

// Work posts one ERP document, then polls until the ERP acknowledges it. A
// rejection raises erp_posting_failed.
func (w *postWorker) Work(ctx context.Context, job *river.Job[PostArgs]) error {
	s := w.s
	var kind, status string
	var orderID uuid.UUID
	var doc adapter.Document
	var attempt int
	err := s.pool.QueryRow(ctx, `SELECT kind, status, order_id, document, attempt FROM erp_postings WHERE doc_key = $1`, job.Args.DocKey).
		Scan(&kind, &status, &orderID, &doc, &attempt)
	if err != nil {
		return err
	}
	// A rejected key is spent at the ERP: a retried posting goes under a new one.
	if attempt > 0 {
		doc.DocumentKey = fmt.Sprintf("%s:r%d", job.Args.DocKey, attempt)
	}
	if status == "acknowledged" || status == "rejected" {
		return nil
	}
	var p adapter.Posting
	if status == "pending" {
		p, err = s.sys.ERP.Status(ctx, doc.DocumentKey)
	} else {
		switch kind {
		case "invoice":
			p, err = s.sys.ERP.PostInvoice(ctx, doc)
		case "credit_memo":
			p, err = s.sys.ERP.PostCreditMemo(ctx, doc)
		case "payment_capture":
			p, err = s.sys.ERP.PostPaymentCapture(ctx, doc)
		case "refund":
			p, err = s.sys.ERP.PostRefund(ctx, doc)
		}
	}
	if err != nil {
		if adapter.IsRetryable(err) {
			return err
		}
		o, gerr := s.GetOrder(ctx, orderID)
		if gerr != nil {
			return gerr
		}
		return s.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE erp_postings SET status = 'rejected', message = $2 WHERE doc_key = $1`, job.Args.DocKey, err.Error()); err != nil {
				return err
			}
			oid := o.ID
			_, err := s.raise(ctx, tx, Exception{Kind: KindERPPostingFailed, Severity: SeverityHigh, Source: adapter.SystemERP, OrderID: &oid,
				Endpoint: "erp/" + kind, Code: "integration", Message: err.Error(), Payload: mustJSON(map[string]any{"doc_key": job.Args.DocKey})})
			return err
		})
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE erp_postings SET status = $2, document_id = $3, code = $4, message = $5,
			posted_at = coalesce(posted_at, now()), acknowledged_at = CASE WHEN $2 = 'acknowledged' THEN now() END
			WHERE doc_key = $1`, job.Args.DocKey, p.Status, p.DocumentID, p.Code, p.Message)
		if err != nil || p.Status != adapter.PostingRejected {
			return err
		}
		oid := orderID
		_, err = s.raise(ctx, tx, Exception{Kind: KindERPPostingFailed, Severity: SeverityHigh, Source: adapter.SystemERP, OrderID: &oid,
			Endpoint: "erp/" + kind, Code: p.Code, Message: p.Message,
			Payload: mustJSON(map[string]any{"doc_key": job.Args.DocKey, "kind": kind, "amount": doc.Total})})
		return err
	})
	if err != nil {
		return err
	}
	if p.Status == adapter.PostingPending {
		return river.JobSnooze(s.trackEvery())
	}
	return nil
}

type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	s *Service
}

// Work sends one notification; its key makes a second send a no-op at the
// provider too.
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	s := w.s
	var n adapter.Notification
	var status string
	err := s.pool.QueryRow(ctx, `SELECT key, order_id, channel, template, recipient, data, status FROM notifications WHERE key = $1`,
		job.Args.Key).Scan(&n.Key, &n.OrderID, &n.Channel, &n.Template, &n.To, &n.Data, &status)
	if err != nil {
		return err
	}
	if status != "queued" {
		return nil
	}
	r, err := s.sys.Notifier.Send(ctx, n)
	if err != nil {
		if adapter.IsRetryable(err) {
			return err
		}
		_, uerr := s.pool.Exec(ctx, `UPDATE notifications SET status = 'failed' WHERE key = $1`, n.Key)
		return uerr
	}
	_, err = s.pool.Exec(ctx, `UPDATE notifications SET status = 'sent', receipt_id = $2, sent_at = now() WHERE key = $1 AND status = 'queued'`, n.Key, r.ID)
	return err
}

// reSourceRefused sources again the lines a location refused, excluding that
// location and any that refused this order before. When no other location
// can take them, it raises release_rejected (with the location's own code and
// message) and holds the lines as backordered.
func (s *Service) reSourceRefused(ctx context.Context, o Order, loc Location, lines []adapter.ReleaseLine, res adapter.ReleaseResult) error {
	locs, chans, err := s.network(ctx)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		o, err := lockOrder(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		if o.Status != StatusAuthorised && o.Status != StatusReleased && o.Status != StatusPartiallyShipped {
			return nil // cancelled or held meanwhile
		}
		// Refused locations so far, this one included.
		rows, err := tx.Query(ctx, `SELECT DISTINCT (data->>'location_id')::bigint FROM order_events
			WHERE order_id = $1 AND kind = 'release_rejected'`, o.ID)
		if err != nil {
			return err
		}
		exclude, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		exclude = append(exclude, loc.ID)
		if err := s.event(ctx, tx, o.ID, "release_rejected", "system:lifecycle", res.RejectReason+": "+res.Message,
			map[string]any{"location_id": loc.ID, "location": loc.Code, "reason": res.RejectReason, "code": res.Code}); err != nil {
			return err
		}
		var ids []uuid.UUID
		var lineIDs []uuid.UUID
		want := map[uuid.UUID]bool{}
		for _, rl := range lines {
			want[rl.LineID] = true
		}
		var inputs []Line
		for _, l := range o.Lines {
			if !want[l.ID] {
				continue
			}
			lineIDs = append(lineIDs, l.ID)
			inputs = append(inputs, l)
			for _, a := range l.Allocations {
				if a.LocationID == loc.ID {
					ids = append(ids, a.ReservationID)
				}
			}
		}
		if _, err := release(ctx, tx, ids, "released", "release", &o.ID, "system:lifecycle", "location refused: "+res.RejectReason); err != nil {
			return err
		}
		codes := make([]string, len(inputs))
		for i, l := range inputs {
			codes[i] = l.SKU
		}
		skus, load, err := loadSKUs(ctx, tx, codes)
		if err != nil {
			return err
		}
		now := s.now()
		pr := sourcing.Request{Channel: chans[o.Channel].Kind, ServiceLevel: o.ServiceLevel, Now: now, ExcludeLocationIDs: exclude}
		if o.ShipTo != nil {
			pr.ShipTo = &sourcing.GeoPoint{Lat: deref(o.ShipTo.Lat), Lon: deref(o.ShipTo.Lon)}
		} else if pl, err := s.locationByCode(ctx, o.PickupLocation); err == nil {
			pr.PickupLocationID = pl.ID
		}
		for _, l := range inputs {
			pr.Lines = append(pr.Lines, sourcing.Line{LineID: l.ID.String(), SKU: l.SKU, Qty: l.Qty, UnitPrice: l.UnitPrice, UnitCost: skus[l.SKU].Cost})
		}
		cands, _ := candidates(locs, skus, load, now, pr.PickupLocationID)
		plan, err := sourcing.NewPlan(s.policy(), pr, cands)
		if err != nil {
			return err
		}
		if len(plan.Unfilled) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE order_lines SET status = 'backordered', updated_at = now() WHERE id = ANY($1)`, lineIDs); err != nil {
				return err
			}
			oid := o.ID
			_, err := s.raise(ctx, tx, Exception{Kind: KindReleaseRejected, Severity: SeverityHigh, Source: adapter.SystemFulfillment,
				OrderID: &oid, LineIDs: lineIDs, SKU: codes[0], Location: loc.Code, Code: res.Code, Message: res.Message,
				Payload: mustJSON(map[string]any{"reason": res.RejectReason, "excluded": exclude, "unfilled": plan.Unfilled, "rejected_lines": res.RejectedLines})})
			return err
		}
		rsv := reservation{kind: "order", orderID: &o.ID, bss: plan.BrokeringSafetyStock}
		newLocs := map[int64]bool{}
		for _, a := range plan.Assignments {
			lid, _ := uuid.Parse(a.LineID)
			rsv.add(uuid.New(), skus[a.SKU].ID, a.LocationID, a.Qty, lid)
			newLocs[a.LocationID] = true
		}
		b := &pgx.Batch{}
		rsv.queue(b, "system:lifecycle", "re-sourced after "+loc.Code+" refused")
		planJSON := storedPlanJSON(plan)
		b.Queue(`INSERT INTO sourcing_plans (order_id, policy_version, rule_group, complete, plan) VALUES ($1, $2, $3, true, $4)`,
			o.ID, plan.PolicyVersion, plan.RuleGroup, planJSON)
		for l := range newLocs {
			queueJob(b, ReleaseArgs{OrderID: o.ID, LocationID: l}, nil)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return s.event(ctx, tx, o.ID, "rerouted", "system:lifecycle",
			fmt.Sprintf("%s refused (%s); lines sourced again", loc.Code, res.RejectReason), map[string]any{"from": loc.Code})
	})
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
