package orchestration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// editable reports whether an order in status may still be edited: only
// before payment checks and release.
func editable(status string) bool {
	return status == StatusCaptured || status == StatusBackordered
}

// cancellable reports whether an order in status may be cancelled: anything
// not yet released to a location.
func cancellable(status string) bool {
	switch status {
	case StatusCaptured, StatusBackordered, StatusRejected, StatusAuthorised, StatusOnHold:
		return true
	}
	return false
}

// CancelRequest cancels some lines of an order (by line number), or the whole
// order when Lines is empty.
type CancelRequest struct {
	Lines  []int  `json:"lines,omitempty"`
	Reason string `json:"reason"`
}

// Validate names each bad field.
func (r CancelRequest) Validate() error {
	v := &derrors.ValidationError{}
	if len(r.Reason) > 500 {
		v.Add("reason", "at most 500 bytes")
	}
	for i, n := range r.Lines {
		if n <= 0 {
			v.Add(fmt.Sprintf("lines[%d]", i), "want a line number (1, 2, …)")
		}
	}
	return v.Err()
}

// EditRequest changes an order before release. Lines, when given, is the
// order's new set of lines: a SKU already on the order keeps its line, a SKU
// left out is cancelled, a new SKU adds a line. Version, when given, must be
// the order's current version (else 409), so two editors cannot overwrite each
// other.
type EditRequest struct {
	Version *int        `json:"version,omitempty"`
	Lines   []LineInput `json:"lines,omitempty"`
	ShipTo  *Address    `json:"ship_to,omitempty"`
	Reason  string      `json:"reason,omitempty"`
}

// Validate names each bad field.
func (r EditRequest) Validate() error {
	v := &derrors.ValidationError{}
	if r.Lines == nil && r.ShipTo == nil {
		v.Add("lines", "give lines or ship_to to change")
	}
	if r.Lines != nil {
		validateLines(v, r.Lines)
	}
	if r.ShipTo != nil {
		probe := CaptureRequest{Channel: "x", ExternalID: "x", Customer: Customer{ID: "x"}, ShipTo: r.ShipTo,
			Lines: []LineInput{{SKU: "x", Qty: 1}}}
		if err := probe.Validate(); err != nil {
			var ve *derrors.ValidationError
			if errors.As(err, &ve) {
				v.Fields = append(v.Fields, ve.Fields...)
			}
		}
	}
	return v.Err()
}

// lockOrder reads the order in tx, locking its row until the transaction ends.
func lockOrder(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Order, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT version FROM orders WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, fmt.Errorf("no order %s: %w", id, derrors.NotFound)
	}
	if err != nil {
		return Order{}, err
	}
	return getOrder(ctx, tx, id)
}

func reservationIDs(lines []Line) []uuid.UUID {
	var ids []uuid.UUID
	for _, l := range lines {
		for _, a := range l.Allocations {
			ids = append(ids, a.ReservationID)
		}
	}
	return ids
}

// Cancel cancels lines of an order, or all of it, before release, giving
// their reservations back in the same transaction. Cancelling what is already
// cancelled changes nothing.
func (s *Service) Cancel(ctx context.Context, actor string, id uuid.UUID, req CancelRequest) (_ Order, err error) {
	defer derrors.Wrap(&err, "Cancel(%s)", id)
	if err := req.Validate(); err != nil {
		return Order{}, err
	}
	var out Order
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		o, err := lockOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		out, err = s.cancelTx(ctx, tx, actor, o, req)
		return err
	})
	return out, err
}

// cancelTx cancels lines of the locked order o in tx.
func (s *Service) cancelTx(ctx context.Context, tx pgx.Tx, actor string, o Order, req CancelRequest) (Order, error) {
	id := o.ID
	if o.Status == StatusCancelled {
		return o, nil
	}
	if !cancellable(o.Status) {
		return Order{}, fmt.Errorf("order %s is %s; only orders not yet released can be cancelled (return shipped lines instead): %w", id, o.Status, derrors.Conflict)
	}
	var target []Line
	for _, l := range o.Lines {
		if (len(req.Lines) == 0 || slices.Contains(req.Lines, l.LineNo)) && l.Status != LineCancelled {
			target = append(target, l)
		}
	}
	for _, n := range req.Lines {
		if !slices.ContainsFunc(o.Lines, func(l Line) bool { return l.LineNo == n }) {
			ve := &derrors.ValidationError{}
			ve.Add("lines", "order has no line %d", n)
			return Order{}, ve
		}
	}
	if len(target) == 0 {
		return o, nil
	}
	reason := req.Reason
	if reason == "" {
		reason = "cancelled"
	}
	if _, err := release(ctx, tx, reservationIDs(target), "released", "release", &o.ID, actor, reason); err != nil {
		return Order{}, err
	}
	ids := make([]uuid.UUID, len(target))
	nos := make([]int, len(target))
	for i, l := range target {
		ids[i], nos[i] = l.ID, l.LineNo
	}
	if _, err := tx.Exec(ctx, `UPDATE order_lines SET status = 'cancelled', updated_at = now() WHERE id = ANY($1)`, ids); err != nil {
		return Order{}, err
	}
	// One credit memo per cancelled line, so the ERP sees every line closed.
	for _, l := range target {
		lid := l.ID
		net := round2(float64(l.Qty) * l.UnitPrice)
		if err := s.post(ctx, tx, "credit_memo", "credit_memo:"+l.ID.String(), o.ID, &lid, adapter.Document{
			Currency: o.Currency, Reference: reason, Total: net,
			Lines: []adapter.DocumentLine{{LineID: l.ID, SKU: l.SKU, Qty: l.Qty, Net: net}}}); err != nil {
			return Order{}, err
		}
	}
	status := o.Status
	remaining := 0
	for _, l := range o.Lines {
		if l.Status != LineCancelled && !slices.Contains(ids, l.ID) {
			remaining++
		}
	}
	if remaining == 0 {
		status = StatusCancelled
	}
	kind := "lines_cancelled"
	if status == StatusCancelled {
		kind = "cancelled"
		if err := s.notify(ctx, tx, o, "cancellation:"+o.ID.String(), adapter.TemplateCancellation, map[string]any{"reason": reason}); err != nil {
			return Order{}, err
		}
		// A held payment is released: the void job finds the authorization.
		if err := enqueue(ctx, tx, VoidArgs{OrderID: o.ID}, nil); err != nil {
			return Order{}, err
		}
	}
	if _, err := s.setStatus(ctx, tx, o.ID, status, kind, actor, reason, map[string]any{"lines": nos}); err != nil {
		return Order{}, err
	}
	return getOrder(ctx, tx, id)
}

// Edit changes an order's lines or address before release: in one
// transaction it gives back every reservation, sources the order again on the
// current stock, and reserves anew, so no reservation is ever left behind.
func (s *Service) Edit(ctx context.Context, actor string, id uuid.UUID, req EditRequest) (_ Order, err error) {
	defer derrors.Wrap(&err, "Edit(%s)", id)
	if err := req.Validate(); err != nil {
		return Order{}, err
	}
	locs, chans, err := s.network(ctx)
	if err != nil {
		return Order{}, err
	}
	var out Order
	for attempt := 0; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			out, err = s.editTx(ctx, tx, actor, id, req, locs, chans)
			return err
		})
		if (checkName(err) == checkStock || checkName(err) == checkCapacity || retryable(err)) && attempt < 8 {
			continue
		}
		return out, err
	}
}

func (s *Service) editTx(ctx context.Context, tx pgx.Tx, actor string, id uuid.UUID, req EditRequest,
	locs map[int64]Location, chans map[string]Channel) (Order, error) {
	o, err := lockOrder(ctx, tx, id)
	if err != nil {
		return Order{}, err
	}
	if req.Version != nil && *req.Version != o.Version {
		return Order{}, fmt.Errorf("order %s is at version %d, not %d: reload it and edit again: %w", id, o.Version, *req.Version, derrors.Conflict)
	}
	if !editable(o.Status) {
		return Order{}, fmt.Errorf("order %s is %s; only orders not yet released can be edited: %w", id, o.Status, derrors.Conflict)
	}
	if req.ShipTo != nil && o.PickupLocation != "" {
		ve := &derrors.ValidationError{}
		ve.Add("ship_to", "this is a pickup order; it has no ship-to address")
		return Order{}, ve
	}
	// The new line set: existing SKUs keep their line, absent ones are cancelled.
	inputs := req.Lines
	if inputs == nil {
		for _, l := range o.Lines {
			if l.Status != LineCancelled {
				p := l.UnitPrice
				inputs = append(inputs, LineInput{SKU: l.SKU, Qty: l.Qty, UnitPrice: &p})
			}
		}
	}
	codes := make([]string, len(inputs))
	for i, in := range inputs {
		codes[i] = in.SKU
	}
	// Give everything back first, so the new plan sees this order's own stock.
	if _, err := release(ctx, tx, reservationIDs(o.Lines), "released", "release", &o.ID, actor, "order edited"); err != nil {
		return Order{}, err
	}
	skus, load, err := loadSKUs(ctx, tx, codes)
	if err != nil {
		return Order{}, err
	}
	ve := &derrors.ValidationError{}
	for i, in := range inputs {
		if k, ok := skus[in.SKU]; !ok || !k.Active {
			ve.Add(fmt.Sprintf("lines[%d].sku", i), "no active SKU %q", in.SKU)
		}
	}
	if err := ve.Err(); err != nil {
		return Order{}, err
	}
	shipTo := o.ShipTo
	if req.ShipTo != nil {
		shipTo = req.ShipTo
	}
	creq := CaptureRequest{Channel: o.Channel, ExternalID: o.ExternalID, Customer: o.Customer, ShipTo: shipTo,
		PickupLocation: o.PickupLocation, ServiceLevel: o.ServiceLevel, Currency: o.Currency, PromisedBy: o.PromisedBy, Lines: inputs}
	var pickupID int64
	if o.PickupLocation != "" {
		l, err := s.locationByCode(ctx, o.PickupLocation)
		if err != nil {
			return Order{}, err
		}
		pickupID = l.ID
	}
	d, err := s.draft(creq, chans[o.Channel], pickupID, locs, skus, load)
	if err != nil {
		return Order{}, err
	}
	// Keep the ids and numbers of lines whose SKU stays; number new lines after the last.
	existing := map[string]Line{}
	maxNo := 0
	for _, l := range o.Lines {
		existing[l.SKU] = l
		maxNo = max(maxNo, l.LineNo)
	}
	idMap := map[uuid.UUID]uuid.UUID{}
	for i := range d.order.Lines {
		nl := &d.order.Lines[i]
		if old, ok := existing[nl.SKU]; ok {
			idMap[nl.ID] = old.ID
			nl.ID, nl.LineNo = old.ID, old.LineNo
		} else {
			maxNo++
			nl.LineNo = maxNo
		}
	}
	for i, lid := range d.reserve.lineIDs {
		if old, ok := idMap[lid]; ok {
			d.reserve.lineIDs[i] = old
		}
	}
	for i := range d.exceptions {
		for j, lid := range d.exceptions[i].LineIDs {
			if old, ok := idMap[lid]; ok {
				d.exceptions[i].LineIDs[j] = old
			}
		}
		d.exceptions[i].OrderID = &o.ID
	}
	d.reserve.orderID = &o.ID
	now := s.now().UTC().Truncate(time.Microsecond)

	b := &pgx.Batch{}
	kept := map[uuid.UUID]bool{}
	for i, l := range d.order.Lines {
		if _, ok := existing[l.SKU]; ok {
			kept[l.ID] = true
			b.Queue(`UPDATE order_lines SET qty = $2, unit_price = $3, status = $4, updated_at = $5 WHERE id = $1`,
				l.ID, l.Qty, l.UnitPrice, l.Status, now)
		} else {
			b.Queue(`INSERT INTO order_lines (id, order_id, line_no, sku_id, ordered_sku_id, qty, unit_price, status)
				VALUES ($1, $2, $3, $4, $4, $5, $6, $7)`, l.ID, o.ID, l.LineNo, d.lineSKU[i], l.Qty, l.UnitPrice, l.Status)
		}
	}
	for _, l := range o.Lines {
		if !kept[l.ID] && l.Status != LineCancelled {
			b.Queue(`UPDATE order_lines SET status = 'cancelled', updated_at = $2 WHERE id = $1`, l.ID, now)
		}
	}
	if len(d.reserve.ids) > 0 {
		d.reserve.queue(b, actor, "order "+o.ExternalID+" edited")
	}
	total := 0.0
	for _, l := range d.order.Lines {
		total += float64(l.Qty) * l.UnitPrice
	}
	total = math.Round(total*100) / 100
	b.Queue(`UPDATE orders SET status = $2, ship_to = $3, total = $4, promise_date = $5, rule_group = $6,
		version = version + 1, updated_at = $7 WHERE id = $1`,
		o.ID, d.order.Status, shipTo, total, d.order.PromiseDate, d.plan.RuleGroup, now)
	planJSON := storedPlanJSON(d.plan)
	b.Queue(`INSERT INTO sourcing_plans (order_id, policy_version, rule_group, complete, plan) VALUES ($1, $2, $3, $4, $5)`,
		o.ID, d.plan.PolicyVersion, d.plan.RuleGroup, d.plan.Complete(), planJSON)
	data, _ := json.Marshal(map[string]any{"lines": len(d.order.Lines), "ship_to_changed": req.ShipTo != nil,
		"from_version": o.Version})
	b.Queue(`INSERT INTO order_events (order_id, kind, from_status, to_status, actor, reason, correlation_id, data, created_at)
		VALUES ($1, 'edited', $2, $3, $4, $5, $6, $7, $8)`, o.ID, o.Status, d.order.Status, actor, req.Reason, o.ExternalID, data, now)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Order{}, err
	}
	for _, e := range d.exceptions {
		if _, err := s.raise(ctx, tx, e); err != nil {
			return Order{}, err
		}
	}
	return getOrder(ctx, tx, o.ID)
}

// PlanRecord is a stored sourcing plan.
type PlanRecord struct {
	PolicyVersion string          `json:"policy_version"`
	RuleGroup     string          `json:"rule_group"`
	Complete      bool            `json:"complete"`
	Plan          json.RawMessage `json:"plan"`
	CreatedAt     time.Time       `json:"created_at"`
}

// SourcingPlans returns every plan made for an order, oldest first, each with
// its explanation.
func (s *Service) SourcingPlans(ctx context.Context, orderID uuid.UUID) (_ []PlanRecord, err error) {
	defer derrors.Wrap(&err, "SourcingPlans(%s)", orderID)
	rows, err := s.pool.Query(ctx, `SELECT policy_version, rule_group, complete, plan, created_at
		FROM sourcing_plans WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, err
	}
	plans, err := pgx.CollectRows(rows, pgx.RowToStructByPos[PlanRecord])
	if err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		if _, err := s.GetOrder(ctx, orderID); err != nil {
			return nil, err
		}
	}
	return plans, nil
}
