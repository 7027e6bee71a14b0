package orchestration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// RegisterWorkers adds the lifecycle's job workers to w. Each worker is
// idempotent: it checks the state it acts on, calls outside systems with keys
// derived from the work (so a retry never acts twice), and records the
// outcome, the next state and the next jobs in one transaction.
func (s *Service) RegisterWorkers(w *river.Workers) {
	river.AddWorker(w, &checksWorker{s: s})
	river.AddWorker(w, &releaseWorker{s: s})
	river.AddWorker(w, &shipWorker{s: s})
	river.AddWorker(w, &trackWorker{s: s})
	river.AddWorker(w, &postWorker{s: s})
	river.AddWorker(w, &notifyWorker{s: s})
	river.AddWorker(w, &voidWorker{s: s})
	river.AddWorker(w, &sweepWorker{s: s})
	river.AddWorker(w, &expireHoldsWorker{s: s})
	s.registerReturnWorkers(w)
	s.registerRollupWorker(w)
}

type voidWorker struct {
	river.WorkerDefaults[VoidArgs]
	s *Service
}

// Work voids the approved, uncaptured authorization of a cancelled order, so
// the customer's money is not held. An order with nothing held is done.
func (w *voidWorker) Work(ctx context.Context, job *river.Job[VoidArgs]) error {
	s := w.s
	var authID string
	var amount float64
	err := s.pool.QueryRow(ctx, `SELECT external_id, amount::float8 FROM payments p
		WHERE order_id = $1 AND kind = 'authorize' AND status = $2
		AND NOT EXISTS (SELECT 1 FROM payments c WHERE c.order_id = p.order_id AND c.kind IN ('capture', 'void'))
		ORDER BY created_at DESC LIMIT 1`, job.Args.OrderID, adapter.AuthApproved).Scan(&authID, &amount)
	if isNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	o, err := s.GetOrder(ctx, job.Args.OrderID)
	if err != nil {
		return err
	}
	key := "void:" + o.ID.String()
	tx0, err := s.sys.Payment.Void(ctx, adapter.TransactionRequest{IdempotencyKey: key, OrderID: o.ID, AuthorizationID: authID,
		Amount: amount, Currency: o.Currency, Reason: "cancelled"})
	if err != nil {
		return s.integrationFailure(ctx, o, adapter.SystemPayment, "void", err, false)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO payments (key, order_id, kind, status, amount, external_id, code, message)
			VALUES ($1, $2, 'void', $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`, key, o.ID, tx0.Status, amount, tx0.ID, tx0.Code, tx0.Message); err != nil {
			return err
		}
		return s.event(ctx, tx, o.ID, "payment_voided", "system:lifecycle", "authorization "+authID+" released", map[string]any{"status": tx0.Status})
	})
}

// TrackEvery is how often a shipment in transit is polled, in this
// service's time scale.
func (s *Service) trackEvery() time.Duration {
	d := 30 * time.Minute
	if s.trackInterval > 0 {
		d = s.trackInterval
	}
	return s.dwell(d)
}

type checksWorker struct {
	river.WorkerDefaults[ChecksArgs]
	s *Service
}

// Work authorises payment, then screens fraud, the address and tax; the first
// that needs a decision holds the order with an exception.
func (w *checksWorker) Work(ctx context.Context, job *river.Job[ChecksArgs]) error {
	s := w.s
	o, err := s.GetOrder(ctx, job.Args.OrderID)
	if err != nil {
		return err
	}
	if o.Status != StatusCaptured {
		return nil // done already, or moved on
	}
	var declines int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE order_id = $1 AND kind = 'authorize' AND status = $2`,
		o.ID, adapter.AuthDeclined).Scan(&declines); err != nil {
		return err
	}
	ref := o.PaymentRef
	if ref == "" {
		ref = "tok_" + o.ID.String()[:8]
	}
	authKey := fmt.Sprintf("auth:%s:%d", o.ID, declines)
	auth, err := s.sys.Payment.Authorize(ctx, adapter.AuthorizeRequest{IdempotencyKey: authKey, OrderID: o.ID,
		Amount: o.Total, Currency: o.Currency, PaymentRef: ref})
	if err != nil {
		return s.integrationFailure(ctx, o, adapter.SystemPayment, "authorize", err, true)
	}
	recordAuth := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO payments (key, order_id, kind, status, amount, external_id, code, message)
			VALUES ($1, $2, 'authorize', $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`,
			authKey, o.ID, auth.Status, o.Total, auth.ID, auth.Code, auth.Message)
		return err
	}
	if auth.Status != adapter.AuthApproved {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			if err := recordAuth(tx); err != nil {
				return err
			}
			oid := o.ID
			if _, err := s.raise(ctx, tx, Exception{Kind: KindPaymentFailed, Severity: SeverityHigh, Source: adapter.SystemPayment,
				OrderID: &oid, Endpoint: "payment/authorize", Code: auth.Code, Message: auth.Message,
				Payload: mustJSON(map[string]any{"amount": o.Total, "currency": o.Currency, "attempt": declines + 1, "customer_tier": o.Customer.Tier})}); err != nil {
				return err
			}
			_, err := s.setStatus(ctx, tx, o.ID, StatusOnHold, "held", "system:lifecycle", "payment declined: "+auth.Code, nil)
			return err
		})
	}

	// A person who released a fraud hold cleared the order.
	var cleared bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM order_events WHERE order_id = $1 AND kind = 'hold_released')`, o.ID).Scan(&cleared); err != nil {
		return err
	}
	fr, err := s.sys.Fraud.Score(ctx, adapter.FraudRequest{IdempotencyKey: "fraud:" + o.ID.String(), OrderID: o.ID,
		Amount: o.Total, Currency: o.Currency, CustomerID: o.Customer.ID, CustomerTier: o.Customer.Tier,
		CustomerEmail: o.Customer.Email, ShipToCountry: addressOf(o.ShipTo).Country, ShipToPostal: addressOf(o.ShipTo).PostalCode,
		Channel: o.Channel, LineCount: len(o.Lines)})
	if err != nil {
		return s.integrationFailure(ctx, o, adapter.SystemFraud, "score", err, true)
	}
	verdict := s.policy().Limits.Fraud.Verdict(fr.Score)
	if verdict != rules.FraudAccept && !cleared {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			if err := recordAuth(tx); err != nil {
				return err
			}
			oid := o.ID
			sev := SeverityMedium
			if verdict != rules.FraudReview {
				sev = SeverityCritical
			}
			if _, err := s.raise(ctx, tx, Exception{Kind: KindFraudReview, Severity: sev, Source: adapter.SystemFraud, OrderID: &oid,
				Code: "score_" + verdict, Message: fmt.Sprintf("fraud score %.2f (%s): %v", fr.Score, verdict, fr.Reasons),
				Payload: mustJSON(map[string]any{"score": fr.Score, "verdict": verdict, "reasons": fr.Reasons, "amount": o.Total})}); err != nil {
				return err
			}
			_, err := s.setStatus(ctx, tx, o.ID, StatusOnHold, "held", "system:lifecycle", "fraud "+verdict, map[string]any{"score": fr.Score})
			return err
		})
	}

	tax := adapter.TaxQuote{}
	if o.ShipTo != nil {
		ar, err := s.sys.Tax.ValidateAddress(ctx, adapter.AddressRequest{IdempotencyKey: fmt.Sprintf("address:%s:%d", o.ID, o.Version), OrderID: o.ID, Address: addressOf(o.ShipTo)})
		if err != nil {
			return s.integrationFailure(ctx, o, adapter.SystemTax, "validate_address", err, true)
		}
		if !ar.Valid {
			return s.inTx(ctx, func(tx pgx.Tx) error {
				if err := recordAuth(tx); err != nil {
					return err
				}
				oid := o.ID
				if _, err := s.raise(ctx, tx, Exception{Kind: KindAddressInvalid, Severity: SeverityMedium, Source: adapter.SystemTax,
					OrderID: &oid, Endpoint: "address/validate", Code: ar.Code, Message: ar.Message,
					Payload: mustJSON(map[string]any{"address": o.ShipTo})}); err != nil {
					return err
				}
				_, err := s.setStatus(ctx, tx, o.ID, StatusOnHold, "held", "system:lifecycle", "address invalid: "+ar.Code, nil)
				return err
			})
		}
		lines := make([]adapter.TaxLine, 0, len(o.Lines))
		for _, l := range o.Lines {
			if l.Status == LineAllocated {
				lines = append(lines, adapter.TaxLine{LineID: l.ID, SKU: l.SKU, Qty: l.Qty, Amount: round2(float64(l.Qty) * l.UnitPrice)})
			}
		}
		if len(lines) > 0 {
			tax, err = s.sys.Tax.QuoteTax(ctx, adapter.TaxRequest{IdempotencyKey: "tax:" + o.ID.String(), OrderID: o.ID,
				Currency: o.Currency, ShipTo: addressOf(o.ShipTo), Lines: lines})
			if err != nil {
				return s.integrationFailure(ctx, o, adapter.SystemTax, "quote_tax", err, true)
			}
		}
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := recordAuth(tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE orders SET tax_amount = $2 WHERE id = $1`, o.ID, tax.Amount); err != nil {
			return err
		}
		from, err := s.setStatus(ctx, tx, o.ID, StatusAuthorised, "authorised", "system:lifecycle",
			fmt.Sprintf("payment %s held; fraud %.2f; address valid", auth.ID, fr.Score), map[string]any{"tax": tax.Amount})
		if err != nil || from != StatusCaptured {
			return err
		}
		// The cancel window: the order waits, cancellable, before release.
		due := s.dueAfter(s.cancelWindow)
		for _, loc := range allocationLocations(o) {
			if err := enqueue(ctx, tx, ReleaseArgs{OrderID: o.ID, LocationID: loc}, due); err != nil {
				return err
			}
		}
		return s.notify(ctx, tx, o, "confirmation:"+o.ID.String(), adapter.TemplateConfirmation, map[string]any{
			"eta": formatDate(o.PromiseDate)})
	})
}

// allocationLocations lists the locations the order's lines are reserved at,
// by location id, resolving codes through the line allocations.
func allocationLocations(o Order) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, l := range o.Lines {
		for _, a := range l.Allocations {
			if a.LocationID != 0 && !seen[a.LocationID] {
				seen[a.LocationID] = true
				out = append(out, a.LocationID)
			}
		}
	}
	return out
}

type releaseWorker struct {
	river.WorkerDefaults[ReleaseArgs]
	s *Service
}

// Work releases the order's lines reserved at one location. A location that
// refuses gets its lines sourced again elsewhere; only when that fails is an
// exception raised.
func (w *releaseWorker) Work(ctx context.Context, job *river.Job[ReleaseArgs]) error {
	s := w.s
	o, err := s.GetOrder(ctx, job.Args.OrderID)
	if err != nil {
		return err
	}
	if o.Status != StatusAuthorised && o.Status != StatusReleased && o.Status != StatusPartiallyShipped {
		return nil
	}
	locs, _, err := s.network(ctx)
	if err != nil {
		return err
	}
	loc := locs[job.Args.LocationID]
	var lines []adapter.ReleaseLine
	for _, l := range o.Lines {
		if l.Status != LineAllocated {
			continue
		}
		for _, a := range l.Allocations {
			if a.LocationID == loc.ID {
				lines = append(lines, adapter.ReleaseLine{LineID: l.ID, SKU: l.SKU, Qty: a.Qty})
			}
		}
	}
	if len(lines) == 0 {
		return nil // released already
	}
	key := fmt.Sprintf("release:%s:%d", o.ID, loc.ID)
	res, err := s.sys.Fulfillment.Release(ctx, adapter.ReleaseRequest{IdempotencyKey: key, OrderID: o.ID, LocationCode: loc.Code,
		ServiceLevel: o.ServiceLevel, Lines: lines})
	if err != nil {
		return s.integrationFailure(ctx, o, adapter.SystemFulfillment, "release", err, false)
	}
	if !res.Accepted {
		return s.reSourceRefused(ctx, o, loc, lines, res)
	}
	shipmentID := uuid.NewSHA1(uuid.NameSpaceOID, []byte(key))
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1 FOR NO KEY UPDATE`, o.ID).Scan(&status); err != nil {
			return err
		}
		if status != StatusAuthorised && status != StatusReleased && status != StatusPartiallyShipped {
			return nil // cancelled or held meanwhile
		}
		tag, err := tx.Exec(ctx, `INSERT INTO shipments (id, order_id, location_id, status, release_id, service)
			VALUES ($1, $2, $3, 'released', $4, $5) ON CONFLICT (id) DO NOTHING`, shipmentID, o.ID, loc.ID, res.ReleaseID, o.ServiceLevel)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		for _, l := range lines {
			if _, err := tx.Exec(ctx, `INSERT INTO shipment_lines (shipment_id, line_id, qty) VALUES ($1, $2, $3)`, shipmentID, l.LineID, l.Qty); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE order_lines SET status = 'released', updated_at = now() WHERE id = $1 AND status = 'allocated'`, l.LineID); err != nil {
				return err
			}
		}
		if status == StatusAuthorised {
			if _, err := s.setStatus(ctx, tx, o.ID, StatusReleased, "released", "system:lifecycle", "released to "+loc.Code, map[string]any{"location": loc.Code}); err != nil {
				return err
			}
		} else if err := s.event(ctx, tx, o.ID, "released", "system:lifecycle", "released to "+loc.Code, map[string]any{"location": loc.Code}); err != nil {
			return err
		}
		// The location picks and packs before the carrier is booked.
		return enqueue(ctx, tx, ShipArgs{ShipmentID: shipmentID}, s.dueAfter(s.pickPack))
	})
}

type shipWorker struct {
	river.WorkerDefaults[ShipArgs]
	s *Service
}

// Work captures payment for a released shipment, books the carrier, and
// records the shipment as shipped: reservations consumed, lines shipped, an
// invoice per line and a payment capture posted to the ERP. A pickup order's
// shipment books no carrier: the store puts it on the pickup shelf, where it
// is ready_for_pickup until the customer collects it (Collect).
func (w *shipWorker) Work(ctx context.Context, job *river.Job[ShipArgs]) error {
	s := w.s
	sh, err := s.getShipment(ctx, job.Args.ShipmentID)
	if err != nil {
		return err
	}
	if sh.Status != "released" {
		return nil
	}
	o, err := s.GetOrder(ctx, sh.OrderID)
	if err != nil {
		return err
	}
	locs, _, err := s.network(ctx)
	if err != nil {
		return err
	}
	loc := locs[sh.LocationID]
	var authID string
	if err := s.pool.QueryRow(ctx, `SELECT external_id FROM payments WHERE order_id = $1 AND kind = 'authorize' AND status = $2 ORDER BY created_at DESC LIMIT 1`,
		o.ID, adapter.AuthApproved).Scan(&authID); err != nil {
		return fmt.Errorf("shipment %s: no approved authorization: %w", sh.ID, err)
	}
	byLine := map[uuid.UUID]Line{}
	for _, l := range o.Lines {
		byLine[l.ID] = l
	}
	// The gateway takes one capture per authorization: the first shipment
	// captures the order's whole authorised amount.
	amount := o.Total
	capKey := "capture:" + o.ID.String()
	var captured int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE key = $1`, capKey).Scan(&captured); err != nil {
		return err
	}
	var tx0 adapter.Transaction
	if captured == 0 {
		tx0, err = s.sys.Payment.Capture(ctx, adapter.TransactionRequest{IdempotencyKey: capKey, OrderID: o.ID, AuthorizationID: authID,
			Amount: amount, Currency: o.Currency})
		if err != nil {
			return s.integrationFailure(ctx, o, adapter.SystemPayment, "capture", err, false)
		}
	}
	to := adapter.Place{Region: loc.Region, Lat: loc.Lat, Lon: loc.Lon}
	if o.ShipTo != nil {
		to = adapter.Place{PostalCode: o.ShipTo.PostalCode, Region: o.ShipTo.Region, Country: o.ShipTo.Country, Lat: deref(o.ShipTo.Lat), Lon: deref(o.ShipTo.Lon)}
		if to.Region == "" {
			to.Region = loc.Region
		}
	}
	pickup := o.PickupLocation != ""
	var booking adapter.Booking
	if !pickup {
		booking, err = s.sys.Carrier.Book(ctx, adapter.BookRequest{IdempotencyKey: "book:" + sh.ID.String(), ShipmentID: sh.ID, OrderID: o.ID,
			Carrier: carrierFor(loc), Service: o.ServiceLevel, From: adapter.Place{Code: loc.Code, Region: loc.Region, Lat: loc.Lat, Lon: loc.Lon, Country: "US"},
			To: to, Parcels: []adapter.Parcel{{WeightKg: 1}}})
		if err != nil {
			return s.integrationFailure(ctx, o, adapter.SystemCarrier, "book", err, false)
		}
	}
	now := s.now()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock the order first: shipments of one order booked at once must see
		// each other's lines to tell shipped from partially shipped.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM orders WHERE id = $1 FOR NO KEY UPDATE`, o.ID); err != nil {
			return err
		}
		var tag pgconn.CommandTag
		if pickup {
			tag, err = tx.Exec(ctx, `UPDATE shipments SET status = 'ready_for_pickup', ready_at = $2, shipped_at = $2, updated_at = $2
				WHERE id = $1 AND status = 'released'`, sh.ID, now)
		} else {
			tag, err = tx.Exec(ctx, `UPDATE shipments SET status = 'booked', carrier = $2, service = $3, tracking_number = $4, label_url = $5,
				estimated_delivery = $6, shipped_at = $7, updated_at = $7 WHERE id = $1 AND status = 'released'`,
				sh.ID, booking.Carrier, booking.Service, booking.TrackingNumber, booking.LabelURL, booking.EstimatedDelivery, now)
		}
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if captured == 0 {
			tag, err := tx.Exec(ctx, `INSERT INTO payments (key, order_id, kind, status, amount, external_id, code, message)
				VALUES ($1, $2, 'capture', $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`, capKey, o.ID, tx0.Status, amount, tx0.ID, tx0.Code, tx0.Message)
			if err != nil {
				return err
			}
			captured = int(1 - tag.RowsAffected()) // 0 when this shipment recorded the capture
		}
		lineIDs := make([]uuid.UUID, len(sh.Lines))
		for i, sl := range sh.Lines {
			lineIDs[i] = sl.LineID
		}
		if err := consume(ctx, tx, o.ID, sh.LocationID, lineIDs, "system:lifecycle"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE order_lines SET status = 'shipped', updated_at = $2 WHERE id = ANY($1)`, lineIDs, now); err != nil {
			return err
		}
		for _, sl := range sh.Lines {
			l := byLine[sl.LineID]
			net := round2(float64(sl.Qty) * l.UnitPrice)
			lid := l.ID
			if err := s.post(ctx, tx, "invoice", "invoice:"+l.ID.String(), o.ID, &lid, adapter.Document{Currency: o.Currency,
				Reference: booking.TrackingNumber, Total: net, Lines: []adapter.DocumentLine{{LineID: l.ID, SKU: l.SKU, Qty: sl.Qty, Net: net}}}); err != nil {
				return err
			}
		}
		switch {
		case captured > 0:
			// An earlier shipment captured the payment.
		case tx0.Status == adapter.TxSucceeded:
			if err := s.post(ctx, tx, "payment_capture", "payment_capture:"+o.ID.String(), o.ID, nil, adapter.Document{
				Currency: o.Currency, Reference: tx0.ID, Total: amount}); err != nil {
				return err
			}
		default:
			oid := o.ID
			if _, err := s.raise(ctx, tx, Exception{Kind: KindPaymentFailed, Severity: SeverityHigh, Source: adapter.SystemPayment, OrderID: &oid,
				Endpoint: "payment/capture", Code: tx0.Code, Message: tx0.Message, Payload: mustJSON(map[string]any{"amount": amount, "shipment": sh.ID})}); err != nil {
				return err
			}
		}
		var open int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM order_lines WHERE order_id = $1 AND status IN ('allocated', 'released', 'backordered')`, o.ID).Scan(&open); err != nil {
			return err
		}
		if pickup {
			to := StatusReadyForPickup
			if open > 0 {
				to = StatusPartiallyShipped
			}
			if _, err := s.setStatus(ctx, tx, o.ID, to, "ready_for_pickup", "system:lifecycle",
				fmt.Sprintf("ready for pickup at %s", loc.Code), map[string]any{"shipment": sh.ID, "location": loc.Code}); err != nil {
				return err
			}
			return s.notify(ctx, tx, o, "pickup_ready:"+sh.ID.String(), adapter.TemplatePickupReady, map[string]any{
				"store_name": loc.Name})
		}
		to := StatusShipped
		if open > 0 {
			to = StatusPartiallyShipped
		}
		if _, err := s.setStatus(ctx, tx, o.ID, to, "shipped", "system:lifecycle",
			fmt.Sprintf("%s shipped %s with %s", loc.Code, booking.TrackingNumber, booking.Carrier), map[string]any{"shipment": sh.ID}); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, o, "shipped:"+sh.ID.String(), adapter.TemplateShipped, map[string]any{
			"carrier": booking.Carrier, "tracking_url": booking.LabelURL, "eta": formatDate(&booking.EstimatedDelivery)}); err != nil {
			return err
		}
		// Jobs run on the database's wall clock, not the injected one.
		at := time.Now().Add(s.trackEvery())
		return enqueue(ctx, tx, TrackArgs{ShipmentID: sh.ID}, &at)
	})
}

// consumeSQL ends the reservations of shipped lines at a location: the units
// leave on hand and reserved together, with a ledger row per stock row.
const consumeSQL = `
WITH r AS (
	UPDATE reservations SET status = 'consumed', ended_at = now()
	WHERE line_id = ANY($1) AND location_id = $2 AND status = 'active'
	RETURNING id, sku_id, location_id, qty
), agg AS (
	SELECT sku_id, location_id, sum(qty)::int AS qty, (array_agg(id))[1] AS rid FROM r GROUP BY sku_id, location_id
), upd AS (
	UPDATE stock s SET on_hand = s.on_hand - agg.qty, reserved = s.reserved - agg.qty, updated_at = now()
	FROM agg WHERE s.sku_id = agg.sku_id AND s.location_id = agg.location_id
	RETURNING s.sku_id, s.location_id, s.on_hand, s.reserved, agg.qty, agg.rid
)
INSERT INTO stock_ledger (sku_id, location_id, kind, order_id, reservation_id, d_on_hand, d_reserved, on_hand_after, reserved_after, actor, reason)
SELECT sku_id, location_id, 'consume', $3, rid, -qty, -qty, on_hand, reserved, $4, 'shipped' FROM upd`

func consume(ctx context.Context, tx pgx.Tx, orderID uuid.UUID, locationID int64, lineIDs []uuid.UUID, actor string) error {
	_, err := tx.Exec(ctx, consumeSQL, lineIDs, locationID, orderID, actor)
	return err
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func formatDate(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.Format("Mon 2 Jan")
}

// carrierFor picks the carrier a location ships with.
func carrierFor(l Location) string {
	switch l.Kind {
	case rules.LocationDropship:
		return "fedex"
	case rules.LocationDarkStore:
		return "courier"
	}
	if l.ID%2 == 0 {
		return "ups"
	}
	return "usps"
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
