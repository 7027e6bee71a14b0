package orchestration

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// Order statuses of returns. An order takes them only when everything
// delivered is in a return; a partial return leaves the order delivered, with
// the return visible on its lines and in its events.
const (
	StatusReturnRequested = "return_requested" // every delivered unit is in a return, not all received yet
	StatusReturned        = "returned"         // every return received; some refund still due
	StatusRefunded        = "refunded"         // every return refunded
)

// Line statuses of returns, taken by a line whose whole delivered quantity is
// in the return; a partly returned line stays delivered.
const (
	LineReturnRequested = "return_requested"
	LineReturned        = "returned"
	LineRefunded        = "refunded"
)

// Return statuses. Receipt and inspection move a return straight to
// refund_pending (approved automatically) or refund_review (a person must
// approve).
const (
	ReturnRequested     = "requested"
	ReturnRefundReview  = "refund_review"
	ReturnRefundPending = "refund_pending"
	ReturnRefunded      = "refunded"
	ReturnRefundFailed  = "refund_failed"
)

// Inspection conditions of returned goods.
const (
	ConditionResellable = "resellable" // back on the shelf at the restock location
	ConditionDamaged    = "damaged"    // refunded, not restocked
	ConditionMissing    = "missing"    // the parcel came without the goods: a person decides the refund
)

// returnsActor is the actor of the steps the system takes by itself.
const returnsActor = "system:returns"

// ReturnRequest asks to return delivered lines of an order.
type ReturnRequest struct {
	// RMAKey, when given, makes the request idempotent: the same key for the
	// same order returns the first return.
	RMAKey string            `json:"rma_key,omitempty"`
	Reason string            `json:"reason,omitempty"`
	Lines  []ReturnLineInput `json:"lines"`
}

// ReturnLineInput is a quantity of one order line to return.
type ReturnLineInput struct {
	LineNo int    `json:"line_no"`
	Qty    int    `json:"qty"`
	Reason string `json:"reason,omitempty"`
}

// Validate names each bad field.
func (r ReturnRequest) Validate() error {
	v := &derrors.ValidationError{}
	if len(r.RMAKey) > 200 || strings.ContainsAny(r.RMAKey, "\r\n") {
		v.Add("rma_key", "at most 200 printable characters")
	}
	if len(r.Reason) > 500 {
		v.Add("reason", "at most 500 bytes")
	}
	if len(r.Lines) == 0 {
		v.Add("lines", "at least one line is required")
	}
	if len(r.Lines) > MaxLines {
		v.Add("lines", "at most %d lines", MaxLines)
	}
	seen := map[int]int{}
	for i, l := range r.Lines {
		f := func(n string) string { return fmt.Sprintf("lines[%d].%s", i, n) }
		if l.LineNo <= 0 {
			v.Add(f("line_no"), "want a line number (1, 2, …)")
		} else if j, dup := seen[l.LineNo]; dup {
			v.Add(f("line_no"), "line %d is already on lines[%d]", l.LineNo, j)
		}
		seen[l.LineNo] = i
		if l.Qty <= 0 || l.Qty > 10000 {
			v.Add(f("qty"), "want a whole number from 1 to 10000")
		}
		if len(l.Reason) > 500 {
			v.Add(f("reason"), "at most 500 bytes")
		}
	}
	return v.Err()
}

// Inspection is what the receiving location found in a return.
type Inspection struct {
	Condition string `json:"condition"`
	// RestockLocation is the location code resellable goods go back to;
	// required for resellable goods, refused otherwise.
	RestockLocation string `json:"restock_location,omitempty"`
	Note            string `json:"note,omitempty"`
}

// Validate names each bad field.
func (in Inspection) Validate() error {
	v := &derrors.ValidationError{}
	switch in.Condition {
	case ConditionResellable:
		if !codeRE.MatchString(in.RestockLocation) {
			v.Add("restock_location", "required for resellable goods: the code of the location they go back to")
		}
	case ConditionDamaged, ConditionMissing:
		if in.RestockLocation != "" {
			v.Add("restock_location", "only resellable goods are restocked")
		}
	default:
		v.Add("condition", "want resellable, damaged or missing")
	}
	if len(in.Note) > 2000 {
		v.Add("note", "at most 2000 bytes")
	}
	return v.Err()
}

// Return is an RMA: lines of one order coming back, and their refund.
type Return struct {
	ID              uuid.UUID    `json:"id"`
	OrderID         uuid.UUID    `json:"order_id"`
	RMA             string       `json:"rma"`
	RMAKey          string       `json:"rma_key,omitempty"`
	Status          string       `json:"status"`
	Reason          string       `json:"reason,omitempty"`
	Condition       string       `json:"condition,omitempty"`
	RestockLocation string       `json:"restock_location,omitempty"`
	Note            string       `json:"note,omitempty"`
	Amount          float64      `json:"amount"` // the refund due: returned quantity × unit price
	Currency        string       `json:"currency"`
	ExceptionID     *uuid.UUID   `json:"exception_id,omitempty"` // the refund_review exception
	PaymentKey      string       `json:"-"`
	RefundID        string       `json:"refund_id,omitempty"` // the gateway's refund transaction
	Lines           []ReturnLine `json:"lines"`
	RequestedBy     string       `json:"requested_by"`
	ReceivedBy      string       `json:"received_by,omitempty"`
	ApprovedBy      string       `json:"approved_by,omitempty"`
	RequestedAt     time.Time    `json:"requested_at"`
	ReceivedAt      *time.Time   `json:"received_at,omitempty"`
	ApprovedAt      *time.Time   `json:"approved_at,omitempty"`
	RefundedAt      *time.Time   `json:"refunded_at,omitempty"`
}

// ReturnLine is a quantity of one order line in a return.
type ReturnLine struct {
	LineID uuid.UUID `json:"line_id"`
	LineNo int       `json:"line_no"`
	SKU    string    `json:"sku"`
	Qty    int       `json:"qty"`
	Reason string    `json:"reason,omitempty"`
	Amount float64   `json:"amount"`
}

const returnSelect = `
	SELECT r.id, r.order_id, r.rma, r.rma_key, r.status, r.reason, coalesce(r.condition, ''), coalesce(l.code, ''), r.note,
		r.amount::float8, r.currency, r.exception_id, r.payment_key, r.refund_id,
		coalesce((SELECT jsonb_agg(jsonb_build_object('line_id', rl.line_id, 'line_no', rl.line_no, 'sku', k.code, 'qty', rl.qty,
			'reason', rl.reason, 'amount', rl.amount) ORDER BY rl.line_no)
			FROM return_lines rl JOIN order_lines ol ON ol.id = rl.line_id JOIN skus k ON k.id = ol.sku_id
			WHERE rl.return_id = r.id), '[]'),
		r.requested_by, r.received_by, r.approved_by, r.requested_at, r.received_at, r.approved_at, r.refunded_at
	FROM returns r LEFT JOIN locations l ON l.id = r.restock_location_id`

func scanReturn(row pgx.Row) (Return, error) {
	var r Return
	err := row.Scan(&r.ID, &r.OrderID, &r.RMA, &r.RMAKey, &r.Status, &r.Reason, &r.Condition, &r.RestockLocation, &r.Note,
		&r.Amount, &r.Currency, &r.ExceptionID, &r.PaymentKey, &r.RefundID, &r.Lines,
		&r.RequestedBy, &r.ReceivedBy, &r.ApprovedBy, &r.RequestedAt, &r.ReceivedAt, &r.ApprovedAt, &r.RefundedAt)
	return r, err
}

func getReturn(ctx context.Context, q querier, id uuid.UUID) (Return, error) {
	r, err := scanReturn(q.QueryRow(ctx, returnSelect+` WHERE r.id = $1`, id))
	if isNoRows(err) {
		return Return{}, fmt.Errorf("no return %s: %w", id, derrors.NotFound)
	}
	return r, err
}

// GetReturn returns a return with its lines.
func (s *Service) GetReturn(ctx context.Context, id uuid.UUID) (_ Return, err error) {
	defer derrors.Wrap(&err, "GetReturn(%s)", id)
	return getReturn(ctx, s.pool, id)
}

// ListReturns returns an order's returns, oldest first.
func (s *Service) ListReturns(ctx context.Context, orderID uuid.UUID) (_ []Return, err error) {
	defer derrors.Wrap(&err, "ListReturns(%s)", orderID)
	if _, err := s.GetOrder(ctx, orderID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, returnSelect+` WHERE r.order_id = $1 ORDER BY r.requested_at, r.rma`, orderID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Return, error) { return scanReturn(row) })
}

// RequestReturn opens a return (RMA) for delivered lines of a delivered order:
// each line's quantity at most what was delivered less what is already in a
// return. A line is returned once, because the ERP takes one credit memo per
// line. With an RMA key, a repeated request answers the first return (created
// false); the same key with other lines is a conflict.
func (s *Service) RequestReturn(ctx context.Context, actor string, orderID uuid.UUID, req ReturnRequest) (_ Return, created bool, err error) {
	defer derrors.Wrap(&err, "RequestReturn(%s)", orderID)
	if err := req.Validate(); err != nil {
		return Return{}, false, err
	}
	var out Return
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		created = false
		o, err := lockOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if req.RMAKey != "" {
			var id uuid.UUID
			err := tx.QueryRow(ctx, `SELECT id FROM returns WHERE order_id = $1 AND rma_key = $2`, o.ID, req.RMAKey).Scan(&id)
			if err == nil {
				if out, err = getReturn(ctx, tx, id); err != nil {
					return err
				}
				if !sameLines(out, req) {
					return fmt.Errorf("rma_key %q was used for return %s with other lines; use a new key for a new return: %w", req.RMAKey, out.RMA, derrors.Conflict)
				}
				return nil
			}
			if !isNoRows(err) {
				return err
			}
		}
		if o.Status != StatusDelivered {
			return fmt.Errorf("order %s is %s; returns open once it is delivered, for what is not returned yet: %w", o.ExternalID, o.Status, derrors.Conflict)
		}
		delivered, err := deliveredQty(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		inReturn, err := returnedQty(ctx, tx, o.ID)
		if err != nil {
			return err
		}
		byNo := map[int]Line{}
		for _, l := range o.Lines {
			byNo[l.LineNo] = l
		}
		ve := &derrors.ValidationError{}
		var lines []ReturnLine
		var amount float64
		for i, in := range req.Lines {
			f := fmt.Sprintf("lines[%d]", i)
			l, ok := byNo[in.LineNo]
			switch {
			case !ok:
				ve.Add(f+".line_no", "order %s has no line %d", o.ExternalID, in.LineNo)
				continue
			case inReturn[l.ID].qty > 0:
				return fmt.Errorf("line %d is in return %s already; a line is returned once (the ERP takes one credit memo per line): %w",
					l.LineNo, inReturn[l.ID].rma, derrors.Conflict)
			case l.Status != LineDelivered || delivered[l.ID] == 0:
				ve.Add(f+".line_no", "line %d is %s; only delivered lines can be returned", l.LineNo, l.Status)
				continue
			}
			if left := delivered[l.ID] - inReturn[l.ID].qty; in.Qty > left {
				ve.Add(f+".qty", "at most %d of line %d can be returned (%d delivered, %d returned before)", left, l.LineNo, delivered[l.ID], inReturn[l.ID].qty)
				continue
			}
			net := round2(float64(in.Qty) * l.UnitPrice)
			amount += net
			lines = append(lines, ReturnLine{LineID: l.ID, LineNo: l.LineNo, SKU: l.SKU, Qty: in.Qty, Reason: in.Reason, Amount: net})
		}
		if err := ve.Err(); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM returns WHERE order_id = $1`, o.ID).Scan(&n); err != nil {
			return err
		}
		id := uuid.New()
		rma := fmt.Sprintf("%s-R%d", o.ExternalID, n+1)
		now := s.now()
		if _, err := tx.Exec(ctx, `INSERT INTO returns (id, order_id, rma, rma_key, status, reason, amount, currency, requested_by, requested_at, updated_at)
			VALUES ($1, $2, $3, $4, 'requested', $5, $6, $7, $8, $9, $9)`,
			id, o.ID, rma, req.RMAKey, req.Reason, round2(amount), o.Currency, actor, now); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, l := range lines {
			b.Queue(`INSERT INTO return_lines (return_id, line_id, line_no, qty, reason, amount) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, l.LineID, l.LineNo, l.Qty, l.Reason, l.Amount)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if err := s.setLineStatuses(ctx, tx, id, LineReturnRequested); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, o, "return_status:"+id.String()+":requested", adapter.TemplateReturnStatus, map[string]any{
			"return_status": "requested (" + rma + ")", "message": "Send the items back with the RMA number " + rma + " on the parcel."}); err != nil {
			return err
		}
		if err := s.syncReturnStatus(ctx, tx, o.ID, "return_requested", actor, req.Reason,
			map[string]any{"return_id": id, "rma": rma, "lines": lineNos(lines), "amount": round2(amount)}); err != nil {
			return err
		}
		created = true
		out, err = getReturn(ctx, tx, id)
		return err
	})
	return out, created, err
}

// sameLines reports whether req asks for the lines and quantities of r.
func sameLines(r Return, req ReturnRequest) bool {
	have := map[int]int{}
	for _, l := range r.Lines {
		have[l.LineNo] = l.Qty
	}
	want := map[int]int{}
	for _, l := range req.Lines {
		want[l.LineNo] = l.Qty
	}
	return maps.Equal(have, want)
}

func lineNos(lines []ReturnLine) []int {
	out := make([]int, len(lines))
	for i, l := range lines {
		out[i] = l.LineNo
	}
	return out
}

// deliveredQty sums each line's quantity in delivered shipments.
func deliveredQty(ctx context.Context, tx pgx.Tx, orderID uuid.UUID) (map[uuid.UUID]int, error) {
	rows, err := tx.Query(ctx, `SELECT sl.line_id, sum(sl.qty)::int FROM shipment_lines sl JOIN shipments sh ON sh.id = sl.shipment_id
		WHERE sh.order_id = $1 AND sh.status = 'delivered' GROUP BY sl.line_id`, orderID)
	if err != nil {
		return nil, err
	}
	out := map[uuid.UUID]int{}
	var id uuid.UUID
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n; return nil })
	return out, err
}

type inReturn struct {
	rma string
	qty int
}

// returnedQty lists each line's quantity in a return, with the return's RMA.
func returnedQty(ctx context.Context, tx pgx.Tx, orderID uuid.UUID) (map[uuid.UUID]inReturn, error) {
	rows, err := tx.Query(ctx, `SELECT rl.line_id, r.rma, rl.qty FROM return_lines rl JOIN returns r ON r.id = rl.return_id
		WHERE r.order_id = $1`, orderID)
	if err != nil {
		return nil, err
	}
	out := map[uuid.UUID]inReturn{}
	var id uuid.UUID
	var rma string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &rma, &n}, func() error {
		r := out[id]
		out[id] = inReturn{rma: rma, qty: r.qty + n}
		return nil
	})
	return out, err
}

// setLineStatuses moves the lines of a return whose whole delivered quantity
// is in it to status; partly returned lines stay delivered.
func (s *Service) setLineStatuses(ctx context.Context, tx pgx.Tx, returnID uuid.UUID, status string) error {
	_, err := tx.Exec(ctx, `
		UPDATE order_lines ol SET status = $2, updated_at = $3
		FROM return_lines rl
		WHERE rl.return_id = $1 AND ol.id = rl.line_id
		AND rl.qty = (SELECT coalesce(sum(sl.qty), 0) FROM shipment_lines sl JOIN shipments sh ON sh.id = sl.shipment_id
			WHERE sl.line_id = rl.line_id AND sh.status = 'delivered')`, returnID, status, s.now())
	return err
}

// syncReturnStatus writes the event of a return step and, when every
// delivered unit of the order is in a return, moves the order to the stage of
// its least advanced return: return_requested, returned, then refunded.
func (s *Service) syncReturnStatus(ctx context.Context, tx pgx.Tx, orderID uuid.UUID, kind, actor, reason string, data map[string]any) error {
	var status string
	var delivered, returned, stage int
	err := tx.QueryRow(ctx, `
		SELECT o.status,
			(SELECT coalesce(sum(sl.qty), 0) FROM shipment_lines sl JOIN shipments sh ON sh.id = sl.shipment_id
				WHERE sh.order_id = o.id AND sh.status = 'delivered')::int,
			(SELECT coalesce(sum(rl.qty), 0) FROM return_lines rl JOIN returns r ON r.id = rl.return_id WHERE r.order_id = o.id)::int,
			(SELECT coalesce(min(CASE r.status WHEN 'requested' THEN 1 WHEN 'refunded' THEN 3 ELSE 2 END), 0)
				FROM returns r WHERE r.order_id = o.id)::int
		FROM orders o WHERE o.id = $1`, orderID).Scan(&status, &delivered, &returned, &stage)
	if err != nil {
		return err
	}
	to := ""
	if delivered > 0 && returned >= delivered {
		to = map[int]string{1: StatusReturnRequested, 2: StatusReturned, 3: StatusRefunded}[stage]
	}
	if to == "" || to == status {
		return s.event(ctx, tx, orderID, kind, actor, reason, data)
	}
	_, err = s.setStatus(ctx, tx, orderID, to, kind, actor, reason, data)
	return err
}

// lockReturn locks the order of a return (every change to an order's returns
// holds its row, so they happen one at a time) and reads both.
func lockReturn(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Order, Return, error) {
	var orderID uuid.UUID
	if err := tx.QueryRow(ctx, `SELECT order_id FROM returns WHERE id = $1`, id).Scan(&orderID); err != nil {
		if isNoRows(err) {
			return Order{}, Return{}, fmt.Errorf("no return %s: %w", id, derrors.NotFound)
		}
		return Order{}, Return{}, err
	}
	o, err := lockOrder(ctx, tx, orderID)
	if err != nil {
		return Order{}, Return{}, err
	}
	r, err := getReturn(ctx, tx, id)
	return o, r, err
}

// restockSQL puts a return's goods back on hand at a location, with a ledger
// row per SKU; a SKU the location never stocked gets a stock row.
const restockSQL = `
WITH l AS (
	SELECT ol.sku_id, sum(rl.qty)::int AS qty FROM return_lines rl JOIN order_lines ol ON ol.id = rl.line_id
	WHERE rl.return_id = $1 GROUP BY ol.sku_id
), upd AS (
	INSERT INTO stock AS st (sku_id, location_id, on_hand) SELECT sku_id, $2, qty FROM l
	ON CONFLICT (sku_id, location_id) DO UPDATE SET on_hand = st.on_hand + EXCLUDED.on_hand, updated_at = now()
	RETURNING st.sku_id, st.location_id, st.on_hand, st.reserved
)
INSERT INTO stock_ledger (sku_id, location_id, kind, order_id, d_on_hand, d_reserved, on_hand_after, reserved_after, actor, reason)
SELECT upd.sku_id, upd.location_id, 'delta', $3, l.qty, 0, upd.on_hand, upd.reserved, $4, 'return restock'
FROM upd JOIN l ON l.sku_id = upd.sku_id`

// ReceiveReturn records the receipt and inspection of a return. Resellable
// goods go back on hand at the restock location; damaged or missing goods do
// not. The refund is then approved at once when it is within the policy's
// automatic limit and nothing is missing, else a
// refund_review exception asks a person (see ApproveRefund). Receiving again
// with the same inspection changes nothing; with another, it is a conflict.
func (s *Service) ReceiveReturn(ctx context.Context, actor string, returnID uuid.UUID, in Inspection) (_ Return, err error) {
	defer derrors.Wrap(&err, "ReceiveReturn(%s)", returnID)
	if err := in.Validate(); err != nil {
		return Return{}, err
	}
	var loc Location
	if in.Condition == ConditionResellable {
		loc, err = s.locationByCode(ctx, in.RestockLocation)
		if err != nil || !loc.Active {
			ve := &derrors.ValidationError{}
			ve.Add("restock_location", "no active location %q", in.RestockLocation)
			return Return{}, ve
		}
	}
	var out Return
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		o, r, err := lockReturn(ctx, tx, returnID)
		if err != nil {
			return err
		}
		if r.Status != ReturnRequested {
			if r.Condition == in.Condition && r.RestockLocation == in.RestockLocation {
				out = r // received before: a retry
				return nil
			}
			return fmt.Errorf("return %s was received already (%s %s): %w", r.RMA, r.Condition, r.RestockLocation, derrors.Conflict)
		}
		now := s.now()
		var locID *int64
		if in.Condition == ConditionResellable {
			locID = &loc.ID
			if _, err := tx.Exec(ctx, restockSQL, r.ID, loc.ID, o.ID, actor); err != nil {
				return err
			}
		}
		auto, exc := s.refundDecision(o, r, in.Condition)
		status, approvedBy := ReturnRefundReview, ""
		var approvedAt *time.Time
		var excID *uuid.UUID
		if auto {
			status, approvedBy, approvedAt = ReturnRefundPending, "system:policy", &now
			if err := enqueue(ctx, tx, RefundArgs{ReturnID: r.ID}, nil); err != nil {
				return err
			}
		} else {
			id, err := s.raise(ctx, tx, exc)
			if err != nil {
				return err
			}
			excID = &id
		}
		if _, err := tx.Exec(ctx, `UPDATE returns SET status = $2, condition = $3, restock_location_id = $4, note = $5,
			received_by = $6, received_at = $7, approved_by = $8, approved_at = $9, exception_id = $10, updated_at = $7 WHERE id = $1`,
			r.ID, status, in.Condition, locID, in.Note, actor, now, approvedBy, approvedAt, excID); err != nil {
			return err
		}
		if err := s.setLineStatuses(ctx, tx, r.ID, LineReturned); err != nil {
			return err
		}
		note := "Your refund is on its way."
		if !auto {
			note = "We are reviewing your refund and will be in touch shortly."
		}
		if err := s.notify(ctx, tx, o, "return_status:"+r.ID.String()+":received", adapter.TemplateReturnStatus, map[string]any{
			"return_status": "received (" + r.RMA + ")", "refund_amount": fmt.Sprintf("%.2f", r.Amount), "currency": r.Currency, "message": note}); err != nil {
			return err
		}
		data := map[string]any{"return_id": r.ID, "rma": r.RMA, "condition": in.Condition}
		if locID != nil {
			data["restock_location"] = loc.Code
		}
		if err := s.syncReturnStatus(ctx, tx, o.ID, "return_received", actor, in.Condition, data); err != nil {
			return err
		}
		if auto {
			err = s.event(ctx, tx, o.ID, "refund_approved", "system:policy",
				fmt.Sprintf("%.2f %s within the automatic limit", r.Amount, r.Currency), map[string]any{"return_id": r.ID, "amount": r.Amount})
		} else {
			err = s.event(ctx, tx, o.ID, "refund_review", returnsActor, exc.Message, map[string]any{"return_id": r.ID, "exception": excID})
		}
		if err != nil {
			return err
		}
		out, err = getReturn(ctx, tx, r.ID)
		return err
	})
	return out, err
}
