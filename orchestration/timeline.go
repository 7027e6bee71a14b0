package orchestration

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Timeline is an order with everything that happened to it: the audit trail
// of events, its shipments, ERP postings, notifications, exceptions and the
// commands applied.
type Timeline struct {
	Order         Order             `json:"order"`
	Events        []Event           `json:"events"`
	Shipments     []Dispatch        `json:"shipments"`
	Postings      []json.RawMessage `json:"postings"`
	Notifications []json.RawMessage `json:"notifications"`
	Exceptions    []json.RawMessage `json:"exceptions"`
	Commands      []json.RawMessage `json:"commands"`
}

// Event is one entry of an order's audit trail.
type Event struct {
	ID            int64           `json:"id"`
	Kind          string          `json:"kind"`
	From          *string         `json:"from,omitempty"`
	To            *string         `json:"to,omitempty"`
	Actor         string          `json:"actor"`
	Reason        string          `json:"reason,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Data          json.RawMessage `json:"data,omitempty"`
	At            time.Time       `json:"at"`
}

// OrderTimeline returns the order's timeline.
func (s *Service) OrderTimeline(ctx context.Context, id uuid.UUID) (_ Timeline, err error) {
	defer derrors.Wrap(&err, "OrderTimeline(%s)", id)
	o, err := s.GetOrder(ctx, id)
	if err != nil {
		return Timeline{}, err
	}
	t := Timeline{Order: o}
	rows, err := s.pool.Query(ctx, `SELECT id, kind, from_status, to_status, actor, reason, correlation_id, data, created_at
		FROM order_events WHERE order_id = $1 ORDER BY id`, id)
	if err != nil {
		return Timeline{}, err
	}
	if t.Events, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Event]); err != nil {
		return Timeline{}, err
	}
	rows, err = s.pool.Query(ctx, `SELECT id FROM shipments WHERE order_id = $1 ORDER BY created_at`, id)
	if err != nil {
		return Timeline{}, err
	}
	shipIDs, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return Timeline{}, err
	}
	t.Shipments = []Dispatch{}
	for _, sid := range shipIDs {
		sh, err := s.getShipment(ctx, sid)
		if err != nil {
			return Timeline{}, err
		}
		t.Shipments = append(t.Shipments, sh)
	}
	lists := []struct {
		dst *[]json.RawMessage
		sql string
	}{
		{&t.Postings, `SELECT to_jsonb(p) - 'document' FROM erp_postings p WHERE order_id = $1 ORDER BY created_at, doc_key`},
		{&t.Notifications, `SELECT to_jsonb(n) FROM notifications n WHERE order_id = $1 ORDER BY created_at, key`},
		{&t.Exceptions, `SELECT to_jsonb(e) FROM exceptions e WHERE order_id = $1 ORDER BY created_at`},
		{&t.Commands, `SELECT to_jsonb(c) FROM order_commands c WHERE order_id = $1 ORDER BY created_at`},
	}
	for _, l := range lists {
		rows, err := s.pool.Query(ctx, l.sql, id)
		if err != nil {
			return Timeline{}, err
		}
		if *l.dst, err = pgx.CollectRows(rows, pgx.RowTo[json.RawMessage]); err != nil {
			return Timeline{}, err
		}
		if *l.dst == nil {
			*l.dst = []json.RawMessage{}
		}
	}
	return t, nil
}
