package orchestration

import (
	"context"
	"testing"
	"time"
)

// benchOrders is the history BenchmarkProcessExport reads: orders over 30
// days, nine in ten delivered with a shipment, an ERP posting each third.
const benchOrders = 100_000

// BenchmarkProcessExport measures one read of the /metrics process figures
// (what a scrape costs past the 10 s cache) and one read of the SLA alert
// window, over benchOrders orders written in SQL.
func BenchmarkProcessExport(b *testing.B) {
	svc, pool := newTestService(b)
	buildNetwork(b, svc, map[string][]int{"A-1": {1}})
	ctx := context.Background()
	for _, q := range benchSetup {
		var args []any
		if q[:6] == "INSERT" && q[12:18] == "orders" {
			args = []any{benchOrders}
		}
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			b.Fatalf("%.60s: %v", q, err)
		}
	}
	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.ProcessExport(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("window", func(b *testing.B) {
		now := time.Now()
		for b.Loop() {
			if _, err := svc.WindowFigures(ctx, now.Add(-time.Hour), now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchSetup writes the benchmark's history.
var benchSetup = []string{
	`INSERT INTO orders (id, channel_id, external_id, status, customer, service_level, total, promise_date, created_at, updated_at)
		 SELECT gen_random_uuid(), (SELECT id FROM channels ORDER BY id OFFSET (i % 2) LIMIT 1), 'B-' || i,
			CASE WHEN i % 10 = 0 THEN 'released' ELSE 'delivered' END, '{"id":"c"}', 'standard', 40,
			now() - (i % 30) * interval '1 day' + interval '3 days', now() - (i % 30) * interval '1 day' - (i % 1440) * interval '1 minute',
			now() - (i % 30) * interval '1 day'
		 FROM generate_series(1, $1::int) i`,
	`INSERT INTO order_events (order_id, kind, to_status, actor, created_at)
		 SELECT id, 'captured', CASE WHEN external_id LIKE '%7' THEN 'backordered' ELSE 'captured' END, 'bench', created_at FROM orders`,
	`INSERT INTO order_events (order_id, kind, from_status, to_status, actor, created_at)
		 SELECT id, 'delivered', 'shipped', 'delivered', 'bench', created_at + (length(external_id) * interval '7 hours') FROM orders WHERE status = 'delivered'`,
	`INSERT INTO shipments (id, order_id, location_id, status, delivered_at)
		 SELECT gen_random_uuid(), id, (SELECT id FROM locations ORDER BY id LIMIT 1), 'delivered', created_at + (length(external_id) * interval '7 hours')
		 FROM orders WHERE status = 'delivered'`,
	`INSERT INTO erp_postings (doc_key, kind, order_id, amount, document, status, created_at, acknowledged_at)
		 SELECT 'invoice:' || external_id, 'invoice', id, 40, '{}', 'acknowledged', created_at, created_at + interval '42 seconds'
		 FROM orders WHERE right(external_id, 1) IN ('1', '4', '8')`,
	`ANALYZE`,
}
