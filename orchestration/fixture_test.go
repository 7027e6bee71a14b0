package orchestration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/rules"
)

// testPolicy is the built-in policy.
func testPolicy(t testing.TB) *rules.Policy {
	t.Helper()
	p, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newPoolFor returns a pool on a fresh database.
func newPoolFor(t testing.TB) *pgxpool.Pool { return dbtest.NewPool(t) }

// newTestService returns a Service on a fresh database.
func newTestService(t testing.TB) (*Service, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.NewPool(t)
	pol := testPolicy(t)
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }})
	if err != nil {
		t.Fatal(err)
	}
	return svc, pool
}

func ptr[T any](v T) *T { return &v }

func buildNetwork(t testing.TB, svc *Service, stock map[string][]int) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := svc.CreateChannel(ctx, Channel{Code: "web", Name: "Web shop", Kind: ChannelWeb, Active: true})
	must(err)
	_, err = svc.CreateChannel(ctx, Channel{Code: "amazon", Name: "Amazon", Kind: ChannelMarketplace, Active: true})
	must(err)
	whs := []Location{
		{Code: "nj-wh", Name: "Newark DC", Kind: "warehouse", Region: "northeast", Lat: 40.73, Lon: -74.17, Timezone: "America/New_York", CanShip: true, HandlingHours: 4, Priority: 1, Active: true},
		{Code: "pa-wh", Name: "Philadelphia DC", Kind: "warehouse", Region: "northeast", Lat: 39.95, Lon: -75.16, Timezone: "America/New_York", CanShip: true, HandlingHours: 4, Priority: 2, Active: true},
		{Code: "ct-wh", Name: "Hartford DC", Kind: "warehouse", Region: "northeast", Lat: 41.76, Lon: -72.68, Timezone: "America/New_York", CanShip: true, HandlingHours: 4, Priority: 3, Active: true},
	}
	for _, l := range whs {
		_, err := svc.CreateLocation(ctx, l)
		must(err)
	}
	_, err = svc.CreateLocation(ctx, Location{Code: "nyc-store", Name: "Manhattan store", Kind: "store", Region: "northeast",
		Lat: 40.75, Lon: -73.99, Timezone: "America/New_York", CanShip: false, CanPickup: true, HandlingHours: 1, Active: true})
	must(err)
	var adj []Adjustment
	for sku, per := range stock {
		_, err := svc.CreateSKU(ctx, SKU{Code: sku, Name: "Item " + sku, Price: 20, Cost: 8, WeightKg: 0.5, Active: true})
		must(err)
		for i, n := range per {
			loc := whs[i%len(whs)].Code
			if i == len(whs) {
				loc = "nyc-store"
			}
			adj = append(adj, Adjustment{SKU: sku, Location: loc, Count: ptr(n), Version: ptr(int64(1))})
		}
	}
	if len(adj) > 0 {
		res, err := svc.AdjustInventory(ctx, "test", AdjustmentBatch{Source: "test-wms", Adjustments: adj})
		must(err)
		if res.Refused != 0 {
			t.Fatalf("AdjustInventory refused rows: %+v", res.Rows)
		}
	}
}

// order returns a web order near New York for the given SKU quantities.
func order(ext string, lines ...any) CaptureRequest {
	r := CaptureRequest{
		Channel: "web", ExternalID: ext, Customer: Customer{ID: "c-" + ext, Email: "a@example.com", Tier: "standard"},
		ShipTo:       &Address{Line1: "1 Main St", City: "Brooklyn", PostalCode: "11201", Country: "US", Lat: ptr(40.69), Lon: ptr(-73.99)},
		ServiceLevel: "standard",
	}
	for i := 0; i+1 < len(lines); i += 2 {
		r.Lines = append(r.Lines, LineInput{SKU: lines[i].(string), Qty: lines[i+1].(int)})
	}
	return r
}

// checkInvariants verifies, for every stock row, that reserved equals the sum
// of active reservations and of the ledger's reserved changes, that on hand
// equals the ledger's on-hand changes, and (when strict) that reserved never
// exceeds on hand − safety stock.
func checkInvariants(t testing.TB, pool *pgxpool.Pool, strict bool) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT k.code, l.code, st.on_hand, st.reserved, st.safety_stock,
			coalesce((SELECT sum(qty) FROM reservations r WHERE r.sku_id = st.sku_id AND r.location_id = st.location_id AND r.status = 'active'), 0),
			coalesce((SELECT sum(d_reserved) FROM stock_ledger g WHERE g.sku_id = st.sku_id AND g.location_id = st.location_id), 0),
			coalesce((SELECT sum(d_on_hand) FROM stock_ledger g WHERE g.sku_id = st.sku_id AND g.location_id = st.location_id), 0)
		FROM stock st JOIN skus k ON k.id = st.sku_id JOIN locations l ON l.id = st.location_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sku, loc string
		var onHand, reserved, safety, active, ledgerRes, ledgerOnHand int
		if err := rows.Scan(&sku, &loc, &onHand, &reserved, &safety, &active, &ledgerRes, &ledgerOnHand); err != nil {
			t.Fatal(err)
		}
		where := fmt.Sprintf("%s@%s", sku, loc)
		if reserved != active {
			t.Errorf("%s: reserved = %d, active reservations sum to %d", where, reserved, active)
		}
		if reserved != ledgerRes {
			t.Errorf("%s: reserved = %d, ledger sums to %d", where, reserved, ledgerRes)
		}
		if onHand != ledgerOnHand {
			t.Errorf("%s: on hand = %d, ledger sums to %d", where, onHand, ledgerOnHand)
		}
		if strict && reserved > 0 && reserved > onHand-safety {
			t.Errorf("%s: reserved %d > on hand %d − safety %d: oversold", where, reserved, onHand, safety)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// fixedClock is an adjustable clock for TTL tests.
type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }
