package orchestration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/idempotency"
	"github.com/omnitriage/omnitriage/orchestration/sourcing"
	"github.com/omnitriage/omnitriage/rules"
)

// Idempotency is a client's retry key (see internal/idempotency, which
// stores it and answers its replays).
type Idempotency = idempotency.Key

// CaptureResult is the answer to a capture.
type CaptureResult struct {
	Order Order
	// Created is false when the order existed already (same channel and
	// external id) or the answer is a replay.
	Created bool
	// Replayed is true when the answer is the stored one for an idempotency key.
	Replayed bool
	// Response is the exact JSON first answered for this idempotency key.
	Response json.RawMessage
	Status   int
}

// check failures raised by the capture's conditional statements.
const (
	checkDuplicateOrder = "duplicate_order"
	checkIdempotency    = "idempotency_key_used" // idempotency.QueueClaimOrAbort's
	checkStock          = "stock_changed"
	checkCapacity       = "capacity_full"
)

// checkName names the ot_check that failed in err: one of the check
// constants, "check" for another one, "" when err is no check failure. It
// reads the error's constraint field (which ot_check sets to the check's
// name), never the message text.
func checkName(err error) string {
	var pe *pgconn.PgError
	if !isCheckFailure(err) || !errors.As(err, &pe) {
		return ""
	}
	switch n := pe.ConstraintName; n {
	case checkDuplicateOrder, checkIdempotency, checkStock, checkCapacity:
		return n
	}
	return "check"
}

// Capture takes an order from a channel: it validates it, sources it under the
// policy, and in one transaction writes the order, its lines, the sourcing plan
// with its explanation, the reservations (conditional updates that cannot
// oversell), the ledger, an order event, and an exception for whatever could
// not be sourced. A second capture of the same channel and external id returns
// the existing order, also when both arrive at once.
func (s *Service) Capture(ctx context.Context, actor string, idem *Idempotency, req CaptureRequest) (_ CaptureResult, err error) {
	defer derrors.Wrap(&err, "Capture(%q, %q)", req.Channel, req.ExternalID)
	if err := req.Validate(); err != nil {
		return CaptureResult{}, err
	}
	if err := checkCapture(req, s.now()); err != nil {
		return CaptureResult{}, err
	}
	locs, chans, err := s.network(ctx)
	if err != nil {
		return CaptureResult{}, err
	}
	ch, ok := chans[req.Channel]
	if !ok || !ch.Active {
		ve := &derrors.ValidationError{}
		ve.Add("channel", "no active channel %q (see GET /v1/channels)", req.Channel)
		return CaptureResult{}, ve
	}
	var pickupID int64
	if req.PickupLocation != "" {
		l, err := s.locationByCode(ctx, req.PickupLocation)
		if err != nil || !l.Active || !l.CanPickup {
			ve := &derrors.ValidationError{}
			ve.Add("pickup_location", "no active pickup location %q", req.PickupLocation)
			return CaptureResult{}, ve
		}
		pickupID = l.ID
	}
	for attempt := 0; ; attempt++ {
		res, err := s.captureOnce(ctx, actor, idem, req, ch, pickupID, locs)
		switch checkName(err) {
		case "":
			if retryable(err) && attempt < 8 {
				continue
			}
			return res, err
		case checkStock, checkCapacity:
			// Stock or capacity moved between the read and the write: plan again
			// on fresh numbers.
			if attempt < 8 {
				continue
			}
			return CaptureResult{}, fmt.Errorf("stock kept changing under this order; retry: %w", derrors.Unavailable)
		case checkDuplicateOrder:
			return s.existingOrder(ctx, req)
		case checkIdempotency:
			return s.replay(ctx, idem)
		default:
			return CaptureResult{}, err
		}
	}
}

// replay answers a reused idempotency key from what was stored.
func (s *Service) replay(ctx context.Context, idem *Idempotency) (CaptureResult, error) {
	rec, found, err := idempotency.Lookup(ctx, s.pool, idem)
	if err != nil {
		return CaptureResult{}, err
	}
	if !found || rec.Response == nil {
		return CaptureResult{}, fmt.Errorf("idempotency key %q vanished; retry: %w", idem.Key, derrors.Unavailable)
	}
	var o Order
	if err := json.Unmarshal(rec.Response, &o); err != nil {
		return CaptureResult{}, fmt.Errorf("stored response: %w", err)
	}
	return CaptureResult{Order: o, Replayed: true, Response: rec.Response, Status: rec.Status}, nil
}

// skuRow is a SKU with its stock at every location that has a row.
type skuRow struct {
	SKU
	stock map[int64]sourcing.StockLevel
}

// loadSKUs reads the SKUs by code with their stock, and today's load of every
// location, in one round trip.
func loadSKUs(ctx context.Context, q querier, codes []string) (map[string]*skuRow, map[loadKey]int, error) {
	b := &pgx.Batch{}
	b.Queue(`
		SELECT k.id, k.code, k.name, k.price::float8, k.cost::float8, k.weight_kg::float8, k.active,
			st.location_id, st.on_hand, st.reserved, st.safety_stock
		FROM skus k LEFT JOIN stock st ON st.sku_id = k.id
		WHERE k.code = ANY($1)`, codes)
	b.Queue(`SELECT location_id, day, orders FROM location_load WHERE day >= current_date - 1`)
	br := q.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, nil, err
	}
	out := map[string]*skuRow{}
	for rows.Next() {
		var k SKU
		var loc *int64
		var onHand, reserved, safety *int
		if err := rows.Scan(&k.ID, &k.Code, &k.Name, &k.Price, &k.Cost, &k.WeightKg, &k.Active, &loc, &onHand, &reserved, &safety); err != nil {
			rows.Close()
			return nil, nil, err
		}
		r := out[k.Code]
		if r == nil {
			r = &skuRow{SKU: k, stock: map[int64]sourcing.StockLevel{}}
			out[k.Code] = r
		}
		if loc != nil {
			r.stock[*loc] = sourcing.StockLevel{OnHand: *onHand, Reserved: *reserved, SafetyStock: *safety}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	load := map[loadKey]int{}
	lrows, err := br.Query()
	if err != nil {
		return nil, nil, err
	}
	var k loadKey
	var n int
	_, err = pgx.ForEachRow(lrows, []any{&k.loc, &k.day, &n}, func() error {
		load[k] = n
		return nil
	})
	return out, load, err
}

// loadKey is a location's local day.
type loadKey struct {
	loc int64
	day time.Time
}

// localDay is the calendar day at the location at t.
func localDay(l Location, t time.Time) time.Time {
	y, m, d := t.In(l.zone()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// candidates builds the planner's view of the network: the active locations
// that hold some available stock of the order's SKUs (or the pickup location).
// The others could fill nothing; leaving them out keeps planning and the
// stored explanation small. It also returns how many were left out.
func candidates(locs map[int64]Location, skus map[string]*skuRow, load map[loadKey]int, now time.Time, pickupID int64) ([]sourcing.Candidate, int) {
	out := make([]sourcing.Candidate, 0, 16)
	skipped := 0
	for _, l := range locs {
		if !l.Active {
			continue
		}
		stock := map[string]sourcing.StockLevel{}
		any := false
		for code, k := range skus {
			if st, ok := k.stock[l.ID]; ok {
				stock[code] = st
				any = any || sourcing.Available(st, 0) > 0
			}
		}
		if !any && l.ID != pickupID {
			skipped++
			continue
		}
		out = append(out, sourcing.Candidate{
			ID: l.ID, Code: l.Code, Kind: l.Kind, Region: l.Region, Lat: l.Lat, Lon: l.Lon,
			Capabilities: l.capabilities(), DailyCapacity: l.DailyCapacity, OrdersToday: load[loadKey{l.ID, localDay(l, now)}],
			HandlingCost: l.HandlingCost, HandlingHours: float64(l.HandlingHours), Cutoff: l.Cutoff, TZ: l.zone(),
			Priority: l.Priority, Active: l.Active, Stock: stock,
		})
	}
	return out, skipped
}

// draftOrder is everything one capture writes, built before the transaction.
type draftOrder struct {
	order      Order
	channelID  int64
	pickupID   *int64
	lineSKU    []int64 // per line: sourced SKU id
	lineOrd    []int64 // per line: ordered SKU id
	plan       sourcing.Plan
	reserve    reservation
	loads      []loadRow
	exceptions []Exception
	// requestHash is contentHash of the capture request.
	requestHash []byte
}

// reservation is a set of reservations to take in one conditional statement.
type reservation struct {
	ids       []uuid.UUID
	skuIDs    []int64
	locIDs    []int64
	qtys      []int32
	lineIDs   []uuid.UUID
	kind      string
	orderID   *uuid.UUID
	ref       string
	expiresAt *time.Time
	bss       int // brokering safety stock the plan held back
}

func (r *reservation) add(id uuid.UUID, sku, loc int64, qty int, line uuid.UUID) {
	r.ids = append(r.ids, id)
	r.skuIDs = append(r.skuIDs, sku)
	r.locIDs = append(r.locIDs, loc)
	r.qtys = append(r.qtys, int32(qty))
	r.lineIDs = append(r.lineIDs, line)
}

type loadRow struct {
	loc      int64
	day      time.Time
	capacity int
}

// ReserveSQL takes a set of reservations in one statement: per SKU and location
// a conditional increment of reserved that holds only while on hand − reserved −
// safety stock − brokering safety stock covers it (PostgreSQL re-checks the
// condition on the locked row, so concurrent captures cannot oversell), the
// reservation rows, and a ledger row per stock row. ot_check aborts the
// transaction when any stock row could not cover its quantity.
const ReserveSQL = `
WITH req AS (
	SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::int[], $5::uuid[])
		AS r(id, sku_id, location_id, qty, line_id)
), agg AS (
	SELECT sku_id, location_id, sum(qty)::int AS qty FROM req GROUP BY sku_id, location_id
), locked AS (
	-- Lock the rows in one global order, so two orders taking the same
	-- rows never wait on each other in a cycle (a deadlock).
	SELECT s.sku_id, s.location_id FROM stock s JOIN agg USING (sku_id, location_id)
	ORDER BY s.sku_id, s.location_id FOR NO KEY UPDATE OF s
), upd AS (
	UPDATE stock s SET reserved = s.reserved + agg.qty, updated_at = now()
	FROM agg JOIN locked USING (sku_id, location_id)
	WHERE s.sku_id = agg.sku_id AND s.location_id = agg.location_id
		AND s.on_hand - s.reserved - s.safety_stock - $6 >= agg.qty
	RETURNING s.sku_id, s.location_id, s.on_hand, s.reserved, agg.qty
), ins AS (
	INSERT INTO reservations (id, kind, sku_id, location_id, qty, order_id, line_id, ref, expires_at)
	SELECT id, $7, sku_id, location_id, qty, $8, line_id, $9, $10 FROM req
), led AS (
	INSERT INTO stock_ledger (sku_id, location_id, kind, order_id, reservation_id, d_reserved, on_hand_after, reserved_after, actor, reason)
	SELECT upd.sku_id, upd.location_id, 'reserve', $8,
		(SELECT id FROM req WHERE req.sku_id = upd.sku_id AND req.location_id = upd.location_id LIMIT 1),
		upd.qty, upd.on_hand, upd.reserved, $11, $12
	FROM upd
)
SELECT ot_check((SELECT count(*) FROM upd) = (SELECT count(*) FROM agg), 'stock_changed')`

func (r reservation) queue(b *pgx.Batch, actor, reason string) {
	lineIDs := make([]*uuid.UUID, len(r.lineIDs))
	for i := range r.lineIDs {
		if r.lineIDs[i] != uuid.Nil {
			lineIDs[i] = &r.lineIDs[i]
		}
	}
	b.Queue(ReserveSQL, r.ids, r.skuIDs, r.locIDs, r.qtys, lineIDs, r.bss, r.kind, r.orderID, r.ref, r.expiresAt, actor, reason)
}

// LoadSQL counts an order against each sourcing location's daily capacity,
// refusing (through ot_check) when a location is full.
const LoadSQL = `
WITH l AS (
	SELECT * FROM unnest($1::bigint[], $2::date[], $3::int[]) AS l(location_id, day, capacity)
), up AS (
	INSERT INTO location_load AS ll (location_id, day, orders, capacity)
	SELECT location_id, day, 1, capacity FROM l
	ON CONFLICT (location_id, day) DO UPDATE SET orders = ll.orders + 1
	WHERE ll.capacity = 0 OR ll.orders < ll.capacity
	RETURNING 1
)
SELECT ot_check((SELECT count(*) FROM up) = (SELECT count(*) FROM l), 'capacity_full')`

func queueLoads(b *pgx.Batch, loads []loadRow) {
	if len(loads) == 0 {
		return
	}
	ids := make([]int64, len(loads))
	days := make([]time.Time, len(loads))
	caps := make([]int32, len(loads))
	for i, l := range loads {
		ids[i], days[i], caps[i] = l.loc, l.day, int32(l.capacity)
	}
	b.Queue(LoadSQL, ids, days, caps)
}

func (s *Service) captureOnce(ctx context.Context, actor string, idem *Idempotency,
	req CaptureRequest, ch Channel, pickupID int64, locs map[int64]Location) (CaptureResult, error) {
	codes := make([]string, len(req.Lines))
	for i, l := range req.Lines {
		codes[i] = l.SKU
	}
	skus, load, err := loadSKUs(ctx, s.pool, codes)
	if err != nil {
		return CaptureResult{}, err
	}
	ve := &derrors.ValidationError{}
	for i, l := range req.Lines {
		if k, ok := skus[l.SKU]; !ok || !k.Active {
			ve.Add(fmt.Sprintf("lines[%d].sku", i), "no active SKU %q", l.SKU)
		}
	}
	if err := ve.Err(); err != nil {
		return CaptureResult{}, err
	}
	d, err := s.draft(req, ch, pickupID, locs, skus, load)
	if err != nil {
		return CaptureResult{}, err
	}
	d.requestHash = contentHash(req)
	resp, err := json.Marshal(d.order)
	if err != nil {
		return CaptureResult{}, err
	}
	b := &pgx.Batch{}
	if idem != nil {
		// A concurrent capture with the key waits here for the first to
		// commit, then aborts (checkIdempotency) and replays its answer.
		idempotency.QueueClaimOrAbort(b, idem, idempotency.Record{Status: 201, Response: resp, ResourceID: d.order.ID})
	}
	s.queueOrder(b, d, actor)
	if len(d.exceptions) == 0 {
		// The common case in one round trip: a batch is one implicit
		// transaction, so any failed statement (an ot_check above) rolls
		// back all of it.
		err = s.pool.SendBatch(ctx, b).Close()
	} else {
		// Exceptions go through raise, which tells the hook inside the
		// same transaction.
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			for _, e := range d.exceptions {
				if _, err := s.raise(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return CaptureResult{}, err
	}
	return CaptureResult{Order: d.order, Created: true, Response: resp, Status: 201}, nil
}

// queueOrder queues the statements that write a drafted order.
func (s *Service) queueOrder(b *pgx.Batch, d *draftOrder, actor string) {
	o := d.order
	b.Queue(`WITH ins AS (
		INSERT INTO orders (id, channel_id, external_id, status, customer, ship_to, pickup_location_id, service_level,
			payment_ref, currency, total, promised_by, promise_date, rule_group, created_at, updated_at, request_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16)
		ON CONFLICT (channel_id, external_id) DO NOTHING RETURNING 1)
		SELECT ot_check(EXISTS (SELECT 1 FROM ins), 'duplicate_order')`,
		o.ID, d.channelID, o.ExternalID, o.Status, o.Customer, o.ShipTo, d.pickupID, o.ServiceLevel, o.PaymentRef,
		o.Currency, o.Total, o.PromisedBy, o.PromiseDate, o.RuleGroup, o.CreatedAt, d.requestHash)
	n := len(o.Lines)
	ids, nos, qtys, prices, sts := make([]uuid.UUID, n), make([]int32, n), make([]int32, n), make([]float64, n), make([]string, n)
	for i, l := range o.Lines {
		ids[i], nos[i], qtys[i], prices[i], sts[i] = l.ID, int32(l.LineNo), int32(l.Qty), l.UnitPrice, l.Status
	}
	b.Queue(`INSERT INTO order_lines (id, order_id, line_no, sku_id, ordered_sku_id, qty, unit_price, status, created_at, updated_at)
		SELECT id, $1, line_no, sku_id, ordered_sku_id, qty, unit_price, status, $9, $9
		FROM unnest($2::uuid[], $3::int[], $4::bigint[], $5::bigint[], $6::int[], $7::numeric[], $8::text[])
			AS l(id, line_no, sku_id, ordered_sku_id, qty, unit_price, status)`,
		o.ID, ids, nos, d.lineSKU, d.lineOrd, qtys, prices, sts, o.CreatedAt)
	planJSON := storedPlanJSON(d.plan)
	b.Queue(`INSERT INTO sourcing_plans (order_id, policy_version, rule_group, complete, plan, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, o.ID, d.plan.PolicyVersion, d.plan.RuleGroup, d.plan.Complete(), planJSON, o.CreatedAt)
	data, _ := json.Marshal(map[string]any{"channel": o.Channel, "lines": len(o.Lines), "total": o.Total,
		"rule_group": o.RuleGroup, "shipments": len(d.plan.Shipments)})
	b.Queue(`INSERT INTO order_events (order_id, kind, to_status, actor, reason, correlation_id, data, created_at)
		VALUES ($1, 'captured', $2, $3, $4, $5, $6, $7)`, o.ID, o.Status, actor, d.plan.Explanation.Summary,
		o.ExternalID, data, o.CreatedAt)
	if o.Status == StatusCaptured {
		queueJob(b, ChecksArgs{OrderID: o.ID}, nil)
	}
	// The contended rows (stock, daily load) last: their locks are held until
	// the commit that follows at once.
	if len(d.reserve.ids) > 0 {
		d.reserve.queue(b, actor, "order "+o.ExternalID)
	}
	queueLoads(b, d.loads)
}

// draft sources the order and builds every row it will write.
func (s *Service) draft(req CaptureRequest, ch Channel, pickupID int64, locs map[int64]Location,
	skus map[string]*skuRow, load map[loadKey]int) (*draftOrder, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	pol := s.policy()
	o := Order{
		ID: uuid.New(), Channel: ch.Code, ExternalID: req.ExternalID, Customer: req.Customer, ShipTo: req.ShipTo,
		PickupLocation: req.PickupLocation, ServiceLevel: req.ServiceLevel, PaymentRef: req.PaymentRef,
		Currency: req.Currency, PromisedBy: req.PromisedBy, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	d := &draftOrder{channelID: ch.ID}
	if pickupID != 0 {
		d.pickupID = &pickupID
	}
	pr := sourcing.Request{Channel: ch.Kind, ServiceLevel: req.ServiceLevel, PickupLocationID: pickupID, Now: now}
	if req.ShipTo != nil {
		pr.ShipTo = &sourcing.GeoPoint{Lat: *req.ShipTo.Lat, Lon: *req.ShipTo.Lon}
	}
	if req.PromisedBy != nil {
		pr.PromisedBy = *req.PromisedBy
	}
	for i, in := range req.Lines {
		k := skus[in.SKU]
		price := k.Price
		if in.UnitPrice != nil {
			price = *in.UnitPrice
		}
		l := Line{ID: uuid.New(), LineNo: i + 1, SKU: in.SKU, Qty: in.Qty, UnitPrice: price, Allocations: []Allocation{}}
		o.Lines = append(o.Lines, l)
		o.Total += float64(in.Qty) * price
		d.lineSKU = append(d.lineSKU, k.ID)
		d.lineOrd = append(d.lineOrd, k.ID)
		pr.Lines = append(pr.Lines, sourcing.Line{LineID: l.ID.String(), SKU: in.SKU, Qty: in.Qty, UnitPrice: price, UnitCost: k.Cost})
	}
	o.Total = math.Round(o.Total*100) / 100
	cands, skipped := candidates(locs, skus, load, now, pickupID)
	plan, err := sourcing.NewPlan(pol, pr, cands)
	if err != nil {
		return nil, fmt.Errorf("sourcing: %w", err)
	}
	if skipped > 0 {
		plan.Explanation.Summary += fmt.Sprintf(" (%d other locations hold none of these SKUs and were not considered)", skipped)
	}
	d.plan = plan
	o.RuleGroup = plan.RuleGroup
	rejected := false
	for _, u := range plan.Unfilled {
		if u.Action == rules.UnfillableReject {
			rejected = true
		}
	}
	byLine := map[string]int{}
	for i, l := range o.Lines {
		byLine[l.ID.String()] = i
	}
	d.reserve = reservation{kind: "order", orderID: &o.ID, bss: plan.BrokeringSafetyStock}
	if !rejected {
		for _, a := range plan.Assignments {
			i := byLine[a.LineID]
			rid := uuid.New()
			d.reserve.add(rid, skus[a.SKU].ID, a.LocationID, a.Qty, o.Lines[i].ID)
			o.Lines[i].Allocations = append(o.Lines[i].Allocations, Allocation{ReservationID: rid, Location: locs[a.LocationID].Code, LocationID: a.LocationID, Qty: a.Qty})
		}
		for _, sh := range plan.Shipments {
			l := locs[sh.LocationID]
			d.loads = append(d.loads, loadRow{loc: l.ID, day: localDay(l, now), capacity: l.DailyCapacity})
			if pd := sh.PromiseDate.UTC(); o.PromiseDate == nil || pd.After(*o.PromiseDate) {
				o.PromiseDate = &pd
			}
		}
	}
	o.Status = StatusCaptured
	for i := range o.Lines {
		l := &o.Lines[i]
		switch {
		case rejected:
			l.Status = LineRejected
			l.Allocations = []Allocation{}
			o.Status = StatusRejected
		case l.Allocated() < l.Qty:
			l.Status = LineBackordered
			o.Status = StatusBackordered
		default:
			l.Status = LineAllocated
		}
	}
	d.order = o
	if len(plan.Unfilled) > 0 {
		d.exceptions = append(d.exceptions, unfilledException(o, plan, locs))
	}
	return d, nil
}

// storedPlanJSON is the plan as stored with the order. A location that failed
// a filter keeps only the filters it failed (why it was left out); the ones it
// passed would only repeat the rule group's settings. That halves a typical
// explanation, which is written on every capture.
func storedPlanJSON(p sourcing.Plan) []byte {
	groups := make([]sourcing.GroupTrace, len(p.Explanation.Groups))
	for i, g := range p.Explanation.Groups {
		cands := make([]sourcing.CandidateTrace, len(g.Candidates))
		for j, c := range g.Candidates {
			if !c.Passed {
				var failed []sourcing.FilterCheck
				for _, f := range c.Filters {
					if !f.Passed {
						failed = append(failed, f)
					}
				}
				c.Filters = failed
			}
			cands[j] = c
		}
		g.Candidates = cands
		groups[i] = g
	}
	p.Explanation.Groups = groups
	b, _ := json.Marshal(p)
	return b
}

// unfilledException describes what the plan could not source, for triage.
func unfilledException(o Order, plan sourcing.Plan, locs map[int64]Location) Exception {
	var lineIDs []uuid.UUID
	var parts []string
	skus := map[string]bool{}
	for _, u := range plan.Unfilled {
		id, _ := uuid.Parse(u.LineID)
		lineIDs = append(lineIDs, id)
		parts = append(parts, fmt.Sprintf("%d × %s (%s)", u.Qty, u.SKU, u.Reason))
		skus[u.SKU] = true
	}
	var tried []string
	for _, g := range plan.Explanation.Groups {
		for _, c := range g.Candidates {
			if c.Passed {
				tried = append(tried, locs[c.LocationID].Code)
			}
		}
	}
	sku := ""
	if len(skus) == 1 {
		sku = plan.Unfilled[0].SKU
	}
	action := plan.Unfilled[0].Action
	sev := SeverityMedium
	if action == rules.UnfillableReject {
		sev = SeverityHigh
	}
	payload, _ := json.Marshal(map[string]any{
		"unfilled": plan.Unfilled, "locations_tried": dedupe(tried), "rule_group": plan.RuleGroup,
		"action": action, "order_total": o.Total, "customer_tier": o.Customer.Tier, "channel": o.Channel,
	})
	oid := o.ID
	return Exception{
		Kind: KindStockout, Severity: sev, OrderID: &oid, LineIDs: lineIDs, SKU: sku,
		Code: "UNSOURCEABLE_" + strings.ToUpper(action),
		Message: fmt.Sprintf("could not source %s for order %s; %s", strings.Join(parts, "; "), o.ExternalID,
			map[string]string{rules.UnfillableReject: "order rejected", rules.UnfillableBackorder: "backordered"}[action]),
		Payload: payload, OccurredAt: o.CreatedAt,
	}
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
