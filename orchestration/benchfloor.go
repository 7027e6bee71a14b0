package orchestration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// RawCapture returns a function that writes one captured order sourced to
// one location by issuing the capture transaction's statements directly, as
// the service does for such an order: the idempotency record
// with the response, the order, its lines, the stored sourcing plan, the event,
// the conditional stock updates with reservations and ledger, and the daily
// load, pipelined in one batch (one implicit transaction). The plan and
// response bodies are ones the HTTP phase stored, so the payloads match.
// It is the capture benchmark's floor (omnitriage bench), not a way to take
// orders: it checks nothing.
func (s *Service) RawCapture(skus []string) func(ctx context.Context, rng *rand.Rand, seq int64) error {
	pool := s.pool
	var once sync.Once
	var skuIDs []int64
	var locID, chanID int64
	var plan, response []byte
	return func(ctx context.Context, rng *rand.Rand, seq int64) error {
		var err error
		once.Do(func() {
			err = pool.QueryRow(ctx, `SELECT (SELECT id FROM channels WHERE code = 'web'),
				(SELECT min(id) FROM locations WHERE kind = 'warehouse'),
				coalesce((SELECT plan::text FROM sourcing_plans ORDER BY id DESC LIMIT 1), '{}'),
				coalesce((SELECT response FROM idempotency_keys WHERE status = 201 LIMIT 1), '{}')`).Scan(&chanID, &locID, &plan, &response)
			if err == nil {
				var rows pgx.Rows
				rows, err = pool.Query(ctx, `SELECT id FROM skus WHERE code = ANY($1) ORDER BY code`, skus)
				if err == nil {
					skuIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
				}
			}
		})
		if err != nil {
			return err
		}
		n := min(3, len(skuIDs))
		orderID := uuid.New()
		lineIDs, resIDs := make([]uuid.UUID, n), make([]uuid.UUID, n)
		ids, locs, qtys, nos := make([]int64, n), make([]int64, n), make([]int32, n), make([]int32, n)
		start := rng.IntN(len(skuIDs))
		for i := 0; i < n; i++ {
			lineIDs[i], resIDs[i] = uuid.New(), uuid.New()
			ids[i], locs[i], qtys[i], nos[i] = skuIDs[(start+i)%len(skuIDs)], locID, 1, int32(i+1)
		}
		ext := fmt.Sprintf("raw-%d-%d", time.Now().UnixNano(), seq)
		now := time.Now()
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO idempotency_keys (scope, key, request_hash, status, response) VALUES ('raw', $1, $2, 201, $3)`,
			ext, []byte(ext), response)
		b.Queue(`INSERT INTO orders (id, channel_id, external_id, status, customer, ship_to, service_level, currency, total,
				promise_date, rule_group, created_at, updated_at)
			VALUES ($1, $2, $3, 'captured', '{"id":"c1","tier":"standard"}', '{"line1":"1 Bench St","city":"X","country":"US","lat":40.7,"lon":-74}',
				'standard', 'USD', 30, $4, 'network', $4, $4)`, orderID, chanID, ext, now)
		b.Queue(`INSERT INTO order_lines (id, order_id, line_no, sku_id, ordered_sku_id, qty, unit_price, status)
			SELECT id, $1, no, sku, sku, 1, 10, 'allocated' FROM unnest($2::uuid[], $3::int[], $4::bigint[]) AS l(id, no, sku)`,
			orderID, lineIDs, nos, ids)
		b.Queue(`INSERT INTO sourcing_plans (order_id, policy_version, rule_group, complete, plan) VALUES ($1, 'raw', 'network', true, $2)`,
			orderID, string(plan))
		b.Queue(`INSERT INTO order_events (order_id, kind, to_status, actor, data) VALUES ($1, 'captured', 'captured', 'bench', '{"lines":3}')`, orderID)
		b.Queue(EnqueueSQL, []byte(`{"order_id":"`+orderID.String()+`"}`), "bench_noop", 1, nil)
		b.Queue(ReserveSQL, resIDs, ids, locs, qtys, lineIDs, 0, "order", orderID, "", nil, "bench", "raw")
		b.Queue(LoadSQL, []int64{locID}, []time.Time{now.UTC().Truncate(24 * time.Hour)}, []int32{0})
		return pool.SendBatch(ctx, b).Close()
	}
}
