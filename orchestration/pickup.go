package orchestration

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// CollectResult is an order its customer collected.
type CollectResult struct {
	Order Order
	// Already reports that the order had been collected before: nothing changed.
	Already bool
}

// Collect records that the customer collected a pickup order at its store:
// every shipment waiting on the pickup shelf is delivered, and with them the
// order; an open pickup_not_collected exception of the order is resolved.
// Collecting an order collected before changes nothing, so a store's retry is
// harmless. An order shipped to an address, or one not ready for pickup yet,
// is a conflict.
func (s *Service) Collect(ctx context.Context, actor string, id uuid.UUID) (_ CollectResult, err error) {
	defer derrors.Wrap(&err, "Collect(%s)", id)
	var res CollectResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		o, err := lockOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.PickupLocation == "" {
			return fmt.Errorf("order %s is shipped to an address, not collected at a store: %w", o.ExternalID, derrors.Conflict)
		}
		switch o.Status {
		case StatusReadyForPickup:
		case StatusDelivered, StatusReturnRequested, StatusReturned, StatusRefunded:
			res = CollectResult{Order: o, Already: true}
			return nil
		default:
			return fmt.Errorf("order %s is %s; it can be collected once every line is ready for pickup: %w", o.ExternalID, o.Status, derrors.Conflict)
		}
		rows, err := tx.Query(ctx, `SELECT id FROM shipments WHERE order_id = $1 AND status = 'ready_for_pickup' ORDER BY ready_at, id FOR UPDATE`, o.ID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("order %s has nothing waiting for pickup: %w", o.ExternalID, derrors.Conflict)
		}
		now := s.now()
		for _, sh := range ids {
			if err := s.deliver(ctx, tx, o, sh, now, actor, "collected at "+o.PickupLocation); err != nil {
				return err
			}
		}
		rows, err = tx.Query(ctx, `UPDATE exceptions SET status = 'resolved', resolved_at = $2
			WHERE order_id = $1 AND kind = $3 AND status IN ('open', 'triaged') RETURNING id`, o.ID, now, KindPickupNotCollected)
		if err != nil {
			return err
		}
		resolved, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		if len(resolved) > 0 {
			if err := s.event(ctx, tx, o.ID, "exception_resolved", actor, "the customer collected the order",
				map[string]any{"exceptions": resolved, "kind": KindPickupNotCollected}); err != nil {
				return err
			}
		}
		o, err = getOrder(ctx, tx, o.ID)
		res = CollectResult{Order: o}
		return err
	})
	if err != nil {
		return CollectResult{}, err
	}
	return res, nil
}
