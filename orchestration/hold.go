package orchestration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/sourcing"
)

// Hold kinds: soft reservations that expire.
const (
	HoldCart   = "cart"
	HoldPickup = "pickup"
)

// HoldRequest asks to hold stock for a while: a cart at checkout, or an item
// set aside for collection.
type HoldRequest struct {
	Kind       string `json:"kind"`
	SKU        string `json:"sku"`
	Qty        int    `json:"qty"`
	Location   string `json:"location,omitempty"` // required for pickup; for a cart, the best-stocked shipping location when empty
	TTLSeconds int    `json:"ttl_seconds"`
	Ref        string `json:"ref,omitempty"` // the caller's cart or basket id
}

// MaxHoldTTL is the longest a hold may last.
const MaxHoldTTL = 7 * 24 * time.Hour

// Validate names each bad field.
func (r HoldRequest) Validate() error {
	v := &derrors.ValidationError{}
	if r.Kind != HoldCart && r.Kind != HoldPickup {
		v.Add("kind", "want cart or pickup")
	}
	if !skuRE.MatchString(r.SKU) {
		v.Add("sku", "want a SKU code")
	}
	if r.Qty <= 0 || r.Qty > 10000 {
		v.Add("qty", "want a whole number from 1 to 10000")
	}
	if r.Kind == HoldPickup && r.Location == "" {
		v.Add("location", "required for a pickup hold")
	}
	if r.Location != "" && !codeRE.MatchString(r.Location) {
		v.Add("location", "want a location code")
	}
	if r.TTLSeconds <= 0 || time.Duration(r.TTLSeconds)*time.Second > MaxHoldTTL {
		v.Add("ttl_seconds", "want from 1 to %d seconds", int(MaxHoldTTL.Seconds()))
	}
	if len(r.Ref) > 200 {
		v.Add("ref", "at most 200 bytes")
	}
	return v.Err()
}

// Hold is a soft reservation.
type Hold struct {
	ID        uuid.UUID `json:"id"`
	Kind      string    `json:"kind"`
	SKU       string    `json:"sku"`
	Location  string    `json:"location"`
	Qty       int       `json:"qty"`
	Status    string    `json:"status"`
	Ref       string    `json:"ref,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
}

// Hold reserves stock until the hold expires or is released. It never
// oversells: it takes only what is available at the location.
func (s *Service) Hold(ctx context.Context, actor string, req HoldRequest) (_ Hold, err error) {
	defer derrors.Wrap(&err, "Hold(%s %d × %s)", req.Kind, req.Qty, req.SKU)
	if err := req.Validate(); err != nil {
		return Hold{}, err
	}
	locs, _, err := s.network(ctx)
	if err != nil {
		return Hold{}, err
	}
	for attempt := 0; attempt < 8; attempt++ {
		skus, _, err := loadSKUs(ctx, s.pool, []string{req.SKU})
		if err != nil {
			return Hold{}, err
		}
		k, ok := skus[req.SKU]
		if !ok || !k.Active {
			ve := &derrors.ValidationError{}
			ve.Add("sku", "no active SKU %q", req.SKU)
			return Hold{}, ve
		}
		loc, err := s.holdLocation(ctx, req, locs, k)
		if err != nil {
			return Hold{}, err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		h := Hold{ID: uuid.New(), Kind: req.Kind, SKU: req.SKU, Location: loc.Code, Qty: req.Qty, Status: "active",
			Ref: req.Ref, ExpiresAt: now.Add(time.Duration(req.TTLSeconds) * time.Second), CreatedAt: now}
		res := reservation{kind: req.Kind, ref: req.Ref, expiresAt: &h.ExpiresAt}
		res.add(h.ID, k.ID, loc.ID, req.Qty, uuid.Nil)
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			res.queue(b, actor, "hold "+req.Ref)
			return tx.SendBatch(ctx, b).Close()
		})
		if checkName(err) == checkStock || retryable(err) {
			continue
		}
		if err != nil {
			return Hold{}, err
		}
		return h, nil
	}
	return Hold{}, fmt.Errorf("stock kept changing; retry: %w", derrors.Unavailable)
}

// holdLocation picks where a hold takes stock from.
func (s *Service) holdLocation(ctx context.Context, req HoldRequest, locs map[int64]Location, k *skuRow) (Location, error) {
	if req.Location != "" {
		l, err := s.locationByCode(ctx, req.Location)
		if err != nil || !l.Active || (req.Kind == HoldPickup && !l.CanPickup) {
			ve := &derrors.ValidationError{}
			ve.Add("location", "no active %s location %q", map[string]string{HoldPickup: "pickup", HoldCart: "shipping"}[req.Kind], req.Location)
			return Location{}, ve
		}
		if sourcing.Available(k.stock[l.ID], 0) < req.Qty {
			return Location{}, fmt.Errorf("only %d of %s available at %s: %w", sourcing.Available(k.stock[l.ID], 0), req.SKU, l.Code, derrors.Conflict)
		}
		return l, nil
	}
	type cand struct {
		l     Location
		avail int
	}
	var cs []cand
	for id, st := range k.stock {
		l := locs[id]
		if l.Active && l.CanShip && sourcing.Available(st, 0) >= req.Qty {
			cs = append(cs, cand{l, sourcing.Available(st, 0)})
		}
	}
	if len(cs) == 0 {
		return Location{}, fmt.Errorf("no location has %d of %s available: %w", req.Qty, req.SKU, derrors.Conflict)
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].avail != cs[j].avail {
			return cs[i].avail > cs[j].avail
		}
		return cs[i].l.ID < cs[j].l.ID
	})
	return cs[0].l, nil
}

// releaseSQL ends active reservations by id and gives their quantity back to
// stock, with a ledger row per stock row. Ended reservations are skipped, so
// releasing twice changes nothing.
const releaseSQL = `
WITH r AS (
	UPDATE reservations SET status = $2, ended_at = now()
	WHERE id = ANY($1) AND status = 'active'
	RETURNING id, sku_id, location_id, qty
), agg AS (
	SELECT sku_id, location_id, sum(qty)::int AS qty, (array_agg(id))[1] AS rid FROM r GROUP BY sku_id, location_id
), upd AS (
	UPDATE stock s SET reserved = s.reserved - agg.qty, updated_at = now()
	FROM agg WHERE s.sku_id = agg.sku_id AND s.location_id = agg.location_id
	RETURNING s.sku_id, s.location_id, s.on_hand, s.reserved, agg.qty, agg.rid
), led AS (
	INSERT INTO stock_ledger (sku_id, location_id, kind, order_id, reservation_id, d_reserved, on_hand_after, reserved_after, actor, reason)
	SELECT sku_id, location_id, $3, $4, rid, -qty, on_hand, reserved, $5, $6 FROM upd
)
SELECT count(*) FROM r`

// release ends the given reservations in tx and reports how many were active.
func release(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, status, ledgerKind string, orderID *uuid.UUID, actor, reason string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int
	err := tx.QueryRow(ctx, releaseSQL, ids, status, ledgerKind, orderID, actor, reason).Scan(&n)
	return n, err
}

// ReleaseHold ends a hold and gives its stock back. Releasing an ended hold is
// a no-op.
func (s *Service) ReleaseHold(ctx context.Context, actor string, id uuid.UUID) (err error) {
	defer derrors.Wrap(&err, "ReleaseHold(%s)", id)
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var kind string
		err := tx.QueryRow(ctx, `SELECT kind FROM reservations WHERE id = $1`, id).Scan(&kind)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no hold %s: %w", id, derrors.NotFound)
		}
		if err != nil {
			return err
		}
		if kind != HoldCart && kind != HoldPickup {
			return fmt.Errorf("reservation %s belongs to an order; cancel the order line instead: %w", id, derrors.Conflict)
		}
		_, err = release(ctx, tx, []uuid.UUID{id}, "released", "release", nil, actor, "hold released")
		return err
	})
}

// ExpireHolds ends every hold whose time is up, up to limit at a time, and
// returns how many it ended. It is safe to run from many processes at once.
func (s *Service) ExpireHolds(ctx context.Context, limit int) (n int, err error) {
	defer derrors.Wrap(&err, "ExpireHolds")
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id FROM reservations
			WHERE status = 'active' AND expires_at <= $1
			ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`, s.now(), limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		n, err = release(ctx, tx, ids, "expired", "expire", nil, "system:expiry", "hold expired")
		return err
	})
	return n, err
}
