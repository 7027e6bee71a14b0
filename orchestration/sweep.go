package orchestration

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/jobs"
)

// SweepArgs looks for what went wrong by not happening: stock relied on but
// not synced for too long, pickups not collected in time.
type SweepArgs struct{}

// Kind names the job for River.
func (SweepArgs) Kind() string { return "exception_sweep" }

// sweepBatch bounds the exceptions one sweep raises of each kind; the next
// sweep goes on where it stopped.
const sweepBatch = 500

// PeriodicJobs lists the jobs River's leader runs on a schedule: the sweep,
// as often as shipments are tracked (TrackEvery), the hold expiry
// (Config.HoldExpiry), each also once at start, and the process rollup
// (RollupEvery).
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		jobs.Periodic(jobs.Every(s.sweepEvery()), SweepArgs{}),
		jobs.Periodic(s.holdExpiry, ExpireHoldsArgs{}),
		rollupJob(), // the process dashboard's rollup (rollup.go)
	}
}

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

// Work runs both sweeps.
func (w *sweepWorker) Work(ctx context.Context, job *river.Job[SweepArgs]) error {
	stale, err := w.s.RaiseStaleInventory(ctx, sweepBatch)
	if err != nil {
		return err
	}
	pickups, err := w.s.RaiseUncollectedPickups(ctx, sweepBatch)
	if err != nil {
		return err
	}
	if stale+pickups > 0 {
		w.s.log.Info("sweep raised exceptions", "stale_inventory", stale, "pickup_not_collected", pickups)
	}
	return nil
}

// sweepEvery is how often the sweep runs: TRACK_EVERY, unscaled by a demo's
// time scale (it reads the whole stock table; its limits are real hours).
func (s *Service) sweepEvery() time.Duration {
	if s.trackInterval > 0 {
		return s.trackInterval
	}
	return 30 * time.Minute
}

// lockSweep serialises the sweeps of one kind across processes for the rest
// of tx, so two never both find the same thing missing and raise it twice.
func lockSweep(ctx context.Context, tx pgx.Tx, kind string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('omnitriage.sweep.' || $1))`, kind)
	return err
}

// staleSKU is one stock row in a stale_inventory exception's payload.
type staleSKU struct {
	SKU          string     `json:"sku"`
	Reserved     int        `json:"reserved"`
	OnHand       int        `json:"on_hand"`
	LastSyncedAt *time.Time `json:"last_synced_at"`
}

// staleSKUsShown bounds the SKUs listed in one exception; the counts cover all.
const staleSKUsShown = 20

// staleSQL finds, per location, the stock rows that reservations rely on
// (reserved > 0) and that were last synced before $1 or never, at locations
// without an unresolved stale_inventory exception. It reads the whole stock
// table: no index on reserved, which would cost every reservation a HOT update;
// the sweep runs every TRACK_EVERY, not per order.
const staleSQL = `
SELECT l.code, count(*)::int, sum(st.reserved)::int, min(st.last_synced_at), count(*) FILTER (WHERE st.last_synced_at IS NULL)::int,
	to_jsonb((array_agg(jsonb_build_object('sku', k.code, 'reserved', st.reserved, 'on_hand', st.on_hand, 'last_synced_at', st.last_synced_at)
		ORDER BY st.last_synced_at NULLS FIRST, st.reserved DESC, k.code))[1:$3])
FROM stock st JOIN locations l ON l.id = st.location_id JOIN skus k ON k.id = st.sku_id
WHERE st.reserved > 0 AND (st.last_synced_at IS NULL OR st.last_synced_at < $1)
AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.kind = 'stale_inventory' AND e.location = l.code AND e.status IN ('open', 'triaged'))
GROUP BY l.id, l.code
ORDER BY min(st.last_synced_at) NULLS FIRST, l.code
LIMIT $2`

// RaiseStaleInventory raises stale_inventory for each location (at most
// limit) whose stock, relied on by reservations, was last synced longer ago
// than the policy's limits.stale_inventory_after, or never. A location gets
// no second exception while one is unresolved (open or triaged). It returns
// how many it raised.
func (s *Service) RaiseStaleInventory(ctx context.Context, limit int) (n int, err error) {
	now := s.now()
	after := s.policy().Limits.StaleInventoryAfter
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0
		if err := lockSweep(ctx, tx, KindStaleInventory); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, staleSQL, now.Add(-after), limit, staleSKUsShown)
		if err != nil {
			return err
		}
		type stale struct {
			location           string
			skuCount, reserved int
			oldest             *time.Time
			never              int
			skus               []staleSKU
		}
		found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stale, error) {
			var st stale
			err := r.Scan(&st.location, &st.skuCount, &st.reserved, &st.oldest, &st.never, &st.skus)
			return st, err
		})
		if err != nil {
			return err
		}
		for _, st := range found {
			e := Exception{Kind: KindStaleInventory, Severity: SeverityMedium, Location: st.location, SKU: st.skus[0].SKU,
				Code: "SYNC_STALE", OccurredAt: now}
			payload := map[string]any{"location": st.location, "skus": st.skus, "sku_count": st.skuCount, "reserved": st.reserved,
				"never_synced": st.never, "limit_hours": hours(after)}
			example := st.skus[0].SKU
			if st.skuCount > 1 {
				example += fmt.Sprintf(" and %d more", st.skuCount-1)
			}
			if st.oldest == nil || st.never > 0 {
				e.Severity, e.Code = SeverityHigh, "NEVER_SYNCED"
				e.Message = fmt.Sprintf("%s at %s rely on stock its system never counted (%d of %s never synced: %s); the policy wants a sync every %s",
					nOf(st.reserved, "reserved unit"), st.location, st.never, nOf(st.skuCount, "SKU"), example, shortDuration(after))
			} else {
				age := now.Sub(*st.oldest)
				payload["last_synced_at"], payload["age_hours"] = st.oldest, hours(age)
				if age > 3*after {
					e.Severity = SeverityHigh
				}
				e.Message = fmt.Sprintf("Stock at %s last synced %s, %s ago (policy: %s): %s of %s (%s) rely on it",
					st.location, st.oldest.UTC().Format(time.RFC3339), shortDuration(age), shortDuration(after), nOf(st.reserved, "reserved unit"), nOf(st.skuCount, "SKU"), example)
			}
			e.Payload = mustJSON(payload)
			if _, err := s.raise(ctx, tx, e); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// pickupsSQL finds pickup shipments ready since before $1 and not collected,
// that have not had their pickup_not_collected yet, and locks them against a
// collection meanwhile.
const pickupsSQL = `
SELECT sh.id, sh.order_id, sh.ready_at, l.code, o.external_id,
	array(SELECT sl.line_id FROM shipment_lines sl JOIN order_lines ol ON ol.id = sl.line_id WHERE sl.shipment_id = sh.id ORDER BY ol.line_no),
	(SELECT coalesce(sum(sl.qty), 0) FROM shipment_lines sl WHERE sl.shipment_id = sh.id)::int,
	coalesce((SELECT k.code FROM shipment_lines sl JOIN order_lines ol ON ol.id = sl.line_id JOIN skus k ON k.id = ol.sku_id
		WHERE sl.shipment_id = sh.id ORDER BY ol.line_no LIMIT 1), '')
FROM shipments sh JOIN locations l ON l.id = sh.location_id JOIN orders o ON o.id = sh.order_id
WHERE sh.status = 'ready_for_pickup' AND sh.ready_at < $1
AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.kind = 'pickup_not_collected' AND e.order_id = sh.order_id
	AND e.payload->>'shipment' = sh.id::text)
ORDER BY sh.ready_at, sh.id
LIMIT $2
FOR UPDATE OF sh`

// RaiseUncollectedPickups raises pickup_not_collected, once, for each pickup
// shipment (at most limit) ready at its store for longer than the policy's
// limits.pickup_collect_within and not collected, with an event on its order.
// It returns how many it raised.
func (s *Service) RaiseUncollectedPickups(ctx context.Context, limit int) (n int, err error) {
	now := s.now()
	within := s.policy().Limits.PickupCollectWithin
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		n = 0
		if err := lockSweep(ctx, tx, KindPickupNotCollected); err != nil {
			return err
		}
		type waiting struct {
			shipment, order uuid.UUID
			readyAt         time.Time
			location, ext   string
			lines           []uuid.UUID
			units           int
			sku             string
		}
		rows, err := tx.Query(ctx, pickupsSQL, now.Add(-within), limit)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (waiting, error) {
			var w waiting
			err := r.Scan(&w.shipment, &w.order, &w.readyAt, &w.location, &w.ext, &w.lines, &w.units, &w.sku)
			return w, err
		})
		if err != nil {
			return err
		}
		for _, w := range found {
			waited := now.Sub(w.readyAt)
			oid := w.order
			msg := fmt.Sprintf("Click & collect order #%s (%s) ready at %s since %s, not collected after %s (policy: %s)",
				w.ext, nOf(w.units, "unit"), w.location, w.readyAt.UTC().Format(time.RFC3339), shortDuration(waited), shortDuration(within))
			id, err := s.raise(ctx, tx, Exception{Kind: KindPickupNotCollected, Severity: SeverityMedium, OrderID: &oid,
				LineIDs: w.lines, SKU: w.sku, Location: w.location, Code: "NOT_COLLECTED", Message: msg, OccurredAt: now,
				Payload: mustJSON(map[string]any{"shipment": w.shipment, "order_number": w.ext, "location": w.location,
					"ready_at": w.readyAt, "waited_hours": hours(waited), "limit_hours": hours(within), "units": w.units})})
			if err != nil {
				return err
			}
			if err := s.event(ctx, tx, w.order, "pickup_not_collected", "system:sweep", msg,
				map[string]any{"shipment": w.shipment, "exception": id}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// nOf is "1 unit" or "n units".
func nOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// hours is d in hours, to one decimal.
func hours(d time.Duration) float64 { return math.Round(d.Hours()*10) / 10 }

// shortDuration prints d the way a policy author writes it: 24h, 90m, 1h30m.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}
