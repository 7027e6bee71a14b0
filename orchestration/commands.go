package orchestration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/orchestration/sourcing"
)

// Command kinds: the fixes triage recommends and people apply.
const (
	CmdReroute     = "reroute"      // move lines to another location
	CmdSplit       = "split"        // source lines again, splitting across locations if need be
	CmdSubstitute  = "substitute"   // ship another SKU for a line
	CmdHold        = "hold"         // stop an order where it is
	CmdReleaseHold = "release_hold" // let a held order go on
	CmdCancelLines = "cancel_lines" // cancel lines (all when none named)
	CmdRebook      = "rebook"       // book a shipment with another carrier or service
	CmdNotify      = "notify"       // tell the customer, with a template
	CmdCompensate  = "compensate"   // a credit or coupon, within the policy's limits
	CmdRetry       = "retry"        // run a failed step again
)

// CommandKinds lists the command kinds.
func CommandKinds() []string {
	return []string{CmdReroute, CmdSplit, CmdSubstitute, CmdHold, CmdReleaseHold, CmdCancelLines, CmdRebook,
		CmdNotify, CmdCompensate, CmdRetry}
}

// Command is one change to an order. ID makes it idempotent: a command
// applied again (a retry, or two callers at once) changes the order once and
// answers with the first result.
type Command struct {
	ID       string         `json:"id"`
	Kind     string         `json:"kind"`
	OrderID  uuid.UUID      `json:"order_id"`
	Lines    []int          `json:"lines,omitempty"`    // line numbers; reroute, split, substitute, cancel_lines
	Location string         `json:"location,omitempty"` // reroute: the new location
	SKU      string         `json:"sku,omitempty"`      // substitute: the SKU to ship instead
	Shipment uuid.UUID      `json:"shipment,omitempty"` // rebook
	Carrier  string         `json:"carrier,omitempty"`  // rebook
	Service  string         `json:"service,omitempty"`  // rebook
	Template string         `json:"template,omitempty"` // notify
	Data     map[string]any `json:"data,omitempty"`     // notify
	Amount   float64        `json:"amount,omitempty"`   // compensate
	Credit   string         `json:"credit,omitempty"`   // compensate: credit or coupon
	Step     RetryStep      `json:"step,omitempty"`     // retry: checks, release, ship, post or notify
	Reason   string         `json:"reason,omitempty"`
}

// Validate names each bad field.
func (c Command) Validate() error {
	v := &derrors.ValidationError{}
	if c.ID == "" || len(c.ID) > 200 {
		v.Add("id", "required: a unique id for this command (reuse it to retry safely)")
	}
	if !slices.Contains(CommandKinds(), c.Kind) {
		v.Add("kind", "want one of %s", strings.Join(CommandKinds(), ", "))
	}
	if c.OrderID == uuid.Nil {
		v.Add("order_id", "required")
	}
	switch c.Kind {
	case CmdReroute:
		if c.Location == "" {
			v.Add("location", "required: where the lines go")
		}
		if len(c.Lines) == 0 {
			v.Add("lines", "name the lines to move")
		}
	case CmdSplit:
		if len(c.Lines) == 0 {
			v.Add("lines", "name the lines to source again")
		}
	case CmdSubstitute:
		if c.SKU == "" {
			v.Add("sku", "required: the SKU to ship instead")
		}
		if len(c.Lines) != 1 {
			v.Add("lines", "name exactly one line")
		}
	case CmdRebook:
		if c.Shipment == uuid.Nil {
			v.Add("shipment", "required")
		}
		if c.Carrier == "" && c.Service == "" {
			v.Add("carrier", "give a carrier or a service")
		}
	case CmdNotify:
		if !adapter.KnownTemplate(c.Template) {
			v.Add("template", "want one of %s", strings.Join(adapter.KnownTemplates(), ", "))
		}
	case CmdCompensate:
		if c.Amount <= 0 || c.Amount > 1e6 {
			v.Add("amount", "want a positive amount")
		}
		if c.Credit != "credit" && c.Credit != "coupon" {
			v.Add("credit", "want credit or coupon")
		}
	case CmdRetry:
		if !slices.Contains(RetrySteps(), c.Step) {
			v.Add("step", "want %s", strings.Join(stepNames(), ", "))
		}
	}
	if len(c.Reason) > 500 {
		v.Add("reason", "at most 500 bytes")
	}
	return v.Err()
}

// CommandResult is what a command did.
type CommandResult struct {
	CommandID string    `json:"command_id"`
	Kind      string    `json:"kind"`
	OrderID   uuid.UUID `json:"order_id"`
	// Replayed is true when the command had been applied before: nothing
	// changed this time, and Summary is the first application's.
	Replayed bool   `json:"replayed"`
	Summary  string `json:"summary"`
}

// Apply applies a command to an order exactly once: validated against the
// order's current state, recorded with its result and an order event in one
// transaction. The same command id again answers with the first result.
func (s *Service) Apply(ctx context.Context, actor string, cmd Command) (_ CommandResult, err error) {
	defer derrors.Wrap(&err, "Apply(%s %s)", cmd.Kind, cmd.ID)
	if err := cmd.Validate(); err != nil {
		return CommandResult{}, err
	}
	// A rebook calls the carrier first, with a key from the command id, so a
	// retry gets the same booking.
	var booking *adapter.Booking
	if cmd.Kind == CmdRebook {
		if r, done, err := s.replayCommand(ctx, cmd); done || err != nil {
			return r, err
		}
		b, err := s.rebookCall(ctx, cmd)
		if err != nil {
			return CommandResult{}, err
		}
		booking = &b
	}
	params, _ := json.Marshal(cmd)
	var res CommandResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock the order first: commands on one order run one at a time, and
		// an unknown order is a 404, not a broken reference.
		o, err := lockOrder(ctx, tx, cmd.OrderID)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO order_commands (id, order_id, kind, params, actor) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO NOTHING`, cmd.ID, cmd.OrderID, cmd.Kind, params, actor)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			res, err = s.storedCommand(ctx, tx, cmd)
			return err
		}
		summary, err := s.applyTx(ctx, tx, actor, o, cmd, booking)
		if err != nil {
			return err
		}
		res = CommandResult{CommandID: cmd.ID, Kind: cmd.Kind, OrderID: o.ID, Summary: summary}
		out, _ := json.Marshal(res)
		if _, err := tx.Exec(ctx, `UPDATE order_commands SET result = $2 WHERE id = $1`, cmd.ID, out); err != nil {
			return err
		}
		return s.event(ctx, tx, o.ID, "command_"+cmd.Kind, actor, summary, map[string]any{"command_id": cmd.ID, "reason": cmd.Reason})
	})
	return res, err
}

// replayCommand answers a command applied before, if it was.
func (s *Service) replayCommand(ctx context.Context, cmd Command) (CommandResult, bool, error) {
	var res CommandResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.storedCommand(ctx, tx, cmd)
		return err
	})
	if isNoRows(err) {
		return CommandResult{}, false, nil
	}
	return res, err == nil, err
}

func (s *Service) storedCommand(ctx context.Context, tx pgx.Tx, cmd Command) (CommandResult, error) {
	var kind string
	var orderID uuid.UUID
	var out []byte
	if err := tx.QueryRow(ctx, `SELECT kind, order_id, result FROM order_commands WHERE id = $1`, cmd.ID).Scan(&kind, &orderID, &out); err != nil {
		return CommandResult{}, err
	}
	if kind != cmd.Kind || orderID != cmd.OrderID {
		return CommandResult{}, fmt.Errorf("command id %s was used for %s on order %s; use a new id: %w", cmd.ID, kind, orderID, derrors.Conflict)
	}
	var res CommandResult
	if err := json.Unmarshal(out, &res); err != nil {
		return CommandResult{}, err
	}
	res.Replayed = true
	return res, nil
}

func (s *Service) applyTx(ctx context.Context, tx pgx.Tx, actor string, o Order, cmd Command, booking *adapter.Booking) (string, error) {
	lines, err := pickLines(o, cmd.Lines)
	if err != nil {
		return "", err
	}
	switch cmd.Kind {
	case CmdHold:
		if Terminal(o.Status) || o.Status == StatusOnHold {
			return "", fmt.Errorf("order is %s: %w", o.Status, derrors.Conflict)
		}
		if _, err := s.setStatus(ctx, tx, o.ID, StatusOnHold, "held", actor, orDefault(cmd.Reason, "held by command"), nil); err != nil {
			return "", err
		}
		return "order held", nil
	case CmdReleaseHold:
		return s.releaseHold(ctx, tx, actor, o, cmd)
	case CmdCancelLines:
		return s.cancelLinesTx(ctx, tx, actor, o, lines, orDefault(cmd.Reason, "cancelled by command"))
	case CmdReroute, CmdSplit, CmdSubstitute:
		return s.reSourceLinesTx(ctx, tx, actor, o, cmd, lines)
	case CmdRebook:
		return s.rebookTx(ctx, tx, actor, o, cmd, *booking)
	case CmdNotify:
		if err := s.notify(ctx, tx, o, "cmd:"+cmd.ID, cmd.Template, cmd.Data); err != nil {
			return "", err
		}
		return "customer notified (" + cmd.Template + ")", nil
	case CmdCompensate:
		return s.compensateTx(ctx, tx, o, cmd)
	case CmdRetry:
		return s.retryTx(ctx, tx, o, cmd)
	}
	return "", fmt.Errorf("unknown command %q: %w", cmd.Kind, derrors.Invalid)
}

func pickLines(o Order, nos []int) ([]Line, error) {
	var out []Line
	for _, n := range nos {
		i := slices.IndexFunc(o.Lines, func(l Line) bool { return l.LineNo == n })
		if i < 0 {
			ve := &derrors.ValidationError{}
			ve.Add("lines", "order has no line %d", n)
			return nil, ve
		}
		out = append(out, o.Lines[i])
	}
	return out, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// releaseHold lets a held order go on: to authorised (and its releases) when
// its payment is held, else back to captured for the checks to run again. A
// person's release also clears a fraud review.
func (s *Service) releaseHold(ctx context.Context, tx pgx.Tx, actor string, o Order, cmd Command) (string, error) {
	if o.Status != StatusOnHold {
		return "", fmt.Errorf("order is %s, not on hold: %w", o.Status, derrors.Conflict)
	}
	var authorised bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM order_events WHERE order_id = $1 AND kind = 'authorised')`, o.ID).Scan(&authorised); err != nil {
		return "", err
	}
	if authorised {
		if _, err := s.setStatus(ctx, tx, o.ID, StatusAuthorised, "hold_released", actor, orDefault(cmd.Reason, "hold released"), nil); err != nil {
			return "", err
		}
		for _, loc := range allocationLocations(o) {
			if err := enqueue(ctx, tx, ReleaseArgs{OrderID: o.ID, LocationID: loc}, nil); err != nil {
				return "", err
			}
		}
		return "hold released; releasing to locations", nil
	}
	if _, err := s.setStatus(ctx, tx, o.ID, StatusCaptured, "hold_released", actor, orDefault(cmd.Reason, "hold released"),
		map[string]any{"clears": "fraud_review"}); err != nil {
		return "", err
	}
	return "hold released; checks run again", enqueue(ctx, tx, ChecksArgs{OrderID: o.ID}, nil)
}

// cancelLinesTx cancels lines not yet released, with their reservations given
// back and a credit memo each.
func (s *Service) cancelLinesTx(ctx context.Context, tx pgx.Tx, actor string, o Order, lines []Line, reason string) (string, error) {
	if !cancellable(o.Status) {
		return "", fmt.Errorf("order is %s; lines can be cancelled only before release: %w", o.Status, derrors.Conflict)
	}
	if len(lines) == 0 {
		lines = o.Lines
	}
	var nos []int
	for _, l := range lines {
		if l.Status != LineCancelled {
			nos = append(nos, l.LineNo)
		}
	}
	if len(nos) == 0 {
		return "nothing to cancel", nil
	}
	if _, err := s.cancelTx(ctx, tx, actor, o, CancelRequest{Lines: nos, Reason: reason}); err != nil {
		return "", err
	}
	return fmt.Sprintf("cancelled lines %v", nos), nil
}

// reSourceLinesTx moves lines (reroute), sources them again (split), or ships a
// substitute SKU for one (substitute): it gives back their reservations and
// reserves anew in the same transaction, or changes nothing.
func (s *Service) reSourceLinesTx(ctx context.Context, tx pgx.Tx, actor string, o Order, cmd Command, lines []Line) (string, error) {
	switch o.Status {
	case StatusCaptured, StatusBackordered, StatusAuthorised, StatusOnHold, StatusReleased, StatusPartiallyShipped:
	default:
		return "", fmt.Errorf("order is %s: %w", o.Status, derrors.Conflict)
	}
	for _, l := range lines {
		if l.Status != LineAllocated && l.Status != LineBackordered {
			return "", fmt.Errorf("line %d is %s; only lines not yet released can be moved: %w", l.LineNo, l.Status, derrors.Conflict)
		}
	}
	locs, chans, err := s.network(ctx)
	if err != nil {
		return "", err
	}
	var ids []uuid.UUID
	for _, l := range lines {
		for _, a := range l.Allocations {
			ids = append(ids, a.ReservationID)
		}
	}
	if _, err := release(ctx, tx, ids, "released", "release", &o.ID, actor, "command "+cmd.Kind); err != nil {
		return "", err
	}
	codes := []string{}
	for _, l := range lines {
		codes = append(codes, l.SKU)
	}
	if cmd.Kind == CmdSubstitute {
		codes = append(codes, cmd.SKU)
	}
	skus, load, err := loadSKUs(ctx, tx, codes)
	if err != nil {
		return "", err
	}
	if cmd.Kind == CmdSubstitute {
		if k, ok := skus[cmd.SKU]; !ok || !k.Active {
			ve := &derrors.ValidationError{}
			ve.Add("sku", "no active SKU %q", cmd.SKU)
			return "", ve
		}
	}
	now := s.now()
	pr := sourcing.Request{Channel: chans[o.Channel].Kind, ServiceLevel: o.ServiceLevel, Now: now}
	if o.ShipTo != nil {
		pr.ShipTo = &sourcing.GeoPoint{Lat: deref(o.ShipTo.Lat), Lon: deref(o.ShipTo.Lon)}
	} else if pl, err := s.locationByCode(ctx, o.PickupLocation); err == nil {
		pr.PickupLocationID = pl.ID
	}
	for _, l := range lines {
		pr.Lines = append(pr.Lines, sourcing.Line{LineID: l.ID.String(), SKU: l.SKU, Qty: l.Qty, UnitPrice: l.UnitPrice, UnitCost: skus[l.SKU].Cost})
	}
	cands, _ := candidates(locs, skus, load, now, pr.PickupLocationID)
	var target Location
	switch cmd.Kind {
	case CmdReroute:
		target, err = s.locationByCode(ctx, cmd.Location)
		if err != nil || !target.Active {
			ve := &derrors.ValidationError{}
			ve.Add("location", "no active location %q", cmd.Location)
			return "", ve
		}
		cands = slices.DeleteFunc(cands, func(c sourcing.Candidate) bool { return c.ID != target.ID })
	case CmdSubstitute:
		pr.Substitutes = map[string]string{lines[0].SKU: cmd.SKU}
	}
	rsv := reservation{kind: "order", orderID: &o.ID}
	var summary string
	if cmd.Kind == CmdReroute {
		// The person chose the location: reserve there, or fail.
		for _, l := range lines {
			if sourcing.Available(skus[l.SKU].stock[target.ID], 0) < l.Qty {
				return "", fmt.Errorf("%s has %d of %s available, line %d needs %d: %w", target.Code,
					sourcing.Available(skus[l.SKU].stock[target.ID], 0), l.SKU, l.LineNo, l.Qty, derrors.Conflict)
			}
			rsv.add(uuid.New(), skus[l.SKU].ID, target.ID, l.Qty, l.ID)
		}
		summary = fmt.Sprintf("rerouted %d line(s) to %s", len(lines), target.Code)
	} else {
		plan, err := sourcing.NewPlan(s.policy(), pr, cands)
		if err != nil {
			return "", err
		}
		if len(plan.Unfilled) > 0 {
			return "", fmt.Errorf("no location can take the lines now (%s): %w", plan.Unfilled[0].Reason, derrors.Conflict)
		}
		rsv.bss = plan.BrokeringSafetyStock
		where := map[string]bool{}
		for _, a := range plan.Assignments {
			lid, _ := uuid.Parse(a.LineID)
			rsv.add(uuid.New(), skus[a.SKU].ID, a.LocationID, a.Qty, lid)
			where[locs[a.LocationID].Code] = true
		}
		summary = fmt.Sprintf("%s: %d line(s) now sourced from %v", cmd.Kind, len(lines), keys(where))
	}
	b := &pgx.Batch{}
	rsv.queue(b, actor, "command "+cmd.Kind)
	lineIDs := make([]uuid.UUID, len(lines))
	for i, l := range lines {
		lineIDs[i] = l.ID
	}
	b.Queue(`UPDATE order_lines SET status = 'allocated', updated_at = now() WHERE id = ANY($1)`, lineIDs)
	if cmd.Kind == CmdSubstitute {
		b.Queue(`UPDATE order_lines SET sku_id = $2 WHERE id = $1`, lines[0].ID, skus[cmd.SKU].ID)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		if checkName(err) == checkStock {
			return "", fmt.Errorf("stock moved while applying; try again: %w", derrors.Conflict)
		}
		return "", err
	}
	if cmd.Kind == CmdSubstitute {
		if err := s.notify(ctx, tx, o, "substitution:"+cmd.ID, adapter.TemplateSubstitution, map[string]any{
			"original_item": lines[0].SKU, "substitute_item": cmd.SKU}); err != nil {
			return "", err
		}
	}
	if o.Status == StatusBackordered {
		var open int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM order_lines WHERE order_id = $1 AND status = 'backordered'`, o.ID).Scan(&open); err != nil {
			return "", err
		}
		if open == 0 {
			if _, err := s.setStatus(ctx, tx, o.ID, StatusCaptured, "allocated", actor, "every line now reserved", nil); err != nil {
				return "", err
			}
			if err := enqueue(ctx, tx, ChecksArgs{OrderID: o.ID}, nil); err != nil {
				return "", err
			}
		}
	}
	if o.Status == StatusAuthorised || o.Status == StatusReleased || o.Status == StatusPartiallyShipped {
		got, err := getOrder(ctx, tx, o.ID)
		if err != nil {
			return "", err
		}
		for _, loc := range allocationLocations(got) {
			if err := enqueue(ctx, tx, ReleaseArgs{OrderID: o.ID, LocationID: loc}, nil); err != nil {
				return "", err
			}
		}
	}
	return summary, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// rebookCall books the shipment with the new carrier or service.
func (s *Service) rebookCall(ctx context.Context, cmd Command) (adapter.Booking, error) {
	sh, err := s.getShipment(ctx, cmd.Shipment)
	if err != nil {
		return adapter.Booking{}, err
	}
	if sh.OrderID != cmd.OrderID {
		return adapter.Booking{}, fmt.Errorf("shipment %s is not on order %s: %w", sh.ID, cmd.OrderID, derrors.Invalid)
	}
	if sh.Status == "delivered" || sh.Status == "released" || sh.Status == "cancelled" || sh.Status == "ready_for_pickup" {
		return adapter.Booking{}, fmt.Errorf("shipment is %s; only booked shipments can be rebooked: %w", sh.Status, derrors.Conflict)
	}
	locs, _, err := s.network(ctx)
	if err != nil {
		return adapter.Booking{}, err
	}
	loc := locs[sh.LocationID]
	o, err := s.GetOrder(ctx, sh.OrderID)
	if err != nil {
		return adapter.Booking{}, err
	}
	to := adapter.Place{Region: loc.Region, Lat: loc.Lat, Lon: loc.Lon}
	if o.ShipTo != nil {
		to = adapter.Place{PostalCode: o.ShipTo.PostalCode, Region: orDefault(o.ShipTo.Region, loc.Region), Country: o.ShipTo.Country,
			Lat: deref(o.ShipTo.Lat), Lon: deref(o.ShipTo.Lon)}
	}
	b, err := s.sys.Carrier.Book(ctx, adapter.BookRequest{IdempotencyKey: "rebook:" + cmd.ID, ShipmentID: sh.ID, OrderID: o.ID,
		Carrier: orDefault(cmd.Carrier, sh.Carrier), Service: orDefault(cmd.Service, sh.Service),
		From: adapter.Place{Code: loc.Code, Region: loc.Region, Lat: loc.Lat, Lon: loc.Lon, Country: "US"}, To: to,
		Parcels: []adapter.Parcel{{WeightKg: 1}}})
	if err != nil {
		return adapter.Booking{}, fmt.Errorf("carrier refused the rebooking: %w", err)
	}
	return b, nil
}

func (s *Service) rebookTx(ctx context.Context, tx pgx.Tx, actor string, o Order, cmd Command, b adapter.Booking) (string, error) {
	tag, err := tx.Exec(ctx, `UPDATE shipments SET carrier = $2, service = $3, tracking_number = $4, label_url = $5,
		estimated_delivery = $6, status = 'booked', updated_at = now() WHERE id = $1 AND status NOT IN ('delivered', 'released', 'cancelled')`,
		cmd.Shipment, b.Carrier, b.Service, b.TrackingNumber, b.LabelURL, b.EstimatedDelivery)
	if err != nil {
		return "", err
	}
	if tag.RowsAffected() == 0 {
		return "", fmt.Errorf("shipment %s can no longer be rebooked: %w", cmd.Shipment, derrors.Conflict)
	}
	if err := enqueue(ctx, tx, TrackArgs{ShipmentID: cmd.Shipment}, nil); err != nil {
		return "", err
	}
	return fmt.Sprintf("rebooked with %s %s (%s)", b.Carrier, b.Service, b.TrackingNumber), nil
}

// compensateTx grants a credit or coupon within the policy's limit for the
// customer's tier, counting what the order already got.
func (s *Service) compensateTx(ctx context.Context, tx pgx.Tx, o Order, cmd Command) (string, error) {
	limit := s.policy().Limits.CompensationLimit(o.Customer.Tier)
	var given float64
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0)::float8 FROM compensations WHERE order_id = $1`, o.ID).Scan(&given); err != nil {
		return "", err
	}
	if given+cmd.Amount > limit+1e-9 {
		return "", fmt.Errorf("compensation %.2f would bring order %s to %.2f, over the %.2f limit for tier %q: %w",
			cmd.Amount, o.ExternalID, given+cmd.Amount, limit, o.Customer.Tier, derrors.Forbidden)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO compensations (order_id, command_id, kind, amount, currency) VALUES ($1, $2, $3, $4, $5)`,
		o.ID, cmd.ID, cmd.Credit, cmd.Amount, o.Currency); err != nil {
		return "", err
	}
	if err := s.notify(ctx, tx, o, "compensation:"+cmd.ID, adapter.TemplateUpdate, map[string]any{
		"message": fmt.Sprintf("We've added a %s of %.2f %s to your account. Sorry for the trouble.", cmd.Credit, cmd.Amount, o.Currency)}); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s of %.2f %s granted", cmd.Credit, cmd.Amount, o.Currency), nil
}

// retryTx runs a failed step again.
func (s *Service) retryTx(ctx context.Context, tx pgx.Tx, o Order, cmd Command) (string, error) {
	switch cmd.Step {
	case StepChecks:
		if o.Status != StatusCaptured {
			return "", fmt.Errorf("order is %s; checks run for captured orders (release the hold first): %w", o.Status, derrors.Conflict)
		}
		return "checks queued", enqueue(ctx, tx, ChecksArgs{OrderID: o.ID}, nil)
	case StepRelease:
		locs := allocationLocations(o)
		if len(locs) == 0 {
			return "", fmt.Errorf("order has no lines waiting for release: %w", derrors.Conflict)
		}
		for _, l := range locs {
			if err := enqueue(ctx, tx, ReleaseArgs{OrderID: o.ID, LocationID: l}, nil); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("release queued for %d location(s)", len(locs)), nil
	case StepShip:
		rows, err := tx.Query(ctx, `SELECT id FROM shipments WHERE order_id = $1 AND status = 'released'`, o.ID)
		if err != nil {
			return "", err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return "", err
		}
		if len(ids) == 0 {
			return "", fmt.Errorf("order has no shipment waiting for its carrier: %w", derrors.Conflict)
		}
		for _, id := range ids {
			if err := enqueue(ctx, tx, ShipArgs{ShipmentID: id}, nil); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("carrier booking queued again for %d shipment(s)", len(ids)), nil
	case StepPost:
		rows, err := tx.Query(ctx, `UPDATE erp_postings SET status = 'queued', attempt = attempt + 1, code = '', message = ''
			WHERE order_id = $1 AND status = 'rejected' RETURNING doc_key`, o.ID)
		if err != nil {
			return "", err
		}
		docKeys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", err
		}
		for _, k := range docKeys {
			if err := enqueue(ctx, tx, PostArgs{DocKey: k}, nil); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d ERP posting(s) queued again", len(docKeys)), nil
	case StepNotify:
		rows, err := tx.Query(ctx, `UPDATE notifications SET status = 'queued' WHERE order_id = $1 AND status = 'failed' RETURNING key`, o.ID)
		if err != nil {
			return "", err
		}
		nkeys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", err
		}
		for _, k := range nkeys {
			if err := enqueue(ctx, tx, NotifyArgs{Key: k}, nil); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d notification(s) queued again", len(nkeys)), nil
	}
	return "", fmt.Errorf("unknown step %q: %w", cmd.Step, derrors.Invalid)
}
