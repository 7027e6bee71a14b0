package orchestration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/sourcing"
	"github.com/omnitriage/omnitriage/rules"
)

// seedService returns a Service on a fresh database.
func seedService(t *testing.T) (*Service, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.NewPool(t)
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { p, _ := rules.Default(); return p }})
	if err != nil {
		t.Fatal(err)
	}
	return svc, pool
}

// seedDigest hashes what the demo is made of (by code, never by id).
func seedDigest(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var d string
	err := pool.QueryRow(context.Background(), `
		SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
			SELECT concat_ws(' ', 'channel', code, name, kind, active) AS x FROM channels
			UNION ALL
			SELECT concat_ws(' ', 'location', code, name, kind, region, lat, lon, timezone, can_ship, can_pickup,
				can_same_day, daily_capacity, handling_cost, handling_hours, cutoff, priority) FROM locations
			UNION ALL
			SELECT concat_ws(' ', 'sku', code, name, price, cost, weight_kg, array_to_string(substitutes, ',')) FROM skus
			UNION ALL
			SELECT concat_ws(' ', 'stock', k.code, l.code, st.on_hand, st.reserved, st.safety_stock)
			FROM stock st JOIN skus k ON k.id = st.sku_id JOIN locations l ON l.id = st.location_id
		) rows`).Scan(&d)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkLedgerMatchesStock fails t unless every stock row's ledger sums to it
// and, when fresh (nothing but the seed has run), the ledger has exactly one
// row per stock row.
func checkLedgerMatchesStock(t *testing.T, pool *pgxpool.Pool, fresh bool) {
	t.Helper()
	var bad, rows, ledger int
	err := pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE st.on_hand <> coalesce(g.d_on_hand, -1) OR st.reserved <> coalesce(g.d_reserved, -1)),
			count(*), (SELECT count(*) FROM stock_ledger)
		FROM stock st LEFT JOIN (
			SELECT sku_id, location_id, sum(d_on_hand) AS d_on_hand, sum(d_reserved) AS d_reserved
			FROM stock_ledger GROUP BY sku_id, location_id) g USING (sku_id, location_id)`).Scan(&bad, &rows, &ledger)
	if err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d of %d stock rows differ from their ledger sums", bad, rows)
	}
	if fresh && ledger != rows {
		t.Errorf("ledger rows = %d, want one per stock row (%d)", ledger, rows)
	}
}

func TestSeedDemoFullSize(t *testing.T) {
	t.Parallel()
	svc, pool := seedService(t)
	ctx := context.Background()
	start := time.Now()
	var steps []string
	sum, err := svc.SeedDemo(ctx, SeedOptions{Seed: 7}, func(step string, done, total int) {
		if done == total {
			steps = append(steps, step)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d SKUs × %d locations (%d stock rows) in %s", sum.SKUs, sum.Locations, sum.StockRows, time.Since(start))

	if want := []string{"channels", "locations", "skus", "stock"}; !slices.Equal(steps, want) {
		t.Errorf("finished steps = %v, want %v", steps, want)
	}
	if sum.AlreadySeeded {
		t.Error("AlreadySeeded on an empty database")
	}
	if sum.Channels != 5 || sum.SKUs != DefaultDemoSKUs || sum.Locations < DefaultDemoLocations {
		t.Errorf("SeedDemo = %d channels, %d SKUs, %d locations, want 5, %d, ≥ %d",
			sum.Channels, sum.SKUs, sum.Locations, DefaultDemoSKUs, DefaultDemoLocations)
	}
	for kind, least := range map[string]int{rules.LocationStore: 10, rules.LocationWarehouse: 3, rules.LocationDropship: 3, rules.LocationDarkStore: 3} {
		if got := sum.LocationsByKind[kind]; got < least {
			t.Errorf("locations of kind %s = %d, want ≥ %d", kind, got, least)
		}
	}
	if len(sum.Regions) < 3 {
		t.Errorf("regions = %v, want ≥ 3", sum.Regions)
	}
	if sum.LedgerRows != sum.StockRows {
		t.Errorf("LedgerRows = %d, want %d (one per stock row)", sum.LedgerRows, sum.StockRows)
	}
	checkLedgerMatchesStock(t, pool, true)

	// Sparse: most SKU × location pairs carry nothing (no row, or a sold-out row).
	pairs := sum.SKUs * sum.Locations
	empty := pairs - sum.StockRows + sum.ZeroStockRows
	if share := float64(empty) / float64(pairs); share < 0.5 {
		t.Errorf("empty SKU × location pairs = %.2f, want ≥ 0.5", share)
	}
	if share := float64(sum.ZeroStockRows) / float64(sum.StockRows); share < 0.03 || share > 0.2 {
		t.Errorf("sold-out rows = %.3f of rows, want 0.03–0.2", share)
	}

	// Long tail: a few SKUs hold much of the stock.
	rows, err := pool.Query(ctx, `SELECT coalesce(sum(st.on_hand), 0) FROM skus k LEFT JOIN stock st ON st.sku_id = k.id GROUP BY k.id`)
	if err != nil {
		t.Fatal(err)
	}
	var perSKU []int
	var total int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		perSKU = append(perSKU, n)
		total += n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(perSKU, func(a, b int) int { return b - a })
	top := 0
	for _, n := range perSKU[:len(perSKU)/100] {
		top += n
	}
	median := perSKU[len(perSKU)/2]
	t.Logf("units: total %d, top 1%% of SKUs %.1f%%, max %d, median %d", total, 100*float64(top)/float64(total), perSKU[0], median)
	if share := float64(top) / float64(total); share < 0.10 {
		t.Errorf("top 1%% of SKUs hold %.2f of units, want ≥ 0.10", share)
	}
	if perSKU[0] < 20*median {
		t.Errorf("biggest SKU holds %d units, median %d: want ≥ 20× the median", perSKU[0], median)
	}

	// The network: every kind behaves as its kind should.
	locs, err := svc.ListLocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range locs {
		if err := l.Validate(); err != nil {
			t.Errorf("location %s: %v", l.Code, err)
		}
		var ok bool
		switch l.Kind {
		case rules.LocationStore:
			ok = l.CanPickup && l.DailyCapacity > 0 && l.DailyCapacity < 1000
		case rules.LocationWarehouse:
			ok = l.CanShip && !l.CanPickup && l.DailyCapacity >= 5000
		case rules.LocationDropship:
			ok = l.CanShip && !l.CanPickup && !l.CanSameDay && l.HandlingHours >= 24
		case rules.LocationDarkStore:
			ok = l.CanSameDay && !l.CanPickup
		}
		if !ok {
			t.Errorf("location %s (%s) = %+v: capabilities do not fit its kind", l.Code, l.Kind, l)
		}
	}
	for _, code := range []string{"nyc-store-01", "chi-wh-01", "ds-acme", "sf-dark-01"} {
		if _, err := svc.GetLocation(ctx, code); err != nil {
			t.Errorf("GetLocation(%q) = %v, want the demo location", code, err)
		}
	}

	// Substitutes name other existing SKUs.
	var subs, dangling int
	err = pool.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM skus o WHERE o.code = s.sub AND o.code <> s.code))
		FROM (SELECT code, unnest(substitutes) AS sub FROM skus) s`).Scan(&subs, &dangling)
	if err != nil {
		t.Fatal(err)
	}
	if subs < 100 || dangling != 0 {
		t.Errorf("substitutes = %d (%d dangling), want ≥ 100 and none dangling", subs, dangling)
	}
	// Prices are long-tailed and costs are 40–75% of them.
	var minP, medP, maxP float64
	var badCost int
	err = pool.QueryRow(ctx, `
		SELECT min(price)::float8, (percentile_cont(0.5) WITHIN GROUP (ORDER BY price))::float8, max(price)::float8,
			count(*) FILTER (WHERE cost < price * 0.395 OR cost > price * 0.755)
		FROM skus`).Scan(&minP, &medP, &maxP, &badCost)
	if err != nil {
		t.Fatal(err)
	}
	if minP < 1.99 || medP < 10 || medP > 60 || maxP < 8*medP || badCost != 0 {
		t.Errorf("prices min %.2f median %.2f max %.2f, %d costs outside 40–75%%: want a long tail above a median of 10–60",
			minP, medP, maxP, badCost)
	}
}

func TestSeedDemoIdempotent(t *testing.T) {
	t.Parallel()
	svc, pool := seedService(t)
	ctx := context.Background()
	opts := SeedOptions{Seed: 1, SKUs: 150, Locations: 12}
	first, err := svc.SeedDemo(ctx, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := seedDigest(t, pool)
	second, err := svc.SeedDemo(ctx, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !second.AlreadySeeded || second.LedgerRows != 0 {
		t.Errorf("second SeedDemo = AlreadySeeded %v, LedgerRows %d, want true, 0", second.AlreadySeeded, second.LedgerRows)
	}
	first.LedgerRows, second.LedgerRows, second.AlreadySeeded = 0, 0, false
	if !reflect.DeepEqual(first, second) {
		t.Errorf("second SeedDemo = %+v, want the first's counts %+v", second, first)
	}
	if after := seedDigest(t, pool); after != before {
		t.Errorf("data changed by the second seed: digest %s, was %s", after, before)
	}
	checkLedgerMatchesStock(t, pool, true)
}

func TestSeedDemoConcurrent(t *testing.T) {
	t.Parallel()
	svc, pool := seedService(t)
	opts := SeedOptions{Seed: 2, SKUs: 100, Locations: 12}
	var wg sync.WaitGroup
	sums := make([]SeedSummary, 3)
	errs := make([]error, 3)
	for i := range sums {
		wg.Go(func() { sums[i], errs[i] = svc.SeedDemo(context.Background(), opts, nil) })
	}
	wg.Wait()
	seeded := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("SeedDemo #%d: %v", i, err)
		}
		if !sums[i].AlreadySeeded {
			seeded++
		}
	}
	if seeded != 1 {
		t.Errorf("%d of 3 concurrent seeds wrote the demo, want 1", seeded)
	}
	checkLedgerMatchesStock(t, pool, true)
}

func TestSeedDemoDeterministic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		a, b     int64
		wantSame bool
	}{
		{"same seed", 42, 42, true},
		{"other seed", 42, 43, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			digest := func(seed int64) string {
				svc, pool := seedService(t)
				if _, err := svc.SeedDemo(context.Background(), SeedOptions{Seed: seed, SKUs: 300, Locations: 20}, nil); err != nil {
					t.Fatal(err)
				}
				return seedDigest(t, pool)
			}
			a, b := digest(tc.a), digest(tc.b)
			if (a == b) != tc.wantSame {
				t.Errorf("digests for seeds %d and %d = %s, %s; want same = %v", tc.a, tc.b, a, b, tc.wantSame)
			}
		})
	}
}

func TestSeedDemoStreams(t *testing.T) {
	// A bigger network must not change the catalog, so demos of different
	// sizes share their SKUs.
	small := buildDemo(SeedOptions{Seed: 9, SKUs: 200, Locations: 12})
	big := buildDemo(SeedOptions{Seed: 9, SKUs: 200, Locations: 60})
	if !reflect.DeepEqual(small.skus, big.skus) {
		t.Error("buildDemo(12 locations).skus differs from buildDemo(60 locations).skus, want equal")
	}
	if again := buildDemo(SeedOptions{Seed: 9, SKUs: 200, Locations: 12}); !reflect.DeepEqual(small, again) {
		t.Error("buildDemo is not deterministic")
	}
	if len(big.locations) != 60 || len(small.locations) != 12 {
		t.Errorf("buildDemo locations = %d and %d, want 12 and 60", len(small.locations), len(big.locations))
	}
	codes := map[string]bool{}
	for _, l := range big.locations {
		if codes[l.Code] {
			t.Errorf("location code %s used twice", l.Code)
		}
		codes[l.Code] = true
	}
}

func TestSeedOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		opts SeedOptions
		want []string // bad fields
	}{
		{SeedOptions{}, nil},
		{SeedOptions{Seed: -3, SKUs: 1, Locations: 12}, nil},
		{SeedOptions{SKUs: -1}, []string{"skus"}},
		{SeedOptions{Locations: 11}, []string{"locations"}},
		{SeedOptions{SKUs: maxDemoSKUs + 1, Locations: maxDemoLocations + 1}, []string{"skus", "locations"}},
		{SeedOptions{SKUs: 100000, Locations: 41}, []string{"skus"}},
		{SeedOptions{SKUs: 100000, Locations: 40}, nil},
	} {
		var got []string
		if err := tc.opts.Validate(); err != nil {
			var ve *derrors.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%+v.Validate() = %v, want a ValidationError", tc.opts, err)
			}
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v.Validate() fields = %v, want %v", tc.opts, got, tc.want)
		}
	}
}

func TestSeedDemoSKUs(t *testing.T) {
	t.Parallel()
	svc, _ := seedService(t)
	ctx := context.Background()
	if got, err := svc.DemoSKUs(ctx, 10); err != nil || len(got) != 0 {
		t.Errorf("DemoSKUs before seeding = %v, %v; want none", got, err)
	}
	if _, err := svc.SeedDemo(ctx, SeedOptions{Seed: 5, SKUs: 200, Locations: 12}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit       int
		least, most int
	}{
		{10, 10, 10},
		{0, 100, 200},
	} {
		got, err := svc.DemoSKUs(ctx, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < tc.least || len(got) > tc.most {
			t.Errorf("DemoSKUs(%d) = %d codes, want %d–%d", tc.limit, len(got), tc.least, tc.most)
		}
		if tc.limit == 0 {
			continue
		}
		for _, code := range got {
			st, err := svc.StockOf(ctx, code, "")
			if err != nil {
				t.Fatal(err)
			}
			avail := 0
			for _, s := range st {
				avail += s.Available
			}
			if avail == 0 {
				t.Errorf("DemoSKUs(%d) lists %s, which has nothing available", tc.limit, code)
			}
		}
	}
}

func TestSeedDemoOrders(t *testing.T) {
	metros := demoMetros()
	skus := []string{"SKU-000001", "SKU-000002", "SKU-000003", "SKU-000004", "SKU-000005"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		req := DemoOrder(r, fmt.Sprintf("demo-%d", i), skus)
		if err := req.Validate(); err != nil {
			t.Fatalf("DemoOrder #%d = %+v: Validate() = %v", i, req, err)
		}
		lat, lon := *req.ShipTo.Lat, *req.ShipTo.Lon
		near := math.Inf(1)
		for _, m := range metros {
			near = min(near, sourcing.DistanceKm(sourcing.GeoPoint{Lat: lat, Lon: lon}, m.lat, m.lon))
		}
		if near > 41 {
			t.Errorf("DemoOrder #%d ships to %.4f,%.4f, %.0f km from the nearest metro centre, want ≤ 40", i, lat, lon, near)
		}
	}
	// The same stream gives the same orders.
	a, _ := json.Marshal(DemoOrder(rand.New(rand.NewPCG(3, 4)), "x", skus))
	b, _ := json.Marshal(DemoOrder(rand.New(rand.NewPCG(3, 4)), "x", skus))
	if string(a) != string(b) {
		t.Errorf("DemoOrder with equal streams = %s and %s, want equal", a, b)
	}
	lat1, lon1, city1, zip1 := DemoShipTo(rand.New(rand.NewPCG(5, 6)))
	lat2, lon2, city2, zip2 := DemoShipTo(rand.New(rand.NewPCG(5, 6)))
	if lat1 != lat2 || lon1 != lon2 || city1 != city2 || zip1 != zip2 || len(zip1) != 5 {
		t.Errorf("DemoShipTo = %v %v %q %q then %v %v %q %q, want equal, with a 5-digit ZIP", lat1, lon1, city1, zip1, lat2, lon2, city2, zip2)
	}
}
