package orchestration

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// StalledOrder is an order (or one of its returns) sitting in a state of its
// journey now: the dashboard's drill-down from the stall view.
type StalledOrder struct {
	OrderID    uuid.UUID
	ExternalID string
	Channel    string
	// Node is the order's node ("" before sourcing), as the rollup saw it.
	Node string
	// State is the order's status, or the return's.
	State string
	// Since is when the order (or return) last changed.
	Since time.Time
	// RMA is the return's number, for the return journey.
	RMA string
}

// StalledOrders lists up to limit orders in state of the journey ("order"
// or "return"; state "" for every unfinished state) narrowed by f, the
// longest-waiting first.
func (s *Service) StalledOrders(ctx context.Context, journey, state string, f Filter, limit int) (_ []StalledOrder, err error) {
	defer derrors.Wrap(&err, "StalledOrders(%s, %s)", journey, state)
	v := &derrors.ValidationError{}
	states := OrderJourney
	if journey == "return" {
		states = ReturnJourney
	} else if journey != "order" {
		v.Add("journey", "want order or return")
	}
	if state != "" && !slices.Contains(states, state) {
		v.Add("state", "want one of %v", states)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if state != "" {
		states = []string{state}
	}
	var rows pgx.Rows
	if journey == "order" {
		rows, err = s.pool.Query(ctx, `
			SELECT o.id, o.external_id, c.code, coalesce(d.node, ''), o.status, o.updated_at, ''
			FROM orders o JOIN channels c ON c.id = o.channel_id LEFT JOIN process_order_dims d ON d.order_id = o.id
			WHERE o.status = ANY($1) AND ($2 = '' OR c.code = $2) AND ($3 = '' OR d.region = $3) AND ($4 = '' OR d.node = $4)
			ORDER BY o.updated_at, o.id LIMIT $5`, states, f.Channel, f.Region, f.Node, limit)
	} else {
		rows, err = s.pool.Query(ctx, `
			SELECT o.id, o.external_id, c.code, coalesce(d.node, ''), r.status, r.updated_at, r.rma
			FROM returns r JOIN orders o ON o.id = r.order_id JOIN channels c ON c.id = o.channel_id
			LEFT JOIN process_order_dims d ON d.order_id = o.id
			WHERE r.status = ANY($1) AND ($2 = '' OR c.code = $2) AND ($3 = '' OR d.region = $3) AND ($4 = '' OR d.node = $4)
			ORDER BY r.updated_at, r.id LIMIT $5`, states, f.Channel, f.Region, f.Node, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("listing: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[StalledOrder])
}
